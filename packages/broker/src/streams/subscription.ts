/**
 * One stream subscription: a reader at its own position in the log, pumping
 * STREAM_DELIVER frames to its connection while it has credit and the socket keeps
 * up. Each subscription reads independently, so a slow one never holds back a fast
 * one or the publishers; a subscription with a filter sends only matching messages
 * (others cost neither credit nor bandwidth).
 */
import { unpack, type MessageProperties, type WarrenError } from '@warren/protocol';
import { errors } from '../errors.js';
import type { StreamLog } from './stream-log.js';
import type { StreamReader } from './stream-reader.js';

/** What a subscription needs from its connection. */
export interface StreamSink {
  readonly id: string;
  /** false while the socket is congested: the subscription waits for onDrained. */
  readonly writable: boolean;
  sendStreamCancelled(consumerTag: string, err: WarrenError): void;
  /** The connection's negotiated frameMax (for the error when a record does not fit it). */
  readonly frameMax: number;
  /**
   * STREAM_DELIVER with the stored `[exchange, routingKey, properties]` bytes spliced in as they are.
   * false, and nothing sent, when the frame would exceed the connection's frameMax.
   */
  sendStreamDelivery(consumerTag: string, offset: number, timestamp: number, meta: Buffer, body: Buffer): boolean;
}

export interface StreamFilter {
  header: string;
  values: unknown[];
}

/** Records read per turn at most (bounded further by credit and the reader's batch size). */
const MAX_RECORDS_PER_READ = 4096;

export class StreamSubscription {
  credit: number;
  /** Single active consumer: false while another subscriber of the same name reads. */
  active = true;
  private reader: StreamReader | null = null;
  private pumping = false;
  private closed = false;
  private wake: (() => void) | null = null;
  delivered = 0;

  constructor(
    readonly tag: string,
    readonly sink: StreamSink,
    readonly stream: string,
    readonly log: StreamLog,
    readonly name: string | null,
    readonly filter: StreamFilter | null,
    credit: number,
    private readonly onError: (sub: StreamSubscription, err: Error) => void,
  ) {
    this.credit = credit;
  }

  /** The next offset this subscription will read (null before it started). */
  get position(): number | null {
    return this.reader?.next ?? null;
  }

  start(offset: number): void {
    this.reader = this.log.reader(offset);
    this.pump();
  }

  addCredit(n: number): void {
    this.credit += n;
    this.pump();
  }

  /** Restarts a subscription that stopped for lack of socket space, credit or data. */
  pump(): void {
    if (this.pumping || this.closed || !this.active || this.reader === null) {
      this.wake?.();
      return;
    }
    this.pumping = true;
    void this.run().finally(() => (this.pumping = false));
  }

  private async run(): Promise<void> {
    const reader = this.reader!;
    try {
      while (!this.closed && this.active && this.credit > 0 && this.sink.writable) {
        const records = await reader.read(Math.min(this.credit, MAX_RECORDS_PER_READ));
        if (this.closed) return;
        if (records.length === 0) {
          if (this.log.isClosed || this.log.failed) return;
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            void this.log.waitFor(reader.next).then(resolve);
          });
          this.wake = null;
          continue;
        }
        const filter = this.filter;
        for (const r of records) {
          // Only a filter needs the properties decoded; otherwise the stored bytes go out as they are.
          if (filter !== null && !matches(filter, (unpack(r.meta) as [string, string, MessageProperties | null])[2])) continue;
          if (!this.sink.sendStreamDelivery(this.tag, r.offset, r.timestamp, r.meta, r.body)) {
            // Never skipped silently, never retried in a loop: the subscription ends here (spec 8.6, "Records above frameMax").
            this.onError(this, errors.streamRecordTooLarge(this.stream, r.offset, this.sink.frameMax));
            return;
          }
          this.credit--;
          this.delivered++;
        }
      }
    } catch (err) {
      if (!this.closed) this.onError(this, err as Error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.reader?.close();
  }
}

function matches(filter: StreamFilter, properties: MessageProperties | null): boolean {
  const v = properties?.headers?.[filter.header];
  return v !== undefined && filter.values.includes(v);
}
