/**
 * Message rates for the management API: once a second (an unref'd timer) the
 * sampler reads the plain counters the broker already keeps (VirtualHost.
 * counters, Queue.counters) and turns their growth into per-second rates, kept
 * in ring buffers covering the last 10 minutes. Nothing is counted on the
 * publish -> deliver -> ack path beyond those increments; all the arithmetic
 * happens here, once a second.
 *
 * Per-queue history costs RAM per queue, so it is kept only for queues whose
 * figures moved in the last 10 minutes (at most MAX_TRACKED of them); a quiet
 * queue's history is synthesised on demand: rates 0, its current depth. A ring
 * starts at INITIAL_ROWS rows and doubles up to the capacity as its history
 * grows, so a queue busy for a few seconds costs ~3 KB, not 29 KB. When more
 * queues are busy than MAX_TRACKED, a newly busy queue takes the ring (the
 * array itself, reset) of the quietest tracked queue only if that one has been
 * quiet for EVICT_QUIET_MS; otherwise it goes without history until one has.
 * (Evicting on every change made each sample allocate a ring per busy queue:
 * 10,000 busy queues cost 288 MB of zeroed arrays and ~0.3 s of CPU a second.)
 * The ring of a deleted queue is dropped at the next sample.
 *
 * A stream's "published" is its append rate: the growth of its log's next offset between two samples
 * (appends bypass the queue's counters); it has no ready/unacked messages of its own.
 */
import type { Queue } from './queue.js';
import type { VirtualHost } from './vhost.js';

export const RATE_INTERVAL_MS = 1000;
/** 10 minutes of one-second samples. */
export const RATE_CAPACITY = 600;
/** Queues with a per-queue history at the same time (the most recently active ones). */
export const MAX_TRACKED = 2000;
/** Rows a per-queue ring starts with (a minute); it doubles up to the capacity. */
export const INITIAL_ROWS = 60;
/** How long a tracked queue must have been quiet before a newly busy queue may take its ring. */
export const EVICT_QUIET_MS = 60_000;

export interface GlobalRates {
  published: number;
  delivered: number;
  acked: number;
  redelivered: number;
  returned: number;
  deadLettered: number;
}
export type GlobalSample = { t: number } & GlobalRates;

export interface QueueRates {
  published: number;
  delivered: number;
  acked: number;
}
export type QueueSample = { t: number; ready: number; unacked: number } & QueueRates;

const GLOBAL_FIELDS = ['published', 'delivered', 'acked', 'redelivered', 'returned', 'deadLettered'] as const;
/** Per-queue ring columns: t, published, delivered, acked, ready, unacked. */
const Q_COLS = 6;

/** A ring of fixed-width rows of numbers, growing (doubling) up to its capacity. */
class Ring {
  private data: Float64Array;
  private start = 0;
  length = 0;

  constructor(
    readonly width: number,
    readonly capacity: number,
    initialRows = capacity,
  ) {
    this.data = new Float64Array(width * Math.max(1, Math.min(initialRows, capacity)));
  }

  /** Rows allocated. */
  get rows(): number {
    return this.data.length / this.width;
  }

  push(row: ArrayLike<number>): void {
    let rows = this.rows;
    if (this.length === rows && rows < this.capacity) {
      // Full but not at capacity: double, oldest row first.
      const grown = new Float64Array(this.width * Math.min(rows * 2, this.capacity));
      for (let i = 0; i < this.length; i++) grown.set(this.row(i), i * this.width);
      this.data = grown;
      this.start = 0;
      rows = this.rows;
    }
    const at = ((this.start + this.length) % rows) * this.width;
    if (this.length < rows) this.length++;
    else this.start = (this.start + 1) % rows;
    for (let i = 0; i < this.width; i++) this.data[at + i] = row[i]!;
  }

  /** Row i (0 = oldest kept), as a view. */
  row(i: number): Float64Array {
    const at = ((this.start + i) % this.rows) * this.width;
    return this.data.subarray(at, at + this.width);
  }

  /** Empty again, keeping the rows allocated (for another queue). */
  clear(): void {
    this.start = 0;
    this.length = 0;
  }
}

interface QueueState {
  /** Counter values at the previous sample. */
  published: number;
  delivered: number;
  acked: number;
  ready: number;
  unacked: number;
  /** Rates of the latest sample. */
  rates: QueueRates;
  /** History while the queue is active; null when quiet. */
  ring: Ring | null;
  /** Time of the last change of any figure. */
  changedAt: number;
  /** The sample that last saw the queue (a tracked queue not seen was deleted). */
  seen: number;
}

export interface RateSamplerOptions {
  /** The clock (ms): tests inject one and call sample() themselves. */
  now?: () => number;
  intervalMs?: number;
  capacity?: number;
  maxTracked?: number;
  initialRows?: number;
  evictQuietMs?: number;
}

function clampRate(delta: number, seconds: number): number {
  return delta > 0 && seconds > 0 ? delta / seconds : 0;
}

export class RateSampler {
  private readonly now: () => number;
  readonly intervalMs: number;
  private readonly capacity: number;
  private readonly maxTracked: number;
  private readonly initialRows: number;
  private readonly evictQuietMs: number;
  /** Samples taken (QueueState.seen). */
  private round = 0;
  /** Per-queue rings allocated so far (reused ones not counted again). */
  private ringsCreated = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly global: Ring;
  private previous: { t: number; totals: number[] } | null = null;
  private readonly queues = new WeakMap<Queue, QueueState>();
  /** Queues holding a ring, for the MAX_TRACKED cap (oldest activity first). */
  private readonly tracked = new Set<QueueState>();
  private latestGlobal: GlobalRates = { published: 0, delivered: 0, acked: 0, redelivered: 0, returned: 0, deadLettered: 0 };
  private lastT = 0;

  constructor(
    private readonly vhosts: () => Iterable<VirtualHost>,
    o: RateSamplerOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    this.intervalMs = o.intervalMs ?? RATE_INTERVAL_MS;
    this.capacity = o.capacity ?? RATE_CAPACITY;
    this.maxTracked = o.maxTracked ?? MAX_TRACKED;
    this.initialRows = o.initialRows ?? INITIAL_ROWS;
    this.evictQuietMs = o.evictQuietMs ?? EVICT_QUIET_MS;
    this.global = new Ring(1 + GLOBAL_FIELDS.length, this.capacity);
  }

  start(): void {
    if (this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes one sample now (the timer calls it; tests call it with their clock). */
  sample(): void {
    const t = this.now();
    const prevT = this.lastT;
    const seconds = prevT === 0 ? 0 : (t - prevT) / 1000;
    this.lastT = t;
    const round = ++this.round;
    const totals = [0, 0, 0, 0, 0, 0];
    for (const vhost of this.vhosts()) {
      totals[0]! += vhost.counters.published;
      totals[4]! += vhost.counters.returned;
      totals[5]! += vhost.counters.deadLettered;
      for (const q of vhost.queues.values()) {
        const c = q.counters;
        totals[1]! += c.delivered;
        totals[2]! += c.acked;
        totals[3]! += c.redelivered;
        this.sampleQueue(q, vhost, t, seconds, round);
      }
    }
    // A deleted queue is not sampled any more: its ring goes now, not when evicted.
    for (const s of this.tracked) if (s.seen !== round) this.untrack(s);
    const prev = this.previous;
    if (prev !== null) {
      const row = [t];
      const latest = {} as GlobalRates;
      GLOBAL_FIELDS.forEach((f, i) => {
        // A deleted queue takes its counts with it: a drop is not a negative rate.
        const r = clampRate(totals[i]! - prev.totals[i]!, seconds);
        latest[f] = r;
        row.push(r);
      });
      this.latestGlobal = latest;
      this.global.push(row);
    }
    this.previous = { t, totals };
  }

  private sampleQueue(q: Queue, vhost: VirtualHost, t: number, seconds: number, round: number): void {
    const c = q.counters;
    // A stream's messages go to its log, not through the queue's counters: its in-rate is the growth of
    // the log's next offset, read here (nothing is counted on the append path).
    const log = q.isStream ? vhost.streams?.log(q.name) : undefined;
    if (q.isStream && log === undefined) {
      // Its log is still opening (declare, recovery): sampled from when it is open (not a jump from 0).
      const s = this.queues.get(q);
      if (s !== undefined) s.seen = round;
      return;
    }
    const published = log !== undefined ? log.next : c.published;
    const ready = q.messageCount;
    const unacked = q.unackedCount;
    let s = this.queues.get(q);
    if (s === undefined) {
      s = { published, delivered: c.delivered, acked: c.acked, ready, unacked, rates: { published: 0, delivered: 0, acked: 0 }, ring: null, changedAt: 0, seen: round };
      this.queues.set(q, s);
      return;
    }
    s.seen = round;
    const changed = published !== s.published || c.delivered !== s.delivered || c.acked !== s.acked || ready !== s.ready || unacked !== s.unacked;
    if (changed || s.ring !== null) {
      s.rates = {
        published: clampRate(published - s.published, seconds),
        delivered: clampRate(c.delivered - s.delivered, seconds),
        acked: clampRate(c.acked - s.acked, seconds),
      };
    } else if (s.rates.published !== 0 || s.rates.delivered !== 0 || s.rates.acked !== 0) {
      // Quiet again without ever getting a ring (more busy queues than MAX_TRACKED): 0, not its last rates.
      s.rates = { published: 0, delivered: 0, acked: 0 };
    }
    if (changed) {
      s.changedAt = t;
      if (s.ring === null) this.track(s, t);
      else {
        // Most recently active last: the cap evicts the quietest.
        this.tracked.delete(s);
        this.tracked.add(s);
      }
    }
    if (s.ring !== null) {
      s.ring.push([t, s.rates.published, s.rates.delivered, s.rates.acked, ready, unacked]);
      if (!changed && t - s.changedAt > this.capacity * this.intervalMs) this.untrack(s);
    }
    s.published = published;
    s.delivered = c.delivered;
    s.acked = c.acked;
    s.ready = ready;
    s.unacked = unacked;
  }

  private track(s: QueueState, t: number): void {
    let ring: Ring | null = null;
    if (this.tracked.size >= this.maxTracked) {
      // Take the ring of the quietest, if it has been quiet long enough; else no history for now.
      const quietest = this.tracked.values().next().value as QueueState;
      if (t - quietest.changedAt < this.evictQuietMs) return;
      ring = quietest.ring;
      this.untrack(quietest);
      ring!.clear();
    } else {
      ring = new Ring(Q_COLS, this.capacity, this.initialRows);
      this.ringsCreated++;
    }
    s.ring = ring;
    // The sample before the change: the chart starts from the quiet state.
    s.ring!.push([t - this.intervalMs, 0, 0, 0, s.ready, s.unacked]);
    this.tracked.add(s);
  }

  /** What the per-queue histories hold: queues tracked, rows allocated in all, rings allocated so far. */
  ringStats(): { tracked: number; rows: number; created: number } {
    let rows = 0;
    for (const s of this.tracked) rows += s.ring!.rows;
    return { tracked: this.tracked.size, rows, created: this.ringsCreated };
  }

  private untrack(s: QueueState): void {
    s.ring = null;
    s.rates = { published: 0, delivered: 0, acked: 0 };
    this.tracked.delete(s);
  }

  /** The latest global rates (per second). */
  latest(): GlobalRates {
    return this.latestGlobal;
  }

  /** Global samples of the last `seconds`, oldest first. */
  history(seconds = 300): { intervalMs: number; samples: GlobalSample[] } {
    const from = this.now() - seconds * 1000;
    const samples: GlobalSample[] = [];
    for (let i = 0; i < this.global.length; i++) {
      const r = this.global.row(i);
      if (r[0]! < from) continue;
      samples.push({ t: r[0]!, published: r[1]!, delivered: r[2]!, acked: r[3]!, redelivered: r[4]!, returned: r[5]!, deadLettered: r[6]! });
    }
    return { intervalMs: this.intervalMs, samples };
  }

  /** The latest rates of one queue (0 until it has been sampled twice). */
  queueLatest(q: Queue): QueueRates {
    return this.queues.get(q)?.rates ?? { published: 0, delivered: 0, acked: 0 };
  }

  /** One queue's samples of the last `seconds`, oldest first (a quiet queue: rates 0 at its current depth). */
  queueHistory(q: Queue, seconds = 300): { intervalMs: number; samples: QueueSample[] } {
    const now = this.now();
    const from = now - seconds * 1000;
    const samples: QueueSample[] = [];
    const ring = this.queues.get(q)?.ring ?? null;
    if (ring !== null) {
      for (let i = 0; i < ring.length; i++) {
        const r = ring.row(i);
        if (r[0]! < from) continue;
        samples.push({ t: r[0]!, published: r[1]!, delivered: r[2]!, acked: r[3]!, ready: r[4]!, unacked: r[5]! });
      }
      return { intervalMs: this.intervalMs, samples };
    }
    // Quiet: flat, at most as far back as the global samples go.
    for (let i = 0; i < this.global.length; i++) {
      const t = this.global.row(i)[0]!;
      if (t < from) continue;
      samples.push({ t, published: 0, delivered: 0, acked: 0, ready: q.messageCount, unacked: q.unackedCount });
    }
    return { intervalMs: this.intervalMs, samples };
  }
}
