/**
 * The frame catalogue of Warren protocol v1: type bytes, typed frame objects,
 * and the mapping between a frame object and its positional MessagePack header.
 * `protocol-spec.md` documents every field below at byte level; keep them in step.
 */
import { errors } from './errors.js';

export const PROTOCOL_VERSION = 1;

export const FrameType = {
  OPEN: 0x01,
  OPEN_OK: 0x02,
  CLOSE: 0x03,
  CLOSE_OK: 0x04,
  HEARTBEAT: 0x05,
  ERROR: 0x06,
  OK: 0x07,
  FLOW: 0x08,

  EXCHANGE_DECLARE: 0x10,
  EXCHANGE_DELETE: 0x11,
  QUEUE_DECLARE: 0x12,
  QUEUE_DELETE: 0x13,
  QUEUE_PURGE: 0x14,
  QUEUE_BIND: 0x15,
  QUEUE_UNBIND: 0x16,
  EXCHANGE_BIND: 0x17,
  EXCHANGE_UNBIND: 0x18,

  PUBLISH: 0x20,
  CONFIRM: 0x21,
  PUBLISH_NACK: 0x22,
  RETURN: 0x23,

  CONSUME: 0x30,
  CANCEL: 0x31,
  CANCELLED: 0x32,
  DELIVER: 0x33,
  ACK: 0x34,
  NACK: 0x35,
  REJECT: 0x36,
  GET: 0x37,
  GET_OK: 0x38,

  QUEUE_LIST: 0x40,
  EXCHANGE_LIST: 0x41,
  BINDING_LIST: 0x42,
  STATUS: 0x43,

  STREAM_SUBSCRIBE: 0x50,
  STREAM_UNSUBSCRIBE: 0x51,
  STREAM_DELIVER: 0x52,
  STREAM_CREDIT: 0x53,
  STREAM_COMMIT: 0x54,
  STREAM_INFO: 0x55,
  STREAM_LIST: 0x56,
  STREAM_CANCELLED: 0x57,
} as const;

export type FrameTypeName = keyof typeof FrameType;
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];

export const frameTypeNames: Record<number, FrameTypeName> = Object.fromEntries(
  Object.entries(FrameType).map(([name, code]) => [code, name]),
) as Record<number, FrameTypeName>;

/** Message properties: everything optional; an empty set travels as nil. */
export interface MessageProperties {
  persistent?: boolean;
  contentType?: string;
  contentEncoding?: string;
  headers?: Record<string, unknown>;
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
  /** Per-message time to live in milliseconds. */
  expiration?: number;
  priority?: number;
  /** Milliseconds since the Unix epoch. */
  timestamp?: number;
  type?: string;
  appId?: string;
  userId?: string;
}

export type Arguments = Record<string, unknown>;

export interface Credentials {
  mechanism: 'PLAIN';
  username: string;
  password: string;
}

export interface OpenFrame {
  type: typeof FrameType.OPEN;
  version: number;
  properties: Record<string, unknown>;
  credentials: Credentials | null;
  frameMax: number;
  heartbeatMs: number;
}
export interface OpenOkFrame {
  type: typeof FrameType.OPEN_OK;
  version: number;
  properties: Record<string, unknown>;
  frameMax: number;
  heartbeatMs: number;
  connectionId: string;
}
export interface CloseFrame {
  type: typeof FrameType.CLOSE;
  code: number;
  name: string;
  message: string;
}
export interface CloseOkFrame {
  type: typeof FrameType.CLOSE_OK;
}
export interface HeartbeatFrame {
  type: typeof FrameType.HEARTBEAT;
}
export interface ErrorFrame {
  type: typeof FrameType.ERROR;
  /** The id of the request that failed; 0 when the error is not tied to a request. */
  requestId: number;
  code: number;
  name: string;
  message: string;
  details: Record<string, unknown> | null;
}
export interface OkFrame {
  type: typeof FrameType.OK;
  requestId: number;
  result: unknown;
}
export interface FlowFrame {
  type: typeof FrameType.FLOW;
  blocked: boolean;
  reason: string;
}

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';

export interface ExchangeDeclareOptions {
  durable?: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  passive?: boolean;
  alternateExchange?: string;
  arguments?: Arguments;
}
export interface ExchangeDeclareFrame {
  type: typeof FrameType.EXCHANGE_DECLARE;
  requestId: number;
  exchange: string;
  exchangeType: string;
  options: ExchangeDeclareOptions;
}
export interface ExchangeDeleteFrame {
  type: typeof FrameType.EXCHANGE_DELETE;
  requestId: number;
  exchange: string;
  options: { ifUnused?: boolean };
}
/** Queue policies (protocol-spec.md section 9.8); other keys are stored and ignored. */
export interface QueueArguments {
  /** ms a message may stay ready in the queue. */
  'x-message-ttl'?: number;
  /** ms the queue may stay unused before it is deleted. */
  'x-expires'?: number;
  'x-dead-letter-exchange'?: string;
  'x-dead-letter-routing-key'?: string;
  'x-max-length'?: number;
  'x-max-length-bytes'?: number;
  'x-overflow'?: 'drop-head' | 'reject-publish' | 'reject-publish-dlx';
  /** Deliveries without an ack before a message is dead-lettered (reason delivery-limit). */
  'x-delivery-limit'?: number;
  /** 1-255: makes this a priority queue. */
  'x-max-priority'?: number;
  'x-single-active-consumer'?: boolean;
  /** ms a delivery may stay unacked before it is requeued. */
  'x-consumer-timeout'?: number;
  [key: string]: unknown;
}

export interface QueueDeclareOptions {
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
  passive?: boolean;
  arguments?: QueueArguments;
}
export interface QueueDeclareFrame {
  type: typeof FrameType.QUEUE_DECLARE;
  requestId: number;
  /** Empty string asks the server to pick a name. */
  queue: string;
  options: QueueDeclareOptions;
}
export interface QueueDeclareResult {
  queue: string;
  messageCount: number;
  consumerCount: number;
}
export interface QueueDeleteFrame {
  type: typeof FrameType.QUEUE_DELETE;
  requestId: number;
  queue: string;
  options: { ifUnused?: boolean; ifEmpty?: boolean };
}
export interface QueuePurgeFrame {
  type: typeof FrameType.QUEUE_PURGE;
  requestId: number;
  queue: string;
}
export interface QueueBindFrame {
  type: typeof FrameType.QUEUE_BIND | typeof FrameType.QUEUE_UNBIND;
  requestId: number;
  queue: string;
  exchange: string;
  routingKey: string;
  arguments: Arguments | null;
}
export interface ExchangeBindFrame {
  type: typeof FrameType.EXCHANGE_BIND | typeof FrameType.EXCHANGE_UNBIND;
  requestId: number;
  destination: string;
  source: string;
  routingKey: string;
  arguments: Arguments | null;
}

export const PublishFlags = { MANDATORY: 1 } as const;

export interface PublishFrame {
  type: typeof FrameType.PUBLISH;
  /** Per-connection publish sequence number, starting at 1. */
  seq: number;
  exchange: string;
  routingKey: string;
  flags: number;
  properties: MessageProperties | null;
  body: Buffer;
}
export interface ConfirmFrame {
  type: typeof FrameType.CONFIRM;
  seq: number;
  /** true: every publish up to and including seq is confirmed. */
  multiple: boolean;
}
export interface PublishNackFrame {
  type: typeof FrameType.PUBLISH_NACK;
  seq: number;
  code: number;
  name: string;
  message: string;
}
export interface ReturnFrame {
  type: typeof FrameType.RETURN;
  seq: number;
  code: number;
  name: string;
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  body: Buffer;
}

export interface ConsumeOptions {
  consumerTag?: string;
  /** Maximum unacknowledged deliveries to this consumer; 0 means unlimited. */
  prefetch?: number;
  exclusive?: boolean;
  /** Deliveries count as acknowledged when sent. */
  noAck?: boolean;
  arguments?: Arguments;
}
export interface ConsumeFrame {
  type: typeof FrameType.CONSUME;
  requestId: number;
  queue: string;
  options: ConsumeOptions;
}
export interface CancelFrame {
  type: typeof FrameType.CANCEL;
  requestId: number;
  consumerTag: string;
}
export interface CancelledFrame {
  type: typeof FrameType.CANCELLED;
  consumerTag: string;
  code: number;
  name: string;
  message: string;
}
export interface DeliverFrame {
  type: typeof FrameType.DELIVER;
  consumerTag: string;
  deliveryTag: number;
  redelivered: boolean;
  deliveryCount: number;
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  body: Buffer;
}
export interface AckFrame {
  type: typeof FrameType.ACK;
  deliveryTag: number;
  multiple: boolean;
}
export interface NackFrame {
  type: typeof FrameType.NACK;
  deliveryTag: number;
  multiple: boolean;
  requeue: boolean;
}
export interface RejectFrame {
  type: typeof FrameType.REJECT;
  deliveryTag: number;
  requeue: boolean;
}
export interface GetFrame {
  type: typeof FrameType.GET;
  requestId: number;
  queue: string;
  options: { noAck?: boolean };
}
export interface GetOkFrame {
  type: typeof FrameType.GET_OK;
  requestId: number;
  deliveryTag: number;
  redelivered: boolean;
  deliveryCount: number;
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  /** Messages left ready in the queue after this one. */
  messageCount: number;
  body: Buffer;
}
export interface ListFrame {
  type: typeof FrameType.QUEUE_LIST | typeof FrameType.EXCHANGE_LIST | typeof FrameType.BINDING_LIST | typeof FrameType.STATUS;
  requestId: number;
}

/** One entry of the QUEUE_LIST result. */
export interface QueueInfo {
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: Arguments;
  /** Ready messages. */
  messages: number;
  /** Delivered, not yet acknowledged. */
  unacked: number;
  consumers: number;
}
/** One entry of the EXCHANGE_LIST result. */
export interface ExchangeInfo {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  alternateExchange: string | null;
  arguments: Arguments;
  /** Bindings whose source is this exchange. */
  bindings: number;
}
/** One entry of the BINDING_LIST result. */
export interface BindingInfo {
  source: string;
  destination: string;
  destinationKind: 'queue' | 'exchange';
  routingKey: string;
  arguments: Arguments | null;
}
/** The STATUS result. */
export interface BrokerStatus {
  version: string;
  uptimeMs: number;
  connections: number;
  queues: number;
  exchanges: number;
  /** Ready messages across all queues. */
  messages: number;
  unacked: number;
  memory: { rss: number; heapUsed: number; bodyBytes: number; budget: number };
  disk: { dataDir: string | null; usedBytes: number; freeBytes: number | null };
  alarms: { memory: boolean; disk: boolean };
}

/** Where a stream subscription starts when its name has no committed offset (section 8.6). */
export type StreamOffsetSpec = 'first' | 'last' | 'next' | number;
export interface StreamSubscribeOptions {
  consumerTag?: string;
  /** 'first', 'last', 'next' (default) or an offset; clamped to the stream's ends. */
  offset?: StreamOffsetSpec;
  /** Start at the first message stored at or after this time (ms since the epoch); overrides `offset`. */
  timestamp?: number;
  /** Named consumer: resumes after its committed offset, which STREAM_COMMIT stores. */
  name?: string;
  /** Messages the server may send before the client grants more with STREAM_CREDIT. */
  credit?: number;
  /** Only messages whose `headers[header]` is one of `values` are sent. */
  filter?: { header: string; values: unknown[] };
  /** With `name`: one subscriber of that name reads at a time; the next takes over at the committed offset. */
  singleActive?: boolean;
}
export interface StreamSubscribeFrame {
  type: typeof FrameType.STREAM_SUBSCRIBE;
  requestId: number;
  stream: string;
  options: StreamSubscribeOptions;
}
export interface StreamUnsubscribeFrame {
  type: typeof FrameType.STREAM_UNSUBSCRIBE;
  requestId: number;
  consumerTag: string;
}
export interface StreamDeliverFrame {
  type: typeof FrameType.STREAM_DELIVER;
  consumerTag: string;
  offset: number;
  /** Broker time the message was appended, ms since the epoch. */
  timestamp: number;
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  body: Buffer;
}
export interface StreamCreditFrame {
  type: typeof FrameType.STREAM_CREDIT;
  consumerTag: string;
  credit: number;
}
export interface StreamCommitFrame {
  type: typeof FrameType.STREAM_COMMIT;
  requestId: number;
  stream: string;
  name: string;
  offset: number;
}
export interface StreamInfoFrame {
  type: typeof FrameType.STREAM_INFO;
  requestId: number;
  stream: string;
}
export interface StreamListFrame {
  type: typeof FrameType.STREAM_LIST;
  requestId: number;
}
export interface StreamCancelledFrame {
  type: typeof FrameType.STREAM_CANCELLED;
  consumerTag: string;
  code: number;
  name: string;
  message: string;
}
/** STREAM_INFO result, and each entry of STREAM_LIST (section 8.6). */
export interface StreamInfo {
  name: string;
  first: number;
  next: number;
  messages: number;
  bytes: number;
  segments: number;
  firstTimestamp: number | null;
  lastTimestamp: number | null;
  maxAge: number | null;
  maxLengthBytes: number | null;
  subscribers: number;
  consumers: Array<{ name: string; committed: number | null; lag: number; subscribers: number }>;
}

export type Frame =
  | OpenFrame
  | OpenOkFrame
  | CloseFrame
  | CloseOkFrame
  | HeartbeatFrame
  | ErrorFrame
  | OkFrame
  | FlowFrame
  | ExchangeDeclareFrame
  | ExchangeDeleteFrame
  | QueueDeclareFrame
  | QueueDeleteFrame
  | QueuePurgeFrame
  | QueueBindFrame
  | ExchangeBindFrame
  | PublishFrame
  | ConfirmFrame
  | PublishNackFrame
  | ReturnFrame
  | ConsumeFrame
  | CancelFrame
  | CancelledFrame
  | DeliverFrame
  | AckFrame
  | NackFrame
  | RejectFrame
  | GetFrame
  | GetOkFrame
  | ListFrame
  | StreamSubscribeFrame
  | StreamUnsubscribeFrame
  | StreamDeliverFrame
  | StreamCreditFrame
  | StreamCommitFrame
  | StreamInfoFrame
  | StreamListFrame
  | StreamCancelledFrame;

/** Frames that carry a message body after the header. */
export type BodyFrame = PublishFrame | ReturnFrame | DeliverFrame | GetOkFrame | StreamDeliverFrame;

// ---------------------------------------------------------------------------
// Frame object -> positional header array
// ---------------------------------------------------------------------------

const EMPTY: unknown[] = [];

/** The MessagePack header array for a frame, in the field order the spec gives. */
export function headerOf(frame: Frame): unknown[] {
  switch (frame.type) {
    case FrameType.OPEN:
      return [frame.version, frame.properties, frame.credentials, frame.frameMax, frame.heartbeatMs];
    case FrameType.OPEN_OK:
      return [frame.version, frame.properties, frame.frameMax, frame.heartbeatMs, frame.connectionId];
    case FrameType.CLOSE:
      return [frame.code, frame.name, frame.message];
    case FrameType.CLOSE_OK:
    case FrameType.HEARTBEAT:
      return EMPTY;
    case FrameType.ERROR:
      return [frame.requestId, frame.code, frame.name, frame.message, frame.details];
    case FrameType.OK:
      return [frame.requestId, frame.result ?? null];
    case FrameType.FLOW:
      return [frame.blocked, frame.reason];
    case FrameType.EXCHANGE_DECLARE:
      return [frame.requestId, frame.exchange, frame.exchangeType, frame.options];
    case FrameType.EXCHANGE_DELETE:
    case FrameType.QUEUE_DELETE:
      return [frame.requestId, frame.type === FrameType.EXCHANGE_DELETE ? frame.exchange : frame.queue, frame.options];
    case FrameType.QUEUE_DECLARE:
      return [frame.requestId, frame.queue, frame.options];
    case FrameType.QUEUE_PURGE:
      return [frame.requestId, frame.queue];
    case FrameType.QUEUE_BIND:
    case FrameType.QUEUE_UNBIND:
      return [frame.requestId, frame.queue, frame.exchange, frame.routingKey, frame.arguments];
    case FrameType.EXCHANGE_BIND:
    case FrameType.EXCHANGE_UNBIND:
      return [frame.requestId, frame.destination, frame.source, frame.routingKey, frame.arguments];
    case FrameType.PUBLISH:
      return [frame.seq, frame.exchange, frame.routingKey, frame.flags, frame.properties];
    case FrameType.CONFIRM:
      return [frame.seq, frame.multiple];
    case FrameType.PUBLISH_NACK:
      return [frame.seq, frame.code, frame.name, frame.message];
    case FrameType.RETURN:
      return [frame.seq, frame.code, frame.name, frame.exchange, frame.routingKey, frame.properties];
    case FrameType.CONSUME:
      return [frame.requestId, frame.queue, frame.options];
    case FrameType.CANCEL:
      return [frame.requestId, frame.consumerTag];
    case FrameType.CANCELLED:
      return [frame.consumerTag, frame.code, frame.name, frame.message];
    case FrameType.DELIVER:
      return [
        frame.consumerTag,
        frame.deliveryTag,
        frame.redelivered,
        frame.deliveryCount,
        frame.exchange,
        frame.routingKey,
        frame.properties,
      ];
    case FrameType.ACK:
      return [frame.deliveryTag, frame.multiple];
    case FrameType.NACK:
      return [frame.deliveryTag, frame.multiple, frame.requeue];
    case FrameType.REJECT:
      return [frame.deliveryTag, frame.requeue];
    case FrameType.GET:
      return [frame.requestId, frame.queue, frame.options];
    case FrameType.GET_OK:
      return [
        frame.requestId,
        frame.deliveryTag,
        frame.redelivered,
        frame.deliveryCount,
        frame.exchange,
        frame.routingKey,
        frame.properties,
        frame.messageCount,
      ];
    case FrameType.QUEUE_LIST:
    case FrameType.EXCHANGE_LIST:
    case FrameType.BINDING_LIST:
    case FrameType.STATUS:
    case FrameType.STREAM_LIST:
      return [frame.requestId];
    case FrameType.STREAM_SUBSCRIBE:
      return [frame.requestId, frame.stream, frame.options];
    case FrameType.STREAM_UNSUBSCRIBE:
      return [frame.requestId, frame.consumerTag];
    case FrameType.STREAM_DELIVER:
      return [frame.consumerTag, frame.offset, frame.timestamp, frame.exchange, frame.routingKey, frame.properties];
    case FrameType.STREAM_CREDIT:
      return [frame.consumerTag, frame.credit];
    case FrameType.STREAM_COMMIT:
      return [frame.requestId, frame.stream, frame.name, frame.offset];
    case FrameType.STREAM_INFO:
      return [frame.requestId, frame.stream];
    case FrameType.STREAM_CANCELLED:
      return [frame.consumerTag, frame.code, frame.name, frame.message];
  }
}

/** Whether this frame type carries a body after its header. */
export function hasBody(type: number): boolean {
  return (
    type === FrameType.PUBLISH ||
    type === FrameType.DELIVER ||
    type === FrameType.RETURN ||
    type === FrameType.GET_OK ||
    type === FrameType.STREAM_DELIVER
  );
}

// ---------------------------------------------------------------------------
// Positional header array -> validated frame object
// ---------------------------------------------------------------------------

function fieldError(type: number, index: number, expected: string): never {
  throw errors.frameError(`${frameTypeNames[type] ?? `frame 0x${type.toString(16)}`} header field ${index}: expected ${expected}`);
}
function str(h: unknown[], t: number, i: number): string {
  const v = h[i];
  return typeof v === 'string' ? v : fieldError(t, i, 'a string');
}
function uint(h: unknown[], t: number, i: number): number {
  const v = h[i];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : fieldError(t, i, 'a non-negative integer');
}
function bool(h: unknown[], t: number, i: number): boolean {
  const v = h[i];
  return typeof v === 'boolean' ? v : fieldError(t, i, 'a boolean');
}
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date) && !(v instanceof Map);
}
/** A map, or nil/absent which reads as an empty options object. */
function opts<T extends object>(h: unknown[], t: number, i: number): T {
  const v = h[i];
  if (v === null || v === undefined) return {} as T;
  return isPlainObject(v) ? (v as T) : fieldError(t, i, 'a map or nil');
}
function mapOrNull(h: unknown[], t: number, i: number): Record<string, unknown> | null {
  const v = h[i];
  if (v === null || v === undefined) return null;
  return isPlainObject(v) ? v : fieldError(t, i, 'a map or nil');
}

const propertyChecks: Record<string, (v: unknown) => boolean> = {
  persistent: (v) => typeof v === 'boolean',
  contentType: (v) => typeof v === 'string',
  contentEncoding: (v) => typeof v === 'string',
  headers: isPlainObject,
  messageId: (v) => typeof v === 'string',
  correlationId: (v) => typeof v === 'string',
  replyTo: (v) => typeof v === 'string',
  expiration: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  priority: (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255,
  timestamp: (v) => typeof v === 'number' && Number.isSafeInteger(v),
  type: (v) => typeof v === 'string',
  appId: (v) => typeof v === 'string',
  userId: (v) => typeof v === 'string',
};

/** Validates message properties; unknown keys are kept (forward compatibility), nil values dropped. */
function properties(h: unknown[], t: number, i: number): MessageProperties | null {
  const v = h[i];
  if (v === null || v === undefined) return null;
  if (!isPlainObject(v)) fieldError(t, i, 'a properties map or nil');
  for (const key in v) {
    const value = v[key];
    if (value === null || value === undefined) {
      delete v[key];
      continue;
    }
    const check = propertyChecks[key];
    if (check !== undefined && !check(value)) fieldError(t, i, `a valid "${key}" property`);
  }
  return v as MessageProperties;
}

function credentials(h: unknown[], t: number, i: number): Credentials | null {
  const v = h[i];
  if (v === null || v === undefined) return null;
  if (!isPlainObject(v) || v.mechanism !== 'PLAIN' || typeof v.username !== 'string' || typeof v.password !== 'string') {
    fieldError(t, i, 'credentials {mechanism: "PLAIN", username, password} or nil');
  }
  return v as unknown as Credentials;
}

const NO_BODY = Buffer.alloc(0);

/**
 * Validates a decoded header and builds the typed frame. Throws ProtocolError
 * (FRAME_ERROR) for an unknown type, a non-array header or a wrong field.
 * Extra trailing header fields are ignored so that minor revisions can add them.
 */
export function parseFrame(type: number, h: unknown, body: Buffer): Frame {
  if (!Array.isArray(h)) throw errors.frameError(`frame header must be a MessagePack array`);
  if (!hasBody(type) && body.length > 0) {
    throw errors.frameError(`${frameTypeNames[type] ?? 'unknown frame'} must not carry a body`);
  }
  const t = type;
  switch (type) {
    case FrameType.OPEN:
      return {
        type,
        version: uint(h, t, 0),
        properties: mapOrNull(h, t, 1) ?? {},
        credentials: credentials(h, t, 2),
        frameMax: uint(h, t, 3),
        heartbeatMs: uint(h, t, 4),
      };
    case FrameType.OPEN_OK:
      return {
        type,
        version: uint(h, t, 0),
        properties: mapOrNull(h, t, 1) ?? {},
        frameMax: uint(h, t, 2),
        heartbeatMs: uint(h, t, 3),
        connectionId: str(h, t, 4),
      };
    case FrameType.CLOSE:
      return { type, code: uint(h, t, 0), name: str(h, t, 1), message: str(h, t, 2) };
    case FrameType.CLOSE_OK:
    case FrameType.HEARTBEAT:
      return { type };
    case FrameType.ERROR:
      return {
        type,
        requestId: uint(h, t, 0),
        code: uint(h, t, 1),
        name: str(h, t, 2),
        message: str(h, t, 3),
        details: mapOrNull(h, t, 4),
      };
    case FrameType.OK:
      return { type, requestId: uint(h, t, 0), result: h[1] ?? null };
    case FrameType.FLOW:
      return { type, blocked: bool(h, t, 0), reason: str(h, t, 1) };
    case FrameType.EXCHANGE_DECLARE:
      return { type, requestId: uint(h, t, 0), exchange: str(h, t, 1), exchangeType: str(h, t, 2), options: opts(h, t, 3) };
    case FrameType.EXCHANGE_DELETE:
      return { type, requestId: uint(h, t, 0), exchange: str(h, t, 1), options: opts(h, t, 2) };
    case FrameType.QUEUE_DECLARE:
      return { type, requestId: uint(h, t, 0), queue: str(h, t, 1), options: opts(h, t, 2) };
    case FrameType.QUEUE_DELETE:
      return { type, requestId: uint(h, t, 0), queue: str(h, t, 1), options: opts(h, t, 2) };
    case FrameType.QUEUE_PURGE:
      return { type, requestId: uint(h, t, 0), queue: str(h, t, 1) };
    case FrameType.QUEUE_BIND:
    case FrameType.QUEUE_UNBIND:
      return {
        type,
        requestId: uint(h, t, 0),
        queue: str(h, t, 1),
        exchange: str(h, t, 2),
        routingKey: str(h, t, 3),
        arguments: mapOrNull(h, t, 4),
      };
    case FrameType.EXCHANGE_BIND:
    case FrameType.EXCHANGE_UNBIND:
      return {
        type,
        requestId: uint(h, t, 0),
        destination: str(h, t, 1),
        source: str(h, t, 2),
        routingKey: str(h, t, 3),
        arguments: mapOrNull(h, t, 4),
      };
    case FrameType.PUBLISH:
      return {
        type,
        seq: uint(h, t, 0),
        exchange: str(h, t, 1),
        routingKey: str(h, t, 2),
        flags: uint(h, t, 3),
        properties: properties(h, t, 4),
        body,
      };
    case FrameType.CONFIRM:
      return { type, seq: uint(h, t, 0), multiple: bool(h, t, 1) };
    case FrameType.PUBLISH_NACK:
      return { type, seq: uint(h, t, 0), code: uint(h, t, 1), name: str(h, t, 2), message: str(h, t, 3) };
    case FrameType.RETURN:
      return {
        type,
        seq: uint(h, t, 0),
        code: uint(h, t, 1),
        name: str(h, t, 2),
        exchange: str(h, t, 3),
        routingKey: str(h, t, 4),
        properties: properties(h, t, 5),
        body,
      };
    case FrameType.CONSUME:
      return { type, requestId: uint(h, t, 0), queue: str(h, t, 1), options: opts(h, t, 2) };
    case FrameType.CANCEL:
      return { type, requestId: uint(h, t, 0), consumerTag: str(h, t, 1) };
    case FrameType.CANCELLED:
      return { type, consumerTag: str(h, t, 0), code: uint(h, t, 1), name: str(h, t, 2), message: str(h, t, 3) };
    case FrameType.DELIVER:
      return {
        type,
        consumerTag: str(h, t, 0),
        deliveryTag: uint(h, t, 1),
        redelivered: bool(h, t, 2),
        deliveryCount: uint(h, t, 3),
        exchange: str(h, t, 4),
        routingKey: str(h, t, 5),
        properties: properties(h, t, 6),
        body,
      };
    case FrameType.ACK:
      return { type, deliveryTag: uint(h, t, 0), multiple: bool(h, t, 1) };
    case FrameType.NACK:
      return { type, deliveryTag: uint(h, t, 0), multiple: bool(h, t, 1), requeue: bool(h, t, 2) };
    case FrameType.REJECT:
      return { type, deliveryTag: uint(h, t, 0), requeue: bool(h, t, 1) };
    case FrameType.GET:
      return { type, requestId: uint(h, t, 0), queue: str(h, t, 1), options: opts(h, t, 2) };
    case FrameType.GET_OK:
      return {
        type,
        requestId: uint(h, t, 0),
        deliveryTag: uint(h, t, 1),
        redelivered: bool(h, t, 2),
        deliveryCount: uint(h, t, 3),
        exchange: str(h, t, 4),
        routingKey: str(h, t, 5),
        properties: properties(h, t, 6),
        messageCount: uint(h, t, 7),
        body,
      };
    case FrameType.QUEUE_LIST:
    case FrameType.EXCHANGE_LIST:
    case FrameType.BINDING_LIST:
    case FrameType.STATUS:
    case FrameType.STREAM_LIST:
      return { type, requestId: uint(h, t, 0) };
    case FrameType.STREAM_SUBSCRIBE:
      return { type, requestId: uint(h, t, 0), stream: str(h, t, 1), options: opts(h, t, 2) };
    case FrameType.STREAM_UNSUBSCRIBE:
      return { type, requestId: uint(h, t, 0), consumerTag: str(h, t, 1) };
    case FrameType.STREAM_DELIVER:
      return {
        type,
        consumerTag: str(h, t, 0),
        offset: uint(h, t, 1),
        timestamp: uint(h, t, 2),
        exchange: str(h, t, 3),
        routingKey: str(h, t, 4),
        properties: properties(h, t, 5),
        body,
      };
    case FrameType.STREAM_CREDIT:
      return { type, consumerTag: str(h, t, 0), credit: uint(h, t, 1) };
    case FrameType.STREAM_COMMIT:
      return { type, requestId: uint(h, t, 0), stream: str(h, t, 1), name: str(h, t, 2), offset: uint(h, t, 3) };
    case FrameType.STREAM_INFO:
      return { type, requestId: uint(h, t, 0), stream: str(h, t, 1) };
    case FrameType.STREAM_CANCELLED:
      return { type, consumerTag: str(h, t, 0), code: uint(h, t, 1), name: str(h, t, 2), message: str(h, t, 3) };
    default:
      throw errors.frameError(`unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

export { NO_BODY };
