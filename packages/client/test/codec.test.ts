/**
 * JSON convenience and the codec hook, end to end against a real broker:
 * objects are published as JSON with contentType application/json, messages
 * parse with json<T>() and decode<T>(), and connect({ codec }) swaps the format.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import { connect, ErrorCodes, jsonCodec, type Codec, type Connection, type Message, type PublishOptions } from '@warren/client';

let broker: Broker;
let dataDir: string;
let url: string;
const open: Connection[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'warren-codec-'));
  broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' });
  url = `warren://guest:guest@127.0.0.1:${broker.port}`;
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await broker?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function client(codec?: Codec): Promise<Connection> {
  const conn = await connect(codec === undefined ? url : { url, codec });
  open.push(conn);
  return conn;
}

async function take(conn: Connection, queue: string): Promise<Message> {
  const msg = await conn.get(queue);
  if (msg === null) throw new Error(`queue ${queue} is empty`);
  msg.ack();
  return msg;
}

interface Order {
  id: number;
  items: string[];
}

describe('publishing values that are not bytes', () => {
  it('an object goes out as JSON with contentType application/json, and comes back with json<T>() and decode<T>()', async () => {
    const conn = await client();
    await conn.declareQueue('orders');
    const order: Order = { id: 42, items: ['tea', 'scones'] };
    await conn.publish('', 'orders', order, { persistent: true });
    const msg = await take(conn, 'orders');
    expect(msg.body.toString()).toBe('{"id":42,"items":["tea","scones"]}');
    expect(msg.properties).toEqual({ persistent: true, contentType: 'application/json' });
    const parsed = msg.json<Order>();
    expectTypeOf(parsed).toEqualTypeOf<Order>();
    expect(parsed).toEqual(order);
    expect(msg.decode<Order>()).toEqual(order);
  });

  it('arrays, numbers, booleans and null too; a contentType given is kept; the options object is not changed', async () => {
    const conn = await client();
    await conn.declareQueue('values');
    const opts: PublishOptions = { headers: { k: 1 } };
    for (const v of [[1, 2], 7, true, null]) await conn.publish('', 'values', v, opts);
    await conn.publish('', 'values', { a: 1 }, { contentType: 'application/vnd.acme+json' });
    expect(opts).toEqual({ headers: { k: 1 } });
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await take(conn, 'values'));
    expect(got.map((m) => m.json())).toEqual([[1, 2], 7, true, null, { a: 1 }]);
    expect(got.map((m) => m.properties.contentType)).toEqual([...Array(4).fill('application/json'), 'application/vnd.acme+json']);
  });

  it('strings and bytes are sent as they are, with no contentType added', async () => {
    const conn = await client();
    await conn.declareQueue('raw');
    await conn.publish('', 'raw', '{"not":"parsed"}');
    await conn.publish('', 'raw', Buffer.from([1, 2, 3]));
    const [s, b] = [await take(conn, 'raw'), await take(conn, 'raw')];
    expect(s.body.toString()).toBe('{"not":"parsed"}');
    expect(s.properties).toEqual({});
    expect([...b.body]).toEqual([1, 2, 3]);
    expect(() => b.json()).toThrow(SyntaxError);
  });

  it('a value that cannot be encoded is INVALID_ARGUMENT, before anything is sent', async () => {
    const conn = await client();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const bad of [undefined, circular, { n: 10n }]) {
      const err = (await conn.publish('', 'nowhere', bad as object).catch((e: unknown) => e)) as { code: number; message: string };
      expect(err.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
    await expect(conn.publish('', 'nowhere', undefined as unknown as object)).rejects.toThrow(/body is undefined/);
  });
});

describe('connect({ codec })', () => {
  // A stand-in for MessagePack or Protobuf: "key=value" lines.
  const kvCodec: Codec<Record<string, string>> = {
    contentType: 'text/x-kv',
    encode: (v) => Object.entries(v).map(([k, x]) => `${k}=${x}`).join('\n'),
    decode: (body) => Object.fromEntries(body.toString().split('\n').map((l) => l.split('=') as [string, string])),
  };

  it('encodes published values and decodes messages with the given codec; json() still parses JSON', async () => {
    const conn = await client(kvCodec as Codec);
    await conn.declareQueue('kv');
    await conn.publish('', 'kv', { a: '1', b: 'two' });
    const msg = await take(conn, 'kv');
    expect(msg.body.toString()).toBe('a=1\nb=two');
    expect(msg.properties.contentType).toBe('text/x-kv');
    expect(msg.decode<Record<string, string>>()).toEqual({ a: '1', b: 'two' });
    expect(jsonCodec.decode(Buffer.from('[1]'))).toEqual([1]);
  });

  it('rejects a codec without encode/decode/contentType', async () => {
    await expect(connect({ url, codec: { contentType: 'x' } as unknown as Codec })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
  });
});
