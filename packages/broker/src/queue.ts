/**
 * A queue: ready messages in order (see MessageList), its consumers, the
 * delivery loop, and the policies set by its arguments: TTL, dead-lettering,
 * length limits, delivery limit, priorities, delays, single active consumer
 * and queue expiry. Timed work uses one heap and one timer per queue, never a
 * timer per message.
 */
import type { Arguments, WarrenError } from '@warren/protocol';
import { errors } from './errors.js';
import { coarseClock } from './clock.js';
import { MessageList } from './message-list.js';
import { QueueSpill, type SpilledMessage } from './queue-spill.js';
import { MinHeap } from './heap.js';
import { parseQueuePolicy, type QueuePolicy } from './queue-policy.js';
import type { Message, QueuedMessage } from './message.js';

export interface DeliverySink {
  /** false while this connection's socket is congested: deliveries wait for 'drain'. */
  readonly writable: boolean;
  /** The connection's negotiated frame maximum: no frame sent to it may be longer. */
  readonly frameMax: number;
  /** Sends DELIVER; false (nothing sent) when the frame would exceed frameMax. */
  deliver(consumer: Consumer, qm: QueuedMessage): boolean;
  consumerCancelled(consumer: Consumer, err: WarrenError): void;
}

export class Consumer {
  /** Deliveries not yet acked (always 0 for noAck consumers). */
  unacked = 0;
  constructor(
    readonly tag: string,
    readonly queue: Queue,
    readonly sink: DeliverySink,
    /** 0 = unlimited. */
    readonly prefetch: number,
    readonly noAck: boolean,
    readonly exclusive: boolean,
  ) {}

  get ready(): boolean {
    return (this.prefetch === 0 || this.unacked < this.prefetch) && this.sink.writable;
  }
}

/**
 * Thrown by a DeliverySink whose DELIVER frame for a message cannot be encoded
 * (properties nested past what the encoder's stack allows: stored before the
 * 64-level bound of protocol-spec 3, or by a path that skipped it). Nothing was
 * sent. The queue drops that one message (drain) instead of letting the error
 * close the connection that happened to trigger the delivery, again and again.
 */
export class UnencodableDelivery extends Error {
  constructor(readonly reason: unknown) {
    super(`DELIVER frame cannot be encoded: ${(reason as Error)?.message ?? String(reason)}`);
  }
}

export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery-limit' | 'frame-too-large';

/** What a queue needs from the broker around it. */
export interface QueueHost {
  /** The queue no longer holds qm: settle it in storage if stored, release memory. */
  settled(queue: Queue, qm: QueuedMessage): void;
  /** The queue gives qm up for this reason: route it to the dead-letter exchange, if any, then settle. */
  deadLetter(queue: Queue, qm: QueuedMessage, reason: DeathReason): void;
  /** Records a delivery attempt in storage (durable queues). */
  delivering(queue: Queue, qm: QueuedMessage): void;
  /** Loads evicted bodies back from disk before they are delivered. */
  loadBodies(messages: Message[]): Promise<void>;
  /** An auto-delete queue lost its last consumer, or an x-expires queue went unused. */
  autoDelete(queue: Queue, reason: string): void;
  /** A message no consumer's frameMax can carry is being dead-lettered: say so in the log. */
  tooLarge(queue: Queue, qm: QueuedMessage, frameMax: number): void;
  /** A message whose DELIVER cannot be encoded is being dropped: say so in the log. */
  unencodable(queue: Queue, qm: QueuedMessage, err: UnencodableDelivery): void;
  /** Where queues page out their tails, and how many ready messages each keeps in RAM; null: no paging. */
  readonly paging: PagingConfig | null;
  /** This queue paged a message out: its reference in RAM is gone (the store still holds it for this queue). */
  pagedOut(message: Message): void;
  /** A message read back from the spill file: count its body in RAM. */
  pagedIn(message: Message): void;
}

export interface PagingConfig {
  /** Folder of the spill files (emptied at start). */
  readonly dir: string;
  /** Ready messages a queue keeps in RAM; the ones behind them wait in its spill file. */
  readonly window: number;
  /** RAM a queue's ready messages may take (bodies plus MESSAGE_OVERHEAD each) before the ones behind wait in its spill file. */
  readonly windowBytes: number;
  /** The process is short of memory (memory-monitor.ts): every queue keeps at most the pressure window in RAM. */
  pressure: boolean;
}

/**
 * What a ready message in RAM costs beyond its body (its Message and
 * QueuedMessage objects, property and name strings, list slot), as counted
 * against the paging window in bytes. Measured: about 380 B of heap, more in
 * RSS; the count errs on the side of paging earlier.
 */
export const MESSAGE_OVERHEAD = 512;
/** Under memory pressure a queue keeps at most this many ready messages and bytes in RAM (or its window, if smaller). */
export const PRESSURE_WINDOW = 2048;
export const PRESSURE_WINDOW_BYTES = 4 * 1024 * 1024;
/** Messages read back from the spill file at a time: a backlog comes back in slices, not in one long pause. */
const PAGE_IN_BATCH = 4096;

let spillFiles = 0;

export interface QueueOptions {
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: Arguments;
}

/** How many evicted bodies to read back from disk at once. */
const LOAD_BATCH = 128;

/** The absolute time a message may first be delivered (x-delay / x-not-before headers), or 0. */
export function deliverAtOf(message: Message): number {
  const headers = message.properties?.headers;
  if (headers === undefined) return 0;
  const notBefore = headers['x-not-before'];
  return typeof notBefore === 'number' ? notBefore : 0;
}

/**
 * "The message with seq >= seqs[i] arrived at or after times[i]": one
 * checkpoint per coarse clock tick in which messages arrived, those below the
 * queue's head dropped, at most MAX_CHECKPOINTS kept (every other one dropped
 * when full: coarser, never younger than the truth).
 */
class ArrivalCheckpoints {
  private seqs: number[] = [];
  private times: number[] = [];
  lastAt = 0;

  mark(seq: number, at: number, headSeq: number | undefined): void {
    this.lastAt = at;
    if (headSeq !== undefined) {
      const keep = this.indexOf(headSeq);
      if (keep > 0) {
        this.seqs.splice(0, keep);
        this.times.splice(0, keep);
      }
    } else {
      this.seqs.length = 0;
      this.times.length = 0;
    }
    if (this.seqs.length >= MAX_CHECKPOINTS) {
      this.seqs = this.seqs.filter((_, i) => i % 2 === 0);
      this.times = this.times.filter((_, i) => i % 2 === 0);
    }
    this.seqs.push(seq);
    this.times.push(at);
  }

  /** The index of the last checkpoint at or below seq, -1 when none. */
  private indexOf(seq: number): number {
    let lo = 0;
    let hi = this.seqs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! <= seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * When the message with this seq arrived, at the latest; null when unknown.
   * A requeued message older than every checkpoint kept reads as the oldest one.
   */
  timeOf(seq: number): number | null {
    if (this.seqs.length === 0) return null;
    return this.times[Math.max(0, this.indexOf(seq))]!;
  }
}

const MAX_CHECKPOINTS = 256;

/** Plain counters of one queue (read by the rate sampler and /metrics; never reset). */
export interface QueueCounters {
  /** Messages that entered the queue (published, dead-lettered or moved in). */
  published: number;
  /** Deliveries to consumers and basic.get, redeliveries included. */
  delivered: number;
  redelivered: number;
  acked: number;
}

/** A ready or delayed message as browse shows it: a snapshot, nothing in the queue changes. */
export interface BrowsedMessage {
  message: Message;
  deliveryCount: number;
  state: 'ready' | 'delayed';
  /** When a delayed message becomes ready (ms since epoch), else 0. */
  deliverAt: number;
}

export class Queue {
  readonly policy: QueuePolicy;
  readonly counters: QueueCounters = { published: 0, delivered: 0, redelivered: 0, acked: 0 };
  private readonly list: MessageList;
  private nextSeq = 1;
  private consumers: Consumer[] = [];
  private rr = 0;
  private loading = false;
  private draining = false;
  private hadConsumer = false;
  /** Unacked deliveries across all consumers. */
  unackedCount = 0;
  deleted = false;
  /** Ready messages by expiry time. Entries of messages no longer ready are skipped. */
  private readonly expiries = new MinHeap<QueuedMessage>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryTimerAt = 0;
  /** Delayed messages by the time they become deliverable. */
  private readonly delayed = new MinHeap<QueuedMessage>();
  private delayTimer: NodeJS.Timeout | undefined;
  private delayTimerAt = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastUsed = Date.now();
  /** Declared with x-queue-type: stream: routed messages go to its log (see streams/), not to this list. */
  readonly isStream: boolean;
  /** The paged-out tail (messages behind the window), or null when this queue does not page. */
  private readonly spill: QueueSpill | null;
  private readonly paging: PagingConfig | null;
  /** When messages arrived, coarsely: for oldestReadyAgeMs (management), never read on the hot path. */
  private readonly arrivals = new ArrivalCheckpoints();

  constructor(
    readonly name: string,
    readonly options: QueueOptions,
    /** The connection owning an exclusive queue. */
    readonly owner: object | null,
    private readonly host: QueueHost,
  ) {
    this.isStream = options.arguments['x-queue-type'] === 'stream';
    this.policy = parseQueuePolicy(options.arguments);
    this.list = new MessageList(this.policy.maxPriority);
    if (this.policy.expires !== null) this.armIdleTimer();
    // Priority queues keep everything in RAM: a spill file holds one arrival order.
    const paging = host.paging;
    this.spill = paging !== null && this.policy.maxPriority === 0 ? new QueueSpill(paging.dir, `q${++spillFiles}`) : null;
    this.paging = this.spill === null ? null : paging;
  }

  get durable(): boolean {
    return this.options.durable;
  }

  /** Ready messages, paged out ones included (delayed ones not included). */
  get messageCount(): number {
    return this.list.length + (this.spill?.length ?? 0);
  }

  /** Body bytes of the ready messages, paged-out ones included. */
  get readyBytes(): number {
    return this.list.bytes + (this.spill?.bytes ?? 0);
  }

  /** Ready messages paged out to the spill file. */
  get pagedCount(): number {
    return this.spill?.length ?? 0;
  }

  /**
   * How long the next ready message has waited since it arrived (ms; the lag),
   * null when nothing is ready. From the arrival checkpoints: at most one per
   * coarse clock tick, so it may read up to a tick (and after long backlogs a
   * little more) older than it is; a delayed message counts from its publish, a
   * requeued one from its first arrival at most; messages recovered at start
   * count from the start.
   */
  oldestReadyAgeMs(now = Date.now()): number | null {
    const head = this.list.peek();
    if (head === undefined) return null;
    const at = this.arrivals.timeOf(head.seq);
    return at === null ? null : Math.max(0, now - at);
  }

  get delayedCount(): number {
    return this.delayed.size;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  consumerList(): readonly Consumer[] {
    return this.consumers;
  }

  // -- arrival ---------------------------------------------------------------

  /**
   * Would this queue refuse a new message (x-overflow reject-publish*)? The
   * publish path asks before storing or enqueueing.
   */
  rejectsPublish(message: Message): boolean {
    return this.policy.overflow !== 'drop-head' && this.wouldOverflow(message.bodySize);
  }

  private wouldOverflow(extraBytes: number): boolean {
    const p = this.policy;
    return (
      (p.maxLength !== null && this.messageCount + 1 > p.maxLength) ||
      (p.maxLengthBytes !== null && this.list.bytes + (this.spill?.bytes ?? 0) + extraBytes > p.maxLengthBytes)
    );
  }

  /**
   * Adds a newly routed message (or a recovered one, with its delivery count).
   * The caller has counted this queue in message.refs.
   */
  enqueue(message: Message, deliveryCount = 0): void {
    this.counters.published++;
    if (coarseClock.now !== this.arrivals.lastAt) this.arrivals.mark(this.nextSeq, coarseClock.now, this.list.peek()?.seq);
    const qm: QueuedMessage = { message, seq: this.nextSeq++, deliveryCount, ready: false, expiresAt: 0 };
    const deliverAt = deliverAtOf(message);
    if (deliverAt !== 0 && deliverAt > Date.now()) {
      this.delayed.push(deliverAt, qm);
      this.armDelayTimer();
      return;
    }
    this.admit(qm);
  }

  /** A message becomes ready: TTL starts, length limits apply, consumers may take it. */
  private admit(qm: QueuedMessage): void {
    const ttl = this.ttlOf(qm.message);
    if (ttl === 0) {
      // RabbitMQ's rule: a zero TTL message is delivered only if a consumer can take it now.
      const consumer = this.consumers.length > 0 && this.list.length === 0 && qm.message.body !== null ? this.nextConsumer() : undefined;
      if (consumer === undefined || !this.deliverTo(consumer, qm)) this.host.deadLetter(this, qm, 'expired');
      return;
    }
    if (this.policy.overflow === 'drop-head') {
      while (this.wouldOverflow(qm.message.bodySize) && (this.list.length > 0 || this.pageIn() > 0)) {
        const head = this.list.shift();
        if (head !== undefined) this.host.deadLetter(this, head, 'maxlen');
      }
      if (this.wouldOverflow(qm.message.bodySize)) {
        // A limit of 0 (or a body larger than the byte limit) keeps nothing.
        this.host.deadLetter(this, qm, 'maxlen');
        return;
      }
    }
    if (ttl > 0) qm.expiresAt = Date.now() + ttl;
    const spill = this.spill;
    // Queues with x-message-ttl do not page: their messages must expire on time, wherever they sit. (A message
    // with its own expiration that is paged out expires when it is read back, as RabbitMQ's do at the head.)
    if (spill !== null && this.policy.messageTtl === null && (spill.length > 0 || this.windowFull())) {
      this.pageOut(spill, qm);
      return;
    }
    if (ttl > 0) {
      this.expiries.push(qm.expiresAt, qm);
      this.armExpiryTimer();
    }
    this.list.push(qm);
    this.drain();
  }

  // -- paging ----------------------------------------------------------------
  //
  // A queue keeps its ready messages in RAM up to its window: `paging.window` messages or
  // `paging.windowBytes` bytes (bodies plus MESSAGE_OVERHEAD each), whichever comes first, a roomy
  // default (tens of MiB) so that a queue that grows for a while under a lagging consumer costs
  // nothing. Under memory pressure the window shrinks to PRESSURE_WINDOW(_BYTES). Past the window,
  // new arrivals go to the spill file, and keep going there (arrival order) until it is empty again;
  // the list pulls them back in slices once it is down to half its window.

  /** The window in effect, in messages. */
  private windowCount(p: PagingConfig): number {
    return p.pressure ? Math.min(p.window, PRESSURE_WINDOW) : p.window;
  }

  /** The window in effect, in bytes (bodies plus MESSAGE_OVERHEAD each). */
  private windowBytes(p: PagingConfig): number {
    return p.pressure ? Math.min(p.windowBytes, PRESSURE_WINDOW_BYTES) : p.windowBytes;
  }

  /** RAM counted against the window: the ready messages in the list, bodies plus overhead. */
  private get listBytes(): number {
    return this.list.bytes + this.list.length * MESSAGE_OVERHEAD;
  }

  /** Whether the ready messages in RAM fill the window. */
  private windowFull(): boolean {
    const p = this.paging!;
    return this.list.length >= this.windowCount(p) || this.listBytes >= this.windowBytes(p);
  }

  /** Whether the list is down to half its window, so paged-out messages should come back. */
  private belowHalfWindow(): boolean {
    const p = this.paging!;
    return this.list.length <= this.windowCount(p) >> 1 && this.listBytes <= this.windowBytes(p) / 2;
  }

  /**
   * Appends a ready message to the spill file and drops it from RAM. A durable
   * message already in the store is written without its body (read back from
   * the store when delivered).
   */
  private pageOut(spill: QueueSpill, qm: QueuedMessage): void {
    const m = qm.message;
    const inStore = m.durable && m.storeId !== 0 && this.durable;
    spill.append({
      exchange: m.exchange,
      routingKey: m.routingKey,
      properties: m.properties,
      body: inStore ? null : m.body,
      bodySize: m.bodySize,
      storeId: this.durable ? m.storeId : 0,
      durable: inStore,
      evictable: m.evictable,
      seq: qm.seq,
      deliveryCount: qm.deliveryCount,
      expiresAt: qm.expiresAt,
    });
    this.host.pagedOut(m);
  }

  /** Reads a slice of paged-out messages back, up to the window; returns how many came back (expired ones included). */
  private pageIn(): number {
    const spill = this.spill;
    if (spill === null || spill.length === 0) return 0;
    const p = this.paging!;
    const batch = spill.take(Math.min(PAGE_IN_BATCH, this.windowCount(p) - this.list.length), this.windowBytes(p) - this.listBytes, MESSAGE_OVERHEAD);
    const now = Date.now();
    for (const r of batch) {
      const qm = this.fromSpill(r);
      if (qm.expiresAt !== 0) {
        if (qm.expiresAt <= now) {
          this.host.deadLetter(this, qm, 'expired');
          continue;
        }
        this.expiries.push(qm.expiresAt, qm);
      }
      this.list.push(qm);
    }
    this.armExpiryTimer();
    return batch.length;
  }

  private fromSpill(r: SpilledMessage): QueuedMessage {
    const message: Message = {
      exchange: r.exchange,
      routingKey: r.routingKey,
      properties: r.properties,
      body: r.body,
      bodySize: r.bodySize,
      storeId: r.storeId,
      refs: 1,
      durable: r.durable,
      evictable: r.evictable,
    };
    this.host.pagedIn(message);
    return { message, seq: r.seq, deliveryCount: r.deliveryCount, ready: false, expiresAt: r.expiresAt };
  }

  /** The effective TTL in ms: the smaller of the queue's and the message's, -1 for none. */
  private ttlOf(message: Message): number {
    const q = this.policy.messageTtl;
    const m = message.properties?.expiration;
    if (q === null) return m ?? -1;
    return m === undefined ? q : Math.min(q, m);
  }

  // -- consumers -------------------------------------------------------------

  /** Registers a consumer; deliveries start at the next drain() (after the CONSUME reply). */
  addConsumer(consumer: Consumer): void {
    if (this.consumers.some((c) => c.exclusive)) {
      throw errors.resourceLocked(`queue '${this.name}' has an exclusive consumer`);
    }
    if (consumer.exclusive && this.consumers.length > 0) {
      throw errors.resourceLocked(`queue '${this.name}' already has consumers; cannot consume exclusively`);
    }
    this.consumers.push(consumer);
    this.hadConsumer = true;
    this.touch();
  }

  /** Removes a consumer; the caller requeues its unacked deliveries. */
  removeConsumer(consumer: Consumer): void {
    const i = this.consumers.indexOf(consumer);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    if (this.rr > i) this.rr--;
    this.touch();
    if (this.consumers.length === 0 && this.hadConsumer && this.options.autoDelete && !this.deleted) {
      this.host.autoDelete(this, `auto-delete queue '${this.name}' lost its last consumer`);
      return;
    }
    // With a single active consumer, the next in line takes over.
    if (this.policy.singleActiveConsumer && i === 0) this.drain();
  }

  /** The consumer receiving deliveries when single-active-consumer is on. */
  get activeConsumer(): Consumer | undefined {
    return this.policy.singleActiveConsumer ? this.consumers[0] : undefined;
  }

  /** Picks the next consumer able to take a delivery, round-robin. */
  private nextConsumer(): Consumer | undefined {
    if (this.policy.singleActiveConsumer) {
      const c = this.consumers[0];
      return c !== undefined && c.ready ? c : undefined;
    }
    const n = this.consumers.length;
    for (let i = 0; i < n; i++) {
      const index = (this.rr + i) % n;
      const c = this.consumers[index]!;
      if (c.ready) {
        this.rr = (index + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  // -- delivery --------------------------------------------------------------

  /** Delivers as much as consumers can take. Cheap to call when nothing can move. */
  drain(): void {
    if (this.draining || this.loading || this.consumers.length === 0 || this.deleted) return;
    this.draining = true;
    try {
      for (;;) {
        if (this.spill !== null && this.spill.length > 0 && this.belowHalfWindow()) this.pageIn();
        const head = this.list.peek();
        if (head === undefined) return;
        if (head.message.body === null) {
          this.loadAhead();
          return;
        }
        const consumer = this.nextConsumer();
        if (consumer === undefined) return;
        const qm = this.list.shift()!;
        try {
          if (!this.deliverTo(consumer, qm) && !this.deliverTooLarge(consumer, qm)) return;
        } catch (err) {
          if (!(err instanceof UnencodableDelivery)) throw err;
          // Not dead-lettered: the copy (with x-death) could not be delivered either.
          this.host.unencodable(this, qm, err);
          this.host.settled(this, qm);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Sends qm to consumer; false (nothing changed) when the DELIVER frame exceeds its connection's frameMax. */
  private deliverTo(consumer: Consumer, qm: QueuedMessage): boolean {
    if (!consumer.sink.deliver(consumer, qm)) return false;
    if (!consumer.noAck) {
      consumer.unacked++;
      this.unackedCount++;
    }
    this.host.delivering(this, qm);
    this.counters.delivered++;
    if (qm.deliveryCount > 0) this.counters.redelivered++;
    qm.deliveryCount++;
    if (consumer.noAck) this.host.settled(this, qm);
    return true;
  }

  /**
   * qm is too large for `refused`'s frameMax (protocol-spec 2, rule 8). It is
   * offered to the other ready consumers; when none of them can carry it but
   * a busy consumer with a larger frameMax could, it waits at the head of the
   * queue for that one (false: stop draining); when no consumer of the queue
   * could ever carry it, it is dead-lettered with reason frame-too-large.
   */
  private deliverTooLarge(refused: Consumer, qm: QueuedMessage): boolean {
    let largest = refused.sink.frameMax;
    for (const c of this.consumers) {
      if (c === refused || c.sink.frameMax <= largest) continue;
      if (c.ready && this.deliverTo(c, qm)) return true;
      largest = c.sink.frameMax;
    }
    if (largest > refused.sink.frameMax) {
      this.list.requeue(qm);
      return false;
    }
    this.host.tooLarge(this, qm, largest);
    this.host.deadLetter(this, qm, 'frame-too-large');
    return true;
  }

  /** Reads back the bodies of the next messages (they were evicted to disk). */
  private loadAhead(): void {
    const batch: Message[] = [];
    for (const qm of this.list.iterate()) {
      if (batch.length >= LOAD_BATCH) break;
      if (qm.message.body === null) batch.push(qm.message);
    }
    this.loading = true;
    this.host.loadBodies(batch).then(
      () => {
        this.loading = false;
        this.drain();
      },
      () => {
        this.loading = false;
      },
    );
  }

  /**
   * Pull one message (basic.get). Bodies on disk are loaded first. `deliver`
   * returns false when the GET_OK frame would exceed the getter's frameMax:
   * that message is dead-lettered (frame-too-large) and the next one is tried;
   * it throws UnencodableDelivery for a message that cannot be encoded at all:
   * that one is dropped (as in drain) and the next one is tried.
   */
  async get(noAck: boolean, deliver: (qm: QueuedMessage) => boolean, frameMax = 0): Promise<boolean> {
    this.touch();
    for (;;) {
      if (this.list.length === 0) this.pageIn();
      const head = this.list.peek();
      if (head === undefined) return false;
      if (head.message.body === null) await this.host.loadBodies([head.message]);
      const qm = this.list.shift();
      if (qm === undefined) return false;
      try {
        if (this.pulled(noAck, qm, deliver)) return true;
      } catch (err) {
        if (!(err instanceof UnencodableDelivery)) throw err;
        this.host.unencodable(this, qm, err); // as in drain
        this.host.settled(this, qm);
        continue;
      }
      this.host.tooLarge(this, qm, frameMax);
      this.host.deadLetter(this, qm, 'frame-too-large');
    }
  }

  private pulled(noAck: boolean, qm: QueuedMessage, deliver: (qm: QueuedMessage) => boolean): boolean {
    if (!deliver(qm)) return false;
    if (!noAck) this.unackedCount++;
    this.host.delivering(this, qm);
    this.counters.delivered++;
    if (qm.deliveryCount > 0) this.counters.redelivered++;
    qm.deliveryCount++;
    if (noAck) this.host.settled(this, qm);
    return true;
  }

  // -- settlement ------------------------------------------------------------

  /** An unacked delivery was acked. */
  settle(consumer: Consumer | null, qm: QueuedMessage): void {
    this.counters.acked++;
    this.release(consumer);
    this.host.settled(this, qm);
  }

  /** An unacked delivery was rejected without requeue: dead-letter it. */
  reject(consumer: Consumer | null, qm: QueuedMessage): void {
    this.release(consumer);
    this.host.deadLetter(this, qm, 'rejected');
  }

  /** An unacked delivery goes back to the queue (nack/reject with requeue, consumer gone, ack timeout). */
  returnToQueue(consumer: Consumer | null, qm: QueuedMessage): void {
    this.release(consumer);
    if (this.deleted) {
      this.host.settled(this, qm);
      return;
    }
    const limit = this.policy.deliveryLimit;
    if (limit !== null && qm.deliveryCount >= limit) {
      this.host.deadLetter(this, qm, 'delivery-limit');
      return;
    }
    if (qm.expiresAt !== 0) {
      if (qm.expiresAt <= Date.now()) {
        this.host.deadLetter(this, qm, 'expired');
        return;
      }
      this.expiries.push(qm.expiresAt, qm);
      this.armExpiryTimer();
    }
    this.list.requeue(qm);
  }

  private release(consumer: Consumer | null): void {
    if (consumer !== null && !consumer.noAck) consumer.unacked--;
    this.unackedCount--;
  }

  // -- timers ----------------------------------------------------------------

  private armExpiryTimer(): void {
    const next = this.expiries.peekKey();
    if (next === undefined || this.deleted) return;
    if (this.expiryTimer !== undefined && this.expiryTimerAt <= next) return;
    clearTimeout(this.expiryTimer);
    this.expiryTimerAt = next;
    this.expiryTimer = setTimeout(() => this.expireDue(), Math.max(0, next - Date.now()));
    this.expiryTimer.unref();
  }

  /** Expires every ready message whose TTL ran out, wherever it sits in the queue. */
  private expireDue(): void {
    this.expiryTimer = undefined;
    const now = Date.now();
    for (;;) {
      const key = this.expiries.peekKey();
      if (key === undefined || key > now) break;
      const qm = this.expiries.pop()!;
      // Delivered or already gone: its entry is stale.
      if (!qm.ready || qm.expiresAt > now) continue;
      this.list.remove(qm);
      this.host.deadLetter(this, qm, 'expired');
    }
    this.armExpiryTimer();
  }

  private armDelayTimer(): void {
    const next = this.delayed.peekKey();
    if (next === undefined || this.deleted) return;
    if (this.delayTimer !== undefined && this.delayTimerAt <= next) return;
    clearTimeout(this.delayTimer);
    this.delayTimerAt = next;
    this.delayTimer = setTimeout(() => this.releaseDelayed(), Math.max(0, next - Date.now()));
    this.delayTimer.unref();
  }

  /** Moves delayed messages whose time has come to the back of the queue. */
  private releaseDelayed(): void {
    this.delayTimer = undefined;
    const now = Date.now();
    for (;;) {
      const key = this.delayed.peekKey();
      if (key === undefined || key > now) break;
      const qm = this.delayed.pop()!;
      qm.seq = this.nextSeq++;
      this.admit(qm);
    }
    this.armDelayTimer();
  }

  /** Marks the queue as used (x-expires counts from the last use). */
  touch(): void {
    this.lastUsed = Date.now();
  }

  private armIdleTimer(): void {
    const expires = this.policy.expires!;
    this.idleTimer = setTimeout(() => {
      if (this.deleted) return;
      const idleFor = Date.now() - this.lastUsed;
      if (this.consumers.length === 0 && idleFor >= expires) {
        this.host.autoDelete(this, `queue '${this.name}' expired after ${expires} ms unused`);
      } else {
        this.armIdleTimer();
      }
    }, Math.max(1, expires - (Date.now() - this.lastUsed)));
    this.idleTimer.unref();
  }

  // -- purge and delete -------------------------------------------------------

  /** Drops every ready (and delayed) message; returns how many were ready. */
  purge(): number {
    const count = this.messageCount;
    for (const qm of this.list.drain()) this.host.settled(this, qm);
    const spill = this.spill;
    if (spill !== null && spill.length > 0) {
      // Stored messages must be settled one by one; the rest just go with the files.
      if (this.durable && !this.deleted) {
        while (spill.length > 0) for (const r of spill.take(4096)) this.host.settled(this, this.fromSpill(r));
      }
      spill.clear();
    }
    for (let qm = this.delayed.pop(); qm !== undefined; qm = this.delayed.pop()) this.host.settled(this, qm);
    this.expiries.clear();
    return count;
  }

  /** Marks the queue deleted, cancels its consumers and drops its messages. */
  delete(reason: string): number {
    this.deleted = true;
    clearTimeout(this.expiryTimer);
    clearTimeout(this.delayTimer);
    clearTimeout(this.idleTimer);
    const count = this.purge();
    const err = errors.queueGone(reason);
    const consumers = this.consumers;
    this.consumers = [];
    for (const c of consumers) c.sink.consumerCancelled(c, err);
    return count;
  }

  // -- browse and move (management) -------------------------------------------

  /**
   * Up to `count` messages from position `offset`, without side effects: the
   * ready ones in delivery order (those in RAM, then the paged-out tail read
   * from the spill file without consuming it), then the delayed ones by due
   * time. Bodies may be null (on disk in the message store): the caller reads
   * them by storeId.
   */
  browse(offset: number, count: number): BrowsedMessage[] {
    const out: BrowsedMessage[] = [];
    let skip = offset;
    for (const qm of this.list.iterate()) {
      if (out.length >= count) return out;
      if (skip > 0) {
        skip--;
        continue;
      }
      out.push({ message: qm.message, deliveryCount: qm.deliveryCount, state: 'ready', deliverAt: 0 });
    }
    const spill = this.spill;
    if (spill !== null && spill.length > 0 && out.length < count) {
      const paged = spill.length;
      if (skip >= paged) skip -= paged;
      else {
        for (const r of spill.peek(skip, count - out.length)) {
          const message: Message = { ...r, refs: 0 };
          out.push({ message, deliveryCount: r.deliveryCount, state: 'ready', deliverAt: 0 });
        }
        skip = 0;
      }
    }
    if (out.length < count && this.delayed.size > 0) {
      const delayed = this.delayed.entries().sort((a, b) => a[0] - b[0] || a[1].seq - b[1].seq);
      for (const [at, qm] of delayed.slice(skip, skip + count - out.length)) {
        out.push({ message: qm.message, deliveryCount: qm.deliveryCount, state: 'delayed', deliverAt: at });
      }
    }
    return out;
  }

  /**
   * Takes up to `max` ready messages off the head (paged-out ones read back),
   * for a move. They leave the queue as if delivered and settled, but nothing
   * is settled in storage and no ref is released: the caller moves or puts
   * each one back (putBack) before it yields to the event loop.
   */
  takeReady(max: number): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    while (out.length < max) {
      if (this.list.length === 0 && this.pageIn() === 0) break;
      const qm = this.list.shift();
      if (qm === undefined) break;
      out.push(qm);
    }
    return out;
  }

  /** Messages taken by takeReady that were not moved go back to their places. */
  putBack(qms: readonly QueuedMessage[]): void {
    for (const qm of qms) {
      if (qm.expiresAt !== 0) {
        this.expiries.push(qm.expiresAt, qm);
        this.armExpiryTimer();
      }
      this.list.requeue(qm);
    }
    this.drain();
  }

  /** Ready messages in RAM in delivery order (management and tests); paged-out ones are not listed. */
  readyMessages(): IterableIterator<QueuedMessage> {
    return this.list.iterate();
  }
}
