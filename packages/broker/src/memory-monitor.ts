/**
 * The memory alarm, on what the process really uses: resident set size
 * (bodies, objects, per-message overhead, buffers, everything), sampled a few
 * times a second, which costs microseconds. Counting message bodies alone let
 * RSS pass the machine's memory before anything was blocked, since each queued
 * message costs far more than its body.
 *
 * Two watermarks, each with the same hysteresis (see Watermark):
 * - the alarm, at the limit: publishers are blocked while it is on;
 * - memory pressure, at PRESSURE_FRACTION of the limit: queues page their
 *   tails to disk beyond a small window instead of their roomy default one
 *   (see queue.ts), so paging costs nothing while memory is plentiful.
 * V8's own heap limit is watched too: reaching it would crash the process
 * whatever the RSS.
 *
 * While the alarm is on and does not clear, the monitor collects garbage (a
 * full GC, at most ~1% of the time) before it samples: the alarm blocks the
 * publishers, so the process goes quiet and V8, which collects when it
 * allocates, leaves the garbage of the publishes that set the alarm (RSS and
 * heap) in place for tens of seconds. A flood whose publishes left much
 * garbage (16 B messages, a fresh object per frame) stayed blocked ~40 s at a
 * time with 12 MiB of live heap; the collection clears it at the next sample.
 */
import { totalmem } from 'node:os';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemorySample {
  rss: number;
  heapUsed: number;
  /** Buffers and other memory outside the V8 heap. */
  external: number;
}

export type MemorySampler = () => MemorySample;

export const sampleProcessMemory: MemorySampler = () => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
};

/** 40% of the machine's memory, or of the container's limit when there is one (as RabbitMQ's default watermark). */
export function defaultMemoryLimit(): number {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  const available = constrained > 0 && constrained < totalmem() ? constrained : totalmem();
  return Math.floor(available * 0.4);
}

/** Runs a full garbage collection (synchronously). */
export type GarbageCollector = () => void;

/** V8's gc(): the global one under --expose-gc, else exposed in a fresh context; undefined if V8 refuses. */
export function processGarbageCollector(): GarbageCollector | undefined {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as GarbageCollector;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as GarbageCollector) : undefined;
  } catch {
    return undefined;
  }
}

/** While the alarm stays on, a collection at most once per this many ms ... */
export const COLLECT_MIN_INTERVAL_MS = 1000;
/** ... and per this many times its own duration (a collection of a big live heap is not repeated often). */
export const COLLECT_DUTY = 100;

export const MEMORY_SAMPLE_MS = 250;
/** Above this fraction of the limit, queues page beyond their small window (memory pressure). */
export const PRESSURE_FRACTION = 0.5;

/** Past this multiple of its level, a Watermark stays on until RSS itself falls (the live memory no longer releases it). */
export const CEILING = 1.2;

/**
 * One level with hysteresis, on RSS. It turns on when RSS passes the level and
 * off when RSS falls below 90% of it, or, while RSS is still under CEILING x
 * the level, when the live memory (heap plus buffers) says RSS overstates what
 * is used: it has fallen to half of what it was when the level turned on
 * (memory given back that V8 keeps resident for a while), or (with
 * `lowLiveReleases`) it is under half the level (pages kept, fragmentation),
 * or it was sampled right after a full collection and is under 90% of the
 * level. Without a collection the live memory counts garbage not yet
 * collected, hence the wide margin; after one it is what is really in use, and
 * RSS above it is pages the allocator kept, so the same low mark as RSS's
 * applies to it (a broker holding 70% of its limit in queues, RSS at 110%,
 * would otherwise stay blocked until its consumers drained half of it).
 *
 * Once off that way, RSS alone says nothing new: the level turns on again only
 * when RSS or the live memory grows by another 10% of the level since, or RSS
 * passes the ceiling. RSS that stays over the level while the live memory is
 * small and steady therefore turns it off once, instead of on and off at
 * every sample; and RSS cannot creep past the ceiling that way.
 */
export class Watermark {
  on = false;
  /** Live memory when the level last turned on. */
  private liveAtOn = 0;
  /** Off while RSS stayed high (released on live memory): RSS and live memory then; staleRss 0 otherwise. */
  private staleRss = 0;
  private staleLive = 0;

  constructor(
    readonly level: number,
    private readonly lowLiveReleases: boolean,
  ) {}

  /**
   * Updates the state from a sample; true when it changed. `collected`: a full
   * garbage collection ran just before the sample.
   */
  update(s: MemorySample, collected = false): boolean {
    // external includes the ArrayBuffers (Buffers): not added again.
    const live = s.heapUsed + s.external;
    const level = this.level;
    if (this.on) {
      if (s.rss < 0.9 * level) {
        this.on = false;
        this.staleRss = 0;
        return true;
      }
      const liveLow =
        live < 0.5 * this.liveAtOn || (this.lowLiveReleases && live < 0.5 * level) || (collected && live < 0.9 * level);
      if (s.rss <= CEILING * level && liveLow) {
        this.on = false;
        this.staleRss = s.rss;
        this.staleLive = live;
        return true;
      }
      return false;
    }
    if (this.staleRss !== 0 && s.rss < 0.9 * level) this.staleRss = 0;
    const over =
      s.rss > level &&
      (this.staleRss === 0 || s.rss > CEILING * level || s.rss > this.staleRss + 0.1 * level || live > this.staleLive + 0.1 * level);
    if (!over) return false;
    this.on = true;
    this.liveAtOn = live;
    this.staleRss = 0;
    return true;
  }
}

export class MemoryMonitor {
  alarm = false;
  /** Above PRESSURE_FRACTION of the limit (or in alarm): queues page beyond their small window. */
  pressure = false;
  last: MemorySample = { rss: 0, heapUsed: 0, external: 0 };
  private timer: NodeJS.Timeout | undefined;
  private readonly heapLimit = getHeapStatistics().heap_size_limit;
  private readonly alarmLevel: Watermark;
  private readonly pressureLevel: Watermark;
  /** No collection before this time (ms, on `now`). */
  private nextCollectAt = 0;
  /** Full collections run while the alarm stayed on. */
  collections = 0;

  constructor(
    readonly limit: number,
    private readonly onChange: (alarm: boolean, sample: MemorySample) => void,
    private readonly sample: MemorySampler = sampleProcessMemory,
    private readonly intervalMs = MEMORY_SAMPLE_MS,
    private readonly onPressure: (pressure: boolean, sample: MemorySample) => void = () => {},
    /** Default: V8's gc() when sampling this process's memory; with an injected sampler none unless given. */
    private readonly collect: GarbageCollector | undefined = sample === sampleProcessMemory ? processGarbageCollector() : undefined,
    /** Monotonic ms. */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.alarmLevel = new Watermark(limit, true);
    // Pressure only pages earlier: it stays on while RSS is high, unless the live memory halves.
    this.pressureLevel = new Watermark(limit * PRESSURE_FRACTION, false);
  }

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Takes a sample and sets or clears the alarm and the pressure. */
  check(): void {
    // The alarm stayed on since the last sample: what is left of the garbage that set it is not memory in use.
    let collected = false;
    if (this.alarmLevel.on && this.collect !== undefined && this.now() >= this.nextCollectAt) {
      collected = true;
      const t0 = this.now();
      this.collect();
      this.collections++;
      const t1 = this.now();
      this.nextCollectAt = t1 + Math.max(COLLECT_MIN_INTERVAL_MS, COLLECT_DUTY * (t1 - t0));
    }
    const s = this.sample();
    this.last = s;
    this.alarmLevel.update(s, collected);
    this.pressureLevel.update(s);
    // Near V8's heap limit: on at 85% of it, off below 70%.
    const heapFull = s.heapUsed > 0.85 * this.heapLimit || (this.alarm && s.heapUsed >= 0.7 * this.heapLimit);
    const alarm = this.alarmLevel.on || heapFull;
    const pressure = alarm || this.pressureLevel.on;
    if (pressure !== this.pressure) {
      this.pressure = pressure;
      this.onPressure(pressure, s);
    }
    if (alarm !== this.alarm) {
      this.alarm = alarm;
      this.onChange(alarm, s);
    }
  }
}
