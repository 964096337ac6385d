/**
 * @warren/client: the Node.js client for the Warren message broker.
 *
 * A connection survives broker restarts and network drops: it reconnects
 * with back-off, re-declares the exchanges, queues, bindings and consumers
 * declared through it, re-sends publishes whose confirm was lost, buffers
 * publishes (bounded) while down, and makes acks of stale deliveries no-ops.
 * Nothing throws asynchronously and there is no 'error' event: watch
 * `conn.statusEvents()` (or the 'disconnected' / 'reconnecting' /
 * 'connected' / 'closed' events) and 'handlerError'.
 *
 * @example
 * import { connect } from '@warren/client';
 * await using conn = await connect('warren://guest:guest@127.0.0.1:5680');
 * await conn.declareQueue('jobs', { durable: true });
 * await conn.publish('', 'jobs', { id: 1 }, { persistent: true, timeoutMs: 5000 }); // JSON, application/json
 * const consumer = await conn.consume('jobs', { prefetch: 10 });
 * for await (const msg of consumer) { handle(msg.json<{ id: number }>()); msg.ack(); }
 *
 * @example
 * // Watching the link.
 * for await (const s of conn.statusEvents()) {
 *   if (s.type === 'reconnecting') console.warn(`lost the broker (${s.error.message}); attempt ${s.attempt} in ${s.delayMs} ms`);
 * }
 */
export {
  connect,
  Connection,
  DEFAULT_DRAIN_TIMEOUT_MS,
  type CloseOptions,
  type ConnectionEvents,
  type PublishOptions,
  type SendOptions,
  type PublishBody,
} from './connection.js';
export { jsonCodec, type Codec } from './codec.js';
export { Consumer, type ConsumeOptions, type MessageHandler } from './consumer.js';
export {
  KvBucket,
  KvEntry,
  KvWatch,
  type KvBucketOptions,
  type KvBucketInfo,
  type KvKeyFilter,
  type KvOp,
  type KvPutOptions,
  type KvValue,
  type KvWatchOptions,
} from './kv.js';
export type { Message } from './message.js';
export { Vhosts } from './vhosts.js';
export { Users } from './users.js';
export {
  StreamConsumer,
  type StreamConsumeOptions,
  type StreamMessage,
  type StreamMessageHandler,
} from './stream-consumer.js';
export {
  parseUrl,
  backoffDelay,
  DEFAULT_PORT,
  DEFAULT_TLS_PORT,
  DEFAULT_RECONNECT,
  type ConnectOptions,
  type ParsedUrl,
  type ReconnectOptions,
  type TlsOptions,
} from './options.js';
export type {
  StatusEvent,
  ConnectedEvent,
  DisconnectedEvent,
  ReconnectingEvent,
  BlockedEvent,
  UnblockedEvent,
  ClosedEvent,
  QueueRenamedEvent,
  RecoveryItem,
} from './status.js';
export {
  WarrenError,
  ProtocolError,
  ErrorCodes,
  errorNameOf,
  ConnectionClosedError,
  TimeoutError,
  MessageReturnedError,
  PublishNackedError,
  MessageTooLargeError,
  AbortError,
  PublishBufferFullError,
  NotWarrenBrokerError,
  ABORTED,
  type ErrorName,
  type ErrorCode,
  type ReturnedMessage,
} from './errors.js';
export type {
  MessageProperties,
  Arguments,
  ExchangeType,
  ExchangeDeclareOptions,
  QueueDeclareOptions,
  QueueArguments,
  QueueDeclareResult,
  QueueInfo,
  VhostInfo,
  VhostLimits,
  ExchangeInfo,
  BindingInfo,
  BrokerStatus,
  StreamInfo,
  StreamOffsetSpec,
  UserInfo,
  UserTag,
  Permissions,
  PermissionInfo,
} from '@warren/protocol';
