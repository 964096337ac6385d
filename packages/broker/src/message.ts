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

export function newMessage(
  exchange: string,
  routingKey: string,
  properties: MessageProperties | null,
  body: Buffer,
): Message {
  return { exchange, routingKey, properties, body, bodySize: body.length, storeId: 0, refs: 0, durable: false, evictable: false };
}
