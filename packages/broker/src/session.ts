/**
 * What a request handler sees of the connection it serves: who is asking,
 * its consumers and its unacknowledged deliveries. Handlers change these and
 * return their answer; they never write to the socket.
 */
import type { StoreListener } from './admission.js';
import type { ConsumerSet } from './consumers.js';
import type { Deliveries } from './deliveries.js';
import type { StreamSink } from './streams/subscription.js';
import type { QueuedMessage } from './message.js';
import type { KvSession } from './kv/kv-session.js';
import type { VirtualHost } from './vhost.js';
import type { Queue } from './queue.js';
import type { SessionGrant } from './authorizer.js';

export interface Session extends StoreListener, StreamSink {
  /** Also the owner identity of the exclusive queues it declares. */
  readonly id: string;
  readonly username: string;
  /** The vhost chosen at OPEN: every name in a request is resolved in it. */
  readonly vhost: VirtualHost;
  /** What its user may do, as the authorizer cached it (authorizer.ts). */
  readonly grant: SessionGrant;
  readonly consumers: ConsumerSet;
  readonly deliveries: Deliveries;
  /** The connection's negotiated frame maximum. */
  readonly frameMax: number;
  /** Whether a GET_OK carrying qm fits frameMax (protocol-spec 2, rule 8). */
  fitsGetOk(qm: QueuedMessage): boolean;
  /** Its key-value watches (made on first use), in its vhost's buckets. */
  readonly kv: KvSession;
  /** A publish of this session was enqueued on these queues (publisher flow control, flow-control.ts). */
  fed?(queues: ReadonlySet<Queue>): void;
  /**
   * Throws RESOURCE_LIMIT when the connection already has as many consumers, stream subscriptions
   * and key-value watches (together) as BrokerOptions.maxConsumersPerConnection allows.
   */
  checkConsumerRoom(): void;
  /** Closes the connection from the server side (ERROR + CLOSE with this code). */
  close(code: number, reason: string): void;
}
