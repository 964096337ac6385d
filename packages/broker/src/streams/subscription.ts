/**
 * One stream subscription: a reader at its own position in the log, pumping
 * STREAM_DELIVER frames to its connection while it has credit and the socket keeps
 * up. Each subscription reads independently, so a slow one never holds back a fast
 * one or the publishers; a subscription with a filter sends only matching messages
 * (others cost neither credit nor bandwidth).
 */
import { pack, unpack, type MessageProperties, type WarrenError } from '@warren/protocol';
import { errors } from '../errors.js';
import { RECORD_HEADER_SIZE, recordOffset, recordTimestamp } from './record-format.js';
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
   * STREAM_DELIVER straight from a stored record: `tag` is the consumer tag encoded as a
   * MessagePack string, src[metaStart, bodyStart) the stored `[exchange, routingKey,
   * properties]` bytes and src[bodyStart, end) the body, copied into the socket's
   * batched writes as they are (src is the reader's reusable batch buffer).
   * false, and nothing sent, when the frame would exceed the connection's frameMax.
   */
  sendStreamRecord(tag: Buffer, offset: number, timestamp: number, src: Buffer, metaStart: number, bodyStart: number, end: number): boolean;
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
  /** The consumer tag as a MessagePack string, encoded once. */
  private readonly tagBytes: Buffer;

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
    this.tagBytes = pack(tag);
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
    const tag = this.tagBytes;
    try {
      while (!this.closed && this.active && this.credit > 0 && this.sink.writable) {
        // One batch: up to 1 MiB of records read with one read() into the reader's buffer,
        // each one copied as stored (no decoding, no re-encoding) behind a small header into
        // the connection's slab, which goes out in one corked write per turn.
        const n = await reader.readBatch(Math.min(this.credit, MAX_RECORDS_PER_READ));
        if (this.closed) return;
        if (n === 0) {
          if (this.log.isClosed || this.log.failed) return;
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            void this.log.waitFor(reader.next).then(resolve);
          });
          this.wake = null;
          continue;
        }
        const filter = this.filter;
        const buf = reader.batch;
        const starts = reader.starts;
        const ends = reader.ends;
        for (let i = 0; i < n; i++) {
          const at = starts[i]!;
          const metaStart = at + RECORD_HEADER_SIZE;
          const bodyStart = metaStart + buf.readUInt32LE(at + 28);
          // Only a filter needs the properties decoded; otherwise the stored bytes go out as they are.
          if (filter !== null && !matches(filter, (unpack(buf.subarray(metaStart, bodyStart)) as [string, string, MessageProperties | null])[2])) continue;
          const offset = recordOffset(buf, at);
          if (!this.sink.sendStreamRecord(tag, offset, recordTimestamp(buf, at), buf, metaStart, bodyStart, ends[i]!)) {
            // Never skipped silently, never retried in a loop: the subscription ends here (spec 8.6, "Records above frameMax").
            this.onError(this, errors.streamRecordTooLarge(this.stream, offset, this.sink.frameMax));
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
