/**
 * The single writer of the shared message log, with group commit.
 *
 * Records are queued in append order. One flush loop at a time takes everything
 * queued, writes it with writev (one series per segment touched), runs ONE
 * fdatasync per dirty segment, and only then calls the batch's callbacks. Records
 * appended meanwhile form the next batch, so batches grow with load; the only
 * deferral is one setImmediate, which lets a burst from one I/O phase share a batch.
 * A write or sync error is fatal: every queued and future callback gets the error
 * and nothing is ever reported durable again (a retried fsync can lie: PostgreSQL's
 * "fsyncgate").
 */
import type { FileHandle } from 'node:fs/promises';
import type { WarrenError } from '@warren/protocol';
import { errors } from '../errors.js';
import { encodeSegmentHeader, SEGMENT_HEADER_SIZE, type EncodedRecord } from './format.js';
import type { SegmentFiles } from './segment-files.js';
import type { StorageLogger, StoreHooks, SyncMode } from './types.js';
import { BATCH_BUCKETS, BucketHistogram, FSYNC_BUCKETS } from './histogram.js';

export interface SegmentState {
  no: number;
  /** Logical end: bytes written plus bytes queued. */
  end: number;
  /** Bytes on disk (written, not necessarily synced). */
  written: number;
  /** Written since the last fdatasync. */
  dirty: boolean;
}

export type DurableCallback = (err: Error | null) => void;

interface Pending {
  seg: SegmentState;
  pos: number;
  bufs: Buffer[];
  length: number;
  cb: DurableCallback | null;
  /** Sync this batch even with sync='never' (compaction copies before their originals go). */
  force: boolean;
  create: boolean;
}

export interface LogWriterOptions {
  files: SegmentFiles;
  sync: SyncMode;
  segmentSize: number;
  logger: StorageLogger;
  onFatal: (err: Error) => void;
  hooks: StoreHooks;
  /** Next message id, stamped in each new segment header. */
  nextId: () => number;
  /** The head moved on: the previous head may now be deletable. */
  onRoll: (previousHead: number) => void;
}

const MAX_BATCH_RECORDS = 16_384;
const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** Linux IOV_MAX: more buffers per writev call are rejected. */
const IOV_MAX = 1024;

export class LogWriter {
  /** Every segment on disk, oldest first (Map keeps insertion order). */
  readonly segments = new Map<number, SegmentState>();
  head!: SegmentState;
  readonly stats = { records: 0, batches: 0, syncs: 0 };
  /** fdatasync durations (seconds) and records per batch, for /metrics and the overview. */
  readonly syncSeconds = new BucketHistogram(FSYNC_BUCKETS);
  readonly batchRecords = new BucketHistogram(BATCH_BUCKETS);

  private queue: Pending[] = [];
  private inFlight: Pending[] | null = null;
  private running = false;
  private scheduled = false;
  private closed = false;
  private error: WarrenError | null = null;
  private batchWaiters: Array<() => void> = [];

  constructor(private readonly o: LogWriterOptions) {}

  get failure(): WarrenError | null {
    return this.error;
  }

  /** Registers a segment found by recovery (read-only from now on). */
  adopt(no: number, size: number): void {
    this.segments.set(no, { no, end: size, written: size, dirty: false });
  }

  /** Forgets a segment the reclaimer is deleting (never the head). */
  retire(no: number): void {
    if (no !== this.head.no) this.segments.delete(no);
  }

  /** Creates the first head segment, durably (file and directory entry). */
  async start(no: number): Promise<void> {
    const header = encodeSegmentHeader(no, this.o.nextId());
    const fh = await this.o.files.create(no);
    await writeAll(fh, [header], 0);
    await fh.datasync();
    await this.o.files.syncDir();
    this.head = { no, end: header.length, written: header.length, dirty: false };
    this.segments.set(no, this.head);
  }

  /**
   * Queues a record. Returns where it will be, or null when the writer has failed or
   * closed (cb then gets the error on the next turn).
   */
  append(rec: EncodedRecord, cb: DurableCallback | null, force = false): { seg: number; off: number } | null {
    if (this.error || this.closed) {
      const err = this.error ?? errors.storage('message store is closed');
      if (cb) setImmediate(safeCall, cb, err, this.o.logger);
      return null;
    }
    let seg = this.head;
    if (seg.end + rec.length > this.o.segmentSize && seg.end > SEGMENT_HEADER_SIZE) seg = this.roll();
    const pos = seg.end;
    seg.end += rec.length;
    this.queue.push({ seg, pos, bufs: rec.bufs, length: rec.length, cb, force, create: false });
    this.stats.records++;
    this.schedule();
    return { seg: seg.no, off: pos };
  }

  /** Resolves once bytes [.., end) of segment no are on disk (not necessarily synced). */
  async whenWritten(no: number, end: number): Promise<void> {
    for (;;) {
      if (this.error) throw this.error;
      const s = this.segments.get(no);
      if (!s || s.written >= end) return;
      await new Promise<void>((resolve) => this.batchWaiters.push(resolve));
    }
  }

  /** Writes everything queued, syncs every dirty segment (whatever the sync mode) and stops accepting. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running || this.scheduled || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.batchWaiters.push(resolve));
    }
    if (this.error) return;
    try {
      await this.syncDirty();
    } catch (err) {
      this.fail(err);
    }
  }

  private roll(): SegmentState {
    const previous = this.head;
    const no = previous.no + 1;
    const header = encodeSegmentHeader(no, this.o.nextId());
    const seg: SegmentState = { no, end: header.length, written: 0, dirty: false };
    this.segments.set(no, seg);
    this.head = seg;
    this.queue.push({ seg, pos: 0, bufs: [header], length: header.length, cb: null, force: false, create: true });
    this.o.onRoll(previous.no);
    return seg;
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.queue.length > 0 && !this.error) {
      const batch = this.takeBatch();
      this.inFlight = batch;
      try {
        await this.writeBatch(batch);
      } catch (err) {
        this.fail(err);
        break;
      }
      this.inFlight = null;
      for (const p of batch) if (p.cb) safeCall(p.cb, null, this.o.logger);
      this.wakeWaiters();
    }
    this.running = false;
    this.wakeWaiters();
  }

  private takeBatch(): Pending[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < MAX_BATCH_RECORDS && (n === 0 || bytes < MAX_BATCH_BYTES)) {
      bytes += this.queue[n]!.length;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let created = false;
    let needSync = false;
    for (let i = 0; i < batch.length; ) {
      const seg = batch[i]!.seg;
      const bufs: Buffer[] = [];
      let bytes = 0;
      let j = i;
      for (; j < batch.length && batch[j]!.seg === seg; j++) {
        const p = batch[j]!;
        for (const b of p.bufs) bufs.push(b);
        bytes += p.length;
        if (p.force || (p.cb && this.o.sync === 'always')) needSync = true;
      }
      const first = batch[i]!;
      if (first.pos !== seg.written) throw new Error(`writer out of order in segment ${seg.no}`);
      let fh: FileHandle;
      if (first.create) {
        fh = await this.o.files.create(seg.no);
        created = true;
      } else fh = await this.o.files.handle(seg.no);
      await this.o.hooks.beforeWrite?.(seg.no, bytes);
      await writeAll(fh, bufs, first.pos);
      seg.written += bytes;
      seg.dirty = true;
      i = j;
    }
    if (needSync) await this.syncDirty();
    // A new segment's name must be durable before anything in it is reported durable.
    if (created) await this.o.files.syncDir();
    this.stats.batches++;
    this.batchRecords.observe(batch.length);
  }

  private async syncDirty(): Promise<void> {
    for (const seg of [...this.segments.values()]) {
      if (!seg.dirty) continue;
      try {
        const fh = await this.o.files.handle(seg.no);
        await this.o.hooks.beforeSync?.(seg.no);
        const started = performance.now();
        await fh.datasync();
        this.syncSeconds.observe((performance.now() - started) / 1000);
      } catch (err) {
        if (!this.segments.has(seg.no)) continue; // deleted meanwhile: nothing left to sync
        throw err;
      }
      seg.dirty = false;
      this.stats.syncs++;
    }
  }

  private fail(cause: unknown): void {
    if (this.error) return;
    const message = cause instanceof Error ? cause.message : String(cause);
    const err = errors.storage(`message store write failed: ${message}`, cause);
    this.error = err;
    const victims = [...(this.inFlight ?? []), ...this.queue];
    this.inFlight = null;
    this.queue = [];
    this.o.logger.error(
      { err: message, code: (cause as NodeJS.ErrnoException)?.code, unconfirmed: victims.filter((p) => p.cb).length },
      'message store: write or fsync failed; refusing all further writes (no message will be confirmed)',
    );
    for (const p of victims) if (p.cb) safeCall(p.cb, err, this.o.logger);
    this.wakeWaiters();
    try {
      this.o.onFatal(err);
    } catch (e) {
      this.o.logger.error({ err: String(e) }, 'message store: onFatal threw');
    }
  }

  private wakeWaiters(): void {
    const w = this.batchWaiters;
    this.batchWaiters = [];
    for (const resolve of w) resolve();
  }
}

function safeCall(cb: DurableCallback, err: Error | null, logger: StorageLogger): void {
  try {
    cb(err);
  } catch (e) {
    // A throwing callback is the caller's bug, not a storage failure.
    logger.error({ err: String(e) }, 'message store: onDurable callback threw');
  }
}

/** writev of all buffers at pos, coping with IOV_MAX and short writes. */
export async function writeAll(fh: FileHandle, bufs: Buffer[], pos: number): Promise<void> {
  let i = 0;
  let skip = 0; // bytes of bufs[i] already written
  while (i < bufs.length) {
    const chunk: Buffer[] = [];
    for (let k = i; k < bufs.length && chunk.length < IOV_MAX; k++) {
      chunk.push(k === i && skip > 0 ? bufs[k]!.subarray(skip) : bufs[k]!);
    }
    const { bytesWritten } = await fh.writev(chunk, pos);
    if (bytesWritten === 0) throw new Error('writev wrote 0 bytes');
    pos += bytesWritten;
    let left = bytesWritten;
    while (left > 0) {
      const rest = bufs[i]!.length - skip;
      if (left >= rest) {
        left -= rest;
        i++;
        skip = 0;
      } else {
        skip += left;
        left = 0;
      }
    }
    while (i < bufs.length && bufs[i]!.length === 0) i++;
  }
}
