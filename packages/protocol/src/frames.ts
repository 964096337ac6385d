/**
 * The frame catalogue of Warren protocol v1: type bytes and typed frame
 * objects. The header layout of each type (field order and wire kinds) is in
 * frame-schema.ts; `protocol-spec.md` documents both at byte level.
 */
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
  KV_BUCKET_CREATE: 0x60,
  KV_BUCKET_DELETE: 0x61,
  KV_BUCKET_LIST: 0x62,
  KV_PUT: 0x63,
  KV_GET: 0x64,
  KV_DELETE: 0x65,
  KV_KEYS: 0x66,
  KV_HISTORY: 0x67,
  KV_WATCH: 0x68,
  KV_UNWATCH: 0x69,
  KV_EVENT: 0x6a,
  KV_WATCH_END: 0x6b,
  KV_ENTRY: 0x6c,
  KV_APPLIED: 0x6d,

  // Users, permissions, user limits (spec section 8.8).
  USER_ADD: 0x70,
  USER_DELETE: 0x71,
  USER_UPDATE: 0x72,
  USER_LIST: 0x73,
  PERMISSIONS_SET: 0x74,
  PERMISSIONS_CLEAR: 0x75,
  PERMISSIONS_LIST: 0x76,
  USER_LIMITS_SET: 0x77,

  // Virtual hosts and vhost limits (spec section 8.9).
  VHOST_ADD: 0x78,
  VHOST_DELETE: 0x79,
  VHOST_LIST: 0x7a,
  VHOST_LIMITS_SET: 0x7b,
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

/**
 * Authentication mechanisms of v1 (spec 4.2): PLAIN (username and password),
 * and EXTERNAL (the verified TLS client certificate names the user), which a
 * server offers only on TLS connections with a verified client certificate.
 */
export const MECHANISMS = ['PLAIN', 'EXTERNAL'] as const;

export interface Credentials {
  /** 'PLAIN' for the username/password below, 'EXTERNAL' for the client certificate; a server refuses others it does not offer. */
  mechanism: string;
  /** PLAIN: the user. EXTERNAL: '' (the certificate's CN), or that CN (any other name is refused). */
  username: string;
  /** PLAIN: the password. EXTERNAL: '' (not used). */
  password: string;
}

export interface OpenFrame {
  type: typeof FrameType.OPEN;
  version: number;
  properties: Record<string, unknown>;
  credentials: Credentials | null;
  frameMax: number;
  heartbeatMs: number;
  /** The virtual host to open; null (or absent, from older clients) = "/" (spec 4.2). */
  vhost?: string | null;
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
/** A delivered message: what DELIVER (pushed to a consumer) and GET_OK (pulled) both carry. */
export interface DeliveredMessage {
  deliveryTag: number;
  redelivered: boolean;
  deliveryCount: number;
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  body: Buffer;
}
export interface DeliverFrame extends DeliveredMessage {
  type: typeof FrameType.DELIVER;
  consumerTag: string;
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
export interface GetOkFrame extends DeliveredMessage {
  type: typeof FrameType.GET_OK;
  requestId: number;
  /** Messages left ready in the queue after this one. */
  messageCount: number;
}
export interface ListFrame {
  type:
    | typeof FrameType.QUEUE_LIST
    | typeof FrameType.EXCHANGE_LIST
    | typeof FrameType.BINDING_LIST
    | typeof FrameType.STATUS
    | typeof FrameType.KV_BUCKET_LIST
    | typeof FrameType.USER_LIST;
  requestId: number;
}

// Key-value buckets (spec section 8.7).
export interface KvBucketFrame {
  type: typeof FrameType.KV_BUCKET_CREATE;
  requestId: number;
  bucket: string;
  options: Record<string, unknown>;
}
export interface KvBucketDeleteFrame {
  type: typeof FrameType.KV_BUCKET_DELETE;
  requestId: number;
  bucket: string;
}
export interface KvPutFrame {
  type: typeof FrameType.KV_PUT;
  requestId: number;
  bucket: string;
  key: string;
  /** {ttl, expect}. */
  options: Record<string, unknown>;
  body: Buffer;
}
export interface KvGetFrame {
  type: typeof FrameType.KV_GET;
  requestId: number;
  bucket: string;
  key: string;
  /** 0: the latest value. */
  revision: number;
}
export interface KvDeleteFrame {
  type: typeof FrameType.KV_DELETE;
  requestId: number;
  bucket: string;
  key: string;
  /** {purge, expect}. */
  options: Record<string, unknown>;
}
export interface KvKeysFrame {
  type: typeof FrameType.KV_KEYS;
  requestId: number;
  bucket: string;
  /** {prefix} or {pattern}; null: every key. */
  filter: Record<string, unknown> | null;
}
export interface KvHistoryFrame {
  type: typeof FrameType.KV_HISTORY;
  requestId: number;
  bucket: string;
  key: string;
}
export interface KvWatchFrame {
  type: typeof FrameType.KV_WATCH;
  requestId: number;
  bucket: string;
  filter: Record<string, unknown> | null;
  /** {includeCurrent, afterRevision}. */
  options: Record<string, unknown>;
}
export interface KvUnwatchFrame {
  type: typeof FrameType.KV_UNWATCH;
  requestId: number;
  watchId: number;
}
/** Key-value bucket options (spec section 9.9): KV_BUCKET_CREATE `options`. */
export interface KvBucketOptions {
  /** Revisions kept per key, the latest included (1-64). Default 1. */
  history?: number;
  /** Every value expires this many ms after it was written; 0 = never. Default 0. */
  ttl?: number;
  /** Largest value in bytes. Default 1 MiB. */
  maxValueSize?: number;
  /** Most bytes (keys + values of every kept revision) the bucket holds; 0 = no limit. Default 0. */
  maxBytes?: number;
  /** true: every change is fdatasync'ed before it is confirmed; false: held in memory only. Default true. */
  durable?: boolean;
  /** How long a delete, purge or expiry marker is kept once it is a key's latest revision (ms). Default 15 min. */
  markerTtl?: number;
}

/** One revision of a key: KV_EVENT and KV_ENTRY share these fields. */
export interface KvEntryFields {
  key: string;
  revision: number;
  /** "put", "del", "purge" or "expired". */
  op: string;
  createdAt: number;
  /** 0: never. */
  expiresAt: number;
  /** The value; empty for a marker. */
  body: Buffer;
}
export interface KvEventFrame extends KvEntryFields {
  type: typeof FrameType.KV_EVENT;
  watchId: number;
}
export interface KvWatchEndFrame {
  type: typeof FrameType.KV_WATCH_END;
  watchId: number;
  code: number;
  name: string;
  message: string;
}
export interface KvEntryFrame extends KvEntryFields {
  type: typeof FrameType.KV_ENTRY;
  requestId: number;
}
/** Before the OK of a KV_PUT or KV_DELETE sent with option `applied`: the change is applied (not yet stored). */
export interface KvAppliedFrame {
  type: typeof FrameType.KV_APPLIED;
  requestId: number;
  revision: number;
}

// Users, permissions and user limits (spec section 8.8).
export interface UserAddFrame {
  type: typeof FrameType.USER_ADD;
  requestId: number;
  username: string;
  password: string;
  /** {tags: string[]}. */
  options: Record<string, unknown>;
}
export interface UserDeleteFrame {
  type: typeof FrameType.USER_DELETE;
  requestId: number;
  username: string;
}
export interface UserUpdateFrame {
  type: typeof FrameType.USER_UPDATE;
  requestId: number;
  username: string;
  /** {password?: string, tags?: string[]}. */
  options: Record<string, unknown>;
}
export interface PermissionsSetFrame {
  type: typeof FrameType.PERMISSIONS_SET;
  requestId: number;
  username: string;
  vhost: string;
  /** {configure, write, read}: regular expressions over resource names. */
  options: Record<string, unknown>;
}
export interface PermissionsClearFrame {
  type: typeof FrameType.PERMISSIONS_CLEAR;
  requestId: number;
  username: string;
  vhost: string;
}
export interface PermissionsListFrame {
  type: typeof FrameType.PERMISSIONS_LIST;
  requestId: number;
  /** {username?, vhost?}: only the matching entries. */
  options: Record<string, unknown>;
}
export interface UserLimitsSetFrame {
  type: typeof FrameType.USER_LIMITS_SET;
  requestId: number;
  username: string;
  /** {maxConnections: uint or nil (no limit)}. */
  options: Record<string, unknown>;
}

/** A user tag (spec 8.8). */
export type UserTag = 'administrator' | 'management' | 'monitoring';

/** One entry of the USER_LIST result. */
export interface UserInfo {
  username: string;
  tags: UserTag[];
  /** null: no limit. */
  maxConnections: number | null;
  /** Connections open now. */
  connections: number;
}

/** Regular expressions over resource names (exchanges, queues, streams, buckets); '' matches nothing. */
export interface Permissions {
  configure: string;
  write: string;
  read: string;
}

/** One entry of the PERMISSIONS_LIST result. */
export interface PermissionInfo extends Permissions {
  username: string;
  vhost: string;
}

// Virtual hosts and vhost limits (spec section 8.9).
export interface VhostAddFrame {
  type: typeof FrameType.VHOST_ADD;
  requestId: number;
  vhost: string;
  /** {maxConnections?: uint/nil, maxQueues?: uint/nil}: limits to start with. */
  options: Record<string, unknown>;
}
export interface VhostDeleteFrame {
  type: typeof FrameType.VHOST_DELETE;
  requestId: number;
  vhost: string;
}
export interface VhostListFrame {
  type: typeof FrameType.VHOST_LIST;
  requestId: number;
}
export interface VhostLimitsSetFrame {
  type: typeof FrameType.VHOST_LIMITS_SET;
  requestId: number;
  vhost: string;
  /** {maxConnections?: uint/nil, maxQueues?: uint/nil}: nil removes a limit, an absent key keeps it. */
  options: Record<string, unknown>;
}
/** A vhost's limits; null: no limit. */
export interface VhostLimits {
  maxConnections: number | null;
  maxQueues: number | null;
}
/** One entry of the VHOST_LIST result. */
export interface VhostInfo extends VhostLimits {
  name: string;
  /** Open connections in the vhost. */
  connections: number;
  queues: number;
  /** Ready messages across its queues. */
  messages: number;
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
  /** Published with x-delay, not yet due (not counted in `messages`). */
  delayed: number;
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
  /** Virtual hosts (servers with the `vhosts` capability). */
  vhosts?: number;
  /** Queues, exchanges, messages and unacked: summed over every vhost. */
  queues: number;
  exchanges: number;
  /** Ready messages across all queues. */
  messages: number;
  unacked: number;
  memory: { rss: number; heapUsed: number; bodyBytes: number; budget: number };
  disk: { dataDir: string | null; usedBytes: number; freeBytes: number | null };
  alarms: { memory: boolean; disk: boolean };
  /** The TLS listener; null (or absent, older servers) without TLS. */
  tls?: {
    port: number;
    /** Clients must present a certificate signed by the configured CA. */
    verifyPeer: boolean;
    /** Open connections over TLS. */
    connections: number;
    certificate: { subject: string; issuer: string; fingerprint256: string; validFrom: string; validTo: string };
  } | null;
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
  | StreamCancelledFrame
  | KvBucketFrame
  | KvBucketDeleteFrame
  | KvPutFrame
  | KvGetFrame
  | KvDeleteFrame
  | KvKeysFrame
  | KvHistoryFrame
  | KvWatchFrame
  | KvUnwatchFrame
  | KvEventFrame
  | KvWatchEndFrame
  | KvEntryFrame
  | KvAppliedFrame
  | UserAddFrame
  | UserDeleteFrame
  | UserUpdateFrame
  | PermissionsSetFrame
  | PermissionsClearFrame
  | PermissionsListFrame
  | UserLimitsSetFrame
  | VhostAddFrame
  | VhostDeleteFrame
  | VhostListFrame
  | VhostLimitsSetFrame;

/** Frames that carry a message body after the header. */
export type BodyFrame = PublishFrame | ReturnFrame | DeliverFrame | GetOkFrame | StreamDeliverFrame | KvPutFrame | KvEventFrame | KvEntryFrame;

/** The body of a frame without one. */
export const NO_BODY = Buffer.alloc(0);
