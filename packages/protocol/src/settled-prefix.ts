/**
 * Which numbers of a 1, 2, 3... sequence are settled, when they settle out of
 * order: a prefix (every number below `next`) plus the set of settled numbers
 * above it. Publisher confirms on the broker (publishes settle as their
 * fsyncs finish) and acks on the client (the application settles deliveries
 * in any order) both coalesce what they send by it: one cumulative frame for
 * the prefix, single frames beyond the gap.
 */
export class SettledPrefix {
  /** The lowest number not yet settled: every number below it is. */
  next = 1;
  /** Settled numbers above `next`. */
  private readonly ahead = new Set<number>();

  /** Marks n settled; numbers already covered are ignored. */
  settle(n: number): void {
    if (n === this.next) {
      let m = n + 1;
      while (this.ahead.delete(m)) m++;
      this.next = m;
    } else if (n > this.next) {
      this.ahead.add(n);
    }
  }

  /** Marks every number up to and including n settled. */
  settleUpTo(n: number): void {
    if (n < this.next) return;
    for (const m of this.ahead) if (m <= n) this.ahead.delete(m);
    let m = n + 1;
    while (this.ahead.delete(m)) m++;
    this.next = m;
  }

  /** Whether n is settled. */
  has(n: number): boolean {
    return n < this.next || this.ahead.has(n);
  }

  /** How many settled numbers wait above the gap. */
  get aheadCount(): number {
    return this.ahead.size;
  }

  /** Forgets the numbers above the gap (the prefix stays). */
  forgetAhead(): void {
    this.ahead.clear();
  }
}
