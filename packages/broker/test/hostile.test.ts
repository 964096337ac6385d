/**
 * A hostile client on the wire (the audit of 2026-12-04): inputs that a
 * broker must refuse without harming anyone else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, FrameType, type ErrorFrame } from '@warren/protocol';
import { connect, type Connection, type Message } from '@warren/client';
import { RawClient, drain } from './helpers.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { passwordHashProblem, verifyPassword, hashPassword } from '../src/auth.js';
import { ACCESS_FILE } from '../src/storage/access-store.js';

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
