/**
 * One connection's unacknowledged deliveries, by delivery tag: what ACK, NACK
 * and REJECT settle, what an x-consumer-timeout requeues, and what goes back
 * to the queues when the connection closes.
 *
 * Tags count up per connection and are kept in tag order (a ring indexed by
 * tag, see below), so a multiple-ack walks from the oldest and stops at its
 * tag. Tracking and settling a delivery allocates nothing.
 */
import type { WarrenError } from '@warren/protocol';
import { errors } from './errors.js';
import type { QueuedMessage } from './message.js';
import type { Consumer, Queue } from './queue.js';

interface Delivery {
  readonly queue: Queue;
  readonly qm: QueuedMessage;
  readonly consumer: Consumer | null;
  /** When it was delivered, for x-consumer-timeout; 0 when the queue has none. */
  readonly at: number;
}

/** How often unacked deliveries are checked against their queue's x-consumer-timeout. */
const ACK_TIMEOUT_SWEEP_MS = 100;

/**
 * A message pulled by GET: the reply the connection sends as GET_OK. The
 * fields are read when it is taken, before a noAck pull releases the body.
 */
export class PulledMessage {
  readonly redelivered: boolean;
  readonly deliveryCount: number;
  readonly body: Buffer;
  readonly messageCount: number;
  constructor(
    readonly queue: Queue,
    readonly qm: QueuedMessage,
    readonly noAck: boolean,
  ) {
    this.redelivered = qm.deliveryCount > 0;
    this.deliveryCount = qm.deliveryCount + 1;
    this.body = qm.message.body!;
    this.messageCount = queue.messageCount;
  }
}

export class Deliveries {
  // The unacked deliveries by tag. Tags count up and acks mostly come in tag order, so they sit
  // in a ring of slots indexed by tag (slot = tag & mask) covering the tags [base, nextTag): no
  // Map entry and no object per delivery. A slot's queue is undefined once settled (or for a
  // noAck delivery). The ring doubles while at least half of it is in use; otherwise, when a
  // new tag needs the oldest slot, the delivery there (one left unacked while many newer came
  // and went) moves to `older`, a Map in tag order, and the ring moves on.
  private queues: (Queue | undefined)[] = [];
  private qms: (QueuedMessage | undefined)[] = [];
  private consumers: (Consumer | null)[] = [];
  /** When each was delivered, for x-consumer-timeout; 0 when its queue has none. */
  private ats = new Float64Array(0);
  private mask = -1;
  /** The oldest tag the ring covers; every tracked tag below it is in `older`. */
  private base = 1;
  /** Deliveries in the ring. */
  private inRing = 0;
  private readonly older = new Map<number, Delivery>();
  private nextTag = 1;
  /** Queues touched by one multiple-settle (or a close), drained once at the end. */
  private readonly touched = new Set<Queue>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Deliveries whose queue has an x-consumer-timeout (the sweep stops at 0). */
  private timed = 0;

  constructor(
    /** Tells the client a delivery timed out (an ERROR with id 0). */
    private readonly onTimeout: (err: WarrenError) => void,
  ) {}

  get size(): number {
    return this.inRing + this.older.size;
  }

  /** The tag the next track() will give (a frame is encoded with it before it is known to fit). */
  get nextDeliveryTag(): number {
    return this.nextTag;
  }

  /** Gives the next delivery tag; tracks the delivery for settlement unless noAck. */
  track(queue: Queue, qm: QueuedMessage, consumer: Consumer | null, noAck: boolean): number {
    const tag = this.nextTag++;
    if (!noAck) {
      if (tag - this.base > this.mask) this.makeRoom(tag);
      const i = tag & this.mask;
      this.queues[i] = queue;
      this.qms[i] = qm;
      this.consumers[i] = consumer;
      const timed = queue.policy.consumerTimeout !== null;
      this.ats[i] = timed ? Date.now() : 0;
      this.inRing++;
      if (timed) {
        this.timed++;
        this.startSweep();
      }
    }
    return tag;
  }

  /** The ring has no slot for `tag`: it doubles (half or more in use), or its oldest slots move on. */
  private makeRoom(tag: number): void {
    while (tag - this.base > this.mask) {
      const size = this.mask + 1;
      if (this.inRing >= size >>> 1) {
        this.grow(Math.max(8, size * 2));
      } else if (this.inRing === 0) {
        this.base = tag;
      } else {
        const i = this.base & this.mask;
        const queue = this.queues[i];
        if (queue !== undefined) {
          this.older.set(this.base, { queue, qm: this.qms[i]!, consumer: this.consumers[i]!, at: this.ats[i]! });
          this.clearSlot(i);
        }
        this.base++;
      }
    }
  }

  private grow(size: number): void {
    const queues = new Array<Queue | undefined>(size).fill(undefined);
    const qms = new Array<QueuedMessage | undefined>(size).fill(undefined);
    const consumers = new Array<Consumer | null>(size).fill(null);
    const ats = new Float64Array(size);
    const mask = size - 1;
    for (let t = this.base; t < this.nextTag - 1; t++) {
      const from = t & this.mask;
      const to = t & mask;
      queues[to] = this.queues[from];
      qms[to] = this.qms[from];
      consumers[to] = this.consumers[from] ?? null;
      ats[to] = this.ats[from]!;
    }
    this.queues = queues;
    this.qms = qms;
    this.consumers = consumers;
    this.ats = ats;
    this.mask = mask;
  }

  private clearSlot(i: number): void {
    this.queues[i] = undefined;
    this.qms[i] = undefined;
    this.consumers[i] = null;
    this.inRing--;
  }

  /** Settles the delivery with this tag, if tracked: false when it is not. */
  private settleTag(tag: number, how: number, drainNow: boolean): boolean {
    let queue: Queue;
    let qm: QueuedMessage;
    let consumer: Consumer | null;
    let at: number;
    if (tag >= this.base) {
      if (tag >= this.nextTag) return false;
      const i = tag & this.mask;
      const q = this.queues[i];
      if (q === undefined) return false;
      queue = q;
      qm = this.qms[i]!;
      consumer = this.consumers[i]!;
      at = this.ats[i]!;
      this.clearSlot(i);
      if (tag === this.base) this.advanceBase();
    } else {
      const d = this.older.get(tag);
      if (d === undefined) return false;
      this.older.delete(tag);
      ({ queue, qm, consumer, at } = d);
    }
    if (at !== 0) this.timed--;
    if (how === SETTLE_ACK) queue.settle(consumer, qm);
    else if (how === SETTLE_REQUEUE) queue.returnToQueue(consumer, qm);
    else queue.reject(consumer, qm);
    if (drainNow) queue.drain();
    else this.touched.add(queue);
    return true;
  }

  /** The slot at base was emptied: base moves past the empty slots (up to nextTag). */
  private advanceBase(): void {
    const end = this.nextTag;
    let t = this.base;
    while (t < end && this.queues[t & this.mask] === undefined) t++;
    this.base = t;
  }

  /** ACK: the message is done with. */
  ack(tag: number, multiple: boolean): void {
    if (multiple) return this.settleUpTo(tag, SETTLE_ACK);
    if (!this.settleTag(tag, SETTLE_ACK, true)) throw unknownTag(tag);
  }

  /** NACK / REJECT: back to the queue (requeue) or dead-lettered. */
  nack(tag: number, multiple: boolean, requeue: boolean): void {
    const how = requeue ? SETTLE_REQUEUE : SETTLE_REJECT;
    if (multiple) return this.settleUpTo(tag, how);
    if (!this.settleTag(tag, how, true)) throw unknownTag(tag);
  }

  /**
   * multiple=true: every outstanding delivery up to tag (0 = all), possibly
   * none, oldest first. A tag never issued is still an error. Deliveries made
   * while this runs (a dead-lettered message routed back to this connection)
   * have higher tags and stay.
   */
  private settleUpTo(tag: number, how: number): void {
    if (tag >= this.nextTag) throw unknownTag(tag);
    const last = tag === 0 ? this.nextTag - 1 : tag;
    this.settleOlderUpTo(last, how);
    for (let t = this.base; t <= last; t++) {
      if (t < this.base) t = this.base;
      this.settleTag(t, how, false);
    }
    // What moved to `older` meanwhile (the ring made room for a delivery made while settling).
    this.settleOlderUpTo(last, how);
    this.drainTouched();
  }

  private settleOlderUpTo(last: number, how: number): void {
    for (const t of this.older.keys()) {
      if (t > last) break;
      this.settleTag(t, how, false);
    }
  }

  private drainTouched(): void {
    const touched = this.touched;
    for (const q of touched) q.drain();
    touched.clear();
  }

  private startSweep(): void {
    if (this.sweepTimer !== undefined) return;
    this.sweepTimer = setInterval(() => this.sweepTimeouts(), ACK_TIMEOUT_SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Requeues deliveries unacked past their queue's x-consumer-timeout and tells the client which. */
  private sweepTimeouts(): void {
    const now = Date.now();
    for (const [tag, d] of this.older) if (d.at !== 0 && now - d.at >= d.queue.policy.consumerTimeout!) this.expire(tag, d.queue, d.consumer);
    const end = this.nextTag;
    for (let t = this.base; t < end; t++) {
      const i = t & this.mask;
      const queue = this.queues[i];
      const at = this.ats[i]!;
      if (queue !== undefined && at !== 0 && now - at >= queue.policy.consumerTimeout!) this.expire(t, queue, this.consumers[i]!);
    }
    this.drainTouched();
    if (this.timed === 0) this.stopSweep();
  }

  private expire(tag: number, queue: Queue, consumer: Consumer | null): void {
    const limit = queue.policy.consumerTimeout!;
    this.settleTag(tag, SETTLE_REQUEUE, false);
    this.onTimeout(
      errors.timeout(`delivery ${tag} was not acknowledged within ${limit} ms; it was requeued`, {
        deliveryTag: tag,
        consumerTag: consumer?.tag ?? null,
        queue: queue.name,
      }),
    );
  }

  private stopSweep(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * The connection closed: every unacked delivery goes back to its queue. The
   * queues are drained by drainReturned(), once the caller has removed what
   * died with the connection (its consumers, its exclusive queues).
   */
  returnAll(): void {
    this.stopSweep();
    const returned: [Queue, Consumer | null, QueuedMessage][] = [];
    for (const d of this.older.values()) returned.push([d.queue, d.consumer, d.qm]);
    this.older.clear();
    for (let t = this.base; t < this.nextTag; t++) {
      const i = t & this.mask;
      const queue = this.queues[i];
      if (queue === undefined) continue;
      returned.push([queue, this.consumers[i]!, this.qms[i]!]);
      this.clearSlot(i);
    }
    this.base = this.nextTag;
    this.timed = 0;
    for (const [queue, consumer, qm] of returned) {
      queue.returnToQueue(consumer, qm);
      this.touched.add(queue);
    }
  }

  drainReturned(): void {
    this.drainTouched();
  }
}

function unknownTag(tag: number): WarrenError {
  return errors.preconditionFailed(`unknown delivery tag ${tag}`, { deliveryTag: tag });
}

const SETTLE_ACK = 0;
const SETTLE_REQUEUE = 1;
const SETTLE_REJECT = 2;
