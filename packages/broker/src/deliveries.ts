/**
 * One connection's unacknowledged deliveries, by delivery tag: what ACK, NACK
 * and REJECT settle, what an x-consumer-timeout requeues, and what goes back
 * to the queues when the connection closes.
 *
 * Tags count up per connection; the map keeps them in tag order, so a
 * multiple-ack walks from the oldest and stops at its tag.
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
  private readonly byTag = new Map<number, Delivery>();
  private nextTag = 1;
  /** Queues touched by one multiple-settle (or a close), drained once at the end. */
  private readonly touched = new Set<Queue>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    /** Tells the client a delivery timed out (an ERROR with id 0). */
    private readonly onTimeout: (err: WarrenError) => void,
  ) {}

  get size(): number {
    return this.byTag.size;
  }

  /** Gives the next delivery tag; tracks the delivery for settlement unless noAck. */
  track(queue: Queue, qm: QueuedMessage, consumer: Consumer | null, noAck: boolean): number {
    const tag = this.nextTag++;
    if (!noAck) {
      const timed = queue.policy.consumerTimeout !== null;
      this.byTag.set(tag, { queue, qm, consumer, at: timed ? Date.now() : 0 });
      if (timed) this.startSweep();
    }
    return tag;
  }

  /** ACK: the message is done with. */
  ack(tag: number, multiple: boolean): void {
    if (multiple) return this.settleUpTo(tag, SETTLE_ACK);
    const d = this.take(tag);
    d.queue.settle(d.consumer, d.qm);
    d.queue.drain();
  }

  /** NACK / REJECT: back to the queue (requeue) or dead-lettered. */
  nack(tag: number, multiple: boolean, requeue: boolean): void {
    const how = requeue ? SETTLE_REQUEUE : SETTLE_REJECT;
    if (multiple) return this.settleUpTo(tag, how);
    const d = this.take(tag);
    settle(d, how);
    d.queue.drain();
  }

  private take(tag: number): Delivery {
    const d = this.byTag.get(tag);
    if (d === undefined) throw errors.preconditionFailed(`unknown delivery tag ${tag}`, { deliveryTag: tag });
    this.byTag.delete(tag);
    return d;
  }

  /**
   * multiple=true: every outstanding delivery up to tag (0 = all), possibly
   * none. A tag never issued is still an error.
   */
  private settleUpTo(tag: number, how: number): void {
    if (tag >= this.nextTag) throw errors.preconditionFailed(`unknown delivery tag ${tag}`, { deliveryTag: tag });
    const touched = this.touched;
    for (const [t, d] of this.byTag) {
      if (tag !== 0 && t > tag) break;
      this.byTag.delete(t);
      settle(d, how);
      touched.add(d.queue);
    }
    this.drainTouched();
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
    let timed = 0;
    for (const [tag, d] of this.byTag) {
      if (d.at === 0) continue;
      timed++;
      const limit = d.queue.policy.consumerTimeout!;
      if (now - d.at < limit) continue;
      this.byTag.delete(tag);
      timed--;
      d.queue.returnToQueue(d.consumer, d.qm);
      this.touched.add(d.queue);
      this.onTimeout(
        errors.timeout(`delivery ${tag} was not acknowledged within ${limit} ms; it was requeued`, {
          deliveryTag: tag,
          consumerTag: d.consumer?.tag ?? null,
          queue: d.queue.name,
        }),
      );
    }
    this.drainTouched();
    if (timed === 0) this.stopSweep();
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
    for (const d of this.byTag.values()) {
      d.queue.returnToQueue(d.consumer, d.qm);
      this.touched.add(d.queue);
    }
    this.byTag.clear();
  }

  drainReturned(): void {
    this.drainTouched();
  }
}

const SETTLE_ACK = 0;
const SETTLE_REQUEUE = 1;
const SETTLE_REJECT = 2;

function settle(d: Delivery, how: number): void {
  if (how === SETTLE_ACK) d.queue.settle(d.consumer, d.qm);
  else if (how === SETTLE_REQUEUE) d.queue.returnToQueue(d.consumer, d.qm);
  else d.queue.reject(d.consumer, d.qm);
}
