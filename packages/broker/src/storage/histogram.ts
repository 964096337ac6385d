/**
 * A fixed-bucket histogram of plain counts (fsync latency, group-commit batch
 * size): observe() is a short scan and two additions, cheap enough for the
 * storage writer to call once per batch. /metrics exposes it as a Prometheus
 * histogram; the overview reads quantiles from it.
 */
export class BucketHistogram {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  /** Upper bounds, ascending. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** Adds another histogram with the same bounds (several stores summed). */
  addTo(into: BucketHistogram): void {
    for (let i = 0; i < this.counts.length; i++) into.counts[i]! += this.counts[i]!;
    into.sum += this.sum;
    into.count += this.count;
  }

  /** The q-quantile (0..1), interpolated within its bucket; null without observations. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i]!;
      if (c > 0 && seen + c >= rank) {
        const lo = i === 0 ? 0 : this.bounds[i - 1]!;
        const hi = i < this.bounds.length ? this.bounds[i]! : lo;
        return lo + (hi - lo) * ((rank - seen) / c);
      }
      seen += c;
    }
    return this.bounds[this.bounds.length - 1]!;
  }
}

/** fdatasync latency buckets, seconds. */
export const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Records per group-commit batch. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];
