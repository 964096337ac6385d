/** Direct exchange: the routing key must equal the binding key exactly. */
import { BaseMatcher, DestSet, type Binding } from './matcher.js';

export class DirectMatcher<D> extends BaseMatcher<D> {
  private readonly table = new Map<string, DestSet<D>>();

  protected insert(binding: Binding<D>): void {
    let dests = this.table.get(binding.routingKey);
    if (dests === undefined) this.table.set(binding.routingKey, (dests = new DestSet()));
    dests.add(binding.destination);
  }

  protected delete(binding: Binding<D>): void {
    const dests = this.table.get(binding.routingKey);
    if (dests !== undefined && dests.remove(binding.destination)) this.table.delete(binding.routingKey);
  }

  match(routingKey: string, _headers: Record<string, unknown> | undefined, out: Set<D>): void {
    this.table.get(routingKey)?.addAllTo(out);
  }

  /** Distinct binding keys held; lets tests prove removals leave no empty entries. */
  get keyCount(): number {
    return this.table.size;
  }
}
