/**
 * KvStore: the broker's key-value buckets. Durable buckets are kept on the kv
 * log (dataDir/kv), written by the storage engine's group-commit LogWriter into
 * CRC-checked segment files, replayed at open (torn tails cut, corrupt records
 * skipped) and compacted: a record is live while its revision is kept by its
 * bucket; the oldest segment is deleted once nothing in it is live, or compacted
 * (live records re-appended at the head, synced, then the segment deleted) once
 * the log holds more garbage than live data. As in the message log, only the
 * oldest segment is ever removed, so a marker (delete, purge, bucket delete) can
 * never be outlived by the older records it hides.
 */
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, WarrenError, errors } from '@warren/protocol';
import { decodeSegmentHeader, FORMAT_VERSION, parseSegmentFileName, SEGMENT_HEADER_SIZE, segmentFileName, type EncodedRecord } from '../storage/format.js';
import { LogWriter, type SegmentState } from '../storage/log-writer.js';
import { cutTail, readWhole, scanSegment } from '../storage/recovery.js';
import { SegmentFiles } from '../storage/segment-files.js';
import type { StorageLogger, StoreHooks, SyncMode } from '../storage/types.js';
import { Deque } from '../deque.js';
import { Bucket, type BucketJournal, type Revision, type WriteDone } from './bucket.js';
import { checkBucketName } from './keys.js';
import { bucketConfig, configDifference, type BucketConfig, type CreateOptions } from './options.js';
import { decodeRecord, encodeBucket, encodeBucketDelete, RevisionRecord } from './records.js';

export const DEFAULT_KV_SEGMENT_SIZE = 16 * 1024 * 1024;

export interface KvStoreOptions {
  /** The data folder (the log lives in dir/kv); null: every bucket is in memory only. */
  dir: string | null;
  /** Milliseconds since the epoch; tests inject a fake. Default Date.now. */
  clock?: () => number;
  /** Arm real timers for expiry. Default true; tests with a fake clock call sweep() instead. */
  timers?: boolean;
  sync?: SyncMode;
  segmentSize?: number;
  logger: StorageLogger;
  /** A write or fsync failed: the broker must stop (exit 70). */
  onFatal?: (err: Error) => void;
  hooks?: StoreHooks;
}

export interface BucketInfo {
  name: string;
  config: BucketConfig;
  keys: number;
  bytes: number;
  revision: number;
}

export interface KvRecoveryStats {
  records: number;
  truncatedBytes: number;
  droppedRecords: number;
  buckets: number;
}

interface Log {
  files: SegmentFiles;
  writer: LogWriter;
  /** Live record bytes per segment. */
  live: Map<number, number>;
  liveTotal: number;
}

export class KvStore {
  readonly recoveryStats: KvRecoveryStats = { records: 0, truncatedBytes: 0, droppedRecords: 0, buckets: 0 };
  readonly stats = { segmentsDeleted: 0, compactedRecords: 0 };
  private readonly buckets = new Map<string, Bucket>();
  private readonly clock: () => number;
  private log: Log | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private reclaiming: Promise<void> | null = null;
  private reclaimAgain = false;
  private closed = false;
  private readonly journal: BucketJournal;
  /** Reused for every revision appended (it is written into the log writer's slab at once). */
  private readonly revisionRecord = new RevisionRecord();
  /**
   * Revisions appended with onStored and not yet reported, in log order, four entries each
   * (bucket, revision, done, tag): the log writer calls a record's callback in append order
   * (and every queued one, in order, when it fails), so one callback for all of them finds its
   * revision at the front, and a write needs no closure of its own.
   */
  private readonly storing = new Deque<unknown>(256);
  private readonly onStored = (err: Error | null): void => {
    const q = this.storing;
    const b = q.shift() as Bucket;
    const r = q.shift() as Revision;
    const done = q.shift() as WriteDone | null;
    const tag = q.shift() as number;
    b.stored(r, err, done, tag);
  };
  /** Recovery: revisions read before their bucket's record (see replay), by bucket name. */
  private readonly early = new Map<string, Revision[]>();

  private constructor(private readonly o: KvStoreOptions) {
    this.clock = o.clock ?? Date.now;
    this.journal = {
      write: (bucket, r, done, tag) => this.writeRevision(bucket, r, done, tag),
      release: (r) => this.release(r.seg, r.len),
    };
  }

  static async open(o: KvStoreOptions): Promise<KvStore> {
    const store = new KvStore(o);
    if (o.dir !== null) await store.openLog(o.dir);
    return store;
  }

  /**
   * Creates a bucket, or opens an existing one after checking the options given (those left
   * out are not compared). `passive`: only open. Resolves once a durable bucket's record is synced.
   */
  async create(name: string, options?: CreateOptions | Record<string, unknown> | null): Promise<{ created: boolean; bucket: Bucket }> {
    this.usable();
    checkBucketName(name);
    const o = (options ?? {}) as Record<string, unknown>;
    const config = bucketConfig(o);
    const existing = this.buckets.get(name);
    if (existing) {
      const diff = configDifference(o, existing.config);
      if (diff) throw errors.preconditionFailed(`bucket '${name}' exists with ${diff.field} = ${String(diff.current)}`, diff);
      return { created: false, bucket: existing };
    }
    if (o.passive === true) throw errors.notFound(`bucket '${name}'`);
    const bucket = this.newBucket(name, config);
    this.buckets.set(name, bucket);
    if (bucket.journal) await this.durable(this.appendBucketRecord(bucket));
    return { created: true, bucket };
  }

  /** The bucket (NOT_FOUND when there is none). */
  bucket(name: string): Bucket {
    const b = this.buckets.get(name);
    if (!b) throw errors.notFound(`bucket '${name}'`);
    return b;
  }

  has(name: string): boolean {
    return this.buckets.has(name);
  }

  /** Deletes a bucket and everything in it; its watchers end with NOT_FOUND. */
  async delete(name: string): Promise<void> {
    this.usable();
    const b = this.bucket(name);
    this.buckets.delete(name);
    const durable = b.journal !== null;
    b.destroy(new WarrenError(ErrorCodes.NOT_FOUND, `bucket '${name}' was deleted`));
    this.release(b.configSeg, b.configLen);
    if (durable && this.log) await this.durable(this.appendWaited(encodeBucketDelete(name), false).wait);
  }

  /** Bucket names, without counting anything. */
  names(): string[] {
    return [...this.buckets.keys()];
  }

  list(): BucketInfo[] {
    return [...this.buckets.values()].map((b) => this.info(b));
  }

  info(b: Bucket): BucketInfo {
    return { name: b.name, config: { ...b.config }, keys: b.size, bytes: b.bytes, revision: b.lastRevision };
  }

  /** Expires everything due in every bucket (the timer calls it; tests with a fake clock too). */
  sweep(): number {
    // While openLog is still starting the writer (after recovery armed an expiry timer), an expiry
    // cannot be written yet: openLog sweeps once the writer runs.
    if (this.log && (this.log.writer as LogWriter | null)?.head === undefined) return 0;
    let n = 0;
    for (const b of this.buckets.values()) n += b.expireDue();
    return n;
  }

  /** Bytes of kv segment files on disk. */
  diskUsage(): number {
    if (!this.log) return 0;
    let n = 0;
    for (const s of this.log.writer.segments.values()) n += s.written;
    return n;
  }

  /** Segments on disk (tests). */
  segmentCount(): number {
    return this.log ? this.log.writer.segments.size : 0;
  }

  get writeStats(): { records: number; batches: number; syncs: number } {
    return this.log ? { ...this.log.writer.stats } : { records: 0, batches: 0, syncs: 0 };
  }

  /** Resolves once everything appended is written and compaction is idle (tests, benchmarks). */
  async idle(): Promise<void> {
    if (!this.log) return;
    for (;;) {
      const head = this.log.writer.head;
      await this.log.writer.whenWritten(head.no, head.end);
      while (this.reclaiming) await this.reclaiming;
      if (this.log.writer.head === head && head.written >= head.end && !this.reclaiming) return;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const b of this.buckets.values()) b.destroy(new WarrenError(ErrorCodes.CONNECTION_FORCED, 'the server is shutting down'));
    this.buckets.clear();
    if (this.log) {
      while (this.reclaiming) await this.reclaiming;
      await this.log.writer.close();
      await this.log.files.closeAll();
    }
  }

  // ---- internals -----------------------------------------------------------

  private usable(): void {
    if (this.closed) throw new WarrenError(ErrorCodes.STORAGE_ERROR, 'kv store is closed');
    const failure = this.log?.writer.failure;
    if (failure) throw failure;
  }

  private newBucket(name: string, config: BucketConfig): Bucket {
    const journal = config.durable && this.log ? this.journal : null;
    return new Bucket(name, config, this.clock, journal, (at) => this.armTimer(at));
  }

  /** Appends a record; `wait` resolves with null once it is synced, or with the storage error. */
  private appendWaited(rec: EncodedRecord, force: boolean): { loc: { seg: number; off: number } | null; wait: Promise<Error | null> } {
    let done!: (err: Error | null) => void;
    const wait = new Promise<Error | null>((resolve) => (done = resolve));
    return { loc: this.log!.writer.append(rec, done, force), wait };
  }

  private async durable(p: Promise<Error | null>): Promise<void> {
    const err = await p;
    if (err) throw err;
  }

  private appendBucketRecord(b: Bucket, force = false): Promise<Error | null> {
    const rec = encodeBucket(b.name, b.config, b.lastRevision);
    const { loc, wait } = this.appendWaited(rec, force);
    this.release(b.configSeg, b.configLen);
    if (loc) {
      b.configSeg = loc.seg;
      b.configLen = rec.length;
      this.hold(loc.seg, rec.length);
    }
    return wait;
  }

  private writeRevision(b: Bucket, r: Revision, done: WriteDone | null, tag: number): void {
    const writer = this.log!.writer;
    const rec = this.revisionRecord.set(b.nameBytes, r);
    if (writer.refusing) return this.refused(writer, rec, b, r, done, tag);
    if (!writer.appendRecord(rec, this.onStored)) throw new Error('kv log writer refused a record while accepting');
    // Queued after the append: it cannot call back before it returns, and a throw leaves nothing queued.
    this.storing.push(b);
    this.storing.push(r);
    this.storing.push(done);
    this.storing.push(tag);
    r.seg = writer.lastSeg;
    r.off = writer.lastOff;
    r.len = writer.lastLen;
    // It may already have left the bucket (history 1 and trimmed at once is impossible, but expiry is not).
    if (r.live) this.hold(r.seg, r.len);
  }

  /**
   * The writer has failed or closed: appendRecord only hands the error to the callback, on the
   * next turn. (A method of its own: a closure in writeRevision would cost a context per write.)
   */
  private refused(writer: LogWriter, rec: RevisionRecord, b: Bucket, r: Revision, done: WriteDone | null, tag: number): void {
    writer.appendRecord(rec, (err) => b.stored(r, err, done, tag));
  }

  private hold(seg: number, len: number): void {
    const log = this.log!;
    log.live.set(seg, (log.live.get(seg) ?? 0) + len);
    log.liveTotal += len;
  }

  private release(seg: number, len: number): void {
    const log = this.log;
    if (!log || seg < 0) return;
    const left = (log.live.get(seg) ?? 0) - len;
    log.live.set(seg, left);
    log.liveTotal -= len;
    if (log.writer && seg !== log.writer.head.no) this.scheduleReclaim();
  }

  private armTimer(at: number): void {
    if (this.o.timers === false || this.closed || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.sweep();
    }, Math.max(0, at - this.clock()));
    this.timer.unref();
  }

  // ---- log: open and recovery ----------------------------------------------

  private async openLog(dataDir: string): Promise<void> {
    const dir = join(dataDir, 'kv');
    await mkdir(dir, { recursive: true });
    const logger = this.o.logger;
    const files = new SegmentFiles(dir, this.o.hooks);
    const log: Log = { files, writer: null as unknown as LogWriter, live: new Map(), liveTotal: 0 };
    this.log = log;
    const segments = await this.recover(dir);
    log.writer = new LogWriter({
      files,
      sync: this.o.sync ?? 'always',
      segmentSize: this.o.segmentSize ?? DEFAULT_KV_SEGMENT_SIZE,
      logger,
      onFatal: this.o.onFatal ?? (() => undefined),
      hooks: this.o.hooks ?? {},
      nextId: () => 0,
      onRoll: () => this.scheduleReclaim(),
    });
    for (const s of segments) log.writer.adopt(s.no, s.size);
    await log.writer.start((segments.at(-1)?.no ?? 0) + 1);
    const level = this.recoveryStats.droppedRecords > 0 ? 'warn' : 'info';
    logger[level]({ ...this.recoveryStats, segments: segments.length, dir }, 'kv store recovered');
    this.sweep();
    this.scheduleReclaim();
  }

  /** Replays every segment, oldest first; returns the segments kept with their (possibly cut) sizes. */
  private async recover(dir: string): Promise<Array<{ no: number; size: number }>> {
    const logger = this.o.logger;
    const stats = this.recoveryStats;
    const nos = (await readdir(dir))
      .map(parseSegmentFileName)
      .filter((n): n is number => n !== null)
      .sort((a, b) => a - b);
    const kept: Array<{ no: number; size: number }> = [];
    for (const no of nos) {
      const path = join(dir, segmentFileName(no));
      const buf = await readWhole(path);
      const header = decodeSegmentHeader(buf);
      if (header.ok && header.version > FORMAT_VERSION) {
        throw new WarrenError(ErrorCodes.STORAGE_ERROR, `kv segment ${path} has format version ${header.version}; this server reads up to ${FORMAT_VERSION}`);
      }
      let unreadable = 0;
      const scan = scanSegment(buf, Math.min(SEGMENT_HEADER_SIZE, buf.length), (pos, length) => {
        try {
          this.replay(no, pos, length, buf);
        } catch (err) {
          unreadable++;
          logger.warn({ segment: path, offset: pos, err: String(err) }, 'kv store: unreadable record skipped');
        }
      });
      stats.records += scan.records - unreadable;
      stats.droppedRecords += scan.dropped + unreadable;
      if (scan.dropped > 0) logger.error({ segment: path, droppedRecords: scan.dropped }, 'kv store: corrupt records dropped (checksum mismatch)');
      const cut = buf.length - scan.validEnd;
      if (!header.ok && scan.records === 0) {
        await unlink(path); // creation torn before its header reached the disk
        stats.truncatedBytes += buf.length;
        continue;
      }
      if (cut > 0) {
        await cutTail(path, scan.validEnd);
        stats.truncatedBytes += cut;
        logger.warn({ segment: path, bytes: cut, at: scan.validEnd }, 'kv store: cut a torn tail');
      }
      kept.push({ no, size: scan.validEnd });
    }
    let orphans = 0;
    for (const revs of this.early.values()) orphans += revs.length;
    // Revisions whose bucket's record never came: a bucket deleted before its BUCKET_DELETE record's time (as before).
    if (orphans > 0) logger.warn({ revisions: orphans, buckets: [...this.early.keys()] }, 'kv store: revisions of unknown buckets dropped');
    this.early.clear();
    stats.buckets = this.buckets.size;
    return kept;
  }

  private replay(no: number, pos: number, length: number, buf: Buffer): void {
    const rec = decodeRecord(buf, pos, length);
    if (rec.kind === 'bucket') {
      let b = this.buckets.get(rec.bucket);
      if (!b) {
        b = this.newBucket(rec.bucket, bucketConfig(rec.config));
        this.buckets.set(rec.bucket, b);
      }
      this.release(b.configSeg, b.configLen);
      b.configSeg = no;
      b.configLen = length;
      this.hold(no, length);
      if (rec.lastRevision > b.lastRevision) b.lastRevision = rec.lastRevision;
      const early = this.early.get(rec.bucket);
      if (early) {
        this.early.delete(rec.bucket);
        for (const r of early) this.restoreRevision(b, r);
      }
      return;
    }
    const b = this.buckets.get(rec.bucket);
    if (rec.kind === 'bucket-delete') {
      // Revisions read before the record of the bucket they belong to were of the bucket deleted here.
      this.early.delete(rec.bucket);
      if (!b) return;
      this.buckets.delete(rec.bucket);
      b.destroy(new WarrenError(ErrorCodes.NOT_FOUND, `bucket '${rec.bucket}' was deleted`));
      this.release(b.configSeg, b.configLen);
      return;
    }
    const r: Revision = { ...rec.fields, seg: no, off: pos, len: length, live: true };
    if (b) return this.restoreRevision(b, r);
    // Compaction re-appends a bucket's record at the head, after revisions still kept in older
    // segments: those come before their bucket's record, which may be further on.
    let early = this.early.get(rec.bucket);
    if (!early) this.early.set(rec.bucket, (early = []));
    early.push(r);
  }

  private restoreRevision(b: Bucket, r: Revision): void {
    this.hold(r.seg, r.len);
    b.restore(r);
  }

  // ---- log: space reclamation ----------------------------------------------

  private scheduleReclaim(): void {
    if (!this.log || this.closed) return;
    if (this.reclaiming) {
      this.reclaimAgain = true;
      return;
    }
    this.reclaiming = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.reclaim())
      .catch((err: unknown) => this.o.logger.error({ err: String(err) }, 'kv store: reclaiming disk space failed'))
      .finally(() => {
        this.reclaiming = null;
        if (this.reclaimAgain) {
          this.reclaimAgain = false;
          this.scheduleReclaim();
        }
      });
  }

  private async reclaim(): Promise<void> {
    const log = this.log!;
    const { writer } = log;
    const segmentSize = this.o.segmentSize ?? DEFAULT_KV_SEGMENT_SIZE;
    while (!this.closed && !writer.failure) {
      const oldest: SegmentState | undefined = writer.segments.values().next().value;
      if (!oldest || !writer.head || oldest === writer.head) return;
      if ((log.live.get(oldest.no) ?? 0) <= 0) {
        await writer.whenWritten(oldest.no, oldest.end);
        if ((log.live.get(oldest.no) ?? 0) > 0) continue;
        await this.removeSegment(oldest.no);
        continue;
      }
      // Logical sizes (queued bytes included): deciding on bytes already written could skip a compaction for good.
      let disk = 0;
      for (const s of writer.segments.values()) disk += s.end;
      if (disk - log.liveTotal <= log.liveTotal + 2 * segmentSize) return;
      if (!(await this.compact(oldest))) return;
    }
  }

  private async removeSegment(no: number): Promise<void> {
    const log = this.log!;
    log.writer.retire(no);
    log.live.delete(no);
    await log.files.remove(no);
    this.stats.segmentsDeleted++;
  }

  /** Re-appends the live records of seg at the head; once they are synced, seg is deleted. */
  private async compact(seg: SegmentState): Promise<boolean> {
    const log = this.log!;
    await log.writer.whenWritten(seg.no, seg.end);
    const buf = await log.files.read(seg.no, 0, seg.written);
    // From here to the appends everything is synchronous: nothing can change under the walk.
    let last: Promise<Error | null> | null = null;
    const touched = new Set<Bucket>();
    let moved = 0;
    scanSegment(buf, SEGMENT_HEADER_SIZE, (pos, length) => {
      let rec;
      try {
        rec = decodeRecord(buf, pos, length);
      } catch {
        return;
      }
      const b = this.buckets.get(rec.bucket);
      if (!b || !b.journal) return;
      touched.add(b);
      if (rec.kind !== 'revision') return;
      const r = b.find(rec.fields.key, rec.fields.rev);
      if (!r || r.seg !== seg.no || r.off !== pos) return;
      const copy: EncodedRecord = { bufs: [buf.subarray(pos, pos + length)], length };
      const { loc, wait } = this.appendWaited(copy, true);
      if (!loc) return;
      last = wait;
      this.release(r.seg, r.len);
      r.seg = loc.seg;
      r.off = loc.off;
      this.hold(loc.seg, length);
      moved++;
    });
    // Bucket records carry the last revision: rewrite them so it outlives dropped markers.
    for (const b of touched) last = this.appendBucketRecord(b, true);
    if (last && (await last)) return false;
    if ((log.live.get(seg.no) ?? 0) > 0) {
      this.o.logger.error({ segment: seg.no, live: log.live.get(seg.no) }, 'kv store: compaction left live records behind; segment kept');
      return false;
    }
    await this.removeSegment(seg.no);
    this.stats.compactedRecords += moved;
    return true;
  }
}
