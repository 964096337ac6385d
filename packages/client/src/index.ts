/**
 * @warren/client: the Node.js client for the Warren message broker.
 *
 * @example
 * import { connect } from '@warren/client';
 * await using conn = await connect('warren://guest:guest@127.0.0.1:5680');
 * await conn.declareQueue('jobs', { durable: true });
 * await conn.publish('', 'jobs', JSON.stringify({ id: 1 }), { persistent: true });
 * const consumer = await conn.consume('jobs', { prefetch: 10 });
 * for await (const msg of consumer) { handle(msg.body); msg.ack(); }
 */
export { connect, Connection, type ConnectionEvents, type PublishOptions } from './connection.js';
export { Consumer, type ConsumeOptions, type MessageHandler } from './consumer.js';
export type { Message } from './message.js';
export { parseUrl, DEFAULT_PORT, type ConnectOptions, type ParsedUrl } from './options.js';
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
  ExchangeInfo,
  BindingInfo,
  BrokerStatus,
} from '@warren/protocol';
