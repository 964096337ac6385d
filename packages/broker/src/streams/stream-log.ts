/**
 * One stream's append-only log: a folder of segment files, each named by its first
 * offset. Appends get the next dense offset and a broker timestamp (never going
 * backwards, so time lookups can binary-search) and are written by one flush loop
 * with group commit: everything queued is written with writev, the segment gets ONE
 * fdatasync, and only then are the batch's callbacks called and the records made
 * visible to readers; so a reader never sees a record that a crash could take back.
 * Segments roll at `segmentBytes`; retention (age, size) deletes whole segments from
 * the old end, never the one being written, so it costs nothing per message.
 * Opening a stream trusts the sealed segments' saved indexes and rescans only the
 * rest; a torn or corrupt tail is cut off at the last valid record.
 * A write or fsync error is fatal: the log refuses all further appends.
 */
import { mkdir, open, readdir, rm, stat, unlink, writeFile, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { WarrenError } from '@warren/protocol';
import { errors } from '../errors.js';
import { writeAll } from '../storage/log-writer.js';
import {
  STREAM_SEGMENT_HEADER_SIZE,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  indexName,
  parseSegmentName,
  recordLengthAt,
  recordOffset,
  recordTimestamp,
  segmentName,
  type EncodedStreamRecord,
} from './record-format.js';
import { SegmentIndex } from './segment-index.js';
import { StreamReader } from './stream-reader.js';

export type StreamSyncMode = 'always' | 'never';
export type AppendCallback = (err: Error | null, offset: number) => void;
/** The publish path's way to hear of an append: no closure per message (a connection is one). */
export interface AppendListener {
  stored(token: number, err: WarrenError | null): void;
}

/** Where a consumer starts: a keyword, an offset, or the first message at or after a time. */
export type StartSpec = 'first' | 'last' | 'next' | { offset: number } | { timestamp: number };

export interface StreamLogHooks {
  beforeWrite?: (base: number, bytes: number) => void | Promise<void>;
  beforeSync?: (base: number) => void | Promise<void>;
}

export interface StreamLogOptions {
  dir: string;
  /** Segment roll size in bytes. Default 64 MiB. */
  segmentBytes?: number;
  /** Retention by age in ms (0 or absent: keep). */
  maxAgeMs?: number;
  /** Retention by total size in bytes (0 or absent: keep). */
  maxBytes?: number;
  sync?: StreamSyncMode;
  /** Milliseconds since the epoch; injected by tests. */
  clock?: () => number;
  onFatal?: (err: Error) => void;
  hooks?: StreamLogHooks;
}

export interface StreamRecoveryStats {
  segments: number;
  /** Segments whose saved index was missing or stale and were rescanned. */
  scanned: number;
  /** Bytes cut off a torn tail (and segments after a break in the chain). */
  truncatedBytes: number;
}

export const DEFAULT_STREAM_SEGMENT_BYTES = 64 * 1024 * 1024;
const MAX_BATCH_BYTES = 16 * 1024 * 1024;
const SCAN_CHUNK = 4 * 1024 * 1024;

interface Pending {
  rec: EncodedStreamRecord;
  offset: number;
  timestamp: number;
  cb: AppendCallback | null;
  listener: AppendListener | null;
  token: number;
}

/** Record heads are carved from slabs of this size (a slab is dropped once its records are written). */
const SLAB_BYTES = 256 * 1024;

export class StreamLog {
  /** Segments oldest first; the last one is the head being written. */
  readonly segments: SegmentIndex[] = [];
  readonly recovery: StreamRecoveryStats = { segments: 0, scanned: 0, truncatedBytes: 0 };
  readonly stats = { appends: 0, batches: 0, syncs: 0, segmentsDeleted: 0 };
  /** Offset after the last durable record: what readers may see. */
  private committedNext = 0;
  /** Offset the next append gets. */
  private appendNext = 0;
  /** Highest timestamp given out: the broker clock never goes backwards within a stream. */
  private clockHigh = 0;
  private headHandle!: FileHandle;
  private queue: Pending[] = [];
  private running = false;
  private scheduled = false;
  private closed = false;
  private failure: WarrenError | null = null;
  private waiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private readonly segmentBytes: number;
  private readonly clock: () => number;
  private readonly sync: StreamSyncMode;
  maxAgeMs: number;
  maxBytes: number;

  private constructor(private readonly o: StreamLogOptions) {
    this.segmentBytes = o.segmentBytes ?? DEFAULT_STREAM_SEGMENT_BYTES;
    this.clock = o.clock ?? Date.now;
    this.sync = o.sync ?? 'always';
    this.maxAgeMs = o.maxAgeMs ?? 0;
    this.maxBytes = o.maxBytes ?? 0;
  }

  static async open(o: StreamLogOptions): Promise<StreamLog> {
    const log = new StreamLog(o);
    await mkdir(o.dir, { recursive: true });
    await log.recover();
    return log;
  }

  get dir(): string {
    return this.o.dir;
  }
  /** First offset still stored. */
  get first(): number {
    return this.segments[0]!.base;
  }
  /** Offset after the last durable record (the offset the next message will get once durable). */
  get next(): number {
    return this.committedNext;
  }
  /** Durable messages stored. */
  get messages(): number {
    return this.committedNext - this.first;
  }
  get bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }
  get firstTimestamp(): number | null {
    for (const s of this.segments) if (s.count > 0) return s.firstTimestamp;
    return null;
  }
  get lastTimestamp(): number | null {
    for (let i = this.segments.length - 1; i >= 0; i--) if (this.segments[i]!.count > 0) return this.segments[i]!.lastTimestamp;
    return null;
  }
  get failed(): WarrenError | null {
    return this.failure;
  }

  // -- appending --------------------------------------------------------------

  /**
   * Queues one record; returns its offset. `cb` runs once it is durable (or with the
   * error that stopped the log). The record becomes visible to readers at that moment.
   */
  append(meta: Buffer, body: Buffer, cb: AppendCallback | null): number {
    return this.enqueue(meta, body, cb, null, 0);
  }

  /** append() for the publish path: `listener.stored(token, err)` once durable (or failed). */
  appendFor(meta: Buffer, body: Buffer, listener: AppendListener, token: number): number {
    return this.enqueue(meta, body, null, listener, token);
  }

  private enqueue(meta: Buffer, body: Buffer, cb: AppendCallback | null, listener: AppendListener | null, token: number): number {
    if (this.failure || this.closed) {
      const err = this.failure ?? errors.storage('stream is closed');
      if (cb) setImmediate(cb, err, -1);
      if (listener) setImmediate(() => listener.stored(token, err));
      return -1;
    }
    const offset = this.appendNext++;
    const now = this.clock();
    const timestamp = now > this.clockHigh ? now : this.clockHigh;
    this.clockHigh = timestamp;
    this.queue.push({ rec: encodeRecord(offset, timestamp, meta, body, this.carve), offset, timestamp, cb, listener, token });
    this.stats.appends++;
    if (!this.scheduled && !this.running) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.run();
      });
    }
    return offset;
  }

  private slab: Buffer = Buffer.alloc(0);
  private slabPos = 0;
  /** n bytes of the current slab (a new slab when it is full). */
  private readonly carve = (n: number): Buffer => {
    if (this.slab.length - this.slabPos < n) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, n));
      this.slabPos = 0;
    }
    const start = this.slabPos;
    this.slabPos += n;
    return this.slab.subarray(start, this.slabPos);
  };

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.queue.length > 0 && !this.failure) {
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && (n === 0 || bytes < MAX_BATCH_BYTES)) bytes += this.queue[n++]!.rec.length;
      const batch = this.queue.splice(0, n);
      try {
        await this.writeBatch(batch);
      } catch (err) {
        this.fail(err, batch);
        break;
      }
      this.committedNext = batch[batch.length - 1]!.offset + 1;
      // Retention first (a loop over nothing unless a segment just filled up), so whoever
      // sees the confirm also sees the limits applied.
      if (this.maxAgeMs > 0 || this.maxBytes > 0) await this.applyRetention().catch(() => undefined);
      for (const p of batch) {
        if (p.listener !== null) p.listener.stored(p.token, null);
        else if (p.cb !== null) safeCall(p.cb, null, p.offset);
      }
      this.wake();
    }
    this.running = false;
    const idle = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of idle) resolve();
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let createdSegment = false;
    let head = this.segments[this.segments.length - 1]!;
    let bufs: Buffer[] = [];
    let start = head.size;
    let pos = start;
    for (const p of batch) {
      if (pos + p.rec.length > this.segmentBytes && head.count > 0) {
        await this.writeOut(head, bufs, start);
        await this.syncHead(head);
        head.durable = head.size;
        head = await this.roll(head, p.timestamp);
        createdSegment = true;
        bufs = [];
        start = pos = head.size;
      }
      for (const b of p.rec.bufs) bufs.push(b);
      head.add(p.offset, pos, p.rec.length, p.timestamp);
      pos += p.rec.length;
    }
    await this.writeOut(head, bufs, start);
    if (this.sync === 'always') await this.syncHead(head);
    if (createdSegment) await syncDir(this.o.dir);
    head.durable = head.size;
    this.stats.batches++;
  }

  private async writeOut(head: SegmentIndex, bufs: Buffer[], pos: number): Promise<void> {
    if (bufs.length === 0) return;
    // Record heads carved one after the other from a slab are one iovec.
    const iov: Buffer[] = [];
    let bytes = 0;
    let run = bufs[0]!;
    let runEnd = run.byteOffset;
    const close = (): void => {
      const len = runEnd - run.byteOffset;
      iov.push(len === run.length ? run : Buffer.from(run.buffer, run.byteOffset, len));
    };
    for (const b of bufs) {
      bytes += b.length;
      if (b.buffer === run.buffer && b.byteOffset === runEnd) {
        runEnd += b.length;
        continue;
      }
      close();
      run = b;
      runEnd = b.byteOffset + b.length;
    }
    close();
    await this.o.hooks?.beforeWrite?.(head.base, bytes);
    await writeAll(this.headHandle, iov, pos);
  }

  private async syncHead(head: SegmentIndex): Promise<void> {
    await this.o.hooks?.beforeSync?.(head.base);
    await this.headHandle.datasync();
    this.stats.syncs++;
  }

  /** Seals `head` (its data is synced): saves its index and starts a new segment. */
  private async roll(head: SegmentIndex, now: number): Promise<SegmentIndex> {
    await this.headHandle.close();
    // The index is a cache: a torn one fails its CRC and costs a rescan, so no fsync.
    await writeFile(join(this.o.dir, indexName(head.base)), head.encode());
    const base = head.next;
    const fh = await open(join(this.o.dir, segmentName(base)), 'wx+');
    const header = encodeSegmentHeader(base, now);
    await writeAll(fh, [header], 0);
    this.headHandle = fh;
    const seg = new SegmentIndex(base, STREAM_SEGMENT_HEADER_SIZE);
    this.segments.push(seg);
    return seg;
  }

  private fail(cause: unknown, inFlight: Pending[]): void {
    const message = cause instanceof Error ? cause.message : String(cause);
    const err = errors.storage(`stream write failed: ${message}`, cause);
    this.failure = err;
    const victims = [...inFlight, ...this.queue];
    this.queue = [];
    for (const p of victims) {
      if (p.listener !== null) p.listener.stored(p.token, err);
      else if (p.cb !== null) safeCall(p.cb, err, -1);
    }
    this.wake();
    this.o.onFatal?.(err);
  }

  /** Resolves once everything appended so far has been written (or has failed). */
  async flushed(): Promise<void> {
    while (this.running || this.scheduled || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  // -- reading ----------------------------------------------------------------

  /** Resolves when a record at `offset` is readable, or the log stopped (closed, failed, deleted). */
  waitFor(offset: number): Promise<void> {
    if (offset < this.committedNext || this.closed || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The segment holding `offset` (which must be within first..next-1), or the head. */
  segmentFor(offset: number): SegmentIndex {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.base <= offset) lo = mid;
      else hi = mid - 1;
    }
    return segs[lo]!;
  }

  /** Clamps an offset into first..next (the spec: out-of-range offsets go to the ends). */
  clamp(offset: number): number {
    return offset < this.first ? this.first : offset > this.committedNext ? this.committedNext : offset;
  }

  /** The offset a consumer starting at `spec` reads first. */
  async resolveStart(spec: StartSpec): Promise<number> {
    if (spec === 'first') return this.first;
    if (spec === 'next') return this.committedNext;
    if (spec === 'last') return this.committedNext > this.first ? this.committedNext - 1 : this.committedNext;
    if ('offset' in spec) return this.clamp(spec.offset);
    return this.offsetAtTime(spec.timestamp);
  }

  /** Offset of the first record with timestamp >= ts, or next when there is none. */
  async offsetAtTime(ts: number): Promise<number> {
    const seg = this.segments.find((s) => s.count > 0 && s.lastTimestamp >= ts);
    if (seg === undefined) return this.committedNext;
    if (seg.firstTimestamp >= ts) return Math.max(seg.base, this.first);
    const from = seg.positionForTime(ts);
    const reader = new StreamReader(this, from.offset);
    try {
      for (;;) {
        const batch = await reader.read(1024);
        if (batch.length === 0) return this.committedNext;
        for (const r of batch) if (r.timestamp >= ts) return r.offset;
      }
    } finally {
      await reader.close();
    }
  }

  reader(offset: number, batchBytes?: number): StreamReader {
    return new StreamReader(this, offset, batchBytes);
  }

  // -- retention ---------------------------------------------------------------

  /** Deletes whole segments from the old end while age or size limits are exceeded; returns how many. */
  async applyRetention(now = this.clock()): Promise<number> {
    let deleted = 0;
    let total = this.bytes;
    while (this.segments.length > 1 && !this.closed) {
      const oldest = this.segments[0]!;
      const tooOld = this.maxAgeMs > 0 && oldest.count > 0 && oldest.lastTimestamp < now - this.maxAgeMs;
      const tooBig = this.maxBytes > 0 && total > this.maxBytes;
      const empty = oldest.count === 0;
      if (!tooOld && !tooBig && !empty) break;
      this.segments.shift();
      total -= oldest.size;
      await unlinkIfExists(join(this.o.dir, segmentName(oldest.base)));
      await unlinkIfExists(join(this.o.dir, indexName(oldest.base)));
      deleted++;
      this.stats.segmentsDeleted++;
    }
    if (deleted > 0) await syncDir(this.o.dir);
    return deleted;
  }

  // -- lifecycle ---------------------------------------------------------------

  /** Writes what is queued, syncs, and stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushed();
    if (!this.failure) {
      try {
        await this.headHandle.datasync();
      } catch {
        /* closing anyway */
      }
    }
    await this.headHandle.close().catch(() => undefined);
    this.wake();
  }

  /** Closes and removes every file of the stream. */
  async destroy(): Promise<void> {
    await this.close();
    await rm(this.o.dir, { recursive: true, force: true });
  }

  // -- recovery ----------------------------------------------------------------

  private async recover(): Promise<void> {
    const dir = this.o.dir;
    const names = await readdir(dir);
    const bases = names
      .map(parseSegmentName)
      .filter((b): b is number => b !== null)
      .sort((a, b) => a - b);
    const kept: SegmentIndex[] = [];
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const isLast = i === bases.length - 1;
      const expected = kept.length > 0 ? kept[kept.length - 1]!.next : base;
      const seg = base === expected ? await this.loadSegment(base, isLast) : null;
      if (seg === null) {
        // A break in the chain (a torn header, or records missing before this one):
        // nothing from here on was ever acknowledged; drop it.
        for (const rest of bases.slice(i)) {
          const p = join(dir, segmentName(rest));
          this.recovery.truncatedBytes += (await stat(p)).size;
          await unlinkIfExists(p);
          await unlinkIfExists(join(dir, indexName(rest)));
        }
        await syncDir(dir);
        break;
      }
      kept.push(seg);
    }
    if (kept.length === 0) {
      const fh = await open(join(dir, segmentName(0)), 'wx+');
      await writeAll(fh, [encodeSegmentHeader(0, this.clock())], 0);
      await fh.datasync();
      await syncDir(dir);
      this.headHandle = fh;
      kept.push(new SegmentIndex(0, STREAM_SEGMENT_HEADER_SIZE));
    } else {
      const head = kept[kept.length - 1]!;
      const path = join(dir, segmentName(head.base));
      this.headHandle = await open(path, 'r+');
      const size = (await this.headHandle.stat()).size;
      if (size > head.size) {
        this.recovery.truncatedBytes += size - head.size;
        await this.headHandle.truncate(head.size);
        await this.headHandle.datasync();
      }
      // The head's index is rebuilt from the log on every open; a stale .idx must not be trusted later.
      await unlinkIfExists(join(dir, indexName(head.base)));
    }
    this.segments.push(...kept);
    const head = kept[kept.length - 1]!;
    this.committedNext = this.appendNext = head.next;
    for (const s of kept) if (s.count > 0) this.clockHigh = Math.max(this.clockHigh, s.lastTimestamp);
    this.recovery.segments = kept.length;
  }

  /** The index of one segment: its saved .idx when valid (sealed segments), else a scan. Null: unusable header. */
  private async loadSegment(base: number, isLast: boolean): Promise<SegmentIndex | null> {
    const path = join(this.o.dir, segmentName(base));
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const header = Buffer.alloc(STREAM_SEGMENT_HEADER_SIZE);
      const { bytesRead } = await fh.read(header, 0, header.length, 0);
      if (bytesRead < header.length || decodeSegmentHeader(header) !== base) return null;
      if (!isLast) {
        const saved = await readFile(join(this.o.dir, indexName(base))).catch(() => null);
        const idx = saved && SegmentIndex.decode(base, STREAM_SEGMENT_HEADER_SIZE, saved, size);
        if (idx && idx.size === size) return idx;
      }
      this.recovery.scanned++;
      const idx = await scanSegment(fh, base, size);
      if (!isLast && idx.size < size) {
        // A sealed segment with a damaged end: later segments cannot follow it.
        this.recovery.truncatedBytes += size - idx.size;
        const w = await open(path, 'r+');
        await w.truncate(idx.size);
        await w.datasync();
        await w.close();
      } else if (!isLast) {
        await writeFile(join(this.o.dir, indexName(base)), idx.encode());
      }
      return idx;
    } finally {
      await fh.close();
    }
  }
}

/** Reads a segment from the start and indexes every valid record up to the first bad or missing one. */
async function scanSegment(fh: FileHandle, base: number, size: number): Promise<SegmentIndex> {
  const idx = new SegmentIndex(base, STREAM_SEGMENT_HEADER_SIZE);
  let buf = Buffer.allocUnsafe(SCAN_CHUNK);
  let filePos = STREAM_SEGMENT_HEADER_SIZE;
  let expected = base;
  scan: while (filePos < size) {
    const got = await readFully(fh, buf, Math.min(buf.length, size - filePos), filePos);
    if (got === 0) break;
    let at = 0;
    for (;;) {
      const len = recordLengthAt(buf, at, got);
      if (len === -1) break scan; // corrupt: the valid log ends here
      if (len < 0) {
        const needed = -len - 2;
        if (filePos + at + needed > size) break scan; // torn: the rest never reached the disk
        // Complete on disk: read again from here, in a larger buffer if one record does not fit.
        if (at === 0) buf = Buffer.allocUnsafe(needed);
        break;
      }
      if (recordOffset(buf, at) !== expected) break scan;
      idx.add(expected, filePos + at, len, recordTimestamp(buf, at));
      idx.durable = idx.size;
      expected++;
      at += len;
    }
    filePos += at;
  }
  return idx;
}

async function readFully(fh: FileHandle, buf: Buffer, len: number, pos: number): Promise<number> {
  let done = 0;
  while (done < len) {
    const { bytesRead } = await fh.read(buf, done, len - done, pos + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function safeCall(cb: AppendCallback, err: Error | null, offset: number): void {
  try {
    cb(err, offset);
  } catch {
    /* a throwing callback is the caller's bug; the log goes on */
  }
}
