/**
 * The memory budget and the alarms that block publishers.
 *
 * Message bodies held in RAM are counted here (`bodyBytes`). Past the budget,
 * durable bodies are evicted to disk once stored (see admission.ts). The memory
 * alarm is not on that count but on what the process really uses (RSS, see
 * memory-monitor.ts): above the high watermark it stops reading publishers'
 * sockets until memory falls. The disk alarm (free space under the limit,
 * reported by DiskMonitor) blocks them the same way. Consumers are never
 * blocked: they are how memory comes back.
 */
import type { Logger } from './logger.js';
import type { ResolvedOptions } from './options.js';
import type { MemorySample } from './memory-monitor.js';

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
    if (this.memoryAlarm) return `memory alarm: the broker's memory (RSS) is above its limit of ${this.options.memoryHighWatermark} bytes`;
    return null;
  }

  /** Past the budget, stored bodies should live on disk until delivered. */
  get overBudget(): boolean {
    return this.bodyBytes > this.options.memoryBudget;
  }

  /** A newly published body now held in RAM. */
  add(bytes: number): void {
    this.bodyBytes += bytes;
  }

  /** A body read back from disk (for delivery, or paged back in). */
  reloaded(bytes: number): void {
    this.bodyBytes += bytes;
  }

  /** A body left RAM (delivered and settled, dropped, evicted or paged out to disk). */
  release(bytes: number): void {
    this.bodyBytes -= bytes;
  }

  /** The memory monitor's verdict on the process's memory. */
  setMemoryAlarm(alarm: boolean, sample: MemorySample): void {
    this.memoryAlarm = alarm;
    this.logger.warn({ ...sample, bodyBytes: this.bodyBytes, limit: this.options.memoryHighWatermark }, alarm ? 'memory alarm set: blocking publishers' : 'memory alarm cleared');
    this.onBlockedChange(this.blockReason);
  }

  /** The disk monitor's verdict. */
  setDiskAlarm(alarm: boolean, freeBytes: number): void {
    this.diskAlarm = alarm;
    this.logger.warn({ freeBytes, limit: this.options.diskFreeLimit }, alarm ? 'disk alarm set: blocking publishers' : 'disk alarm cleared');
    this.onBlockedChange(this.blockReason);
  }
}
