/**
 * The header layout of every frame type, in one table: field names and wire
 * kinds in header order, and whether a body follows. Everything that maps a
 * frame to or from its positional MessagePack header is derived from it:
 * `headerOf` (encoding), `parseFrame` (validation of received headers) and
 * the typed send methods of FrameWriter (`writer.deliver(...)`,
 * `writer.confirm(seq, multiple)`, ...). protocol-spec.md documents the same
 * table at byte level; a test keeps the two equal.
 */
import { errors } from './errors.js';
import { FrameType, frameTypeNames, type Credentials, type Frame, type FrameTypeName, type MessageProperties } from './frames.js';
import { INVALID_PROPERTY, isPlainObject, propertyChecks } from './properties.js';

/**
 * How a header field travels and is checked. `options` is a map or nil that
 * reads as {} when nil (the spec calls it map/nil, like `map/nil` which reads
 * as null); `any` is not checked and reads nil as null.
 */
export type FieldKind = 'requestId' | 'uint' | 'str' | 'str/nil' | 'bool' | 'map/nil' | 'options' | 'properties/nil' | 'credentials/nil' | 'any';
export type Field = readonly [name: string, kind: FieldKind];
export interface FrameLayout {
  readonly header: readonly Field[];
  /** A body (raw bytes) follows the header. */
  readonly body: boolean;
}

/** One revision of a key, the same in KV_EVENT (a watch) and KV_ENTRY (a KV_GET answer). */
const kvEntry = [
  ['key', 'str'],
  ['revision', 'uint'],
  ['op', 'str'],
  ['createdAt', 'uint'],
  ['expiresAt', 'uint'],
] as const;

const requestOnly = { header: [['requestId', 'requestId']], body: false } as const;
const binding = <A extends string, B extends string>(a: A, b: B) =>
  ({
    header: [
      ['requestId', 'requestId'],
      [a, 'str'],
      [b, 'str'],
      ['routingKey', 'str'],
      ['arguments', 'map/nil'],
    ],
    body: false,
  }) as const;
const queueBinding = binding('queue', 'exchange');
/** A delivered message, the same in DELIVER (pushed to a consumer) and GET_OK (pulled). */
const delivery = [
  ['deliveryTag', 'uint'],
  ['redelivered', 'bool'],
  ['deliveryCount', 'uint'],
  ['exchange', 'str'],
  ['routingKey', 'str'],
  ['properties', 'properties/nil'],
] as const;
const exchangeBinding = binding('destination', 'source');

export const FRAME_SCHEMA = {
  OPEN: {
    header: [
      ['version', 'uint'],
      ['properties', 'options'],
      ['credentials', 'credentials/nil'],
      ['frameMax', 'uint'],
      ['heartbeatMs', 'uint'],
      // v1.3 (server capability `vhosts`): absent or nil = the default vhost "/".
      ['vhost', 'str/nil'],
    ],
    body: false,
  },
  OPEN_OK: {
    header: [
      ['version', 'uint'],
      ['properties', 'options'],
      ['frameMax', 'uint'],
      ['heartbeatMs', 'uint'],
      ['connectionId', 'str'],
    ],
    body: false,
  },
  CLOSE: {
    header: [
      ['code', 'uint'],
      ['name', 'str'],
      ['message', 'str'],
    ],
    body: false,
  },
  CLOSE_OK: { header: [], body: false },
  HEARTBEAT: { header: [], body: false },
  ERROR: {
    header: [
      ['requestId', 'uint'],
      ['code', 'uint'],
      ['name', 'str'],
      ['message', 'str'],
      ['details', 'map/nil'],
    ],
    body: false,
  },
  OK: {
    header: [
      ['requestId', 'uint'],
      ['result', 'any'],
    ],
    body: false,
  },
  FLOW: {
    header: [
      ['blocked', 'bool'],
      ['reason', 'str'],
    ],
    body: false,
  },
  EXCHANGE_DECLARE: {
    header: [
      ['requestId', 'requestId'],
      ['exchange', 'str'],
      ['exchangeType', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  EXCHANGE_DELETE: {
    header: [
      ['requestId', 'requestId'],
      ['exchange', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  QUEUE_DECLARE: {
    header: [
      ['requestId', 'requestId'],
      ['queue', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  QUEUE_DELETE: {
    header: [
      ['requestId', 'requestId'],
      ['queue', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  QUEUE_PURGE: {
    header: [
      ['requestId', 'requestId'],
      ['queue', 'str'],
    ],
    body: false,
  },
  QUEUE_BIND: queueBinding,
  QUEUE_UNBIND: queueBinding,
  EXCHANGE_BIND: exchangeBinding,
  EXCHANGE_UNBIND: exchangeBinding,
  PUBLISH: {
    header: [
      ['seq', 'uint'],
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['flags', 'uint'],
      ['properties', 'properties/nil'],
    ],
    body: true,
  },
  CONFIRM: {
    header: [
      ['seq', 'uint'],
      ['multiple', 'bool'],
    ],
    body: false,
  },
  PUBLISH_NACK: {
    header: [
      ['seq', 'uint'],
      ['code', 'uint'],
      ['name', 'str'],
      ['message', 'str'],
    ],
    body: false,
  },
  RETURN: {
    header: [
      ['seq', 'uint'],
      ['code', 'uint'],
      ['name', 'str'],
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['properties', 'properties/nil'],
    ],
    body: true,
  },
  CONSUME: {
    header: [
      ['requestId', 'requestId'],
      ['queue', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  CANCEL: {
    header: [
      ['requestId', 'requestId'],
      ['consumerTag', 'str'],
    ],
    body: false,
  },
  CANCELLED: {
    header: [
      ['consumerTag', 'str'],
      ['code', 'uint'],
      ['name', 'str'],
      ['message', 'str'],
    ],
    body: false,
  },
  DELIVER: {
    header: [['consumerTag', 'str'], ...delivery],
    body: true,
  },
  ACK: {
    header: [
      ['deliveryTag', 'uint'],
      ['multiple', 'bool'],
    ],
    body: false,
  },
  NACK: {
    header: [
      ['deliveryTag', 'uint'],
      ['multiple', 'bool'],
      ['requeue', 'bool'],
    ],
    body: false,
  },
  REJECT: {
    header: [
      ['deliveryTag', 'uint'],
      ['requeue', 'bool'],
    ],
    body: false,
  },
  GET: {
    header: [
      ['requestId', 'requestId'],
      ['queue', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  GET_OK: {
    header: [['requestId', 'uint'], ...delivery, ['messageCount', 'uint']],
    body: true,
  },
  QUEUE_LIST: requestOnly,
  EXCHANGE_LIST: requestOnly,
  BINDING_LIST: requestOnly,
  STATUS: requestOnly,
  STREAM_SUBSCRIBE: {
    header: [
      ['requestId', 'requestId'],
      ['stream', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  STREAM_UNSUBSCRIBE: {
    header: [
      ['requestId', 'requestId'],
      ['consumerTag', 'str'],
    ],
    body: false,
  },
  STREAM_DELIVER: {
    header: [
      ['consumerTag', 'str'],
      ['offset', 'uint'],
      ['timestamp', 'uint'],
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['properties', 'properties/nil'],
    ],
    body: true,
  },
  STREAM_CREDIT: {
    header: [
      ['consumerTag', 'str'],
      ['credit', 'uint'],
    ],
    body: false,
  },
  STREAM_COMMIT: {
    header: [
      ['requestId', 'requestId'],
      ['stream', 'str'],
      ['name', 'str'],
      ['offset', 'uint'],
    ],
    body: false,
  },
  STREAM_INFO: {
    header: [
      ['requestId', 'requestId'],
      ['stream', 'str'],
    ],
    body: false,
  },
  STREAM_LIST: requestOnly,
  STREAM_CANCELLED: {
    header: [
      ['consumerTag', 'str'],
      ['code', 'uint'],
      ['name', 'str'],
      ['message', 'str'],
    ],
    body: false,
  },
  KV_BUCKET_CREATE: {
    header: [
      ['requestId', 'requestId'],
      ['bucket', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  KV_BUCKET_DELETE: {
    header: [
      ['requestId', 'requestId'],
      ['bucket', 'str'],
    ],
    body: false,
  },
  KV_BUCKET_LIST: requestOnly,
  KV_PUT: {
    header: [
      ['requestId', 'requestId'],
      ['bucket', 'str'],
      ['key', 'str'],
      ['options', 'options'],
    ],
    body: true,
  },
  KV_GET: {
    header: [
      ['requestId', 'requestId'],
      ['bucket', 'str'],
      ['key', 'str'],
      ['revision', 'uint'],
    ],
    body: false,
  },
  KV_DELETE: {
    header: [
      ['requestId', 'requestId'],
      ['bucket', 'str'],
      ['key', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  KV_KEYS: {
    header: [
      ['requestId', 'requestId'],
      ['bucket', 'str'],
      ['filter', 'map/nil'],
    ],
    body: false,
  },
  KV_HISTORY: {
    header: [
      ['requestId', 'requestId'],
      ['bucket', 'str'],
      ['key', 'str'],
    ],
    body: false,
  },
  KV_WATCH: {
    header: [
      ['requestId', 'requestId'],
      ['bucket', 'str'],
      ['filter', 'map/nil'],
      ['options', 'options'],
    ],
    body: false,
  },
  KV_UNWATCH: {
    header: [
      ['requestId', 'requestId'],
      ['watchId', 'uint'],
    ],
    body: false,
  },
  KV_EVENT: {
    header: [['watchId', 'uint'], ...kvEntry],
    body: true,
  },
  KV_WATCH_END: {
    header: [
      ['watchId', 'uint'],
      ['code', 'uint'],
      ['name', 'str'],
      ['message', 'str'],
    ],
    body: false,
  },
  KV_ENTRY: {
    header: [['requestId', 'uint'], ...kvEntry],
    body: true,
  },
  KV_APPLIED: {
    header: [
      ['requestId', 'uint'],
      ['revision', 'uint'],
    ],
    body: false,
  },
  USER_ADD: {
    header: [
      ['requestId', 'requestId'],
      ['username', 'str'],
      ['password', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  USER_DELETE: {
    header: [
      ['requestId', 'requestId'],
      ['username', 'str'],
    ],
    body: false,
  },
  USER_UPDATE: {
    header: [
      ['requestId', 'requestId'],
      ['username', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  USER_LIST: requestOnly,
  PERMISSIONS_SET: {
    header: [
      ['requestId', 'requestId'],
      ['username', 'str'],
      ['vhost', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  PERMISSIONS_CLEAR: {
    header: [
      ['requestId', 'requestId'],
      ['username', 'str'],
      ['vhost', 'str'],
    ],
    body: false,
  },
  PERMISSIONS_LIST: {
    header: [
      ['requestId', 'requestId'],
      ['options', 'options'],
    ],
    body: false,
  },
  USER_LIMITS_SET: {
    header: [
      ['requestId', 'requestId'],
      ['username', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  VHOST_ADD: {
    header: [
      ['requestId', 'requestId'],
      ['vhost', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
  VHOST_DELETE: {
    header: [
      ['requestId', 'requestId'],
      ['vhost', 'str'],
    ],
    body: false,
  },
  VHOST_LIST: requestOnly,
  VHOST_LIMITS_SET: {
    header: [
      ['requestId', 'requestId'],
      ['vhost', 'str'],
      ['options', 'options'],
    ],
    body: false,
  },
} as const satisfies Record<FrameTypeName, FrameLayout>;

export type FrameSchema = typeof FRAME_SCHEMA;

/** The kind protocol-spec.md names in its field tables. */
export function specKind(kind: FieldKind): Exclude<FieldKind, 'options' | 'requestId'> {
  return kind === 'options' ? 'map/nil' : kind === 'requestId' ? 'uint' : kind;
}

/** Layouts by type byte; undefined for an unknown type. */
const layoutByCode: (FrameLayout | undefined)[] = new Array(256);
for (const [name, layout] of Object.entries(FRAME_SCHEMA) as [FrameTypeName, FrameLayout][]) layoutByCode[FrameType[name]] = layout;

/** The layout of a frame type, or undefined when the type byte is unknown. */
export function layoutOf(type: number): FrameLayout | undefined {
  return layoutByCode[type];
}

/** Whether this frame type carries a body after its header. */
export function hasBody(type: number): boolean {
  return layoutByCode[type]?.body === true;
}

// ---------------------------------------------------------------------------
// Frame object -> positional header array
// ---------------------------------------------------------------------------

const EMPTY: unknown[] = [];

/** The MessagePack header array for a frame, in the field order of FRAME_SCHEMA. */
export function headerOf(frame: Frame): unknown[] {
  const fields = layoutByCode[frame.type]!.header;
  if (fields.length === 0) return EMPTY;
  const values = frame as unknown as Record<string, unknown>;
  const header = new Array<unknown>(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const [name, kind] = fields[i]!;
    const value = values[name];
    header[i] = kind === 'any' ? (value ?? null) : value;
  }
  return header;
}

// ---------------------------------------------------------------------------
// Positional header array -> validated frame object
// ---------------------------------------------------------------------------

type Reader = (h: unknown[], t: number, i: number) => unknown;

function fieldError(type: number, index: number, expected: string): never {
  throw errors.frameError(`${frameTypeNames[type] ?? `frame 0x${type.toString(16)}`} header field ${index}: expected ${expected}`);
}

/** requestId of a request: 1 … 2^32−1 (spec 5); 0 and larger values are FRAME_ERROR. */
const MAX_REQUEST_ID = 0xffffffff;

const readers: Record<FieldKind, Reader> = {
  requestId(h, t, i) {
    const v = h[i];
    return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_REQUEST_ID ? v : fieldError(t, i, 'a request id from 1 to 2^32-1');
  },
  uint(h, t, i) {
    const v = h[i];
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : fieldError(t, i, 'a non-negative integer');
  },
  str(h, t, i) {
    const v = h[i];
    return typeof v === 'string' ? v : fieldError(t, i, 'a string');
  },
  'str/nil'(h, t, i): string | null {
    const v = h[i];
    if (v === null || v === undefined) return null;
    return typeof v === 'string' ? v : fieldError(t, i, 'a string or nil');
  },
  bool(h, t, i) {
    const v = h[i];
    return typeof v === 'boolean' ? v : fieldError(t, i, 'a boolean');
  },
  'map/nil'(h, t, i): Record<string, unknown> | null {
    const v = h[i];
    if (v === null || v === undefined) return null;
    return isPlainObject(v) ? v : fieldError(t, i, 'a map or nil');
  },
  options(h, t, i): object {
    const v = h[i];
    if (v === null || v === undefined) return {};
    return isPlainObject(v) ? v : fieldError(t, i, 'a map or nil');
  },
  /** Validates message properties; unknown keys are kept (forward compatibility), nil values dropped. */
  'properties/nil'(h, t, i): MessageProperties | null {
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
      // Not a frame error: the receiver refuses that one message (spec 9.1); the first bad key is kept.
      if (check !== undefined && !check(value) && (v as { [INVALID_PROPERTY]?: string })[INVALID_PROPERTY] === undefined) {
        (v as { [INVALID_PROPERTY]?: string })[INVALID_PROPERTY] = key;
      }
    }
    return v as MessageProperties;
  },
  'credentials/nil'(h, t, i): Credentials | null {
    const v = h[i];
    if (v === null || v === undefined) return null;
    // Any mechanism name parses; the server refuses one it does not offer with ACCESS_REFUSED (spec 4.2).
    if (!isPlainObject(v) || typeof v.mechanism !== 'string') fieldError(t, i, 'credentials {mechanism: str, ...} or nil');
    if (v.mechanism === 'PLAIN' && (typeof v.username !== 'string' || typeof v.password !== 'string')) {
      fieldError(t, i, 'credentials {mechanism: "PLAIN", username, password} or nil');
    }
    if (v.mechanism === 'EXTERNAL') {
      // The certificate names the user: username is optional (then ''), a password is not used.
      if (v.username !== undefined && v.username !== null && typeof v.username !== 'string') fieldError(t, i, 'credentials {mechanism: "EXTERNAL", username?: str} or nil');
      return { mechanism: 'EXTERNAL', username: typeof v.username === 'string' ? v.username : '', password: '' };
    }
    return v as unknown as Credentials;
  },
  any(h, _t, i) {
    return h[i] ?? null;
  },
};

/** Builds the frame object of one type from a validated header. */
type FrameBuilder = (h: unknown[], body: Buffer) => Frame;

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * One builder per type, compiled once from the schema into a function that
 * returns one object literal, e.g. for CONFIRM
 *
 *   (h, body) => ({ type: T, seq: r0(h, T, 0), multiple: r1(h, T, 1) })
 *
 * A loop that stores fields by name is three to five times slower on the
 * receive hot path (every PUBLISH, DELIVER and ACK); the literal is as fast
 * as the hand-written parser this replaces. The source is built only from
 * the constant schema above (names checked to be identifiers).
 */
function builderOf(type: number, layout: FrameLayout): FrameBuilder {
  const fields = layout.header.map(([name], i) => {
    if (!IDENTIFIER.test(name)) throw new Error(`frame schema: bad field name ${JSON.stringify(name)}`);
    return `${name}: r${i}(h, T, ${i})`;
  });
  if (layout.body) fields.push('body');
  const params = layout.header.map((_, i) => `r${i}`);
  const source = `return function build(h, body) { return { type: T${fields.map((f) => ', ' + f).join('')} }; };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiled from the constant schema, see above
  const compile = new Function('T', ...params, source) as (...args: unknown[]) => FrameBuilder;
  return compile(type, ...layout.header.map(([, kind]) => readers[kind]));
}

const builderByCode: (FrameBuilder | undefined)[] = new Array(256);
for (const [name, layout] of Object.entries(FRAME_SCHEMA) as [FrameTypeName, FrameLayout][]) {
  builderByCode[FrameType[name]] = builderOf(FrameType[name], layout);
}

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
  const build = builderByCode[type];
  if (build === undefined) throw errors.frameError(`unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
  return build(h, body);
}
