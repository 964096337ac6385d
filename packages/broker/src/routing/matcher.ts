/**
 * The contract every exchange type's routing table implements, plus the
 * bookkeeping they share: binding identity, the per-destination index used by
 * removeDestination(), and DestSet, the allocation-free destination list the
 * publish path iterates.
 */
import { canonicalArguments } from '../canonical.js';

export { canonicalArguments };

export type BindingArguments = Record<string, unknown>;

export interface Binding<D> {
  readonly destination: D;
  readonly routingKey: string;
  readonly arguments: BindingArguments | null;
}

export interface BindingMatcher<D> {
  /** Adds a binding; false when (dest, key, args) is already bound. */
  add(dest: D, key: string, args: BindingArguments | null): boolean;
  /** Removes one binding; false when it was not bound. */
  remove(dest: D, key: string, args: BindingArguments | null): boolean;
  /** Drops every binding to dest (the queue or exchange was deleted); returns how many. */
  removeDestination(dest: D): number;
  /** Adds every destination the message matches to out. Never clears out. */
  match(routingKey: string, headers: Record<string, unknown> | undefined, out: Set<D>): void;
  /** Number of bindings. */
  readonly size: number;
  bindings(): Iterable<Binding<D>>;
}

/**
 * Destinations with a reference count (two bindings that differ only in
 * arguments route to the same place once, and removing one keeps the other).
 * `items` is a dense array so the hot path iterates without an iterator.
 */
export class DestSet<D> {
  readonly items: D[] = [];
  private readonly counts: number[] = [];
  private readonly index = new Map<D, number>();

  get size(): number {
    return this.items.length;
  }

  add(dest: D): void {
    const i = this.index.get(dest);
    if (i !== undefined) {
      this.counts[i]!++;
      return;
    }
    this.index.set(dest, this.items.length);
    this.items.push(dest);
    this.counts.push(1);
  }

  /** Drops one reference; returns true when the set became empty. */
  remove(dest: D): boolean {
    const i = this.index.get(dest);
    if (i === undefined) return this.items.length === 0;
    if (--this.counts[i]! > 0) return false;
    // Swap-remove keeps removal O(1) when a fanout with thousands of queues loses them one by one.
    const last = this.items.length - 1;
    if (i !== last) {
      const moved = this.items[last]!;
      this.items[i] = moved;
      this.counts[i] = this.counts[last]!;
      this.index.set(moved, i);
    }
    this.items.pop();
    this.counts.pop();
    this.index.delete(dest);
    return this.items.length === 0;
  }

  addAllTo(out: Set<D>): void {
    const items = this.items;
    for (let i = 0; i < items.length; i++) out.add(items[i]!);
  }
}

/**
 * Owns binding identity and the per-destination index; subclasses keep only
 * their routing structure, fed by insert/delete. insert may throw (invalid
 * arguments) before anything is recorded.
 */
export abstract class BaseMatcher<D> implements BindingMatcher<D> {
  private readonly byDest = new Map<D, Map<string, Binding<D>>>();
  private count = 0;

  protected abstract insert(binding: Binding<D>): void;
  protected abstract delete(binding: Binding<D>): void;
  abstract match(routingKey: string, headers: Record<string, unknown> | undefined, out: Set<D>): void;

  get size(): number {
    return this.count;
  }

  add(dest: D, key: string, args: BindingArguments | null): boolean {
    // JSON never emits a raw NUL, so the separator keeps ids unambiguous.
    const id = canonicalArguments(args) + '\0' + key;
    let forDest = this.byDest.get(dest);
    if (forDest?.has(id)) return false;
    const binding: Binding<D> = Object.freeze({
      destination: dest,
      routingKey: key,
      // A frozen copy: a caller mutating its object later cannot desync identity from routing.
      arguments: args === null ? null : Object.freeze({ ...args }),
    });
    this.insert(binding);
    if (forDest === undefined) this.byDest.set(dest, (forDest = new Map()));
    forDest.set(id, binding);
    this.count++;
    return true;
  }

  remove(dest: D, key: string, args: BindingArguments | null): boolean {
    const forDest = this.byDest.get(dest);
    if (forDest === undefined) return false;
    const id = canonicalArguments(args) + '\0' + key;
    const binding = forDest.get(id);
    if (binding === undefined) return false;
    this.delete(binding);
    forDest.delete(id);
    if (forDest.size === 0) this.byDest.delete(dest);
    this.count--;
    return true;
  }

  removeDestination(dest: D): number {
    const forDest = this.byDest.get(dest);
    if (forDest === undefined) return 0;
    for (const binding of forDest.values()) this.delete(binding);
    this.byDest.delete(dest);
    this.count -= forDest.size;
    return forDest.size;
  }

  *bindings(): IterableIterator<Binding<D>> {
    for (const forDest of this.byDest.values()) yield* forDest.values();
  }
}
