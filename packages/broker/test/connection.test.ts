import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  FrameType,
  PROTOCOL_VERSION,
  PublishFlags,
  encodeFrame,
  type ErrorFrame,
  type Frame,
  type GetOkFrame,
  type MessageProperties,
  type OkFrame,
  type PublishFrame,
  type ReturnFrame,
} from '@warren/protocol';
import { connect } from '@warren/client';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RawClient } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { SCRYPT_CONCURRENCY, UserStore, hashPassword, sourceOf, verifyPassword } from '../src/auth.js';
import { resolveOptions } from '../src/options.js';
import { MAX_PENDING_REQUESTS } from '../src/connection.js';
import type { Handler, HandlerEntry } from '../src/dispatch.js';

let tb: TestBroker | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await tb?.stop();
  tb = undefined;
});

/** What a publish of the review's one-write test should get (connection reads). */
type Kind = 'routed' | 'returned' | 'badProperty' | 'noExchange';

async function raw(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}
async function open(port: number, o?: Parameters<typeof RawClient.open>[1]): Promise<RawClient> {
  const c = await RawClient.open(port, o);
  clients.push(c);
  return c;
}

function openFrame(username: string, password: string, version = PROTOCOL_VERSION) {
  return {
    type: FrameType.OPEN,
    version,
    properties: {},
    credentials: { mechanism: 'PLAIN' as const, username, password },
    frameMax: 0,
    heartbeatMs: 0,
  };
}

/** Asserts an ERROR (requestId 0) with this code, then CLOSE, then the socket closes. */
async function expectClosedWith(c: RawClient, code: number): Promise<void> {
  const err = (await c.next(FrameType.ERROR)) as ErrorFrame;
  expect(err.requestId).toBe(0);
  expect(err.code).toBe(code);
  const close = await c.next(FrameType.CLOSE);
  expect(close).toMatchObject({ code });
  await c.closedPromise;
}

describe('handshake', () => {
  it('opens with guest and negotiates frame max and heartbeat', async () => {
    tb = await startTestBroker({ heartbeatMs: 5000, frameMax: 1024 * 1024 });
    const c = await raw(tb.port);
    c.send({ ...openFrame('guest', 'guest'), frameMax: 8 * 1024 * 1024, heartbeatMs: 10_000 });
    const ok = await c.next();
    expect(ok).toMatchObject({ type: FrameType.OPEN_OK, version: PROTOCOL_VERSION, frameMax: 1024 * 1024, heartbeatMs: 5000 });
    expect((ok as { properties: Record<string, unknown> }).properties['product']).toBe('warren');
  });

  it('refuses a wrong password with ACCESS_REFUSED and closes', async () => {
    tb = await startTestBroker();
    const c = await raw(tb.port);
    c.send(openFrame('guest', 'nope'));
    await expectClosedWith(c, ErrorCodes.ACCESS_REFUSED);
  });

  it('refuses an unknown user', async () => {
    tb = await startTestBroker();
    const c = await raw(tb.port);
    c.send(openFrame('mallory', 'guest'));
    await expectClosedWith(c, ErrorCodes.ACCESS_REFUSED);
  });

  it('accepts configured users with scrypt hashes and plain passwords', async () => {
    tb = await startTestBroker({ users: [{ username: 'alice', passwordHash: await hashPassword('s3cret') }, { username: 'bob', password: 'pw' }] });
    await open(tb.port, { username: 'alice', password: 's3cret' });
    await open(tb.port, { username: 'bob', password: 'pw' });
    // guest is not created when users are configured
    const c = await raw(tb.port);
    c.send(openFrame('guest', 'guest'));
    await expectClosedWith(c, ErrorCodes.ACCESS_REFUSED);
  });

  it('rejects an unsupported protocol version', async () => {
    tb = await startTestBroker();
    const c = await raw(tb.port);
    c.send(openFrame('guest', 'guest', 99));
    await expectClosedWith(c, ErrorCodes.UNSUPPORTED_VERSION);
  });

  it('closes with COMMAND_INVALID when the first frame is not OPEN', async () => {
    tb = await startTestBroker();
    const c = await raw(tb.port);
    c.send({ type: FrameType.QUEUE_PURGE, requestId: 1, queue: 'q' });
    await expectClosedWith(c, ErrorCodes.COMMAND_INVALID);
  });

  it('closes a client that never completes the handshake', async () => {
    tb = await startTestBroker({ handshakeTimeoutMs: 100 });
    const c = await raw(tb.port);
    await expectClosedWith(c, ErrorCodes.TIMEOUT);
  });

  it('refuses connections over the limit with RESOURCE_LIMIT', async () => {
    tb = await startTestBroker({ maxConnections: 1 });
    await open(tb.port);
    const c = await raw(tb.port);
    await expectClosedWith(c, ErrorCodes.RESOURCE_LIMIT);
  });
});

describe('guest from a remote address', () => {
  it('is refused unless allowed', async () => {
    const store = await UserStore.create([], { defaultGuest: true, allowGuestRemote: false });
    expect(await store.authenticate('guest', 'guest', '127.0.0.1')).toEqual({ ok: true });
    expect(await store.authenticate('guest', 'guest', '::ffff:127.0.0.1')).toEqual({ ok: true });
    expect(await store.authenticate('guest', 'guest', '::1')).toEqual({ ok: true });
    const remote = await store.authenticate('guest', 'guest', '10.1.2.3');
    expect(remote.ok).toBe(false);
    const permissive = await UserStore.create([], { defaultGuest: true, allowGuestRemote: true });
    expect(await permissive.authenticate('guest', 'guest', '10.1.2.3')).toEqual({ ok: true });
  });

  it('hashes passwords with scrypt and verifies them', async () => {
    const hash = await hashPassword('pw');
    expect(hash.startsWith('scrypt$')).toBe(true);
    expect(await verifyPassword('pw', hash)).toBe(true);
    expect(await verifyPassword('px', hash)).toBe(false);
  });
});

describe('password checks', () => {
  it('run scrypt once for a verified password, and once for identical logins in flight', async () => {
    const store = await UserStore.create([{ username: 'alice', password: 'right' }], { defaultGuest: false, allowGuestRemote: false });
    const burst = await Promise.all(Array.from({ length: 20 }, () => store.authenticate('alice', 'right', '127.0.0.1')));
    expect(burst.every((r) => r.ok)).toBe(true);
    expect(store.scryptChecks).toBe(1);
    expect(await store.authenticate('alice', 'right', '127.0.0.1')).toEqual({ ok: true });
    expect(store.scryptChecks).toBe(1);
  });

  it('never accept a wrong password, another user or an unknown user from the cache', async () => {
    const store = await UserStore.create(
      [
        { username: 'alice', password: 'a-pass' },
        { username: 'bob', password: 'b-pass' },
      ],
      { defaultGuest: false, allowGuestRemote: false },
    );
    expect((await store.authenticate('alice', 'a-pass', '127.0.0.1')).ok).toBe(true);
    expect((await store.authenticate('alice', 'wrong', '127.0.0.1')).ok).toBe(false);
    expect((await store.authenticate('bob', 'a-pass', '127.0.0.1')).ok).toBe(false);
    expect((await store.authenticate('carol', 'a-pass', '127.0.0.1')).ok).toBe(false);
    // Each refusal ran scrypt (nothing refused is cached); alice's password still works without it.
    expect(store.scryptChecks).toBe(4);
    expect((await store.authenticate('alice', 'a-pass', '127.0.0.1')).ok).toBe(true);
    expect((await store.authenticate('bob', 'b-pass', '127.0.0.1')).ok).toBe(true);
    expect(store.scryptChecks).toBe(5);
  });

  it('tell a refused client every possible cause in one same sentence, and guest where it may log in from', async () => {
    const store = await UserStore.create([{ username: 'alice', password: 'a-pass' }], { defaultGuest: true, allowGuestRemote: false });
    const refused = async (user: string, password: string, from: string) => {
      const r = await store.authenticate(user, password, from);
      return r.ok ? 'accepted' : { reason: r.reason, logReason: r.logReason };
    };
    const wrong = await refused('alice', 'nope', '127.0.0.1');
    const unknown = await refused('carol', 'a-pass', '127.0.0.1');
    expect(wrong).toEqual({ reason: "login refused for user 'alice': unknown user, wrong password, or a vhost or address it may not use (the broker's log says which)", logReason: 'wrong password' });
    expect(unknown).toMatchObject({ reason: (wrong as { reason: string }).reason.replace('alice', 'carol'), logReason: 'unknown user' });
    const guestRemote = await refused('guest', 'guest', '10.1.2.3');
    const guestWrong = await refused('guest', 'nope', '127.0.0.1');
    expect(guestRemote).toMatchObject({ reason: expect.stringContaining("guest logs in only from the broker's own machine (loopback) unless the broker runs with --allow-guest-remote") });
    expect((guestWrong as { reason: string }).reason).toBe((guestRemote as { reason: string }).reason);
  });

  it('run at most SCRYPT_CONCURRENCY scrypt checks at once', async () => {
    const store = await UserStore.create([{ username: 'alice', password: 'right' }], { defaultGuest: false, allowGuestRemote: false });
    // From three addresses: one address may have only a few checks pending (LoginGate).
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => store.authenticate('alice', `wrong-${i}`, `127.0.0.${1 + (i % 3)}`)));
    expect(results.some((r) => r.ok)).toBe(false);
    expect(store.scryptChecks).toBe(6);
    expect(store.peakConcurrentChecks).toBe(SCRYPT_CONCURRENCY);
  });

  it('let a burst of connections with the same credentials in on one scrypt', async () => {
    tb = await startTestBroker();
    const before = tb.broker.users.scryptChecks;
    await Promise.all(Array.from({ length: 30 }, () => open(tb!.port)));
    expect(tb.broker.users.scryptChecks - before).toBe(1);
  });
});

describe('protocol violations', () => {
  it('answers a malformed frame with FRAME_ERROR and closes, other clients unaffected', async () => {
    tb = await startTestBroker();
    const bystander = await open(tb.port);
    const c = await open(tb.port);
    // size 6: type 0x12, header_size 1, header byte 0xc1 (never used in msgpack)
    c.write(Buffer.from([0, 0, 0, 6, 0x12, 0, 0, 0, 1, 0xc1]));
    await expectClosedWith(c, ErrorCodes.FRAME_ERROR);
    bystander.send({ type: FrameType.QUEUE_DECLARE, requestId: 7, queue: 'still-alive', options: {} });
    expect(await bystander.next()).toMatchObject({ type: FrameType.OK, requestId: 7 });
  });

  it('answers an oversized frame before authentication with FRAME_TOO_LARGE', async () => {
    tb = await startTestBroker();
    const c = await raw(tb.port);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(1024 * 1024);
    c.write(prefix);
    await expectClosedWith(c, ErrorCodes.FRAME_TOO_LARGE);
  });

  it('answers a frame above the negotiated maximum with FRAME_TOO_LARGE', async () => {
    tb = await startTestBroker({ frameMax: 64 * 1024 });
    const c = await open(tb.port);
    const frame = encodeFrame({
      type: FrameType.PUBLISH,
      seq: 1,
      exchange: '',
      routingKey: 'q',
      flags: 0,
      properties: null,
      body: Buffer.alloc(100 * 1024),
    });
    c.write(frame);
    await expectClosedWith(c, ErrorCodes.FRAME_TOO_LARGE);
  });

  it('closes on a publish sequence number out of order', async () => {
    tb = await startTestBroker();
    const c = await open(tb.port);
    c.send({ type: FrameType.PUBLISH, seq: 5, exchange: '', routingKey: 'q', flags: 0, properties: null, body: Buffer.from('x') });
    await expectClosedWith(c, ErrorCodes.COMMAND_INVALID);
  });
});

describe('requests', () => {
  it('a failed request answers with its id and leaves the connection open', async () => {
    tb = await startTestBroker();
    const c = await open(tb.port);
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 3, queue: 'missing', options: { passive: true } });
    const err = (await c.next()) as ErrorFrame;
    expect(err).toMatchObject({ type: FrameType.ERROR, requestId: 3, code: ErrorCodes.NOT_FOUND, name: 'NOT_FOUND' });
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 4, queue: 'present', options: {} });
    const ok = (await c.next()) as OkFrame;
    expect(ok).toMatchObject({ type: FrameType.OK, requestId: 4, result: { queue: 'present', messageCount: 0, consumerCount: 0 } });
  });

  it('an ack with an unknown delivery tag gets PRECONDITION_FAILED and the connection stays open', async () => {
    tb = await startTestBroker();
    const c = await open(tb.port);
    c.send({ type: FrameType.ACK, deliveryTag: 42, multiple: false });
    const err = (await c.next()) as ErrorFrame;
    expect(err).toMatchObject({ type: FrameType.ERROR, requestId: 0, code: ErrorCodes.PRECONDITION_FAILED });
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 1, queue: '', options: {} });
    expect(await c.next()).toMatchObject({ type: FrameType.OK, requestId: 1 });
  });
});

describe('heartbeats', () => {
  it('sends heartbeats to an idle client', async () => {
    tb = await startTestBroker({ heartbeatMs: 100 });
    const c = await open(tb.port, { heartbeatMs: 100 });
    const hb = await c.next(FrameType.HEARTBEAT);
    expect(hb.type).toBe(FrameType.HEARTBEAT);
    c.close();
  });

  it('drops a silent peer with TIMEOUT', async () => {
    tb = await startTestBroker({ heartbeatMs: 100 });
    const c = await open(tb.port, { heartbeatMs: 100 });
    await expectClosedWith(c, ErrorCodes.TIMEOUT);
  });

  it('keeps a peer that sends heartbeats', async () => {
    tb = await startTestBroker({ heartbeatMs: 100 });
    const c = await open(tb.port, { heartbeatMs: 100 });
    const timer = setInterval(() => c.send({ type: FrameType.HEARTBEAT }), 40);
    await new Promise((r) => setTimeout(r, 600));
    clearInterval(timer);
    expect(c.closed).toBe(false);
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 9, queue: '', options: {} });
    expect(await c.next()).toMatchObject({ type: FrameType.OK, requestId: 9 });
  });
});

describe('data folder', () => {
  it('refuses a second broker on the same data folder with RESOURCE_LOCKED', async () => {
    tb = await startTestBroker();
    const { startBroker } = await import('@warren/broker');
    await expect(startBroker({ port: 0, host: '127.0.0.1', dataDir: tb.dataDir, logLevel: 'silent' })).rejects.toMatchObject({
      code: ErrorCodes.RESOURCE_LOCKED,
    });
  });
});

describe('socket reads', () => {
  it('accepted sockets read into arenas, and large and small bodies split across reads arrive intact', async () => {
    tb = await startTestBroker();
    const c = await open(tb.port);
    const conns = (tb.broker as unknown as { connections: Set<{ readsIntoArenas: boolean }> }).connections;
    expect([...conns].map((x) => x.readsIntoArenas)).toEqual([true]);
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 1, queue: 'q', options: {} });
    await c.next(FrameType.OK);
    const bodies = [300_000, 10, 70_000, 5000, 1_000_000].map((n, i) => Buffer.alloc(n, i + 1));
    // One write, so the broker sees the frames in whatever pieces the kernel makes.
    c.write(Buffer.concat(bodies.map((body, i) => encodeFrame({ type: FrameType.PUBLISH, seq: i + 1, exchange: '', routingKey: 'q', flags: 0, properties: null, body }))));
    for (let i = 0; i < bodies.length; i++) {
      c.send({ type: FrameType.GET, requestId: 10 + i, queue: 'q', options: { noAck: true } });
      const got = (await c.next(FrameType.GET_OK)) as { body: Buffer };
      expect(got.body.equals(bodies[i]!)).toBe(true);
    }
  });
  it('publishes with distinct fields in one write keep each its own exchange, routing key, properties and body (the decoder reuses one PUBLISH frame)', async () => {
    tb = await startTestBroker();
    const c = await open(tb.port);
    const conns = (tb.broker as unknown as { connections: Set<{ fs: { decoder: { reusePublishFrame: boolean } } }> }).connections;
    // Reused in production; under the test suite's WARREN_FRAME_GUARD, fresh and poisoned after the handler.
    expect([...conns].map((x) => x.fs.decoder.reusePublishFrame)).toEqual([true]);
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 1, queue: 'q', options: {} });
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 2, queue: 't', options: {} });
    c.send({ type: FrameType.EXCHANGE_DECLARE, requestId: 3, exchange: 'topics', exchangeType: 'topic', options: {} });
    c.send({ type: FrameType.QUEUE_BIND, requestId: 4, queue: 't', exchange: 'topics', routingKey: '#', arguments: null });
    for (let i = 0; i < 4; i++) await c.next(FrameType.OK);
    const n = 600;
    const sent: PublishFrame[] = [];
    for (let i = 0; i < n; i++) {
      const toTopic = i % 3 === 2;
      sent.push({
        type: FrameType.PUBLISH,
        seq: i + 1,
        exchange: toTopic ? 'topics' : '',
        routingKey: toTopic ? (i % 2 === 0 ? 'same.key' : `k.${i}`) : 'q',
        flags: 0,
        properties: i % 4 === 0 ? null : { messageId: `m-${i}`, priority: i % 10, contentType: i % 2 === 0 ? 'a/b' : 'c/d' },
        body: Buffer.alloc(1 + ((i * 53) % 700), i & 0xff),
      });
    }
    // One write: the broker decodes runs of these frames out of each read.
    c.write(Buffer.concat(sent.map((f) => encodeFrame(f))));
    const byQueue = { q: sent.filter((f) => f.exchange === ''), t: sent.filter((f) => f.exchange === 'topics') };
    let requestId = 100;
    for (const [queue, want] of Object.entries(byQueue)) {
      for (const w of want) {
        c.send({ type: FrameType.GET, requestId: requestId++, queue, options: { noAck: true } });
        const got = (await c.next(FrameType.GET_OK)) as GetOkFrame;
        expect({ exchange: got.exchange, routingKey: got.routingKey, properties: got.properties }).toEqual({
          exchange: w.exchange,
          routingKey: w.routingKey,
          properties: w.properties,
        });
        expect(got.body.equals(w.body)).toBe(true);
      }
    }
  });
  // Review of transient3: the paths that read a publish's fields after routing or refusing it (mandatory
  // RETURN, nacks for an invalid property or an unknown exchange), and general-path frames (nested
  // headers) between fast ones, all decoded out of one read while the reused frame is rewritten.
  it('returns, nacks and routes interleaved publishes of one write with each its own fields', async () => {
    tb = await startTestBroker();
    const c = await open(tb.port);
    c.send({ type: FrameType.QUEUE_DECLARE, requestId: 1, queue: 'q', options: {} });
    await c.next(FrameType.OK);
    const n = 400;
    const sent: Array<{ frame: PublishFrame; kind: Kind }> = [];
    for (let i = 0; i < n; i++) {
      const kind: Kind = (['routed', 'returned', 'routed', 'badProperty', 'returned', 'noExchange'] as const)[i % 6]!;
      let properties: MessageProperties | null =
        i % 5 === 0 ? null : i % 5 === 1 ? { headers: { nested: { i } }, messageId: `n-${i}` } : { messageId: `m-${i}`, priority: i % 10 };
      if (kind === 'badProperty') properties = { priority: 'high' } as unknown as MessageProperties;
      sent.push({
        kind,
        frame: {
          type: FrameType.PUBLISH,
          seq: i + 1,
          exchange: kind === 'noExchange' ? `missing-${i}` : '',
          routingKey: kind === 'routed' ? 'q' : `nowhere.${i}`,
          flags: kind === 'returned' ? PublishFlags.MANDATORY : 0,
          properties,
          body: Buffer.alloc(1 + ((i * 41) % 900), i & 0xff),
        },
      });
    }
    c.write(Buffer.concat(sent.map((s) => encodeFrame(s.frame))));

    const settled = new Map<number, 'confirm' | 'nack'>();
    const returns = new Map<number, ReturnFrame>();
    while (settled.size < n) {
      const f = await c.next();
      if (f.type === FrameType.CONFIRM) {
        const seqs = f.multiple ? sent.map((s) => s.frame.seq).filter((s) => s <= f.seq && !settled.has(s)) : [f.seq];
        for (const s of seqs) settled.set(s, 'confirm');
      } else if (f.type === FrameType.PUBLISH_NACK) settled.set(f.seq, 'nack');
      else if (f.type === FrameType.RETURN) returns.set(f.seq, f);
    }
    for (const { frame: w, kind } of sent) {
      const want = kind === 'badProperty' || kind === 'noExchange' ? 'nack' : 'confirm';
      expect([w.seq, settled.get(w.seq)]).toEqual([w.seq, want]);
      if (kind !== 'returned') {
        expect(returns.has(w.seq)).toBe(false);
        continue;
      }
      const r = returns.get(w.seq)!;
      expect({ exchange: r.exchange, routingKey: r.routingKey, properties: r.properties }).toEqual({
        exchange: w.exchange,
        routingKey: w.routingKey,
        properties: w.properties,
      });
      expect(r.body.equals(w.body)).toBe(true);
    }
    let requestId = 100;
    for (const { frame: w } of sent.filter((s) => s.kind === 'routed')) {
      c.send({ type: FrameType.GET, requestId: requestId++, queue: 'q', options: { noAck: true } });
      const got = (await c.next(FrameType.GET_OK)) as GetOkFrame;
      expect({ routingKey: got.routingKey, properties: got.properties }).toEqual({ routingKey: w.routingKey, properties: w.properties });
      expect(got.body.equals(w.body)).toBe(true);
    }
  });
});

// -- limits of one connection and one address (the audit's open items, 2026-12-04) --

let nextId = 1;
/** Sends a request and returns its answer (OK or ERROR with its id). */
async function request(c: RawClient, frame: Record<string, unknown>): Promise<OkFrame | ErrorFrame> {
  const requestId = nextId++;
  c.send({ ...frame, requestId } as unknown as Frame);
  for (;;) {
    const f = await c.next();
    if ((f.type === FrameType.OK || f.type === FrameType.ERROR) && (f as OkFrame).requestId === requestId) return f as OkFrame | ErrorFrame;
  }
}

const consume = (queue: string, consumerTag?: string) => ({ type: FrameType.CONSUME, queue, options: consumerTag === undefined ? {} : { consumerTag } });
const watch = (bucket: string) => ({ type: FrameType.KV_WATCH, bucket, filter: null, options: {} });
const subscribe = (stream: string) => ({ type: FrameType.STREAM_SUBSCRIBE, stream, options: { offset: 'first' } });

describe('consumers per connection', () => {
  it('defaults to 4096 and takes 0 as no limit', () => {
    expect(resolveOptions({}).maxConsumersPerConnection).toBe(4096);
    expect(resolveOptions({ maxConsumersPerConnection: 0 }).maxConsumersPerConnection).toBe(Infinity);
    expect(() => resolveOptions({ maxConsumersPerConnection: -1 })).toThrow(/non-negative integer/);
    expect(resolveOptions({}).maxPendingConnectionsPerAddress).toBe(64);
  });

  it('refuses the consumer past the limit with RESOURCE_LIMIT; the connection goes on, and a cancel makes room', async () => {
    tb = await startTestBroker({ maxConsumersPerConnection: 3 });
    const setup = await connect(tb.url);
    await setup.declareQueue('q');
    await setup.close();
    const c = await open(tb.port);
    for (const tag of ['a', 'b', 'c']) expect((await request(c, consume('q', tag))).type).toBe(FrameType.OK);
    const refused = (await request(c, consume('q', 'd'))) as ErrorFrame;
    expect(refused).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.RESOURCE_LIMIT, name: 'RESOURCE_LIMIT' });
    expect(refused.message).toMatch(/limit of 3 consumers/);
    // The connection is still open and answers other requests.
    expect((await request(c, { type: FrameType.QUEUE_DECLARE, queue: 'q2', options: {} })).type).toBe(FrameType.OK);
    expect((await request(c, { type: FrameType.CANCEL, consumerTag: 'b' })).type).toBe(FrameType.OK);
    expect((await request(c, consume('q', 'd'))).type).toBe(FrameType.OK);
    expect((await request(c, consume('q2'))).type).toBe(FrameType.ERROR);
    // Another connection has its own count.
    const other = await open(tb.port);
    expect((await request(other, consume('q'))).type).toBe(FrameType.OK);
  });

  it('counts key-value watches and stream subscriptions with the consumers', async () => {
    tb = await startTestBroker({ maxConsumersPerConnection: 3 });
    const setup = await connect(tb.url);
    await setup.declareQueue('q');
    await setup.declareQueue('s', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    await setup.kv('b');
    await setup.close();
    const c = await open(tb.port);
    expect((await request(c, consume('q'))).type).toBe(FrameType.OK);
    expect((await request(c, watch('b'))).type).toBe(FrameType.OK);
    expect((await request(c, subscribe('s'))).type).toBe(FrameType.OK);
    for (const f of [consume('q'), watch('b'), subscribe('s')]) {
      expect(await request(c, f)).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.RESOURCE_LIMIT });
    }
    // Ending a watch makes room for a stream subscription.
    expect((await request(c, { type: FrameType.KV_UNWATCH, watchId: 1 })).type).toBe(FrameType.OK);
    expect((await request(c, subscribe('s'))).type).toBe(FrameType.OK);
    expect(await request(c, watch('b'))).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.RESOURCE_LIMIT });
  });
});

describe('consumers per connection: places come back', () => {
  it('a consumer cancelled by its queue\'s deletion, a stream subscription by its stream\'s, a watch by its bucket\'s', async () => {
    tb = await startTestBroker({ maxConsumersPerConnection: 1 });
    const admin = await connect(tb.url);
    const c = await open(tb.port);
    const full = async (): Promise<void> => {
      await admin.declareQueue('spare');
      expect(await request(c, consume('spare'))).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.RESOURCE_LIMIT });
    };
    await admin.declareQueue('q');
    expect((await request(c, consume('q'))).type).toBe(FrameType.OK);
    await full();
    await admin.deleteQueue('q');
    await c.next(FrameType.CANCELLED);
    await admin.declareStream('s');
    expect((await request(c, subscribe('s'))).type).toBe(FrameType.OK);
    await full();
    await admin.deleteStream('s');
    await c.next(FrameType.STREAM_CANCELLED);
    await admin.kv('b');
    expect((await request(c, watch('b'))).type).toBe(FrameType.OK);
    await full();
    await admin.deleteKv('b');
    await c.next(FrameType.KV_WATCH_END);
    expect((await request(c, consume('spare'))).type).toBe(FrameType.OK);
    await admin.close();
  });

  it('a stream subscription whose start cannot be found (a read error) is refused and leaves nothing behind', async () => {
    tb = await startTestBroker({ maxConsumersPerConnection: 1 });
    const admin = await connect(tb.url);
    await admin.declareStream('s');
    await admin.publish('', 's', 'one');
    await admin.close();
    const streams = tb.broker.vhosts.get('/')!.streams!;
    const log = (streams as unknown as { open: Map<string, { log: { offsetAtTime(ts: number): Promise<number> } }> }).open.get('s')!.log;
    log.offsetAtTime = () => Promise.reject(new Error('EIO: the segment could not be read'));
    const c = await open(tb.port);
    expect((await request(c, { type: FrameType.STREAM_SUBSCRIBE, stream: 's', options: { timestamp: 1 } })).type).toBe(FrameType.ERROR);
    const conn = [...tb.broker.openConnections][0]!;
    expect(streams.subscriptionCount(conn)).toBe(0);
    expect((await request(c, subscribe('s'))).type).toBe(FrameType.OK);
  });

  it('1,000 consume / cancel rounds on a connection with room for one: never refused', async () => {
    tb = await startTestBroker({ maxConsumersPerConnection: 1 });
    const admin = await connect(tb.url);
    await admin.declareQueue('q');
    await admin.close();
    const c = await open(tb.port);
    for (let i = 0; i < 1000; i++) {
      expect((await request(c, consume('q', `t${i}`))).type).toBe(FrameType.OK);
      expect((await request(c, { type: FrameType.CANCEL, consumerTag: `t${i}` })).type).toBe(FrameType.OK);
    }
  });
});

describe('requests pending per connection', () => {
  it('stops reading a connection with MAX_PENDING_REQUESTS unanswered, until half are answered', async () => {
    tb = await startTestBroker();
    // STATUS answers when the test says so (as a slow disk would).
    const entry = tb.broker.handlers.get(FrameType.STATUS) as HandlerEntry;
    const release: Array<() => void> = [];
    (entry as { handle: Handler }).handle = () => new Promise<unknown>((resolve) => release.push(() => resolve({})));
    const c = await open(tb.port);
    const conn = [...tb.broker.openConnections][0] as unknown as { fs: { isPausedFor(reason: string): boolean } };
    for (let i = 1; i <= MAX_PENDING_REQUESTS; i++) c.send({ type: FrameType.STATUS, requestId: i } as Frame);
    await waitFor(() => release.length === MAX_PENDING_REQUESTS);
    expect(conn.fs.isPausedFor('requests')).toBe(true);
    // Answering half of them lets it read again; every request is answered in the end.
    for (const r of release.splice(0, MAX_PENDING_REQUESTS / 2 - 1)) r();
    await waitFor(() => c.frames.length === MAX_PENDING_REQUESTS / 2 - 1);
    expect(conn.fs.isPausedFor('requests')).toBe(true);
    release.shift()!();
    await waitFor(() => c.frames.length === MAX_PENDING_REQUESTS / 2);
    expect(conn.fs.isPausedFor('requests')).toBe(false);
    c.send({ type: FrameType.STATUS, requestId: MAX_PENDING_REQUESTS + 1 } as Frame);
    await waitFor(() => release.length === MAX_PENDING_REQUESTS / 2 + 1);
    for (const r of release.splice(0)) r();
    await waitFor(() => c.frames.length === MAX_PENDING_REQUESTS + 1);
    expect(c.frames.every((f) => f.type === FrameType.OK)).toBe(true);
  });
});

describe('connections not logged in yet, per address', () => {
  /** A socket that sends nothing: it waits in the handshake. */
  const idle = raw;
  function logIn(c: RawClient): Promise<Frame> {
    c.send(openFrame('guest', 'guest'));
    return c.next();
  }

  it('refuses one more at once with RESOURCE_LIMIT; logged-in connections do not count', async () => {
    tb = await startTestBroker({ maxPendingConnectionsPerAddress: 3 });
    const waiting = [await idle(tb.port), await idle(tb.port), await idle(tb.port)];
    const fourth = await idle(tb.port);
    expect(await fourth.next()).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.RESOURCE_LIMIT, name: 'RESOURCE_LIMIT' });
    await fourth.closedPromise;
    // The waiting ones log in: they no longer count, so three more may wait.
    for (const c of waiting) expect((await logIn(c)).type).toBe(FrameType.OPEN_OK);
    const again = [await idle(tb.port), await idle(tb.port), await idle(tb.port)];
    const refused = await idle(tb.port);
    expect((await refused.next()).type).toBe(FrameType.ERROR);
    // A closed waiting connection frees its place.
    again[0]!.close();
    await again[0]!.closedPromise;
    await waitFor(() => tb!.broker.openConnections.size === 5);
    const late = await idle(tb.port);
    expect((await logIn(late)).type).toBe(FrameType.OPEN_OK);
    // Every logged-in connection is still up.
    for (const c of waiting) expect(c.closed).toBe(false);
  });

  it('counts an IPv4 address as itself, mapped or not, and IPv6 by its /64', () => {
    expect(sourceOf('10.1.2.3')).toBe('10.1.2.3');
    expect(sourceOf('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(sourceOf('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(sourceOf('2001:db8:aa:bb:1:2:3:4')).toBe('2001:db8:aa:bb::/64');
    expect(sourceOf('2001:db8:aa:bb::9')).toBe('2001:db8:aa:bb::/64');
    expect(sourceOf('2001:0db8:00aa:00bb:ffff::')).toBe('2001:db8:aa:bb::/64');
    expect(sourceOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceOf('64:ff9b::10.1.2.3')).toBe('64:ff9b:0:0::/64');
    expect(sourceOf('::1')).toBe('0:0:0:0::/64');
    expect(sourceOf('::')).toBe('0:0:0:0::/64');
    expect(sourceOf('unknown')).toBe('unknown');
  });

  it('sockets from one IPv6 /64 share its places; the same IPv4 address mapped or not too', async () => {
    tb = await startTestBroker({ maxPendingConnectionsPerAddress: 1 });
    // Each socket the broker accepts next appears to come from the next of these addresses.
    const from = ['2001:db8:0:1::a', '2001:db8:0:1::b', '2001:db8:0:2::a', '10.9.8.7', '::ffff:10.9.8.7'];
    const server = (tb.broker as unknown as { server: import('node:net').Server }).server;
    server.prependListener('connection', (socket) => Object.defineProperty(socket, 'remoteAddress', { value: from.shift() }));
    /** Accepted: a connection from that address is open on the broker; refused: the client got ERROR. */
    const refusedOrAccepted = async (): Promise<'accepted' | 'refused'> => {
      const address = from[0];
      const c = await idle(tb!.port);
      const accepted = (): boolean => [...tb!.broker.openConnections].some((x) => x.remoteAddress === address);
      await waitFor(() => c.frames.length > 0 || accepted());
      return accepted() ? 'accepted' : 'refused';
    };
    expect(await refusedOrAccepted()).toBe('accepted'); // 2001:db8:0:1::a
    expect(await refusedOrAccepted()).toBe('refused'); // 2001:db8:0:1::b: same /64
    expect(await refusedOrAccepted()).toBe('accepted'); // 2001:db8:0:2::a: another /64
    expect(await refusedOrAccepted()).toBe('accepted'); // 10.9.8.7
    expect(await refusedOrAccepted()).toBe('refused'); // the same, IPv4-mapped
  });

  it('logs a burst of refusals once, not one line per refused socket', async () => {
    const { lines, sink } = logLines();
    tb = await startTestBroker({ maxPendingConnectionsPerAddress: 1, logger: pino({ level: 'warn' }, sink) });
    await idle(tb.port);
    for (let i = 0; i < 20; i++) {
      const c = await idle(tb.port);
      expect(await c.next()).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.RESOURCE_LIMIT });
    }
    // Well inside the 10 s between lines: the refusals above take milliseconds.
    const refusals = lines.filter((l) => String(l['msg']).includes('not logged in yet'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ source: '127.0.0.1', tls: false, max: 1, refusedUnlogged: 0 });
  });

  it('logs a burst of refusals at the global connection limit once, not one line per refused socket', async () => {
    const { lines, sink } = logLines();
    tb = await startTestBroker({ maxConnections: 1, logger: pino({ level: 'warn' }, sink) });
    const first = await idle(tb.port);
    await waitFor(() => tb!.broker.openConnections.size === 1 || first.closed);
    for (let i = 0; i < 20; i++) {
      const c = await idle(tb.port);
      expect(await c.next()).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.RESOURCE_LIMIT });
    }
    // Well inside the 10 s between lines: the refusals above take milliseconds.
    const refusals = lines.filter((l) => String(l['msg']).includes('limit reached'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ max: 1, refusedUnlogged: 0 });
  });

  it('every way a connection ends before logging in gives its place back', async () => {
    const pendingOf = (b: TestBroker): Map<string, number> => (b.broker as unknown as { pendingByAddress: Map<string, number> }).pendingByAddress;
    /** The one place is free: a new connection is accepted (counted), not refused; then it goes. */
    const placeIsFree = async (b: TestBroker): Promise<void> => {
      const pending = pendingOf(b);
      await waitFor(() => pending.size === 0);
      const c = await idle(b.port);
      await waitFor(() => pending.size === 1 || c.closed || c.frames.length > 0);
      expect(c.frames).toEqual([]);
      c.close();
      await c.closedPromise;
      await waitFor(() => pending.size === 0);
    };
    const ends = async (b: TestBroker, endings: Array<[string, (c: RawClient) => Promise<unknown>]>): Promise<void> => {
      for (const [what, end] of endings) {
        const c = await idle(b.port);
        await waitFor(() => pendingOf(b).size === 1);
        await end(c);
        await placeIsFree(b).catch((err: Error) => {
          throw new Error(`after ${what}: ${err.message}`);
        });
      }
    };
    tb = await startTestBroker({ maxPendingConnectionsPerAddress: 1 });
    await ends(tb, [
      ['wrong password', (c) => (c.send(openFrame('guest', 'nope')), expectClosedWith(c, ErrorCodes.ACCESS_REFUSED))],
      ['unsupported version', (c) => (c.send(openFrame('guest', 'guest', PROTOCOL_VERSION + 1)), c.closedPromise)],
      ['unknown vhost', (c) => (c.send({ ...openFrame('guest', 'guest'), vhost: 'nowhere' } as Frame), expectClosedWith(c, ErrorCodes.ACCESS_REFUSED))],
      ['a request before OPEN', (c) => (c.send({ type: FrameType.STATUS, requestId: 1 } as Frame), c.closedPromise)],
      ['bytes that are not a frame', (c) => (c.write(Buffer.alloc(64, 0xff)), c.closedPromise)],
      ['the client closing while its password is checked', async (c) => {
        c.send(openFrame('guest', 'nope'));
        c.close();
        await c.closedPromise;
      }],
      ['a reset socket', async (c) => {
        c.socket.resetAndDestroy();
        await c.closedPromise;
      }],
      ['logging in', async (c) => expect(await logIn(c)).toMatchObject({ type: FrameType.OPEN_OK })],
    ]);
    await tb.stop();
    tb = await startTestBroker({ maxPendingConnectionsPerAddress: 1, handshakeTimeoutMs: 100 });
    await ends(tb, [['the handshake timeout', (c) => expectClosedWith(c, ErrorCodes.TIMEOUT)]]);
  });
});

/** Polls a condition the broker reaches after a socket event (no timing assertion: only the order matters). */
async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

/** A pino destination that keeps each JSON line written to it, parsed. */
function logLines(): { lines: Array<Record<string, unknown>>; sink: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, sink };
}
