/**
 * A hostile client on the wire (the audit of 2026-12-04): inputs that a
 * broker must refuse without harming anyone else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, FrameType, pack, type ErrorFrame, type Frame } from '@warren/protocol';
import { connect, type Connection, type Message } from '@warren/client';
import { RawClient, drain } from './helpers.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { passwordHashProblem, verifyPassword, hashPassword } from '../src/auth.js';
import { ACCESS_FILE } from '../src/storage/access-store.js';
import { publish } from '../src/handlers/publish.js';

let tb: TestBroker | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await tb?.stop();
  tb = undefined;
});

/** A PUBLISH frame to the default exchange whose properties are {persistent: true, headers: <`headers`, MessagePack>}, written by hand. */
function rawPublish(queue: string, headers: Buffer): Buffer {
  const str = (s: string): Buffer => Buffer.concat([Buffer.from([0xd9, Buffer.byteLength(s)]), Buffer.from(s)]);
  const header = Buffer.concat([Buffer.from([0x95, 0x01]), str(''), str(queue), Buffer.from([0x00, 0x82]), str('persistent'), Buffer.from([0xc3]), str('headers'), headers]);
  const body = Buffer.from('poison');
  const frame = Buffer.alloc(9 + header.length + body.length);
  frame.writeUInt32BE(5 + header.length + body.length, 0);
  frame[4] = FrameType.PUBLISH;
  frame.writeUInt32BE(header.length, 5);
  header.copy(frame, 9);
  body.copy(frame, 9 + header.length);
  return frame;
}

/** A PUBLISH whose headers are `levels` maps nested: {a: {a: ... 1}}. */
function deepPublish(queue: string, levels: number): Buffer {
  return rawPublish(queue, Buffer.concat([...Array.from({ length: levels }, () => Buffer.from([0x81, 0xa1, 0x61])), Buffer.from([0x01])]));
}

/** A PUBLISH whose headers are {a: [nil x n]}. */
function widePublish(queue: string, n: number): Buffer {
  const len = Buffer.alloc(5);
  len[0] = 0xdd;
  len.writeUInt32BE(n, 1);
  return rawPublish(queue, Buffer.concat([Buffer.from([0x81, 0xa1, 0x61]), len, Buffer.alloc(n, 0xc0)]));
}

function depthOf(value: unknown): number {
  let d = 0;
  for (let v = value; v !== null && typeof v === 'object'; v = (v as { a?: unknown }).a) d++;
  return d;
}

/** A broker with a durable queue 'q', a client library connection and a raw one that has published `levels` nested headers to it. */
async function publishRaw(frame: Buffer): Promise<{ c: Connection; p: RawClient }> {
  tb = await startTestBroker();
  const c = await connect(tb.url);
  await c.declareQueue('q', { durable: true });
  const p = await RawClient.open(tb.port);
  clients.push(p);
  p.write(frame);
  return { c, p };
}

/** Publishes `frame` raw; then `check(c, p)` with a client library connection `c` (closed afterwards). */
async function withRawPublish(frame: Buffer, check: (c: Connection, p: RawClient) => Promise<void>): Promise<void> {
  const { c, p } = await publishRaw(frame);
  try {
    await check(c, p);
  } finally {
    await c.close();
  }
}

/** The publisher gets FRAME_ERROR and is closed; nothing was queued; other clients go on. */
async function expectRefused(c: Connection, p: RawClient, message: RegExp): Promise<void> {
  const err = (await p.next()) as ErrorFrame;
  expect(err).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.FRAME_ERROR });
  expect(err.message).toMatch(message);
  await p.closedPromise;
  expect(tb!.broker.vhosts.get('/')!.queues.get('q')!.messageCount).toBe(0);
  await c.publish('', 'q', 'fine', { persistent: true });
  expect((await drain(c, 'q')).map((m) => m.body.toString())).toEqual(['fine']);
}

/** The publish is confirmed; the one message queued comes back to `c`. */
async function expectDelivered(c: Connection, p: RawClient): Promise<Message> {
  expect(await p.next()).toMatchObject({ type: FrameType.CONFIRM, seq: 1 });
  const [m] = await drain(c, 'q');
  expect(m!.body.toString()).toBe('poison');
  return m!;
}

describe('deeply nested headers', () => {
  // Deeper values decode but cannot be encoded again for delivery: such a
  // message, once confirmed, closed every consumer it was offered to with
  // INTERNAL_ERROR and stayed at the head of its queue.
  it('a PUBLISH nested deeper than 64 levels is FRAME_ERROR: nothing is queued and consumers go on', () =>
    withRawPublish(deepPublish('q', 100), (c, p) => expectRefused(c, p, /nested more than 64 levels/)));

  it('headers at the limit (64 levels with the header array and the properties map) are confirmed and delivered', () =>
    withRawPublish(deepPublish('q', 62), async (c, p) => {
      expect(depthOf((await expectDelivered(c, p)).properties.headers)).toBe(62);
    }));
});

describe('nesting in what the broker sends', () => {
  it('a queue declared with arguments at the nesting limit is listed: clients read server frames nested deeper', async () => {
    tb = await startTestBroker();
    const c = await connect(tb.url);
    try {
      let v: unknown = 1;
      for (let i = 0; i < 61; i++) v = { a: v };
      // QUEUE_DECLARE: header array 1, options 2, arguments 3, then 61 maps: 64.
      await c.declareQueue('q', { arguments: { 'x-custom': v } as never });
      const [q] = (await c.listQueues()).filter((x) => x.name === 'q');
      expect(depthOf((q!.arguments as Record<string, unknown>)['x-custom'])).toBe(61);
    } finally {
      await c.close();
    }
  });
});

describe('headers with very many values', () => {
  // Each value costs a JavaScript value once decoded: a 15 MB PUBLISH of nils held 700 MB of heap while queued.
  it('a PUBLISH whose header holds more than 65536 map entries and array elements is FRAME_ERROR', () =>
    withRawPublish(widePublish('q', 70_000), (c, p) => expectRefused(c, p, /more than 65536 values/)));

  it('one at the bound (5 in the header array, 2 in properties, 1 in headers, 65528 in the list) is confirmed', () =>
    withRawPublish(widePublish('q', 65_528), async (c, p) => {
      expect(((await expectDelivered(c, p)).properties.headers as { a: unknown[] }).a).toHaveLength(65_528);
    }));
});

describe('stored password hashes that cannot be checked', () => {
  // scrypt with the hash's own parameters: an N that is not a power of 2 threw inside the
  // handshake, an unhandled rejection that took the whole broker down at the first login attempt.
  it('a login as a user whose stored hash is unusable is refused; the broker stays up', async () => {
    const dataDir = await tempDir();
    try {
      const ADMIN = { username: 'admin', password: 'admin-pw' };
      tb = await startTestBroker({ dataDir, users: [ADMIN] });
      const admin = await connect({ url: `warren://admin:admin-pw@127.0.0.1:${tb.port}`, reconnect: false });
      await admin.users.add('svc', 'svc-pw');
      await admin.users.setPermissions('svc', '/', { configure: '.*', write: '.*', read: '.*' });
      await admin.close();
      await tb.stop();
      // As a hand-edited (or older) access file could hold it.
      const file = join(dataDir, ACCESS_FILE);
      const doc = JSON.parse(await readFile(file, 'utf8')) as { users: { username: string; passwordHash: string }[] };
      doc.users.find((u) => u.username === 'svc')!.passwordHash = `scrypt$3$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
      await writeFile(file, JSON.stringify(doc));
      tb = await startTestBroker({ dataDir, users: [ADMIN] });
      const err = await connect({ url: `warren://svc:svc-pw@127.0.0.1:${tb.port}`, reconnect: false }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: ErrorCodes.ACCESS_REFUSED });
      const again = await connect({ url: `warren://admin:admin-pw@127.0.0.1:${tb.port}`, reconnect: false });
      await again.declareQueue('still-up');
      await again.close();
    } finally {
      await tb?.stop();
      tb = undefined;
      await removeDir(dataDir);
    }
  });

  it('putUser refuses such a hash (INVALID_ARGUMENT); verifyPassword answers false, never throws', async () => {
    tb = await startTestBroker();
    const zeros = (n: number): string => Buffer.alloc(n).toString('base64');
    const bad = [
      'plain-text',
      `scrypt$3$8$1$${zeros(16)}$${zeros(32)}`,
      `scrypt$${2 ** 24}$8$1$${zeros(16)}$${zeros(32)}`,
      `scrypt$16384$1000$1$${zeros(16)}$${zeros(32)}`,
      `scrypt$16384$8$99$${zeros(16)}$${zeros(32)}`,
      `scrypt$16384$8$1$${zeros(16)}$${zeros(2)}`,
      `scrypt$16384$8$1$!!$${zeros(32)}`,
    ];
    for (const hash of bad) {
      expect(passwordHashProblem(hash), hash).not.toBeNull();
      await expect(verifyPassword('x', hash)).resolves.toBe(false);
      await expect(tb.broker.access.putUser('u', { passwordHash: hash })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    }
    const good = await hashPassword('pw');
    expect(passwordHashProblem(good)).toBeNull();
    await expect(verifyPassword('pw', good)).resolves.toBe(true);
  });
});

// ---------------------------------------------------------------------------
// The two header bounds of protocol-spec 3 ("Nesting", "Size") at their exact
// edges (review of the audit), in every frame type the broker receives that
// carries a map or array, through hand-built frames. The expected depth and
// count of each header are computed here from the spec's own words (measure),
// not from the decoder's code: the header array is level 1; every map and
// array is a level (scalars are not); a map entry (key and value together) is
// one value, an array element is one value, at every depth, the header array's
// own elements included.

const MAX_LEVELS = 64;
const MAX_VALUES = 65536;


/** Depth and value count of a header, as protocol-spec 3 defines them. */
function measure(v: unknown, level = 1): { levels: number; values: number } {
  if (v === null || typeof v !== 'object') return { levels: level - 1, values: 0 };
  const children = Array.isArray(v) ? v : Object.values(v);
  let levels = level;
  let values = children.length;
  for (const c of children) {
    const m = measure(c, level + 1);
    levels = Math.max(levels, m.levels);
    values += m.values;
  }
  return { levels, values };
}

/** A frame written by hand: length, type, header size, MessagePack header, body. */
function rawFrame(type: number, header: unknown[], body = Buffer.alloc(0)): Buffer {
  const h = pack(header);
  const prelude = Buffer.alloc(9);
  prelude.writeUInt32BE(5 + h.length + body.length, 0);
  prelude[4] = type;
  prelude.writeUInt32BE(h.length, 5);
  return Buffer.concat([prelude, h, body]);
}

type Shape = 'map' | 'array';
/** `n` maps ({a: ...}) or arrays ([...]) nested around 1. */
function nested(shape: Shape, n: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = shape === 'map' ? { a: v } : [v];
  return v;
}
/** A map of `n` entries or an array of `n` nils. */
function wide(shape: Shape, n: number): unknown {
  if (shape === 'array') return new Array<null>(n).fill(null);
  const o: Record<string, number> = {};
  for (let i = 0; i < n; i++) o[`k${i}`] = 0;
  return o;
}

/** Each frame type that carries a map, with `x` placed where applications put their own values. */
const FRAMES: Array<{ name: string; type: number; header: (x: unknown) => unknown[]; body?: boolean }> = [
  { name: 'PUBLISH properties.headers', type: FrameType.PUBLISH, header: (x) => [1, '', 'q', 0, { headers: { x } }], body: true },
  { name: 'EXCHANGE_DECLARE options.arguments', type: FrameType.EXCHANGE_DECLARE, header: (x) => [1, 'x1', 'fanout', { arguments: { x } }] },
  { name: 'QUEUE_DECLARE options.arguments', type: FrameType.QUEUE_DECLARE, header: (x) => [1, 'q1', { arguments: { x } }] },
  { name: 'QUEUE_BIND arguments', type: FrameType.QUEUE_BIND, header: (x) => [1, 'q', 'amq.fanout', '', { x }] },
  { name: 'EXCHANGE_BIND arguments', type: FrameType.EXCHANGE_BIND, header: (x) => [1, 'amq.topic', 'amq.fanout', '', { x }] },
  { name: 'CONSUME options.arguments', type: FrameType.CONSUME, header: (x) => [1, 'q', { arguments: { x } }] },
  { name: 'STREAM_SUBSCRIBE options', type: FrameType.STREAM_SUBSCRIBE, header: (x) => [1, 'no-such-stream', { x }] },
  { name: 'KV_BUCKET_CREATE options', type: FrameType.KV_BUCKET_CREATE, header: (x) => [1, 'b1', { x }] },
];

/** The header of `f` with `x` grown until it measures exactly `target` (levels or values). */
function headerAt(f: (typeof FRAMES)[number], what: 'levels' | 'values', shape: Shape, target: number): unknown[] {
  const grow = what === 'levels' ? nested : wide;
  const base = measure(f.header(grow(shape, 0)))[what];
  const header = f.header(grow(shape, target - base));
  expect(measure(header)[what]).toBe(target);
  return header;
}

/** Opens a raw connection to a broker with queue 'q', sends `frame`, returns the answer (ERROR or otherwise) and whether the connection closed. */
async function sendOne(frame: Buffer): Promise<{ answer: Frame; closed: boolean }> {
  tb ??= await startTestBroker();
  const c = await RawClient.open(tb.port);
  clients.push(c);
  c.send({ type: FrameType.QUEUE_DECLARE, requestId: 99, queue: 'q', options: {} } as Frame);
  expect(await c.next()).toMatchObject({ type: FrameType.OK, requestId: 99 });
  c.write(frame);
  const answer = await c.next();
  if (answer.type === FrameType.ERROR && (answer as ErrorFrame).code === ErrorCodes.FRAME_ERROR) await c.closedPromise;
  // A request after it: answered unless the connection was closed.
  if (!c.closed) {
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 100, queue: 'q', options: { passive: true } } as Frame);
    expect(await c.next()).toMatchObject({ type: FrameType.OK, requestId: 100 });
  }
  return { answer, closed: c.closed };
}

function expectAccepted(r: { answer: Frame; closed: boolean }): void {
  // Applied or refused for its meaning (no such stream, ...), never as a malformed frame.
  expect((r.answer as Partial<ErrorFrame>).code).not.toBe(ErrorCodes.FRAME_ERROR);
  expect(r.closed).toBe(false);
}

function expectFrameError(r: { answer: Frame; closed: boolean }, message: RegExp): void {
  expect(r.answer).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.FRAME_ERROR });
  expect((r.answer as ErrorFrame).message).toMatch(message);
  expect(r.closed).toBe(true);
}

describe.each(FRAMES)('$name', (f) => {
  const frame = (header: unknown[]): Buffer => rawFrame(f.type, header, f.body === true ? Buffer.from('b') : undefined);

  it.each(['map', 'array'] as const)('nested in %ss: 64 levels are accepted, 65 are FRAME_ERROR', async (shape) => {
    expectAccepted(await sendOne(frame(headerAt(f, 'levels', shape, MAX_LEVELS))));
    expectFrameError(await sendOne(frame(headerAt(f, 'levels', shape, MAX_LEVELS + 1))), /nested more than 64 levels/);
  });

  it.each(['map', 'array'] as const)('a %s of values: 65536 in the header are accepted, 65537 are FRAME_ERROR', async (shape) => {
    expectAccepted(await sendOne(frame(headerAt(f, 'values', shape, MAX_VALUES))));
    expectFrameError(await sendOne(frame(headerAt(f, 'values', shape, MAX_VALUES + 1))), /more than 65536 values/);
  });
});

describe('OPEN (client properties, before authentication)', () => {
  const open = (props: unknown): Buffer => rawFrame(FrameType.OPEN, [1, props, { mechanism: 'PLAIN', username: 'guest', password: 'guest' }, 0, 0]);
  const headerOf = (shape: Shape, levels: number): unknown => {
    const base = measure([1, { x: nested(shape, 0) }, { mechanism: 'PLAIN', username: 'guest', password: 'guest' }, 0, 0]).levels;
    return { x: nested(shape, levels - base) };
  };

  it.each(['map', 'array'] as const)('properties nested in %ss: 64 levels open the connection, 65 are FRAME_ERROR', async (shape) => {
    tb = await startTestBroker();
    for (const [levels, ok] of [
      [MAX_LEVELS, true],
      [MAX_LEVELS + 1, false],
    ] as const) {
      const c = await RawClient.connect(tb.port);
      clients.push(c);
      c.write(open(headerOf(shape, levels)));
      const answer = await c.next();
      if (ok) expect(answer.type).toBe(FrameType.OPEN_OK);
      else expect(answer).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.FRAME_ERROR });
    }
  });
});

describe('what the broker sends back of headers at the bound', () => {
  // protocol-spec 3: server frames nest up to two levels deeper than what the server accepted (66).
  it('lists carry declare and bind arguments at the 64-level bound at most 66 levels deep', async () => {
    tb = await startTestBroker();
    const c = await RawClient.open(tb.port);
    clients.push(c);
    const requests = [
      headerAt(FRAMES[1]!, 'levels', 'map', MAX_LEVELS),
      headerAt(FRAMES[2]!, 'levels', 'map', MAX_LEVELS),
      [2, 'q', {}],
      headerAt(FRAMES[3]!, 'levels', 'map', MAX_LEVELS),
      headerAt(FRAMES[4]!, 'levels', 'map', MAX_LEVELS),
    ];
    const types = [FrameType.EXCHANGE_DECLARE, FrameType.QUEUE_DECLARE, FrameType.QUEUE_DECLARE, FrameType.QUEUE_BIND, FrameType.EXCHANGE_BIND];
    for (const [i, header] of requests.entries()) {
      header[0] = 10 + i;
      c.write(rawFrame(types[i]!, header));
      expect(await c.next()).toMatchObject({ type: FrameType.OK, requestId: 10 + i });
    }
    const depths: number[] = [];
    for (const [i, type] of [FrameType.QUEUE_LIST, FrameType.EXCHANGE_LIST, FrameType.BINDING_LIST].entries()) {
      c.write(rawFrame(type, [20 + i]));
      const ok = (await c.next()) as Frame & { requestId: number; result: unknown };
      expect(ok).toMatchObject({ type: FrameType.OK, requestId: 20 + i });
      depths.push(measure([ok.requestId, ok.result]).levels);
    }
    expect(depths).toEqual([65, 65, 66]);
  });
});

describe('a stored message the broker cannot encode for delivery', () => {
  // Written before the nesting bound (or by a path that skipped it): its DELIVER cannot be encoded.
  // Such a message used to close every consumer it was offered to; now it is dropped, with a warning.
  it('is dropped with a warning; the consumer (or getter) stays and gets the next message', async () => {
    tb = await startTestBroker();
    const c = await connect(tb.url);
    try {
      await c.declareQueue('q');
      const vhost = tb.broker.vhosts.get('/')!;
      let deep: unknown = 1;
      for (let i = 0; i < 100_000; i++) deep = { a: deep };
      const frame = { type: FrameType.PUBLISH, seq: 0, exchange: '', routingKey: 'q', flags: 0, properties: { headers: { deep } }, body: Buffer.from('poison') };
      publish(frame as never, { vhost, stored: () => {} });
      await c.publish('', 'q', 'fine');
      const got: string[] = [];
      let received!: () => void;
      const done = new Promise<void>((resolve) => (received = resolve));
      const consumer = await c.consume('q', (m) => {
        got.push(m.body.toString());
        received();
      }, { noAck: true });
      await done;
      await consumer.cancel();
      expect(got).toEqual(['fine']);
      expect(vhost.queues.get('q')!.messageCount).toBe(0);
      expect(vhost.counters.undeliverable).toBe(1);
      // The same through GET: the next message is answered, the connection stays.
      publish(frame as never, { vhost, stored: () => {} });
      await c.publish('', 'q', 'fine again');
      expect((await c.get('q', { noAck: true }))?.body.toString()).toBe('fine again');
      expect(vhost.counters.undeliverable).toBe(2);
      await c.declareQueue('still-up');
    } finally {
      await c.close();
    }
  });
});
