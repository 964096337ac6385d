/** Fanout exchange: every bound destination, whatever the routing key. */
import { BaseMatcher, DestSet, type Binding } from './matcher.js';

export class FanoutMatcher<D> extends BaseMatcher<D> {
  private readonly dests = new DestSet<D>();

  protected insert(binding: Binding<D>): void {
    this.dests.add(binding.destination);
  }

  protected delete(binding: Binding<D>): void {
    this.dests.remove(binding.destination);
  }

  match(_routingKey: string, _headers: Record<string, unknown> | undefined, out: Set<D>): void {
    this.dests.addAllTo(out);
  }
}
