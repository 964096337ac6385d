/**
 * DiskMonitor: the disk alarm. Polls free space under dir and reports when it
 * crosses limitBytes (RabbitMQ's disk_free_limit: block publishers, let consumers
 * drain). Only changes are reported.
 */
import { statfs as fsStatfs } from 'node:fs/promises';

export type StatfsFn = (dir: string) => Promise<{ bavail: number; bsize: number }>;

export class DiskMonitor {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private state = false;
  private free = Number.NaN;

  constructor(
    private readonly dir: string,
    private readonly limitBytes: number,
    private readonly intervalMs: number,
    private readonly onChange: (alarm: boolean, freeBytes: number) => void,
    private readonly statfs: StatfsFn = (d) => fsStatfs(d),
    /** statfs failed: the alarm keeps its last state. */
    private readonly onError?: (err: Error) => void,
  ) {}

  get alarm(): boolean {
    return this.state;
  }

  /** Free bytes at the last check (NaN before the first). */
  get freeBytes(): number {
    return this.free;
  }

  /** Checks at once, then every intervalMs (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One measurement now; overlapping calls share it. */
  check(): Promise<void> {
    this.inFlight ??= this.measure().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async measure(): Promise<void> {
    let s: { bavail: number; bsize: number };
    try {
      s = await this.statfs(this.dir);
    } catch (err) {
      this.onError?.(err as Error);
      return;
    }
    this.free = s.bavail * s.bsize;
    const alarm = this.free < this.limitBytes;
    if (alarm !== this.state) {
      this.state = alarm;
      this.onChange(alarm, this.free);
    }
  }
}
