/**
 * Delivered messages and their acknowledgements.
 *
 * A message remembers the Session (one socket's lifetime) it arrived on. Once
 * that session ends, settling is a no-op: the broker requeues whatever was
 * unacknowledged, and a tag from an old socket must never reach a new one.
 */
import type { MessageProperties } from '@warren/protocol';
import type { Session } from './session.js';

/** A message received from a queue, by a consumer or by {@link Connection.get}. */
export interface Message {
  /**
   * The payload. Bodies under 16 KiB are copied out of the buffer they were read into (one shares
   * an 8 KiB buffer with the bodies that arrived next to it, as Buffer.allocUnsafe shares its pool); larger ones are views
   * into the buffer (up to 256 KiB) they were read into, which stays allocated while
   * you hold the body (copy a large body you keep for long).
   */
  readonly body: Buffer;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: MessageProperties;
  /** True when the broker delivered this message before (to any consumer). */
  readonly redelivered: boolean;
  /** How many times the broker has delivered this message, this delivery included. */
  readonly deliveryCount: number;
  /** Identifies this delivery on this connection; used by ack/nack/reject. */
  readonly deliveryTag: number;
  /** The consumer it was delivered to; undefined for {@link Connection.get}. */
  readonly consumerTag: string | undefined;
  /**
   * True once acked, nacked or rejected (by this message or a `multiple` one),
   * for noAck deliveries, and once the connection it arrived on was lost
   * (even if the client has since reconnected: the broker requeued it).
   */
  readonly settled: boolean;
  /**
   * Acknowledges the message; `multiple` also acknowledges every earlier
   * unsettled delivery on this connection. Only the first settle call counts.
   * The ack goes out at the end of the current event-loop turn, together with
   * the turn's other acks (one cumulative ACK where the tags allow it).
   * Returns true when the ack was sent or queued, false when it was a no-op: the
   * message was already settled, or it arrived on a connection that has
   * since been lost (the broker requeued it and will deliver it again; a
   * stale delivery tag never reaches the new connection).
   */
  ack(opts?: { multiple?: boolean }): boolean;
  /** Negatively acknowledges; `requeue` (default true) puts it back in the queue, false drops it. Returns like {@link ack}. */
  nack(opts?: { requeue?: boolean; multiple?: boolean }): boolean;
  /** Rejects this one message; `requeue` defaults to true. Returns like {@link ack}. */
  reject(opts?: { requeue?: boolean }): boolean;
  /**
   * The body parsed as JSON (UTF-8), typed as you say (not checked: validate
   * what you do not trust). Throws SyntaxError when the body is not JSON.
   */
  json<T = unknown>(): T;
  /** The body decoded by the connection's codec (JSON unless `connect({ codec })` names another). */
  decode<T = unknown>(): T;
}

const EMPTY_PROPERTIES: MessageProperties = Object.freeze({});

/** The one Message implementation; methods live on the prototype so a delivery allocates one object. */
export class Delivery implements Message {
  readonly properties: MessageProperties;
  private done: boolean;

  constructor(
    private readonly session: Session,
    readonly body: Buffer,
    readonly exchange: string,
    readonly routingKey: string,
    properties: MessageProperties | null,
    readonly redelivered: boolean,
    readonly deliveryCount: number,
    readonly deliveryTag: number,
    readonly consumerTag: string | undefined,
    noAck: boolean,
  ) {
    this.properties = properties ?? EMPTY_PROPERTIES;
    this.done = noAck;
    if (noAck) session.settledOnArrival(deliveryTag);
  }

  get settled(): boolean {
    return this.done || !this.session.open || this.deliveryTag <= this.session.settledUpTo;
  }

  ack(opts?: { multiple?: boolean }): boolean {
    if (!this.claim()) return false;
    this.session.ack(this.deliveryTag, opts?.multiple === true);
    return true;
  }

  nack(opts?: { requeue?: boolean; multiple?: boolean }): boolean {
    if (!this.claim()) return false;
    this.session.nack(this.deliveryTag, opts?.multiple === true, opts?.requeue !== false);
    return true;
  }

  reject(opts?: { requeue?: boolean }): boolean {
    if (!this.claim()) return false;
    this.session.reject(this.deliveryTag, opts?.requeue !== false);
    return true;
  }

  json<T = unknown>(): T {
    return JSON.parse(this.body.toString('utf8')) as T;
  }

  decode<T = unknown>(): T {
    return this.session.codec.decode(this.body) as T;
  }

  /** Marks settled; false when it already was, so the frame is not sent twice. */
  private claim(): boolean {
    if (this.settled) return false;
    this.done = true;
    return true;
  }
}
