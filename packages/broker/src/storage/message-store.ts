/**
 * MessageStore: durable storage of persistent messages routed to durable queues.
 * One shared append-only log (group-committed by LogWriter), an in-memory index of
 * live messages (MessageIndex), recovery at open (recover) and space reclamation
 * (Reclaimer). Settlements and delivery marks are records in the same log that ride
 * along with the next sync: a lost one only means a redelivery after a crash. They are
 * collected per queue until the writer seals its next batch (or until any record other than
 * a new message is appended, which may depend on them), then written as one SETTLE_IDS /
 * DELIVERED_IDS record per queue instead of one record per message.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { WarrenError } from '@warren/protocol';
import { errors } from '../errors.js';
import { MESSAGE_FORMAT_VERSION, messageLayout, queueNameBytes, recordId, RecordType, validRecordAt } from './format.js';
import { MetaCache } from './meta-cache.js';
import { LogWriter, type DurableCallback } from './log-writer.js';
import type { BucketHistogram } from './histogram.js';
import { countsOf, MessageIndex, queuesOf } from './message-index.js';
import { Reclaimer } from './reclaimer.js';
import { recover } from './recovery.js';
import { SegmentFiles } from './segment-files.js';
import type { MessageRecord, RecoveredMessage, RecoveryStats, StorageLogger, StoreOptions, WriteStats } from './types.js';

export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

export class MessageStore {
  /** Stats of the recovery run at open. */
  readonly recoveryStats: RecoveryStats;
  private recoveredQueues: Map<string, RecoveredMessage[]>;
  private nextId: number;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly meta = new MetaCache();
  /** The queue-name list of a one-queue append (the common case), reused: the writer copies it at once. */
  private readonly oneName: Buffer[] = [Buffer.alloc(0)];
  /**
   * Delivery marks and settlements not in the log yet: ids by queue, in the order they happened.
   * A queue's list is reused from batch to batch (no array per batch); one left empty by a whole
   * batch is dropped at the next flush.
   */
  private readonly pendingDelivered = new PendingQueues();
  private readonly pendingSettled = new PendingQueues();
  private pending = 0;
  /**
   * Queues with a settlement or a move out since open (or since their last drop): deleting one that the index
   * no longer holds still writes a DROP_QUEUE and waits for it, so its settlements are on disk
   * before the broker reuses the name (else its acked messages could come back in a new queue).
   */
  private readonly settledQueues = new Set<string>();

  private constructor(
    private readonly index: MessageIndex,
    private readonly files: SegmentFiles,
    private readonly writer: LogWriter,
    private readonly reclaimer: Reclaimer,
    private readonly stats: WriteStats,
    private readonly logger: StorageLogger,
    recovered: Map<string, RecoveredMessage[]>,
    nextId: number,
    recoveryStats: RecoveryStats,
  ) {
    this.recoveredQueues = recovered;
    this.nextId = nextId;
    this.recoveryStats = recoveryStats;
  }

  /** Opens (creating if needed) the store under opts.dir/messages and runs recovery. */
  static async open(opts: StoreOptions): Promise<MessageStore> {
    const logger: StorageLogger = opts.logger ?? pino({ base: { service: 'warren', component: 'storage' } });
    const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    const dir = join(opts.dir, 'messages');
    await mkdir(dir, { recursive: true });
    const started = performance.now();
    const rec = await recover(dir, logger);

    const files = new SegmentFiles(dir, opts.hooks);
    let store: MessageStore | undefined;
    const firstId = rec.nextId; // never capture `rec`: it holds the recovered lists
    const writer = new LogWriter({
      files,
      sync: opts.sync ?? 'always',
      segmentSize,
      logger,
      onFatal: opts.onFatal ?? (() => undefined),
      hooks: opts.hooks ?? {},
      nextId: () => store?.nextId ?? firstId,
      onRoll: () => store?.reclaimer.schedule(),
      formatVersion: MESSAGE_FORMAT_VERSION,
      flushPending: () => store?.flushPending(),
    });
    for (const s of rec.segments) writer.adopt(s.no, s.size);
    // Always a fresh head: never append after a tail that was garbage before this open.
    await writer.start((rec.segments.at(-1)?.no ?? 0) + 1);

    const stats: WriteStats = { records: 0, batches: 0, syncs: 0, segmentsDeleted: 0, compactedMessages: 0 };
    const reclaimer = new Reclaimer({ index: rec.index, writer, files, logger, segmentSize, stats });
    rec.stats.durationMs = Math.round(performance.now() - started);
    store = new MessageStore(rec.index, files, writer, reclaimer, stats, logger, rec.queues, rec.nextId, rec.stats);
    const level = rec.stats.droppedRecords > 0 ? 'warn' : 'info';
    logger[level]({ ...rec.stats, segments: rec.segments.length, dir }, 'message store recovered');
    reclaimer.schedule();
    return store;
  }

  /** After open: the unsettled messages of each durable queue, sorted by id. */
  recovered(): Map<string, RecoveredMessage[]> {
    return this.recoveredQueues;
  }

  /** Lets the recovered lists be garbage-collected once the broker has taken them over. */
  releaseRecovered(): void {
    this.recoveredQueues = new Map();
  }

  /** Writer and reclaimer counters (batches < records proves group commit). */
  get writeStats(): Readonly<WriteStats> {
    const w = this.writer.stats;
    return { ...this.stats, records: w.records, batches: w.batches, syncs: w.syncs };
  }

  /** fdatasync latency (seconds) and records per group-commit batch of this store's writer. */
  get syncSeconds(): BucketHistogram {
    return this.writer.syncSeconds;
  }
  get batchRecords(): BucketHistogram {
    return this.writer.batchRecords;
  }

  /** Live (unsettled) messages held. */
  get size(): number {
    return this.index.size;
  }

  /**
   * Appends one persistent message routed to these durable queues. Returns its id at
   * once; onDurable runs once it is written and (sync='always') fdatasync'ed, or with a
   * STORAGE_ERROR. msg.body is written as is: do not mutate it before onDurable.
   * `queues` is not kept (the caller may reuse the array).
   */
  append(queues: readonly string[], msg: MessageRecord, onDurable: DurableCallback): number {
    const id = this.nextId++;
    const failure = this.refusal();
    if (failure) {
      this.refuseLater(onDurable, failure);
      return id;
    }
    const qs = queues.length === 1 ? queues : [...new Set(queues)];
    if (qs.length === 0) throw errors.invalidArgument('append needs at least one queue');
    let names = this.oneName;
    if (qs.length === 1) names[0] = queueNameBytes(qs[0]!);
    else names = qs.map(queueNameBytes);
    const meta = this.meta.get(msg.exchange, msg.routingKey, msg.properties);
    const w = this.writer;
    if (w.appendMessage(RecordType.MESSAGE, id, names, null, meta, msg.body, onDurable)) this.index.add(id, w.lastSeg, w.lastOff, w.lastLen, qs, null);
    return id;
  }

  /**
   * onDurable gets the failure on the next turn. Out of line: a closure in append itself would
   * cost a context allocation on every append, refused or not.
   */
  private refuseLater(onDurable: DurableCallback, failure: WarrenError): void {
    setImmediate(() => {
      try {
        onDurable(failure);
      } catch (err) {
        this.logger.error({ err: String(err) }, 'message store: onDurable callback threw');
      }
    });
  }

  /** Settles message id on queue (ack, reject, dead-letter, expiry, purge). Unknown ids are ignored. */
  settle(queue: string, id: number): void {
    // Not this.refusal(): while close() drains, a settlement still goes to the log (see LogWriter.close).
    if (this.writer.refusing) return;
    const r = this.index.removeQueue(id, queue);
    if (r === 'none') return;
    this.defer(this.pendingSettled, queue, id);
    if (typeof r === 'number' && r !== this.writer.head.no) this.reclaimer.schedule();
  }

  /**
   * Moves message id from queue `from` to the queues `to` (management move /
   * redrive) with ONE record: a COPY of the message carrying its new queue
   * list (the other queues holding it keep their delivery counts; the new
   * ones start at 0). A record is checksummed whole, so after a crash
   * recovery sees either the old list or the new one: the move is never half
   * done, nothing is lost or duplicated. With no queue left it is a SETTLE.
   * Returns the queues of `to` that now hold it (a queue already holding it
   * is not added twice), or null when id is not live on `from` (nothing
   * written; onDurable is not called). msg must carry the stored body.
   */
  move(id: number, from: string, to: readonly string[], msg: MessageRecord, onDurable: DurableCallback): string[] | null {
    const failure = this.refusal();
    if (failure) {
      // The store is failing (the broker is stopping): the caller hears it through onDurable.
      setImmediate(() => onDurable(failure));
      return [...to];
    }
    const e = this.index.get(id);
    if (e === undefined) return null;
    const queues = queuesOf(e);
    const counts = countsOf(e);
    const i = queues.indexOf(from);
    if (i < 0) return null;
    queues.splice(i, 1);
    counts.splice(i, 1);
    const added: string[] = [];
    for (const q of to) {
      if (queues.includes(q)) continue;
      queues.push(q);
      counts.push(0);
      added.push(q);
    }
    const oldSeg = e.seg;
    this.settledQueues.add(from); // its record may still be on its way: see dropQueue
    if (queues.length === 0) {
      this.index.removeQueue(id, from);
      this.writer.appendQueueRecord(RecordType.SETTLE, id, queueNameBytes(from), onDurable);
    } else {
      const meta = this.meta.get(msg.exchange, msg.routingKey, msg.properties);
      const w = this.writer;
      if (w.appendMessage(RecordType.COPY, id, queues.map(queueNameBytes), counts, meta, msg.body, onDurable)) {
        this.index.place(id, w.lastSeg, w.lastOff, w.lastLen, queues, counts);
      }
    }
    if (oldSeg !== this.writer.head.no) this.reclaimer.schedule();
    return added;
  }

  /** Records one delivery attempt of id on queue. */
  delivered(queue: string, id: number): void {
    if (this.writer.refusing) return; // as settle
    if (this.index.delivered(id, queue)) this.defer(this.pendingDelivered, queue, id);
  }

  private defer(pending: PendingQueues, queue: string, id: number): void {
    const p = pending.of(queue);
    p.ids[p.n++] = id;
    if (this.pending++ === 0) this.writer.kick();
  }

  /**
   * Writes the deferred delivery marks, then the settlements, one record per queue (the
   * writer calls this before it seals a batch and before it appends anything but a new
   * message). Marks first: a mark after the settlement of its message would be ignored anyway.
   */
  private flushPending(): void {
    if (this.pending === 0) return;
    this.pending = 0;
    const w = this.writer;
    for (const [queue, p] of this.pendingDelivered.lists) {
      if (p.n === 0) this.pendingDelivered.drop(queue, p);
      else w.appendIds(RecordType.DELIVERED_IDS, queueNameBytes(queue), p.take(), 0, p.taken);
    }
    for (const [queue, p] of this.pendingSettled.lists) {
      if (p.n === 0) {
        this.pendingSettled.drop(queue, p);
        continue;
      }
      w.appendIds(RecordType.SETTLE_IDS, queueNameBytes(queue), p.take(), 0, p.taken);
      this.settledQueues.add(queue); // once per queue and batch, not per settlement
    }
  }

  /**
   * Drops every message of a queue (queue deleted). onDurable, if given, runs
   * once the drop is on disk: the broker waits for it before it saves a
   * topology in which the name may be reused, or old messages could come back. A queue the
   * index no longer holds gets the record too if it had settlements or moves out since open:
   * waiting for it makes them durable (they may be deferred, queued or written without a sync).
   */
  dropQueue(queue: string, onDurable?: (err: Error | null) => void): void {
    const failure = this.refusal();
    if (failure) {
      onDurable?.(failure);
      return;
    }
    const settled = (this.pendingSettled.lists.get(queue)?.n ?? 0) > 0 || this.settledQueues.has(queue);
    if (this.index.dropQueue(queue) === 0 && !settled) {
      onDurable?.(null);
      return;
    }
    this.writer.appendQueueRecord(RecordType.DROP_QUEUE, 0, queueNameBytes(queue), onDurable ?? null);
    this.settledQueues.delete(queue); // after the append: its flush may have added it
    this.reclaimer.schedule();
  }

  /** Reads the body of a live message back from disk (checksum verified). */
  async readBody(id: number): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const failure = this.refusal();
      if (failure) throw failure;
      const e = this.index.get(id);
      if (!e) throw errors.notStored(id);
      const { seg, off, len } = e;
      let buf: Buffer;
      try {
        await this.writer.whenWritten(seg, off + len);
        buf = await this.files.read(seg, off, len);
      } catch (err) {
        // Compaction may have moved it and deleted the old segment under us: look again.
        const now = this.index.get(id);
        if (attempt < 3 && now && (now.seg !== seg || now.off !== off)) continue;
        if (err instanceof WarrenError) throw err;
        throw errors.storage(`reading message ${id} failed: ${(err as Error).message}`, err);
      }
      if (validRecordAt(buf, 0, len) !== len || recordId(buf, 0) !== id) {
        throw errors.storage(`stored message ${id} failed its checksum`);
      }
      const l = messageLayout(buf, 0, len);
      return buf.subarray(l.bodyStart, l.bodyEnd);
    }
  }

  /** Bytes of segment files currently on disk. */
  diskUsage(): number {
    let n = 0;
    for (const s of this.writer.segments.values()) n += s.written;
    return n;
  }

  /** Resolves once everything appended so far is written and space reclamation is idle (tests, benchmarks). */
  async idle(): Promise<void> {
    for (;;) {
      this.flushPending();
      const head = this.writer.head;
      await this.writer.whenWritten(head.no, head.end);
      await this.reclaimer.idle();
      if (this.writer.head === head && head.written >= head.end) return;
    }
  }

  /** Stops compaction, writes and syncs everything pending, closes the files. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.reclaimer.stop();
      await this.writer.close();
      await this.files.closeAll();
    })();
    return this.closing;
  }

  private refusal(): WarrenError | null {
    if (this.writer.failure) return this.writer.failure;
    if (this.closed) return errors.storage('message store is closed');
    return null;
  }
}

/**
 * The most ids a queue's deferred list keeps room for between batches. A list grown past it (a
 * burst of acks) is dropped after its batch, so a broker with many busy queues holds at most
 * this many slots (8 B each) per queue, not the largest burst each one ever saw.
 */
export const KEPT_IDS = 1024;

/**
 * The deferred lists by queue, with the one used last at hand: settlements and delivery marks
 * nearly always come from the same queue as the previous one, which then costs no Map lookup.
 */
export class PendingQueues {
  readonly lists = new Map<string, PendingIds>();
  private last: PendingIds | null = null;
  private lastQueue = '';

  /** The list of queue, created if missing. */
  of(queue: string): PendingIds {
    if (this.last !== null && queue === this.lastQueue) return this.last;
    let p = this.lists.get(queue);
    if (p === undefined) this.lists.set(queue, (p = new PendingIds()));
    this.last = p;
    this.lastQueue = queue;
    return p;
  }

  /** Forgets queue's (empty) list p: the next of(queue) makes a new one. */
  drop(queue: string, p: PendingIds): void {
    this.lists.delete(queue);
    if (this.last === p) this.last = null;
  }
}

/** Ids deferred for one queue: ids[0, n). The array is kept from batch to batch (see take). */
export class PendingIds {
  ids: number[] = [];
  n = 0;
  /** How many ids the last take() handed out. */
  taken = 0;

  /** Hands out ids[0, taken) and empties the list; a list grown past KEPT_IDS is not kept. */
  take(): number[] {
    const ids = this.ids;
    this.taken = this.n;
    this.n = 0;
    if (ids.length > KEPT_IDS) this.ids = [];
    return ids;
  }
}
