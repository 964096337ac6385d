/**
 * The memory budget and the alarms that block publishers.
 *
 * Message bodies held in RAM are counted here (`bodyBytes`). Past the budget,
 * durable bodies are evicted to disk once stored (see admission.ts); past the
 * high watermark, the memory alarm stops reading publishers' sockets until the
 * count falls below 80 % of it. The disk alarm (free space under the limit,
 * reported by DiskMonitor) blocks them the same way. Consumers are never
 * blocked: they are how memory comes back.
 */
import type { Logger } from './logger.js';
import type { ResolvedOptions } from './options.js';

export class MemoryBudget {
  /** Bytes of message bodies held in RAM by queues. */
  bodyBytes = 0;
  memoryAlarm = false;
  diskAlarm = false;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly logger: Logger,
    /** Called when the reason publishers are blocked changes (null: unblocked). */
    private readonly onBlockedChange: (reason: string | null) => void,
  ) {}

  /** Why publishers are blocked right now, or null. */
  get blockReason(): string | null {
    if (this.diskAlarm) return `disk alarm: free space under ${this.options.dataDir} is below ${this.options.diskFreeLimit} bytes`;
    if (this.memoryAlarm) return `memory alarm: message bodies in memory exceed ${this.options.memoryHighWatermark} bytes`;
    return null;
  }

  /** Past the budget, stored bodies should live on disk until delivered. */
  get overBudget(): boolean {
    return this.bodyBytes > this.options.memoryBudget;
  }

  /** A newly published body now held in RAM. */
  add(bytes: number): void {
    this.bodyBytes += bytes;
    if (!this.memoryAlarm && this.bodyBytes > this.options.memoryHighWatermark) {
      this.memoryAlarm = true;
      this.logger.warn({ bodyBytes: this.bodyBytes }, 'memory alarm set: blocking publishers');
      this.onBlockedChange(this.blockReason);
    }
  }

  /** A body read back from disk for delivery (never raises the alarm: it is on its way out). */
  reloaded(bytes: number): void {
    this.bodyBytes += bytes;
  }

  /** A body left RAM (delivered and settled, dropped, or evicted to disk). */
  release(bytes: number): void {
    this.bodyBytes -= bytes;
    if (this.memoryAlarm && this.bodyBytes < this.options.memoryHighWatermark * 0.8) {
      this.memoryAlarm = false;
      this.logger.warn({ bodyBytes: this.bodyBytes }, 'memory alarm cleared');
      this.onBlockedChange(this.blockReason);
    }
  }

  /** The disk monitor's verdict. */
  setDiskAlarm(alarm: boolean, freeBytes: number): void {
    this.diskAlarm = alarm;
    this.logger.warn({ freeBytes, limit: this.options.diskFreeLimit }, alarm ? 'disk alarm set: blocking publishers' : 'disk alarm cleared');
    this.onBlockedChange(this.blockReason);
  }
}
