/**
 * A one-line progress indicator with the rate, redrawn in place on stderr
 * while stdout is a terminal; a no-op otherwise, so pipes and scripts see
 * nothing. Callers that also print to the terminal call clear() first.
 */
import { formatRate } from './format.js';

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** What is counted: "published", "received". */
  label: string;
  /** Expected total, when known. */
  total?: number;
  /** Where the line is drawn. Default process.stderr. */
  stream?: ProgressStream;
  /** Whether to draw at all. Default: stdout and the stream are both terminals. */
  enabled?: boolean;
  /** Clock in ms. Default performance.now. */
  now?: () => number;
  /** Redraw interval in ms (0: only on render()). Default 250. */
  intervalMs?: number;
}

export class Progress {
  private count = 0;
  private readonly started: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private drawn = false;
  private drawnOnce = false;
  readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly now: () => number;

  constructor(private readonly o: ProgressOptions) {
    this.stream = o.stream ?? process.stderr;
    this.enabled = o.enabled ?? (process.stdout.isTTY === true && this.stream.isTTY === true);
    this.now = o.now ?? (() => performance.now());
    this.started = this.now();
    const interval = o.intervalMs ?? 250;
    if (this.enabled && interval > 0) {
      this.timer = setInterval(() => this.render(), interval);
      this.timer.unref();
    }
  }

  /** Counts `n` more items (drawn at the next redraw). */
  tick(n = 1): void {
    this.count += n;
    if (!this.drawnOnce) this.render(); // at once, then at each interval
  }

  get done(): number {
    return this.count;
  }

  /** Items per second since the start. */
  rate(): number {
    const seconds = (this.now() - this.started) / 1000;
    return seconds > 0 ? this.count / seconds : 0;
  }

  /** The line as drawn: "published 500/1,000 (50%)  2,345 msg/s". */
  line(): string {
    const total = this.o.total;
    const count = this.count.toLocaleString('en-US');
    const amount =
      total === undefined ? count : `${count}/${total.toLocaleString('en-US')} (${Math.floor((100 * this.count) / Math.max(total, 1))}%)`;
    return `${this.o.label} ${amount}  ${formatRate(this.rate())} msg/s`;
  }

  render(): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[K${this.line()}`);
    this.drawn = true;
    this.drawnOnce = true;
  }

  /** Erases the line (before printing something else to the terminal). */
  clear(): void {
    if (!this.enabled || !this.drawn) return;
    this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  /** Stops redrawing and erases the line. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.clear();
  }
}
