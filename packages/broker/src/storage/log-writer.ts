/**
 * The single writer of the shared message log, with group commit.
 *
 * Records are encoded straight into reusable slabs of up to 1 MiB (no buffer per record;
 * only a body over 4 KiB stays a buffer of its own) and queued in append order as
 * runs: consecutive slab bytes of one segment. One flush loop at a time takes
 * everything queued, writes it with writev (one series per segment touched, a few
 * buffers per batch instead of one or two per record), makes it durable, and only
 * then calls the batch's callbacks. A batch that must be durable is written through
 * the segment's O_DSYNC handle where the platform has one: that writev returns once
 * its bytes are durable (like write + fdatasync, in one thread-pool round trip instead
 * of two, each of which waits for the busy event loop to pick up its completion). A
 * segment that holds bytes written without a sync (records that needed none: they
 * ride along) is written plainly instead and gets ONE fdatasync, since an O_DSYNC
 * write syncs only its own range. If that handle cannot be opened (no file descriptor
 * left, a filesystem refusing O_DSYNC), the segment takes the plain path too. Records
 * appended meanwhile form the next batch, so batches grow with load; the only
 * deferral is one setImmediate, which lets a burst from one I/O phase share a batch.
 * A write or sync error is fatal: every queued and future callback gets the error
 * and nothing is ever reported durable again (a retried fsync can lie: PostgreSQL's
 * "fsyncgate").
 */
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { WarrenError } from '@warren/protocol';
import { errors } from '../errors.js';
import {
  encodeMessage,
  encodeQueueRecord,
  encodeSegmentHeader,
  idsRecordLength,
  inlinesBody,
  messageRecordLength,
  queueRecordLength,
  RecordType,
  SEGMENT_HEADER_SIZE,
  writeIdsRecord,
  writeMessageRecord,
  writeQueueRecord,
  type EncodedRecord,
  type RecordTypeValue,
} from './format.js';
import type { SegmentFiles } from './segment-files.js';
import type { StorageLogger, StoreHooks, SyncMode } from './types.js';
import { BATCH_BUCKETS, BucketHistogram, FSYNC_BUCKETS } from './histogram.js';

export interface SegmentState {
  no: number;
  /** Logical end: bytes written plus bytes queued. */
  end: number;
  /** Bytes on disk (written, not necessarily synced). */
  written: number;
  /** Holds bytes written without a sync since (neither fdatasync'ed nor written through its O_DSYNC handle). */
  dirty: boolean;
}

export type DurableCallback = (err: Error | null) => void;

/** A record that encodes itself into the writer's slab (LogWriter.appendRecord). */
export interface SlabRecord {
  /** Bytes of the whole record: headLength plus the tail's. */
  readonly length: number;
  /** Bytes write() puts at buf[at..]: the record's header, CRC included, and everything before the tail. */
  readonly headLength: number;
  /** Written as it is right after the head (a large value), or null. */
  readonly tail: Buffer | null;
  write(buf: Buffer, at: number): void;
}

/**
 * A run of consecutive records of one segment, queued for one writev: slices of the
 * writer's slabs (records are encoded straight into them) and, for large bodies,
 * the caller's own buffers.
 */
interface Run {
  seg: SegmentState;
  pos: number;
  bufs: Buffer[];
  length: number;
  records: number;
  /** Callbacks of the records in this run, in order (records without one add nothing). */
  cbs: DurableCallback[];
  /** The slabs bufs point into: reusable once every run holding them is written. */
  slabs: Slab[];
  /** Sync this batch even with sync='never' (compaction copies before their originals go). */
  force: boolean;
  create: boolean;
}

interface Slab {
  buf: Buffer;
  /** Runs queued or in flight holding a slice of it. */
  refs: number;
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
  /**
   * Write a batch that must be durable through the segment's O_DSYNC handle (no separate
   * fdatasync). Default: where the platform has O_DSYNC; false: always write, then fdatasync.
   */
  dsync?: boolean;
  /** Version stamped in new segment headers (default format.FORMAT_VERSION). */
  formatVersion?: number;
  /**
   * Called before the writer seals a batch and before any record is appended except a MESSAGE
   * and appendIds' own: the owner writes out what it deferred (the message store's
   * settlements and delivery marks, with appendIds), so they go to the log in order with
   * anything that could depend on them (a COPY carrying counts, a move back to a queue).
   */
  flushPending?: () => void;
}

/** fs.constants.O_DSYNC is undefined where the platform lacks it. */
const HAS_DSYNC = constants.O_DSYNC !== undefined;
/**
 * Errors from opening a segment's O_DSYNC handle that only refuse the handle (out of
 * file descriptors, a filesystem without O_DSYNC): the batch falls back to write +
 * fdatasync. Any other open error, and every write or sync error, stays fatal.
 */
const DSYNC_OPEN_REFUSALS = new Set(['EMFILE', 'ENFILE', 'EINVAL', 'EOPNOTSUPP']);

const MAX_BATCH_RECORDS = 16_384;
/**
 * Records are encoded into slabs: the first is 64 KiB; a full slab whose bytes are all
 * written is started over, and only one that fills while its bytes still wait for the
 * disk is followed by a new one, twice its size up to 1 MiB (so a quiet log, e.g. a
 * vhost's KV store, never holds more than 64 KiB). A record head over 64 KiB gets a
 * buffer of its own.
 */
const SLAB_MIN = 64 * 1024;
const SLAB_MAX = 1024 * 1024;
const SLAB_RECORD_MAX = 64 * 1024;
const NO_SLAB: Slab = { buf: Buffer.alloc(0), refs: 0 };
const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/**
 * Ids per SETTLE_IDS / DELIVERED_IDS record: ~4 KiB. A corrupt record brings back all the
 * messages it settled (at-least-once), so it is kept small; 512 ids still make the record's
 * own cost negligible per ack.
 */
export const IDS_PER_RECORD = 512;
/** Linux IOV_MAX: more buffers per writev call are rejected. */
const IOV_MAX = 1024;

export class LogWriter {
  /** Every segment on disk, oldest first (Map keeps insertion order). */
  readonly segments = new Map<number, SegmentState>();
  head!: SegmentState;
  readonly stats = { records: 0, batches: 0, syncs: 0 };
  /** fdatasync (or O_DSYNC write) durations (seconds) and records per batch, for /metrics and the overview. */
  readonly syncSeconds = new BucketHistogram(FSYNC_BUCKETS);
  readonly batchRecords = new BucketHistogram(BATCH_BUCKETS);

  /** Sealed runs, in log order. */
  private queue: Run[] = [];
  private inFlight: Run[] | null = null;
  /** The run records are being added to (its last bytes are slab[regionStart, slabAt)), or null. */
  private open: Run | null = null;
  /** Allocated on the first record. */
  private slab: Slab = NO_SLAB;
  private slabAt = 0;
  private regionStart = 0;
  /** A written-out slab kept for reuse. */
  private spare: Slab | null = null;
  private running = false;
  private scheduled = false;
  private closed = false;
  private error: WarrenError | null = null;
  private batchWaiters: Array<() => void> = [];
  private readonly dsync: boolean;
  /** The last batch needed a sync (confirms are flowing). */
  private syncing = false;
  /** The segment whose O_DSYNC handle could not be opened: written plainly and fdatasync'ed (-1: none). */
  private dsyncRefused = -1;
  private dsyncWarned = false;

  constructor(private readonly o: LogWriterOptions) {
    this.dsync = (o.dsync ?? true) && HAS_DSYNC;
  }

  get failure(): WarrenError | null {
    return this.error;
  }

  /** Failed or closed: every append is refused (its callback gets the error on the next turn). */
  get refusing(): boolean {
    return this.error !== null || this.closed;
  }

  /** Bytes held in the current slab and the spare (memory that stays while the log is idle). */
  get slabBytes(): number {
    return this.slab.buf.length + (this.spare?.buf.length ?? 0);
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
    const header = encodeSegmentHeader(no, this.o.nextId(), this.o.formatVersion);
    const fh = await this.o.files.create(no);
    await writeAll(fh, [header], 0);
    await fh.datasync();
    await this.o.files.syncDir();
    this.head = { no, end: header.length, written: header.length, dirty: false };
    this.segments.set(no, this.head);
  }

  /**
   * Queues an encoded record (the KV log's records, compaction copies, tests): buffers up
   * to 64 KiB are copied into the slab at once, larger ones are written as they are (do
   * not change them before cb). Returns where it will be, or null when the writer has
   * failed or closed (cb then gets the error on the next turn).
   */
  append(rec: EncodedRecord, cb: DurableCallback | null, force = false): { seg: number; off: number } | null {
    this.o.flushPending?.();
    if (this.refuse(cb)) return null;
    const seg = this.place(rec.length);
    const pos = seg.end - rec.length;
    for (const b of rec.bufs) {
      if (b.length <= SLAB_RECORD_MAX) {
        this.room(b.length);
        this.slab.buf.set(b, this.slabAt);
        this.slabAt += b.length;
      } else this.external(b);
    }
    this.added(rec.length, cb, force);
    return { seg: seg.no, off: pos };
  }

  /** Where the last appendMessage put its record (no object per message): segment, offset, length. */
  lastSeg = 0;
  lastOff = 0;
  lastLen = 0;

  /**
   * Queues a MESSAGE or COPY record, encoded straight into the slab (same bytes as
   * format.encodeMessage). Returns false when refused (as append); else its location
   * and length are in lastSeg, lastOff and lastLen.
   */
  appendMessage(
    type: typeof RecordType.MESSAGE | typeof RecordType.COPY,
    id: number,
    names: readonly Buffer[],
    counts: readonly number[] | null,
    meta: Buffer,
    body: Buffer,
    cb: DurableCallback | null,
  ): boolean {
    if (type !== RecordType.MESSAGE) this.o.flushPending?.();
    const len = messageRecordLength(names, meta.length, body.length);
    const inline = inlinesBody(body.length);
    const headLen = inline ? len : len - body.length;
    if (headLen > SLAB_RECORD_MAX) return this.appendOutside(encodeMessage(type, id, names.map((n) => n.toString('utf8')), counts, meta, body), cb, false);
    if (this.refuse(cb)) return false;
    this.reserve(len, headLen);
    this.slabAt = writeMessageRecord(this.slab.buf, this.slabAt, type, id, names, counts, meta, body);
    if (!inline) this.external(body);
    this.added(len, cb, false);
    return true;
  }

  /**
   * Queues a record that writes itself straight into the slab (the KV log's revisions):
   * rec.write fills rec.headLength bytes, header and CRC included; rec.tail, if any, goes
   * after them as a buffer of its own (do not change it before cb). False when refused
   * (see append); else its location and length are in lastSeg, lastOff and lastLen.
   */
  appendRecord(rec: SlabRecord, cb: DurableCallback | null, force = false): boolean {
    this.o.flushPending?.();
    const len = rec.length;
    const headLen = rec.headLength;
    if (headLen > SLAB_RECORD_MAX) {
      const head = Buffer.allocUnsafe(headLen);
      rec.write(head, 0);
      return this.appendOutside({ bufs: rec.tail === null ? [head] : [head, rec.tail], length: len }, cb, force);
    }
    if (this.refuse(cb)) return false;
    this.reserve(len, headLen);
    rec.write(this.slab.buf, this.slabAt);
    this.slabAt += headLen;
    if (rec.tail !== null) this.external(rec.tail);
    this.added(len, cb, force);
    return true;
  }

  /** Queues a SETTLE, DELIVERED or DROP_QUEUE record, encoded straight into the slab. False when refused (see append). */
  appendQueueRecord(type: RecordTypeValue, id: number, name: Buffer, cb: DurableCallback | null): boolean {
    this.o.flushPending?.();
    const len = queueRecordLength(name);
    if (len > SLAB_RECORD_MAX) return this.append(encodeQueueRecord(type, id, name.toString('utf8')), cb) !== null;
    if (this.refuse(cb)) return false;
    this.place(len);
    this.room(len);
    this.slabAt = writeQueueRecord(this.slab.buf, this.slabAt, type, id, name);
    this.added(len, cb, false);
    return true;
  }

  /**
   * Queues SETTLE_IDS or DELIVERED_IDS records for ids[from, to) of one queue (name: its
   * utf8 bytes, at most 65535), encoded straight into the slab, IDS_PER_RECORD ids per
   * record, no callback. Does not call flushPending (it is how that writes). False when refused.
   */
  appendIds(type: typeof RecordType.SETTLE_IDS | typeof RecordType.DELIVERED_IDS, name: Buffer, ids: readonly number[], from = 0, to = ids.length): boolean {
    if (this.refuse(null)) return false;
    for (let i = from; i < to; i += IDS_PER_RECORD) {
      const end = Math.min(to, i + IDS_PER_RECORD);
      const len = idsRecordLength(name, end - i);
      this.place(len);
      this.room(len);
      this.slabAt = writeIdsRecord(this.slab.buf, this.slabAt, type, name, ids, i, end);
      this.added(len, null, false);
    }
    return true;
  }

  /** Makes sure a batch runs soon (the owner deferred records that flushPending will write). */
  kick(): void {
    if (!this.error && !this.closed) this.schedule();
  }

  /** A record whose head does not fit a slab, appended as encoded; sets lastSeg, lastOff and lastLen (false when refused). */
  private appendOutside(rec: EncodedRecord, cb: DurableCallback | null, force: boolean): boolean {
    const loc = this.append(rec, cb, force);
    if (loc === null) return false;
    this.lastSeg = loc.seg;
    this.lastOff = loc.off;
    this.lastLen = rec.length;
    return true;
  }

  /** Places a record of len bytes (lastSeg, lastOff, lastLen) and makes room for its first headLen bytes in the slab. */
  private reserve(len: number, headLen: number): void {
    const seg = this.place(len);
    this.lastSeg = seg.no;
    this.lastOff = seg.end - len;
    this.lastLen = len;
    this.room(headLen);
  }

  /** True (and cb gets the error on the next turn) when the writer has failed or closed. */
  private refuse(cb: DurableCallback | null): boolean {
    if (!this.error && !this.closed) return false;
    const err = this.error ?? errors.storage('message store is closed');
    if (cb) setImmediate(safeCall, cb, err, this.o.logger);
    return true;
  }

  /** Reserves len bytes at the end of the log (rolling to a new segment if needed); the open run takes them. */
  private place(len: number): SegmentState {
    let seg = this.head;
    if (seg.end + len > this.o.segmentSize && seg.end > SEGMENT_HEADER_SIZE) seg = this.roll();
    if (this.open === null) {
      this.open = { seg, pos: seg.end, bufs: [], length: 0, records: 0, cbs: [], slabs: [], force: false, create: false };
    }
    seg.end += len;
    return seg;
  }

  /** Makes room for len contiguous bytes in the current slab. */
  private room(len: number): void {
    if (this.slabAt + len <= this.slab.buf.length) return;
    this.sealRegion();
    const old = this.slab;
    if (old.refs === 0 && old !== NO_SLAB) {
      // Nothing of it is queued or in flight: start it over. Only a slab that fills while
      // its bytes still wait for the disk makes the next one bigger, so a quiet log (a
      // vhost's KV store) keeps its first 64 KiB slab and no spare.
      this.slabAt = 0;
      this.regionStart = 0;
      return;
    }
    const spare = this.spare;
    this.spare = null;
    const size = Math.min(SLAB_MAX, Math.max(SLAB_MIN, old.buf.length * 2));
    this.slab = spare !== null && spare.refs === 0 && spare.buf.length >= size ? spare : { buf: Buffer.allocUnsafeSlow(size), refs: 0 };
    this.slabAt = 0;
    this.regionStart = 0;
  }

  /** A buffer written as it is (a large body): after what the slab holds so far. */
  private external(buf: Buffer): void {
    this.sealRegion();
    this.open!.bufs.push(buf);
  }

  private added(len: number, cb: DurableCallback | null, force: boolean): void {
    const run = this.open!;
    run.length += len;
    run.records++;
    if (cb !== null) run.cbs.push(cb);
    if (force) run.force = true;
    this.stats.records++;
    if (run.records >= MAX_BATCH_RECORDS || run.length >= MAX_BATCH_BYTES) this.sealOpen();
    this.schedule();
  }

  /** The slab bytes written since the last seal go to the open run. */
  private sealRegion(): void {
    if (this.slabAt === this.regionStart) return;
    const run = this.open!;
    run.bufs.push(this.slab.buf.subarray(this.regionStart, this.slabAt));
    if (run.slabs.at(-1) !== this.slab) {
      run.slabs.push(this.slab);
      this.slab.refs++;
    }
    this.regionStart = this.slabAt;
  }

  /** The open run is complete: queue it. */
  private sealOpen(): void {
    if (this.open === null) return;
    this.sealRegion();
    this.queue.push(this.open);
    this.open = null;
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

  /**
   * Writes everything queued, syncs every dirty segment (whatever the sync mode) and stops accepting.
   * The durable callbacks of the batches still running may defer more records (a dead-lettered
   * message's source is settled once its copy is durable): the writer keeps taking what
   * flushPending writes until a batch ends with nothing new deferred, and only then stops accepting.
   * The owner refuses new messages itself before it closes the writer (MessageStore.close).
   */
  async close(): Promise<void> {
    while (!this.closed && !this.error) {
      this.o.flushPending?.();
      if (!this.running && !this.scheduled && this.queue.length === 0 && this.open === null) break;
      await new Promise<void>((resolve) => this.batchWaiters.push(resolve));
    }
    this.closed = true;
    while (this.running || this.scheduled || this.queue.length > 0 || this.open !== null) {
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
    this.sealOpen();
    const previous = this.head;
    const no = previous.no + 1;
    const header = encodeSegmentHeader(no, this.o.nextId(), this.o.formatVersion);
    const seg: SegmentState = { no, end: header.length, written: 0, dirty: false };
    this.segments.set(no, seg);
    this.head = seg;
    this.queue.push({ seg, pos: 0, bufs: [header], length: header.length, records: 0, cbs: [], slabs: [], force: false, create: true });
    this.o.onRoll(previous.no);
    return seg;
  }

  /**
   * Called for every record and every deferral: it must allocate nothing when a batch is already
   * scheduled or running (an arrow function in here would cost a closure context per call).
   */
  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(this.onImmediate);
  }

  /** The scheduled batch's start, one function for the writer's life. */
  private readonly onImmediate = (): void => {
    this.scheduled = false;
    void this.run();
  };

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.o.flushPending?.();
    this.sealOpen();
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
      for (const run of batch) {
        for (const slab of run.slabs) if (--slab.refs === 0 && slab !== this.slab) this.spare = slab;
        for (const cb of run.cbs) safeCall(cb, null, this.o.logger);
      }
      this.wakeWaiters();
      // What was appended meanwhile (while this batch was written) is the next batch.
      if (!this.error) this.o.flushPending?.();
      this.sealOpen();
    }
    this.running = false;
    this.wakeWaiters();
  }

  private takeBatch(): Run[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && (n === 0 || bytes < MAX_BATCH_BYTES)) {
      bytes += this.queue[n]!.length;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async writeBatch(batch: Run[]): Promise<void> {
    let created = false;
    let needSync = false;
    for (const r of batch) if (r.force || (r.cbs.length > 0 && this.o.sync === 'always')) needSync = true;
    let records = 0;
    for (let i = 0; i < batch.length; ) {
      const seg = batch[i]!.seg;
      const bufs: Buffer[] = [];
      let bytes = 0;
      let j = i;
      for (; j < batch.length && batch[j]!.seg === seg; j++) {
        const r = batch[j]!;
        for (const b of r.bufs) bufs.push(b);
        bytes += r.length;
        records += r.records;
      }
      const first = batch[i]!;
      if (first.pos !== seg.written) throw new Error(`writer out of order in segment ${seg.no}`);
      let fh: FileHandle;
      if (first.create) {
        fh = await this.o.files.create(seg.no);
        created = true;
      } else fh = await this.o.files.handle(seg.no);
      // Durable as it is written, unless the segment holds unsynced bytes (see the top).
      // Right after a batch that needed a sync, one that needs none (delivery marks and
      // settlements that came in meanwhile) is written durable too: written plainly, it
      // would leave the segment dirty and the next confirming batch would pay write +
      // fdatasync. Only a second such batch in a row rides along unsynced.
      let durable = this.dsync && !seg.dirty && (needSync || this.syncing) && seg.no !== this.dsyncRefused;
      if (durable) {
        try {
          fh = await this.o.files.dsyncHandle(seg.no);
        } catch (err) {
          // No second handle (out of file descriptors, or a filesystem that refuses
          // O_DSYNC): nothing is written yet, so this segment takes the plain path.
          if (!DSYNC_OPEN_REFUSALS.has((err as NodeJS.ErrnoException)?.code ?? '')) throw err;
          this.refuseDsync(seg.no, err as NodeJS.ErrnoException);
          durable = false;
        }
      }
      await this.o.hooks.beforeWrite?.(seg.no, bytes);
      const started = performance.now();
      await writeAll(fh, bufs, first.pos);
      seg.written += bytes;
      if (durable) {
        const took = performance.now() - started;
        // The sync was part of the write: the sync hook runs here, where the fdatasync would.
        await this.o.hooks.beforeSync?.(seg.no);
        this.synced(took);
      } else seg.dirty = true;
      i = j;
    }
    if (needSync) await this.syncDirty();
    this.syncing = needSync;
    // A new segment's name must be durable before anything in it is reported durable.
    if (created) await this.o.files.syncDir();
    this.stats.batches++;
    this.batchRecords.observe(records);
  }

  private async syncDirty(): Promise<void> {
    for (const seg of [...this.segments.values()]) {
      if (!seg.dirty) continue;
      try {
        const fh = await this.o.files.handle(seg.no);
        await this.o.hooks.beforeSync?.(seg.no);
        const started = performance.now();
        await fh.datasync();
        this.synced(performance.now() - started);
      } catch (err) {
        if (!this.segments.has(seg.no)) continue; // deleted meanwhile: nothing left to sync
        throw err;
      }
      seg.dirty = false;
    }
  }

  /** From now on segment no is written plainly and fdatasync'ed; the first time, a warning. */
  private refuseDsync(no: number, err: NodeJS.ErrnoException): void {
    this.dsyncRefused = no;
    if (this.dsyncWarned) return;
    this.dsyncWarned = true;
    this.o.logger.warn(
      { code: err.code, segment: no },
      'log writer: could not open a segment\'s O_DSYNC handle; writing that segment with write + fdatasync instead (warned once)',
    );
  }

  /** Counts a segment made durable: an fdatasync or an O_DSYNC write, which took ms. */
  private synced(ms: number): void {
    this.syncSeconds.observe(ms / 1000);
    this.stats.syncs++;
  }

  private fail(cause: unknown): void {
    if (this.error) return;
    const message = cause instanceof Error ? cause.message : String(cause);
    const err = errors.storage(`message store write failed: ${message}`, cause);
    this.error = err;
    const victims = [...(this.inFlight ?? []), ...this.queue, ...(this.open ? [this.open] : [])];
    this.inFlight = null;
    this.queue = [];
    this.open = null;
    this.regionStart = this.slabAt;
    let unconfirmed = 0;
    for (const r of victims) unconfirmed += r.cbs.length;
    this.o.logger.error(
      { err: message, code: (cause as NodeJS.ErrnoException)?.code, unconfirmed },
      'message store: write or fsync failed; refusing all further writes (no message will be confirmed)',
    );
    for (const r of victims) for (const cb of r.cbs) safeCall(cb, err, this.o.logger);
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
