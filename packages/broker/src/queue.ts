/**
 * A queue: ready messages in order, its consumers, and the delivery loop.
 *
 * Ready messages sit in a ring buffer in arrival order. Requeued messages go to
 * a small side list sorted by their original position, and the next message
 * delivered is whichever of the two heads came first: so a requeue puts a
 * message back exactly where it was without shifting a long backlog.
 */
import { errors, ErrorCodes, WarrenError, type Arguments } from '@warren/protocol';
import { Deque } from './deque.js';
import type { Message, QueuedMessage } from './message.js';

export interface DeliverySink {
  /** false while this connection's socket is congested: deliveries wait for 'drain'. */
  readonly writable: boolean;
  deliver(consumer: Consumer, qm: QueuedMessage): void;
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

/** What a queue needs from the broker around it. */
export interface QueueHost {
  /** The queue no longer holds qm: settle it in storage if stored, release memory. */
  settled(queue: Queue, qm: QueuedMessage): void;
  /** Records a delivery attempt in storage (durable queues). */
  delivering(queue: Queue, qm: QueuedMessage): void;
  /** Loads evicted bodies back from disk before they are delivered. */
  loadBodies(messages: Message[]): Promise<void>;
  /** An auto-delete queue lost its last consumer. */
  autoDelete(queue: Queue): void;
}

export interface QueueOptions {
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: Arguments;
}

/** How many evicted bodies to read back from disk at once. */
const LOAD_BATCH = 128;

export class Queue {
  private readonly ready = new Deque<QueuedMessage>();
  /** Requeued messages, sorted by seq; usually short. */
  private requeued: QueuedMessage[] = [];
  private nextSeq = 1;
  private consumers: Consumer[] = [];
  private rr = 0;
  private loading = false;
  private draining = false;
  private hadConsumer = false;
  /** Unacked deliveries across all consumers. */
  unackedCount = 0;
  deleted = false;

  constructor(
    readonly name: string,
    readonly options: QueueOptions,
    /** The connection owning an exclusive queue. */
    readonly owner: object | null,
    private readonly host: QueueHost,
  ) {}

  get durable(): boolean {
    return this.options.durable;
  }

  get messageCount(): number {
    return this.ready.length + this.requeued.length;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  consumerList(): readonly Consumer[] {
    return this.consumers;
  }

  /**
   * Adds a newly routed message (or a recovered one, with its delivery count).
   * The caller has counted this queue in message.refs.
   */
  enqueue(message: Message, deliveryCount = 0): void {
    this.ready.push({ message, seq: this.nextSeq++, deliveryCount });
    this.drain();
  }

  /** Puts a delivered message back at its original position. */
  requeue(qm: QueuedMessage): void {
    const list = this.requeued;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.seq < qm.seq) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, qm);
  }

  /** Takes the next message in queue order. */
  private take(): QueuedMessage | undefined {
    const r = this.requeued[0];
    const h = this.ready.peek();
    if (r !== undefined && (h === undefined || r.seq < h.seq)) return this.requeued.shift();
    return this.ready.shift();
  }

  private peek(): QueuedMessage | undefined {
    const r = this.requeued[0];
    const h = this.ready.peek();
    return r !== undefined && (h === undefined || r.seq < h.seq) ? r : h;
  }

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
  }

  /** Removes a consumer; the caller requeues its unacked deliveries. */
  removeConsumer(consumer: Consumer): void {
    const i = this.consumers.indexOf(consumer);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    if (this.rr > i) this.rr--;
    if (this.consumers.length === 0 && this.hadConsumer && this.options.autoDelete && !this.deleted) {
      this.host.autoDelete(this);
    }
  }

  /** Picks the next consumer able to take a delivery, round-robin. */
  private nextConsumer(): Consumer | undefined {
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

  /** Delivers as much as consumers can take. Cheap to call when nothing can move. */
  drain(): void {
    if (this.draining || this.loading || this.consumers.length === 0 || this.deleted) return;
    this.draining = true;
    try {
      for (;;) {
        const head = this.peek();
        if (head === undefined) return;
        if (head.message.body === null) {
          this.loadAhead();
          return;
        }
        const consumer = this.nextConsumer();
        if (consumer === undefined) return;
        const qm = this.take()!;
        this.deliverTo(consumer, qm);
      }
    } finally {
      this.draining = false;
    }
  }

  private deliverTo(consumer: Consumer, qm: QueuedMessage): void {
    if (!consumer.noAck) {
      consumer.unacked++;
      this.unackedCount++;
    }
    this.host.delivering(this, qm);
    consumer.sink.deliver(consumer, qm);
    qm.deliveryCount++;
    if (consumer.noAck) this.host.settled(this, qm);
  }

  /** Reads back the bodies of the next messages (they were evicted to disk). */
  private loadAhead(): void {
    const batch: Message[] = [];
    for (const qm of this.requeued) {
      if (batch.length >= LOAD_BATCH) break;
      if (qm.message.body === null) batch.push(qm.message);
    }
    for (const qm of this.ready) {
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

  /** Pull one message (basic.get). Bodies on disk are loaded first. */
  async get(noAck: boolean, deliver: (qm: QueuedMessage) => void): Promise<boolean> {
    const head = this.peek();
    if (head === undefined) return false;
    if (head.message.body === null) await this.host.loadBodies([head.message]);
    const qm = this.take();
    if (qm === undefined) return false;
    if (!noAck) this.unackedCount++;
    this.host.delivering(this, qm);
    deliver(qm);
    qm.deliveryCount++;
    if (noAck) this.host.settled(this, qm);
    return true;
  }

  /** An unacked delivery was acked or rejected without requeue. */
  settle(consumer: Consumer | null, qm: QueuedMessage): void {
    this.release(consumer);
    this.host.settled(this, qm);
  }

  /** An unacked delivery goes back to the queue (nack/reject with requeue, consumer gone). */
  returnToQueue(consumer: Consumer | null, qm: QueuedMessage): void {
    this.release(consumer);
    if (this.deleted) {
      this.host.settled(this, qm);
      return;
    }
    this.requeue(qm);
  }

  private release(consumer: Consumer | null): void {
    if (consumer !== null && !consumer.noAck) consumer.unacked--;
    this.unackedCount--;
  }

  /** Drops every ready message; returns how many. */
  purge(): number {
    const count = this.messageCount;
    for (const qm of this.requeued) this.host.settled(this, qm);
    this.requeued = [];
    for (const qm of this.ready.drain()) this.host.settled(this, qm);
    return count;
  }

  /** Marks the queue deleted, cancels its consumers and drops its messages. */
  delete(reason: string): number {
    this.deleted = true;
    const count = this.purge();
    const err = new WarrenError(ErrorCodes.NOT_FOUND, reason);
    const consumers = this.consumers;
    this.consumers = [];
    for (const c of consumers) c.sink.consumerCancelled(c, err);
    return count;
  }

  /** Iterates ready messages in order (management and tests). */
  *readyMessages(): IterableIterator<QueuedMessage> {
    const merged = [...this.requeued, ...this.ready].sort((a, b) => a.seq - b.seq);
    yield* merged;
  }
}
