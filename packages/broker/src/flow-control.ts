/**
 * Publisher flow control (no wire change), after RabbitMQ's credit flow: a
 * transient publish is confirmed when it is enqueued, so nothing else holds a
 * producer to the pace of delivery; when the broker itself is the bottleneck,
 * a queue that only grows makes every message dearer (bigger structures, GC).
 *
 * A publishing connection stops being read (FrameSocket pause 'flow') after a
 * publish only while all three hold:
 *  - the broker is saturated: event-loop utilisation over the last window is
 *    above `saturation` (sampled at most once a window, never per message);
 *  - a queue it just fed has more than `highWater` ready messages, more than at
 *    that queue's previous sample (growing);
 *  - that queue's consumers made progress (deliveries or acks) since then.
 * Slow consumers on an idle broker, stalled consumers and queues without any
 * consumer never hold a publisher: queue length limits, paging and the memory
 * alarm deal with those. A hold ends when the queue is down to `lowWater` (a
 * deleted queue is empty), its consumers stop making progress for a window, the
 * connection closes, or after `maxHoldMs` at the most. Saturation only gates the
 * start of a hold: once a publisher is held, the loop has less to do and looks
 * idle, so ending holds on that would end them within a window or two, far above
 * `lowWater`, and let the queue grow past the paging window between holds.
 * For the same reason, a hold that ended at `lowWater` continues: for a window
 * after it, the queue's publishers are held again as soon as it is back above
 * `highWater`, without waiting for a fresh sample of the loop and of the
 * queue's growth (the loop looked idle and the queue shrank only because of
 * the hold). Without this, the queue grew unchecked for the one to three
 * windows those samples took, by tens of thousands of small messages.
 * A hold that ended any other way (consumers stalled, `maxHoldMs`) gets no
 * such window, so a chain of holds lasts only while the consumers drain each
 * hold's backlog to `lowWater` within `maxHoldMs` and the publisher refills it
 * past `highWater` within a window. (Consumers that stall just then cost their
 * publisher one more hold, which ends a window later for want of progress.)
 * A hold pauses reads for the reason 'flow' only; the memory and disk alarms
 * pause for reasons of their own, so ending a hold never resumes an alarmed
 * connection. A connection publishing to several queues is held for the one
 * that tripped the hold and released by that queue's state alone.
 */
import { performance } from 'node:perf_hooks';

export interface FlowTuning {
  /** Event-loop utilisation (0-1) over a window above which the broker counts as saturated. Default 0.9. */
  saturation: number;
  /** Ready messages above which a growing queue may hold its publishers. Default 4000. */
  highWater: number;
  /** A hold ends once the queue is down to this many ready messages. Default 1000. */
  lowWater: number;
  /** The sampling window (ms) of the loop, of a queue's growth and of its consumers' progress. Default 50. */
  windowMs: number;
  /** The longest a publisher is held in one go (ms). Default 100. */
  maxHoldMs: number;
}

export const DEFAULT_FLOW_TUNING: FlowTuning = { saturation: 0.9, highWater: 4000, lowWater: 1000, windowMs: 50, maxHoldMs: 100 };

/** Is the event loop saturated? (Tests inject their own.) */
export interface LoopProbe {
  saturated(): boolean;
}

/** What flow control reads of a queue. */
export interface FlowQueue {
  readonly messageCount: number;
  readonly counters: { readonly delivered: number; readonly acked: number };
}

/** A publishing connection, as flow control holds it. */
export interface Holdable {
  readonly closed: boolean;
  hold(): void;
  release(): void;
}

export interface FlowControlDeps {
  /** Monotonic ms. Default performance.now, read once per turn (turnClock). */
  now?: () => number;
  /** Default: event-loop utilisation over the last window (EluProbe). */
  probe?: LoopProbe;
  /** Runs the release check soon. Default a 1 ms timer (not setImmediate: that would keep the loop busy, i.e. saturated). */
  schedule?: (check: () => void) => void;
}

/**
 * `read` (performance.now by default) at most once per synchronous run: the first call reads it,
 * the calls after it until the microtask queue runs get the same value. A broker handles a whole
 * socket read of publishes in one run, and published() wants the time for each of them while a
 * queue is above high water (two clock reads, ~150 ns, per publish); the windows are tens of ms,
 * so a run's start time serves them all.
 */
export function turnClock(read: () => number = () => performance.now()): () => number {
  let cached = -1;
  const forget = (): void => {
    cached = -1;
  };
  return () => {
    if (cached < 0) {
      cached = read();
      queueMicrotask(forget);
    }
    return cached;
  };
}

/** Event-loop utilisation from perf_hooks, re-sampled when a window has passed since the last sample. */
export class EluProbe implements LoopProbe {
  private last = performance.eventLoopUtilization();
  private lastAt: number;
  private value = false;

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
    /** Monotonic ms (FlowControl passes its turn clock). */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastAt = now();
  }

  saturated(): boolean {
    const now = this.now();
    const elapsed = now - this.lastAt;
    if (elapsed >= this.windowMs) {
      const cur = performance.eventLoopUtilization();
      // After a long quiet spell the window is mostly idle: that is the answer (not saturated) and the new baseline.
      this.value = performance.eventLoopUtilization(cur, this.last).utilization > this.threshold && elapsed < 4 * this.windowMs;
      this.last = cur;
      this.lastAt = now;
    }
    return this.value;
  }
}

interface QueueSample {
  at: number;
  count: number;
  progress: number;
  /** Growing with consumers progressing, as of the last sample. */
  holds: boolean;
  /** Until then a publisher may be held without a saturated loop: a hold of this queue just ended at low water. */
  resumeUntil: number;
}

interface Hold {
  conn: Holdable;
  queue: FlowQueue;
  since: number;
  progress: number;
  progressAt: number;
}

const progressOf = (q: FlowQueue): number => q.counters.delivered + q.counters.acked;

export class FlowControl {
  readonly tuning: FlowTuning;
  /** Holds begun since the start (for metrics). */
  holdsTotal = 0;
  private readonly now: () => number;
  private readonly probe: LoopProbe;
  private readonly schedule: (check: () => void) => void;
  private readonly samples = new WeakMap<FlowQueue, QueueSample>();
  private readonly held = new Map<Holdable, Hold>();
  private scheduled = false;
  private readonly checkBound = (): void => this.check();

  constructor(
    readonly enabled: boolean,
    tuning: Partial<FlowTuning> = {},
    deps: FlowControlDeps = {},
  ) {
    this.tuning = { ...DEFAULT_FLOW_TUNING, ...tuning };
    this.now = deps.now ?? turnClock();
    this.probe = deps.probe ?? new EluProbe(this.tuning.saturation, this.tuning.windowMs, this.now);
    this.schedule = deps.schedule ?? ((check) => void setTimeout(check, 1));
  }

  /** Publishers held right now. */
  get heldCount(): number {
    return this.held.size;
  }

  isHeld(conn: Holdable): boolean {
    return this.held.has(conn);
  }

  /**
   * `conn` just published to `queue`. Cheap unless the queue is above the high-water mark
   * (callers may skip queues at or below it).
   */
  published(conn: Holdable, queue: FlowQueue): void {
    if (!this.enabled || queue.messageCount <= this.tuning.highWater || this.held.has(conn) || conn.closed) return;
    if (!this.queueHolds(queue)) return;
    const now = this.now();
    if (now >= this.samples.get(queue)!.resumeUntil && !this.probe.saturated()) return;
    this.held.set(conn, { conn, queue, since: now, progress: progressOf(queue), progressAt: now });
    this.holdsTotal++;
    conn.hold();
    this.arm();
  }

  /** Growing above high water with consumers progressing, re-sampled once a window. */
  private queueHolds(queue: FlowQueue): boolean {
    const now = this.now();
    const s = this.samples.get(queue);
    if (s === undefined) {
      this.samples.set(queue, { at: now, count: queue.messageCount, progress: progressOf(queue), holds: false, resumeUntil: -1 });
      return false;
    }
    if (now - s.at < this.tuning.windowMs) return s.holds;
    const count = queue.messageCount;
    const progress = progressOf(queue);
    s.holds = count > s.count && progress > s.progress;
    s.at = now;
    s.count = count;
    s.progress = progress;
    return s.holds;
  }

  private arm(): void {
    if (this.scheduled || this.held.size === 0) return;
    this.scheduled = true;
    this.schedule(this.checkBound);
  }

  /**
   * Releases the holds whose reason is gone (low water, no consumer progress for a window,
   * closed, maxHoldMs), not merely because the loop stopped looking saturated; runs again soon
   * while any remain.
   */
  check(): void {
    this.scheduled = false;
    if (this.held.size === 0) return;
    const now = this.now();
    const t = this.tuning;
    for (const h of this.held.values()) {
      const progress = progressOf(h.queue);
      if (progress > h.progress) {
        h.progress = progress;
        h.progressAt = now;
      }
      if (!h.conn.closed && h.queue.messageCount <= t.lowWater) {
        this.release(h.conn);
        this.drained(h.queue, now);
      } else if (h.conn.closed || now - h.progressAt >= t.windowMs || now - h.since >= t.maxHoldMs) this.release(h.conn);
    }
    this.arm();
  }

  /**
   * A hold of `queue` ended at low water: a fresh sample from here, counted as growing with consumers
   * progressing, and a window in which its publishers are held again above high water (see the header).
   */
  private drained(queue: FlowQueue, now: number): void {
    const s = this.samples.get(queue);
    if (s === undefined) return;
    s.at = now;
    s.count = queue.messageCount;
    s.progress = progressOf(queue);
    s.holds = true;
    s.resumeUntil = now + this.tuning.windowMs;
  }

  /** Ends a hold (also when its connection closes). */
  release(conn: Holdable): void {
    if (!this.held.delete(conn)) return;
    if (!conn.closed) conn.release();
  }
}
