/**
 * Shared test fixtures: the header field schema of every frame type (also
 * checked against protocol-spec.md), sample frames and decode helpers.
 */
import {
  encodeFrame,
  FRAME_SCHEMA,
  FrameDecoder,
  FrameType,
  specKind,
  type Frame,
  type FrameSink,
  type FrameTypeName,
  type PublishFrame,
  PRELUDE_SIZE,
} from '@warren/protocol';

// ---------------------------------------------------------------------------
// Header schema: field names and wire kinds (as the spec names them), in
// header order, per frame type: FRAME_SCHEMA from the source. The spec's
// per-frame tables must list exactly these (spec-examples.test.ts).
// ---------------------------------------------------------------------------

export type FieldKind = 'uint' | 'str' | 'str/nil' | 'bool' | 'map/nil' | 'properties/nil' | 'credentials/nil' | 'any';
export type Field = readonly [name: string, kind: FieldKind];

export const SCHEMA = Object.fromEntries(
  Object.entries(FRAME_SCHEMA).map(([name, layout]) => [name, layout.header.map(([field, kind]): Field => [field, specKind(kind)])]),
) as unknown as Record<FrameTypeName, readonly Field[]>;

// ---------------------------------------------------------------------------
// Sample frames: at least one of every type, in canonical form (the decoder
// returns exactly these: no nil-valued properties, maps instead of nil where
// the decoder substitutes {}).
// ---------------------------------------------------------------------------

const json = Buffer.from('{"id":42,"item":"widget"}');

export function sampleFrames(): Frame[] {
  return [
    {
      type: FrameType.OPEN,
      version: 1,
      properties: { product: 'test-client', capabilities: { 'x.example': true }, nested: { a: [1, 2, null] } },
      credentials: { mechanism: 'PLAIN', username: 'guest', password: 'güest ✓' },
      frameMax: 16 * 1024 * 1024,
      heartbeatMs: 30_000,
      vhost: 'prod/eu ✓',
    },
    { type: FrameType.OPEN, version: 1, properties: {}, credentials: null, frameMax: 4096, heartbeatMs: 0, vhost: null },
    { type: FrameType.OPEN, version: 1, properties: {}, credentials: { mechanism: 'EXTERNAL', username: 'app', password: '' }, frameMax: 0, heartbeatMs: 0, vhost: null },
    {
      type: FrameType.OPEN_OK,
      version: 1,
      properties: { product: 'warren', version: '0.1.0', capabilities: {} },
      frameMax: 1 << 20,
      heartbeatMs: 60_000,
      connectionId: 'c-7f3a',
    },
    { type: FrameType.CLOSE, code: 320, name: 'CONNECTION_FORCED', message: 'server shutting down' },
    { type: FrameType.CLOSE, code: 0, name: 'OK', message: '' },
    { type: FrameType.CLOSE_OK },
    { type: FrameType.HEARTBEAT },
    { type: FrameType.ERROR, requestId: 9, code: 404, name: 'NOT_FOUND', message: "queue 'q' not found", details: null },
    {
      type: FrameType.ERROR,
      requestId: 0,
      code: 406,
      name: 'PRECONDITION_FAILED',
      message: 'unknown delivery tag 77',
      details: { deliveryTag: 77 },
    },
    { type: FrameType.OK, requestId: 1, result: null },
    { type: FrameType.OK, requestId: 2, result: { queue: 'q', messageCount: 3, consumerCount: 1 } },
    { type: FrameType.OK, requestId: 3, result: [1, 'two', true, 1.5, -7, Buffer.from([0, 255])] },
    { type: FrameType.FLOW, blocked: true, reason: 'memory alarm' },
    { type: FrameType.FLOW, blocked: false, reason: '' },
    {
      type: FrameType.EXCHANGE_DECLARE,
      requestId: 4,
      exchange: 'orders',
      exchangeType: 'topic',
      options: { durable: true, alternateExchange: 'unrouted', arguments: { 'x-custom': 1 } },
    },
    { type: FrameType.EXCHANGE_DELETE, requestId: 5, exchange: 'orders', options: { ifUnused: true } },
    { type: FrameType.QUEUE_DECLARE, requestId: 6, queue: '', options: {} },
    {
      type: FrameType.QUEUE_DECLARE,
      requestId: 7,
      queue: 'jobs',
      options: { durable: true, exclusive: false, autoDelete: false, arguments: { 'x-max-length': 1000 } },
    },
    { type: FrameType.QUEUE_DELETE, requestId: 8, queue: 'jobs', options: { ifUnused: false, ifEmpty: true } },
    { type: FrameType.QUEUE_PURGE, requestId: 10, queue: 'jobs' },
    { type: FrameType.QUEUE_BIND, requestId: 11, queue: 'jobs', exchange: 'orders', routingKey: 'order.*', arguments: null },
    {
      type: FrameType.QUEUE_UNBIND,
      requestId: 12,
      queue: 'jobs',
      exchange: 'hdrs',
      routingKey: '',
      arguments: { 'x-match': 'all', region: 'eu' },
    },
    { type: FrameType.EXCHANGE_BIND, requestId: 13, destination: 'b', source: 'a', routingKey: '#', arguments: null },
    { type: FrameType.EXCHANGE_UNBIND, requestId: 14, destination: 'b', source: 'a', routingKey: '#', arguments: {} },
    {
      type: FrameType.PUBLISH,
      seq: 1,
      exchange: 'orders',
      routingKey: 'order.created',
      flags: 1,
      properties: {
        persistent: true,
        contentType: 'application/json',
        contentEncoding: 'identity',
        headers: { 'x-trace': 'abc', retries: 2 },
        messageId: 'm-1',
        correlationId: 'c-1',
        replyTo: 'replies',
        expiration: 60_000,
        priority: 5,
        timestamp: 1_700_000_000_000,
        type: 'order',
        appId: 'shop',
        userId: 'guest',
      },
      body: json,
    },
    { type: FrameType.PUBLISH, seq: 2, exchange: '', routingKey: 'jobs', flags: 0, properties: null, body: Buffer.alloc(0) },
    { type: FrameType.CONFIRM, seq: 1, multiple: false },
    { type: FrameType.CONFIRM, seq: 4_294_967_295, multiple: true },
    { type: FrameType.PUBLISH_NACK, seq: 3, code: 429, name: 'RESOURCE_LIMIT', message: 'queue full' },
    {
      type: FrameType.RETURN,
      seq: 4,
      code: 312,
      name: 'NO_ROUTE',
      exchange: 'orders',
      routingKey: 'nowhere',
      properties: { contentType: 'text/plain' },
      body: Buffer.from('lost'),
    },
    { type: FrameType.CONSUME, requestId: 15, queue: 'jobs', options: { prefetch: 10, noAck: false, exclusive: false } },
    { type: FrameType.CONSUME, requestId: 16, queue: 'jobs', options: { consumerTag: 'mine', arguments: { 'x-priority': 1 } } },
    { type: FrameType.CANCEL, requestId: 17, consumerTag: 'mine' },
    { type: FrameType.CANCELLED, consumerTag: 'mine', code: 404, name: 'NOT_FOUND', message: 'queue deleted' },
    {
      type: FrameType.DELIVER,
      consumerTag: 'ctag-1',
      deliveryTag: 1,
      redelivered: false,
      deliveryCount: 1,
      exchange: 'orders',
      routingKey: 'order.created',
      properties: { persistent: true, contentType: 'application/json' },
      body: json,
    },
    {
      type: FrameType.DELIVER,
      consumerTag: 'ctag-1',
      deliveryTag: Number.MAX_SAFE_INTEGER,
      redelivered: true,
      deliveryCount: 3,
      exchange: '',
      routingKey: 'jobs',
      properties: null,
      body: Buffer.from([0, 1, 2, 3, 0xff]),
    },
    { type: FrameType.ACK, deliveryTag: 1, multiple: false },
    { type: FrameType.ACK, deliveryTag: 2 ** 40, multiple: true },
    { type: FrameType.NACK, deliveryTag: 5, multiple: true, requeue: false },
    { type: FrameType.REJECT, deliveryTag: 6, requeue: true },
    { type: FrameType.GET, requestId: 18, queue: 'jobs', options: { noAck: true } },
    {
      type: FrameType.GET_OK,
      requestId: 18,
      deliveryTag: 7,
      redelivered: false,
      deliveryCount: 1,
      exchange: 'orders',
      routingKey: 'order.created',
      properties: { headers: {} },
      messageCount: 41,
      body: json,
    },
    { type: FrameType.QUEUE_LIST, requestId: 19 },
    { type: FrameType.EXCHANGE_LIST, requestId: 20 },
    { type: FrameType.BINDING_LIST, requestId: 21 },
    { type: FrameType.STATUS, requestId: 22 },
    {
      type: FrameType.STREAM_SUBSCRIBE,
      requestId: 23,
      stream: 'orders',
      options: { offset: 'first', name: 'billing', credit: 100, filter: { header: 'region', values: ['eu'] }, singleActive: true },
    },
    { type: FrameType.STREAM_UNSUBSCRIBE, requestId: 24, consumerTag: 'stag-1' },
    {
      type: FrameType.STREAM_DELIVER,
      consumerTag: 'stag-1',
      offset: 2 ** 40,
      timestamp: 1_767_225_600_000,
      exchange: 'orders',
      routingKey: 'order.created',
      properties: { contentType: 'application/json' },
      body: json,
    },
    { type: FrameType.STREAM_CREDIT, consumerTag: 'stag-1', credit: 500 },
    { type: FrameType.STREAM_COMMIT, requestId: 25, stream: 'orders', name: 'billing', offset: 41 },
    { type: FrameType.STREAM_INFO, requestId: 26, stream: 'orders' },
    { type: FrameType.STREAM_LIST, requestId: 27 },
    { type: FrameType.STREAM_CANCELLED, consumerTag: 'stag-1', code: 404, name: 'NOT_FOUND', message: "stream 'orders' was deleted" },
    { type: FrameType.KV_BUCKET_CREATE, requestId: 23, bucket: 'results', options: { history: 5, ttl: 60_000, durable: true } },
    { type: FrameType.KV_BUCKET_DELETE, requestId: 24, bucket: 'results' },
    { type: FrameType.KV_BUCKET_LIST, requestId: 25 },
    { type: FrameType.KV_PUT, requestId: 26, bucket: 'results', key: 'task.42', options: { expect: 7 }, body: json },
    { type: FrameType.KV_GET, requestId: 27, bucket: 'results', key: 'task.42', revision: 0 },
    { type: FrameType.KV_DELETE, requestId: 28, bucket: 'results', key: 'task.42', options: { purge: true } },
    { type: FrameType.KV_KEYS, requestId: 29, bucket: 'results', filter: { pattern: 'task.*' } },
    { type: FrameType.KV_HISTORY, requestId: 30, bucket: 'results', key: 'task.42' },
    { type: FrameType.KV_WATCH, requestId: 31, bucket: 'results', filter: null, options: { includeCurrent: true } },
    { type: FrameType.KV_UNWATCH, requestId: 32, watchId: 1 },
    { type: FrameType.KV_EVENT, watchId: 1, key: 'task.42', revision: 2 ** 33, op: 'put', createdAt: 1_700_000_000_000, expiresAt: 0, body: json },
    { type: FrameType.KV_WATCH_END, watchId: 1, code: 404, name: 'NOT_FOUND', message: "bucket 'results' was deleted" },
    { type: FrameType.KV_ENTRY, requestId: 27, key: 'task.42', revision: 8, op: 'put', createdAt: 1_700_000_000_000, expiresAt: 1_700_000_060_000, body: Buffer.alloc(0) },
    { type: FrameType.KV_APPLIED, requestId: 26, revision: 2 ** 33 },
    { type: FrameType.USER_ADD, requestId: 33, username: 'app', password: 's3cret', options: { tags: ['management'] } },
    { type: FrameType.USER_DELETE, requestId: 34, username: 'app' },
    { type: FrameType.USER_UPDATE, requestId: 35, username: 'app', options: { password: 'n3w' } },
    { type: FrameType.USER_LIST, requestId: 36 },
    { type: FrameType.PERMISSIONS_SET, requestId: 37, username: 'app', vhost: '/', options: { configure: '^app\\.', write: '^app\\.', read: '.*' } },
    { type: FrameType.PERMISSIONS_CLEAR, requestId: 38, username: 'app', vhost: '/' },
    { type: FrameType.PERMISSIONS_LIST, requestId: 39, options: { username: 'app' } },
    { type: FrameType.USER_LIMITS_SET, requestId: 40, username: 'app', options: { maxConnections: 10 } },
    { type: FrameType.VHOST_ADD, requestId: 41, vhost: 'prod/eu', options: { maxQueues: 10 } },
    { type: FrameType.VHOST_DELETE, requestId: 42, vhost: 'prod/eu' },
    { type: FrameType.VHOST_LIST, requestId: 43 },
    { type: FrameType.VHOST_LIMITS_SET, requestId: 44, vhost: '/', options: { maxConnections: 100, maxQueues: null } },
  ];
}

// ---------------------------------------------------------------------------
// Decode helpers
// ---------------------------------------------------------------------------

/** Feeds the chunks in order to a fresh decoder; returns every frame. */
export function decodeChunks(chunks: readonly Buffer[], maxFrameSize = 16 * 1024 * 1024): Frame[] {
  const decoder = new FrameDecoder(maxFrameSize);
  const out: Frame[] = [];
  for (const chunk of chunks) decoder.push(chunk, (f) => out.push(f));
  return out;
}

/** Every frame decodes back to itself, by a decoder that keeps bodies as views and by one that copies small ones. */
export function expectDecodedBothWays(frames: readonly Frame[], expectEqual: (got: Frame[], want: Frame[]) => void): void {
  for (const f of frames) {
    expectEqual(decodeChunks([encodeFrame(f)]), [f]);
    const copying = new FrameDecoder(1 << 20, { copyBodiesBelow: 4096 });
    const got: Frame[] = [];
    copying.push(encodeFrame(f), (x) => got.push(x));
    expectEqual(got, [f]);
  }
}

/** A FrameWriter's sink that keeps a copy of every write. */
export class CollectingSink implements FrameSink {
  writes: Buffer[] = [];
  write(chunk: Buffer): boolean {
    this.writes.push(Buffer.from(chunk));
    return true;
  }
  cork(): void {}
  uncork(): void {}
}

/**
 * Cheap equality for long frame lists: the frames re-encode to the same bytes.
 * (Deep equality of large Buffers is slow; roundtrip.test.ts checks it directly.)
 */
export function sameFrames(got: readonly Frame[], want: readonly Frame[]): boolean {
  return got.length === want.length && Buffer.concat(got.map(encodeFrame)).equals(Buffer.concat(want.map(encodeFrame)));
}

/** A PUBLISH frame to exchange 'ex', routing key 'rk', with no properties. */
export function publishFrame(seq: number, body: Buffer): PublishFrame {
  return { type: FrameType.PUBLISH, seq, exchange: 'ex', routingKey: 'rk', flags: 0, properties: null, body };
}

/** Splits buf at the given sorted offsets. */
export function splitAt(buf: Buffer, offsets: readonly number[]): Buffer[] {
  const parts: Buffer[] = [];
  let prev = 0;
  for (const o of offsets) {
    parts.push(buf.subarray(prev, o));
    prev = o;
  }
  parts.push(buf.subarray(prev));
  return parts;
}

/** Copies of buf's consecutive n-byte pieces (the last one shorter), as separate reads deliver them. */
export function copiesEvery(buf: Buffer, n: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < buf.length; at += n) parts.push(Buffer.from(buf.subarray(at, at + n)));
  return parts;
}

/** A frame assembled by hand: prelude + header bytes + body, with optional overrides. */
export function rawFrame(type: number, header: Buffer, body: Buffer = Buffer.alloc(0), o: { size?: number; headerSize?: number } = {}): Buffer {
  const prelude = Buffer.alloc(PRELUDE_SIZE);
  prelude.writeUInt32BE(o.size ?? 5 + header.length + body.length, 0);
  prelude[4] = type;
  prelude.writeUInt32BE(o.headerSize ?? header.length, 5);
  return Buffer.concat([prelude, header, body]);
}
