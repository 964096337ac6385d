/**
 * A sequential reader of one stream from a given offset: reads the segment files in
 * large batches (1 MiB by default) through its own file handle and hands out records
 * as views of that batch, so replaying a stream of any size holds one batch per
 * reader in memory. It only returns durable records, moves to the next segment at the
 * end of one, and jumps forward to the first stored offset when retention deleted the
 * segment it would read next (the spec: a consumer behind retention continues at the
 * oldest message kept). A segment deleted while being read stays readable through the
 * open handle.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { WarrenError } from '@warren/protocol';
import { errors } from '../errors.js';
import { STREAM_SEGMENT_HEADER_SIZE, recordAt, recordLengthAt, recordOffset, segmentName, type StoredRecord } from './record-format.js';
import type { SegmentIndex } from './segment-index.js';
import type { StreamLog } from './stream-log.js';

export const DEFAULT_READ_BATCH_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
/** A replaying reader's buffer starts at this size (a consumer at the tail needs no more). */
const FIRST_BATCH_BYTES = 64 * 1024;

export class StreamReader {
  /** The offset the next record returned will have (or more, after retention). */
  next: number;
  private seg: SegmentIndex | null = null;
  private fh: FileHandle | null = null;
  /** File position of the record `scanFrom` in the current segment. */
  private pos = 0;
  private scanFrom = 0;
  private closed = false;

  constructor(
    private readonly log: StreamLog,
    offset: number,
    private readonly batchBytes = DEFAULT_READ_BATCH_BYTES,
  ) {
    this.next = offset;
    this.cap = Math.min(FIRST_BATCH_BYTES, batchBytes);
  }

  /**
   * Up to `maxRecords` records from `next` on, in offset order; [] when there is
   * nothing durable to read yet (wait with log.waitFor(reader.next)). The records are
   * views of a buffer of their own (kept as long as the caller keeps them).
   */
  async read(maxRecords: number): Promise<StoredRecord[]> {
    const n = await this.fill(maxRecords, false);
    const out: StoredRecord[] = [];
    for (let i = 0; i < n; i++) out.push(recordAt(this.batch, this.starts[i]!, this.ends[i]! - this.starts[i]!));
    return out;
  }

  /**
   * The replay path: reads up to `maxRecords` records into the reader's own batch
   * buffer and returns how many; record i is batch[starts[i], ends[i]) (the layout of
   * record-format.ts). The buffer is reused by the next call, so the caller must be
   * done with these bytes (copied them into its socket writes) before it reads again:
   * one reader holds one batch buffer, whatever the size of the stream.
   */
  readBatch(maxRecords: number): Promise<number> {
    return this.fill(maxRecords, true);
  }

  /** Buffer holding the records of the last readBatch/read. */
  batch: Buffer = EMPTY;
  /** Start and end positions in `batch` of each record of the last batch. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  private own: Buffer | null = null;
  private cap = FIRST_BATCH_BYTES;

  private async fill(maxRecords: number, reuse: boolean): Promise<number> {
    this.starts.length = 0;
    this.ends.length = 0;
    for (;;) {
      if (this.closed) return 0;
      if (this.next < this.log.first) await this.moveTo(this.log.first);
      const end = this.log.next;
      if (this.next >= end || maxRecords <= 0) {
        // Caught up: a reader waiting at the tail keeps only a small buffer.
        if (this.cap > FIRST_BATCH_BYTES) {
          this.own = null;
          this.cap = Math.min(FIRST_BATCH_BYTES, this.batchBytes);
        }
        return 0;
      }
      if (this.seg === null || this.next >= this.seg.next || this.next < this.scanFrom) await this.locate();
      const seg = this.seg!;
      const limit = seg.durable - this.pos;
      if (limit <= 0) {
        // End of a sealed segment whose last record we passed: go on with the next one.
        await this.moveTo(seg.next);
        continue;
      }
      let buf: Buffer;
      let want: number;
      if (reuse) {
        // The batch buffer starts small and doubles while reads fill it, up to batchBytes.
        if (this.own === null || this.own.length < this.cap) this.own = Buffer.allocUnsafeSlow(this.cap);
        buf = this.own;
        want = Math.min(buf.length, limit);
      } else {
        want = Math.min(this.batchBytes, limit);
        buf = Buffer.allocUnsafe(want);
      }
      let got = await this.readAt(buf, want, this.pos);
      if (reuse && got === this.cap && this.cap < this.batchBytes) this.cap = Math.min(this.batchBytes, this.cap * 2);
      let at = 0;
      let n = 0;
      while (n < maxRecords) {
        // No CRC here: replay only reads bytes below `durable`, which were fdatasync'ed by
        // the writer (CRC'ed when encoded) or checked record by record, CRC included, by
        // recovery when the stream was opened (a torn tail is cut there). The structure
        // (magic, lengths, consecutive offsets) is still checked on every record.
        let len = recordLengthAt(buf, at, got, false);
        if (len < -1 && at === 0) {
          // One record larger than the batch: read exactly it, into a buffer of its own.
          const needed = -len - 2;
          if (needed > limit) throw corrupt(seg, this.pos);
          buf = Buffer.allocUnsafe(needed);
          got = await this.readAt(buf, needed, this.pos);
          len = recordLengthAt(buf, 0, got, false);
        }
        if (len === -1) throw corrupt(seg, this.pos + at);
        if (len < 0) break;
        const offset = recordOffset(buf, at);
        if (offset >= end) break;
        if (offset >= this.next) {
          if (offset !== this.next && n > 0) throw corrupt(seg, this.pos + at);
          this.starts.push(at);
          this.ends.push(at + len);
          n++;
          this.next = offset + 1;
        }
        at += len;
        this.scanFrom = offset + 1;
        if (at >= got) break;
      }
      this.pos += at;
      this.batch = buf;
      if (n > 0) return n;
    }
  }

  private async readAt(buf: Buffer, len: number, pos: number): Promise<number> {
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.fh!.read(buf, done, len - done, pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  private async moveTo(offset: number): Promise<void> {
    this.next = offset;
    await this.closeHandle();
  }

  /** Opens the segment holding `next` and finds the indexed position at or before it. */
  private async locate(): Promise<void> {
    await this.closeHandle();
    for (;;) {
      const seg = this.log.segmentFor(this.next);
      try {
        this.fh = await open(join(this.log.dir, segmentName(seg.base)), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        // Deleted by retention between the lookup and the open.
        if (this.next < this.log.first) this.next = this.log.first;
        continue;
      }
      this.seg = seg;
      const at = seg.positionFor(this.next);
      this.pos = at.pos < 0 ? STREAM_SEGMENT_HEADER_SIZE : at.pos;
      this.scanFrom = at.offset;
      return;
    }
  }

  private async closeHandle(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.seg = null;
    if (fh) await fh.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.own = null;
    this.batch = EMPTY;
    await this.closeHandle();
  }
}

function corrupt(seg: SegmentIndex, pos: number): WarrenError {
  return errors.storage(`stream segment ${segmentName(seg.base)} is corrupt at byte ${pos}`);
}
