/**
 * The paged-out tail of one queue: messages, metadata included, in a spill
 * file of the queue's own, read back in batches as the head drains.
 *
 * A long queue costs RAM per message (the Message and QueuedMessage objects,
 * about 1-2 KiB of RSS each beyond the body), so a queue past its paging
 * threshold appends new messages here instead of to its in-memory list; the
 * list pulls them back in arrival order once it runs low. A spilled message
 * costs no RAM at all. Spill files are a cache of RAM, not storage: nothing
 * is fsync'ed, they are deleted at start, and a transient message paged out
 * is still lost at restart (a durable one is recovered from the message store).
 *
 * Files are segments of SEGMENT_BYTES; a segment is unlinked once read past.
 * Writes collect in a buffer flushed with one write per WRITE_BUFFER bytes;
 * reads take READ_CHUNK bytes at a time. I/O is synchronous: it hits the page
 * cache, costs far less than the objects it saves, and keeps a queue's state
 * free of in-flight reads. Record: u32 length of what follows the CRC |
 * u32 crc32c of it | u32 metaLen | msgpack meta | body.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { pack, unpack, type MessageProperties } from '@warren/protocol';

/** What the queue needs to rebuild a message and its place in the queue. */
export interface SpilledMessage {
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  /** null: the body lives in the message store only (a durable message evicted before paging). */
  body: Buffer | null;
  bodySize: number;
  storeId: number;
  durable: boolean;
  evictable: boolean;
  seq: number;
  deliveryCount: number;
  expiresAt: number;
}

const SEGMENT_BYTES = 64 * 1024 * 1024;
const WRITE_BUFFER = 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
const PREFIX = 12;

export class SpillCorruptError extends Error {
  readonly code = 'SPILL_CORRUPT';
}

interface Segment {
  readonly no: number;
  readonly path: string;
  fd: number;
  /** Bytes written to the file (not counting the write buffer). */
  written: number;
}

export class QueueSpill {
  private readonly segments: Segment[] = [];
  private nextSegment = 0;
  private readonly writeBuf = Buffer.allocUnsafeSlow(WRITE_BUFFER);
  private writeLen = 0;
  /** Read position in segments[0]. */
  private readPos = 0;
  private readBuf = Buffer.allocUnsafeSlow(READ_CHUNK);
  /** Valid bytes in readBuf, and the file offset of readBuf[0]. */
  private readLen = 0;
  private readBase = 0;
  private count = 0;
  private bodyBytes = 0;

  /** `dir` must exist only when the first message is appended; files are named `<prefix>.<n>`. */
  constructor(
    private readonly dir: string,
    private readonly prefix: string,
  ) {}

  /** Messages paged out. */
  get length(): number {
    return this.count;
  }

  /** Body bytes of the messages paged out. */
  get bytes(): number {
    return this.bodyBytes;
  }

  append(m: SpilledMessage): void {
    const meta = pack([m.exchange, m.routingKey, m.properties, m.seq, m.deliveryCount, m.expiresAt, m.storeId, m.bodySize, flags(m)]);
    const body = m.body;
    const bodyLen = body === null ? 0 : body.length;
    const recordLen = PREFIX + meta.length + bodyLen;
    let seg = this.segments[this.segments.length - 1];
    if (seg === undefined || seg.written + this.writeLen + recordLen > SEGMENT_BYTES) {
      this.flush();
      seg = this.openSegment();
    }
    if (this.writeLen + recordLen > WRITE_BUFFER) this.flush();
    if (recordLen > WRITE_BUFFER) {
      // Larger than the buffer: header and meta through it, the body straight to the file.
      this.putHeader(meta, body, bodyLen);
      this.flush();
      if (body !== null) this.writeAll(seg, body);
    } else {
      this.putHeader(meta, body, bodyLen);
      if (body !== null) {
        body.copy(this.writeBuf, this.writeLen);
        this.writeLen += bodyLen;
      }
    }
    this.count++;
    this.bodyBytes += m.bodySize;
  }

  /** Up to `max` messages from the head, in the order they were appended. */
  take(max: number): SpilledMessage[] {
    const out: SpilledMessage[] = [];
    while (out.length < max && this.count > 0) {
      const seg = this.segments[0]!;
      if (this.readPos >= seg.written) {
        // The rest of the head segment is still in the write buffer, or the segment is read through.
        if (this.segments.length === 1) this.flush();
        else {
          this.dropHeadSegment();
          continue;
        }
      }
      out.push(this.readRecord(seg));
    }
    // Empty again: start over, so a queue that pages now and then keeps no file growing.
    if (this.count === 0 && this.segments.length > 0) this.clear();
    return out;
  }

  /** Drops everything and deletes the files (queue purged or deleted). */
  clear(): void {
    for (const seg of this.segments) {
      closeSync(seg.fd);
      unlinkSync(seg.path);
    }
    this.segments.length = 0;
    this.writeLen = 0;
    this.readPos = 0;
    this.readLen = 0;
    this.readBase = 0;
    this.count = 0;
    this.bodyBytes = 0;
  }

  /** Deletes what earlier runs left in `dir`: spilled messages do not survive a restart. */
  static resetDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }

  private putHeader(meta: Buffer, body: Buffer | null, bodyLen: number): void {
    const buf = this.writeBuf;
    const at = this.writeLen;
    buf.writeUInt32LE(4 + meta.length + bodyLen, at);
    buf.writeUInt32LE(meta.length, at + 8);
    meta.copy(buf, at + PREFIX);
    let crc = crc32c(buf.subarray(at + 8, at + PREFIX + meta.length));
    if (body !== null) crc = crc32c(body, crc);
    buf.writeUInt32LE(crc, at + 4);
    this.writeLen += PREFIX + meta.length;
  }

  private flush(): void {
    if (this.writeLen === 0) return;
    const seg = this.segments[this.segments.length - 1]!;
    this.writeAll(seg, this.writeBuf.subarray(0, this.writeLen));
    this.writeLen = 0;
  }

  private writeAll(seg: Segment, bytes: Buffer): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(seg.fd, bytes, done, bytes.length - done, seg.written + done);
    seg.written += bytes.length;
  }

  private openSegment(): Segment {
    if (this.segments.length === 0) mkdirSync(this.dir, { recursive: true });
    const no = this.nextSegment++;
    const path = join(this.dir, `${this.prefix}.${no}`);
    const seg: Segment = { no, path, fd: openSync(path, 'w+'), written: 0 };
    this.segments.push(seg);
    return seg;
  }

  private dropHeadSegment(): void {
    const seg = this.segments.shift()!;
    closeSync(seg.fd);
    unlinkSync(seg.path);
    this.readPos = 0;
    this.readLen = 0;
    this.readBase = 0;
  }

  /** Makes bytes [readPos, readPos + n) of the head segment available in readBuf; returns their offset there. */
  private ensure(seg: Segment, n: number): number {
    const off = this.readPos - this.readBase;
    if (off >= 0 && off + n <= this.readLen) return off;
    if (n > this.readBuf.length) this.readBuf = Buffer.allocUnsafeSlow(n);
    const want = Math.min(this.readBuf.length, seg.written - this.readPos);
    let got = 0;
    while (got < want) {
      const r = readSync(seg.fd, this.readBuf, got, want - got, this.readPos + got);
      if (r === 0) break;
      got += r;
    }
    this.readBase = this.readPos;
    this.readLen = got;
    if (got < n) throw new SpillCorruptError(`spill file ${seg.path}: short read at ${this.readPos}`);
    return 0;
  }

  private readRecord(seg: Segment): SpilledMessage {
    let off = this.ensure(seg, PREFIX);
    const len = this.readBuf.readUInt32LE(off);
    if (len < 4 || this.readPos + 8 + len > seg.written) throw new SpillCorruptError(`spill file ${seg.path}: bad length at ${this.readPos}`);
    off = this.ensure(seg, 8 + len);
    const buf = this.readBuf;
    const crc = buf.readUInt32LE(off + 4);
    if (crc32c(buf.subarray(off + 8, off + 8 + len)) !== crc) throw new SpillCorruptError(`spill file ${seg.path}: checksum mismatch at ${this.readPos}`);
    const metaLen = buf.readUInt32LE(off + 8);
    const [exchange, routingKey, properties, seq, deliveryCount, expiresAt, storeId, bodySize, f] = unpack(
      buf.subarray(off + PREFIX, off + PREFIX + metaLen),
    ) as [string, string, MessageProperties | null, number, number, number, number, number, number];
    const bodyStart = off + PREFIX + metaLen;
    const bodyEnd = off + 8 + len;
    const body = (f & HAS_BODY) !== 0 ? Buffer.from(buf.subarray(bodyStart, bodyEnd)) : null;
    this.readPos += 8 + len;
    this.count--;
    this.bodyBytes -= bodySize;
    return {
      exchange,
      routingKey,
      properties,
      body,
      bodySize,
      storeId,
      durable: (f & DURABLE) !== 0,
      evictable: (f & EVICTABLE) !== 0,
      seq,
      deliveryCount,
      expiresAt,
    };
  }
}

const HAS_BODY = 1;
const DURABLE = 2;
const EVICTABLE = 4;

function flags(m: SpilledMessage): number {
  return (m.body !== null ? HAS_BODY : 0) | (m.durable ? DURABLE : 0) | (m.evictable ? EVICTABLE : 0);
}
