/**
 * Dead-lettering to durable queues, then a graceful stop and a restart.
 * - The source of a dead-lettered message is settled once its copy is durable, which may happen
 *   while the store closes: the settlement must still reach the log, or the message is back in
 *   its queue after the restart (besides its copy in the dead-letter queue).
 * - The broker's connections share one frozen properties object between PUBLISH frames that
 *   repeat the same properties bytes (FrameDecoder sharePublishProperties): every message still
 *   has its own properties as published, after dead-lettering (which copies and extends them)
 *   and after the restart (from the store's records).
 * - (review of s2cpu) Persistent messages keep their properties exactly through delivery,
 *   redelivery, a graceful restart and delivery after it, for every property kind: each known
 *   property, headers holding every MessagePack type the client writes, properties repeated from
 *   one publish to the next interleaved with others; properties a publisher encodes otherwise
 *   than the broker (a wider integer, a nil-valued key) are delivered in the broker's encoding,
 *   the same before and after the restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection, type Message, type MessageProperties } from '@warren/client';
import { FrameType, encodeFrame } from '@warren/protocol';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { tempDir, removeDir } from '../../../test-support/temp-dir.js';
import { drain, RawClient } from './helpers.js';

let tb: TestBroker | undefined;
let conn: Connection | undefined;
let dir: string | undefined;
afterEach(async () => {
  await conn?.close().catch(() => {});
  await tb?.stop();
  if (dir !== undefined) await removeDir(dir);
  conn = undefined;
  tb = undefined;
  dir = undefined;
});

/** A broker on a fresh data folder with durable queue 'q' dead-lettering to durable queue 'dead' (through fanout 'dlx'). */
async function setup(): Promise<Connection> {
  dir = await tempDir();
  tb = await startTestBroker({ dataDir: dir });
  conn = await connect(tb.url);
  await conn.declareExchange('dlx', 'fanout', { durable: true });
  await conn.declareQueue('dead', { durable: true });
  await conn.bindQueue('dead', 'dlx');
  await conn.declareQueue('q', { durable: true, arguments: { 'x-dead-letter-exchange': 'dlx' } });
  return conn;
}

/** Rejects the first message of 'q' and waits for its copy in 'dead'; then stops the broker and starts it again on the same folder. */
async function rejectFirstAndRestart(c: Connection): Promise<Connection> {
  (await c.get('q'))!.reject({ requeue: false });
  await expect.poll(async () => (await c.declareQueue('dead', { passive: true })).messageCount).toBe(1);
  await c.close();
  await tb!.stop();
  tb = await startTestBroker({ dataDir: dir });
  conn = await connect(tb.url);
  return conn;
}

describe('dead-lettering, then a graceful stop', () => {
  it('a message rejected to a durable dead-letter queue just before the stop is not back in its queue after the restart', async () => {
    let c = await setup();
    await c.publish('', 'q', 'm0', { persistent: true });
    await c.publish('', 'q', 'm1', { persistent: true });
    c = await rejectFirstAndRestart(c);
    expect((await drain(c, 'dead')).map((m) => m.body.toString())).toEqual(['m0']);
    expect((await drain(c, 'q')).map((m) => m.body.toString())).toEqual(['m1']);
  });

  it('repeated publish properties stay each message\'s own through dead-lettering and the restart', async () => {
    let c = await setup();
    const task = { persistent: true, contentType: 'application/json', priority: 3 };
    const sent = [task, task, task, { persistent: true }, { persistent: true }, task];
    for (const [i, p] of sent.entries()) await c.publish('', 'q', `m${i}`, { ...p });
    // The first one is rejected: its dead-lettered copy gets x-death headers, the others must not.
    c = await rejectFirstAndRestart(c);
    const dead = await drain(c, 'dead');
    expect(dead.map((m) => m.body.toString())).toEqual(['m0']);
    expect(dead[0]!.properties).toMatchObject(task);
    expect((dead[0]!.properties.headers?.['x-death'] as unknown[]).length).toBe(1);
    const rest = await drain(c, 'q');
    expect(rest.map((m) => m.body.toString())).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    for (const [i, m] of rest.entries()) {
      expect(m.properties).toEqual(sent[i + 1]);
      expect(Object.keys(m.properties)).toEqual(Object.keys(sent[i + 1]!));
    }
  });
});

const ALL_KNOWN: MessageProperties = {
  persistent: true,
  contentType: 'application/json',
  contentEncoding: 'gzip',
  messageId: 'id-1',
  correlationId: 'c-1',
  replyTo: 'replies',
  expiration: 3_600_000,
  priority: 0,
  timestamp: 1_764_800_000_000,
  type: 'order.created',
  appId: 'shop',
  userId: 'guest',
};

const HEADERS: Record<string, unknown> = {
  nil: null,
  yes: true,
  no: false,
  fix: 7,
  u8: 200,
  u16: 60_000,
  u32: 4_000_000_000,
  u53: 2 ** 53 - 1,
  negFix: -5,
  i8: -100,
  i16: -30_000,
  i32: -2_000_000_000,
  i53: -(2 ** 53 - 1),
  float: 1.5,
  negFloat: -0.25,
  empty: '',
  ascii: 'hello',
  long: 'x'.repeat(300),
  unicode: 'héllo wörld ✓ 𝄞',
  bin: Buffer.from([0, 1, 2, 0xff]),
  list: [1, 'two', null, [3], { four: 4 }],
  emptyList: [],
  map: { a: { b: { c: 'deep' } } },
  emptyMap: {},
};

/** Properties published in this order (consecutive repeats are shared by the broker's decoder). */
const SENT: MessageProperties[] = [
  { persistent: true },
  { persistent: true },
  ALL_KNOWN,
  ALL_KNOWN,
  { persistent: true, priority: 255, expiration: 86_400_000 },
  { persistent: true, messageId: '' },
  { persistent: true, headers: HEADERS },
  { persistent: true, headers: HEADERS },
  { persistent: true, headers: {} },
  { persistent: true, contentType: 'text/plain', messageId: 'a' },
  { persistent: true, contentType: 'text/plain', messageId: 'b' },
  { persistent: true, contentType: 'text/plain', messageId: 'b' },
  { persistent: true, contentType: 'ünïcode', appId: 'x'.repeat(200) },
  { persistent: true },
];

/** What a consumer must see for SENT[i]: the same keys, in order. */
const want = (p: MessageProperties): MessageProperties => ({ ...p });

function view(m: Message): { body: string; properties: MessageProperties } {
  return { body: m.body.toString(), properties: m.properties };
}

describe('persistent message properties through redelivery and a restart', () => {
  it('are what was published, key order included, before and after the restart', async () => {
    dir = await tempDir();
    tb = await startTestBroker({ dataDir: dir });
    conn = await connect(tb.url);
    await conn.declareQueue('q', { durable: true, arguments: { 'x-max-priority': 255 } as never });
    for (const [i, p] of SENT.entries()) await conn.publish('', 'q', `m${i}`, { ...p });

    // Every other message is delivered, then rejected back into the queue (a redelivery).
    for (let i = 0; i < SENT.length; i += 2) {
      const m = (await conn.get('q'))!;
      expect(m).not.toBeNull();
      m.reject({ requeue: true });
    }
    const before = (await drain(conn, 'q')).map(view);
    expect(before.map((m) => m.body).sort()).toEqual(SENT.map((_, i) => `m${i}`).sort());
    for (const m of before) {
      const sent = want(SENT[Number(m.body.slice(1))]!);
      expect(m.properties).toEqual(sent);
      expect(Object.keys(m.properties)).toEqual(Object.keys(sent));
    }
    // drain was no-ack: publish them again, then stop and restart on the same folder.
    for (const [i, p] of SENT.entries()) await conn.publish('', 'q', `m${i}`, { ...p });
    await conn.close();
    await tb.stop();
    tb = await startTestBroker({ dataDir: dir });
    conn = await connect(tb.url);
    const after = (await drain(conn, 'q')).map(view);
    expect(after.map((m) => m.body).sort()).toEqual(before.map((m) => m.body).sort());
    for (const m of after) {
      const sent = want(SENT[Number(m.body.slice(1))]!);
      expect(m.properties).toEqual(sent);
      expect(Object.keys(m.properties)).toEqual(Object.keys(sent));
      expect(Object.keys(m.properties.headers ?? {})).toEqual(Object.keys(sent.headers ?? {}));
    }
  });
});

/** A PUBLISH of a persistent message to queue q whose properties field is exactly `raw` (spliced over a placeholder of the same length). */
function publishRaw(seq: number, raw: Buffer, body: string): Buffer {
  const filler = 'x'.repeat(raw.length - 4); // {a: 'xx..'}: 0x81, 0xa1 'a', 0xa0|n, n bytes
  const frame = encodeFrame({ type: FrameType.PUBLISH, seq, exchange: '', routingKey: 'q', flags: 0, properties: { a: filler } as never, body: Buffer.from(body) });
  const at = frame.indexOf(Buffer.from([0x81, 0xa1, 0x61, 0xa0 | filler.length]));
  if (at < 0 || filler.length >= 32) throw new Error('placeholder not found');
  raw.copy(frame, at);
  return frame;
}

const str = (s: string): Buffer => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);

describe('properties a publisher encodes otherwise than the broker', () => {
  it('are delivered (DELIVER) in the broker\'s encoding, the same before and after a restart and on redelivery', async () => {
    // {persistent: true, priority: 5, messageId: nil}, with priority as a uint8 and a nil-valued key.
    const raw = Buffer.concat([Buffer.from([0x83]), str('persistent'), Buffer.from([0xc3]), str('priority'), Buffer.from([0xcc, 0x05]), str('messageId'), Buffer.from([0xc0])]);
    const canonical = Buffer.concat([Buffer.from([0x82]), str('persistent'), Buffer.from([0xc3]), str('priority'), Buffer.from([0x05])]);
    dir = await tempDir();
    tb = await startTestBroker({ dataDir: dir });
    conn = await connect(tb.url);
    await conn.declareQueue('q', { durable: true });
    const count = async (): Promise<number> => (await conn!.declareQueue('q', { passive: true })).messageCount;

    const got = async (port: number, publish: boolean): Promise<Buffer> => {
      const c = await RawClient.open(port);
      try {
        if (publish) {
          c.write(publishRaw(1, raw, 'm1'));
          c.write(publishRaw(2, raw, 'm2'));
          await expect.poll(count).toBe(2);
        }
        const seen: Buffer[] = [];
        c.socket.on('data', (chunk: Buffer) => seen.push(chunk));
        // Delivered, not acknowledged: back in the queue once this connection closes.
        c.send({ type: FrameType.CONSUME, requestId: 1, queue: 'q', options: { prefetch: 2 } });
        for (let i = 0; i < 2; i++) {
          const d = await c.next(FrameType.DELIVER);
          expect((d as { properties: unknown }).properties).toEqual({ persistent: true, priority: 5 });
        }
        return Buffer.concat(seen);
      } finally {
        c.close();
        await c.closedPromise;
      }
    };
    const before = await got(tb.port, true);
    expect(before.indexOf(canonical)).toBeGreaterThanOrEqual(0);
    expect(before.indexOf(raw)).toBe(-1);
    await expect.poll(count).toBe(2); // both requeued

    await conn.close();
    await tb.stop();
    tb = await startTestBroker({ dataDir: dir });
    conn = await connect(tb.url);
    const after = await got(tb.port, false);
    expect(after.indexOf(canonical)).toBeGreaterThanOrEqual(0);
    expect(after.indexOf(raw)).toBe(-1);
  });
});
