import type { MessageProperties } from '@warren/protocol';

/**
 * One published message. Shared by every queue it was routed to: the body is
 * never copied per queue. `body` is null while it lives only on disk (evicted
 * beyond the memory budget, or recovered after a restart).
 */
export interface Message {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: MessageProperties | null;
  body: Buffer | null;
  readonly bodySize: number;
  /** Id in the message store, 0 when the message is not stored. */
  storeId: number;
  /** Queues still holding this message; the body's memory is released at 0. */
  refs: number;
  /** true once the store has made it durable (its body can then be read back). */
  durable: boolean;
  /** Every queue holding it is durable, so the body may be evicted to disk. */
  evictable: boolean;
}

/** A message's place in one queue. */
export interface QueuedMessage {
  readonly message: Message;
  /** Position in the queue: requeued messages go back to their original place. */
  seq: number;
  /** Deliveries so far; redelivered = deliveryCount > 0. */
  deliveryCount: number;
  /** true while it waits in the ready list (false once delivered, expired or dropped). */
  ready: boolean;
  /** When its TTL runs out (ms since epoch), 0 for never. */
  expiresAt: number;
}

/** `seq` of a RoutedMessage whose own queue place no queue has taken yet. */
export const UNCLAIMED = -1;

/**
 * A freshly published message that also carries its place in the first queue
 * it enters (it is its own QueuedMessage there, `message === this`): a message
 * routed to one queue, the common case, is then one object instead of two.
 * Further queues (fanout) get their own QueuedMessage objects as before. The
 * place is taken once (Queue.enqueue, by `claimPlace`) and never handed back, so
 * the place's fields belong to that one queue for the message's whole life.
 */
export class RoutedMessage implements Message, QueuedMessage {
  body: Buffer | null;
  readonly bodySize: number;
  storeId = 0;
  refs = 0;
  seq = UNCLAIMED;
  deliveryCount = 0;
  expiresAt = 0;
  /** durable, evictable and ready, one bit each (three fewer fields per message). */
  private flags = 0;

  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly properties: MessageProperties | null,
    body: Buffer,
  ) {
    this.body = body;
    this.bodySize = body.length;
  }

  /** Its own place's message: itself (a getter, not a field). */
  get message(): Message {
    return this;
  }

  get durable(): boolean {
    return (this.flags & DURABLE) !== 0;
  }
  set durable(on: boolean) {
    this.flags = on ? this.flags | DURABLE : this.flags & ~DURABLE;
  }

  get evictable(): boolean {
    return (this.flags & EVICTABLE) !== 0;
  }
  set evictable(on: boolean) {
    this.flags = on ? this.flags | EVICTABLE : this.flags & ~EVICTABLE;
  }

  get ready(): boolean {
    return (this.flags & READY) !== 0;
  }
  set ready(on: boolean) {
    this.flags = on ? this.flags | READY : this.flags & ~READY;
  }
}

const DURABLE = 1;
const EVICTABLE = 2;
const READY = 4;

export function newMessage(
  exchange: string,
  routingKey: string,
  properties: MessageProperties | null,
  body: Buffer,
): Message {
  return new RoutedMessage(exchange, routingKey, properties, body);
}

/**
 * `message`'s place in a queue at position `seq`: the message itself the first
 * time (see RoutedMessage), a new QueuedMessage otherwise.
 */
export function claimPlace(message: Message, seq: number, deliveryCount: number): QueuedMessage {
  if (message instanceof RoutedMessage && message.seq === UNCLAIMED) {
    message.seq = seq;
    message.deliveryCount = deliveryCount;
    return message;
  }
  return { message, seq, deliveryCount, ready: false, expiresAt: 0 };
}
