/**
 * The memory alarm, on what the process really uses: resident set size
 * (bodies, objects, per-message overhead, buffers, everything), sampled a few
 * times a second, which costs microseconds. Counting message bodies alone let
 * RSS pass the machine's memory before anything was blocked, since each queued
 * message costs far more than its body.
 *
 * Above the limit, publishers are blocked; the alarm clears once RSS falls
 * below 90% of it, or once the live heap and buffers together fall below half
 * of it (V8 may keep freed pages resident for a while). V8's own heap limit is
 * watched too: reaching it would crash the process whatever the RSS.
 */
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

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

export const MEMORY_SAMPLE_MS = 250;

export class MemoryMonitor {
  alarm = false;
  last: MemorySample = { rss: 0, heapUsed: 0, external: 0 };
  private timer: NodeJS.Timeout | undefined;
  private readonly heapLimit = getHeapStatistics().heap_size_limit;

  constructor(
    readonly limit: number,
    private readonly onChange: (alarm: boolean, sample: MemorySample) => void,
    private readonly sample: MemorySampler = sampleProcessMemory,
    private readonly intervalMs = MEMORY_SAMPLE_MS,
  ) {}

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Takes a sample and sets or clears the alarm. */
  check(): void {
    const s = this.sample();
    this.last = s;
    const heapFull = s.heapUsed > 0.85 * this.heapLimit;
    if (!this.alarm && (s.rss > this.limit || heapFull)) {
      this.alarm = true;
      this.onChange(true, s);
    } else if (this.alarm && !heapFull && s.heapUsed < 0.7 * this.heapLimit && (s.rss < 0.9 * this.limit || s.heapUsed + s.external < 0.5 * this.limit)) {
      this.alarm = false;
      this.onChange(false, s);
    }
  }
}
