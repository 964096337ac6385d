/** Queue policies end to end: TTL, dead-lettering, limits, priorities, delays, SAC, ack timeout, expiry. */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection, type Message, type QueueArguments } from '@warren/client';
import { ErrorCodes } from '@warren/protocol';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { drain } from './helpers.js';

let tb: TestBroker | undefined;
let conn: Connection | undefined;
afterEach(async () => {
  await conn?.close().catch(() => {});
  await tb?.stop();
  conn = undefined;
  tb = undefined;
});

async function setup(options: Parameters<typeof startTestBroker>[0] = {}): Promise<Connection> {
  tb = await startTestBroker(options);
  conn = await connect(tb.url);
  return conn;
}

const bodies = (ms: Message[]) => ms.map((m) => m.body.toString());
const count = async (c: Connection, q: string) => (await c.declareQueue(q, { passive: true })).messageCount;
const deaths = (m: Message) => m.properties.headers?.['x-death'] as Array<Record<string, unknown>>;

/** A dead-letter setup: exchange 'dlx' (fanout) bound to queue 'dead'. */
async function deadLetterSink(c: Connection, durable = false): Promise<void> {
  await c.declareExchange('dlx', 'fanout', { durable });
  await c.declareQueue('dead', { durable });
  await c.bindQueue('dead', 'dlx');
}

for (const durable of [false, true]) {
  const kind = durable ? 'durable' : 'transient';
  const persistent = durable;

  describe(`TTL and dead-lettering (${kind})`, () => {
    it('expires messages by queue TTL into the dead-letter exchange with a death record', async () => {
      const c = await setup();
      await deadLetterSink(c, durable);
      await c.declareQueue('ttl', { durable, arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': 'dlx' } });
      await c.publish('', 'ttl', 'a', { persistent });
      await c.publish('', 'ttl', 'b', { persistent });
      await expect.poll(() => count(c, 'dead'), { timeout: 5000 }).toBe(2);
      expect(await count(c, 'ttl')).toBe(0);
      const dead = await drain(c, 'dead');
      expect(bodies(dead)).toEqual(['a', 'b']);
      expect(deaths(dead[0]!)[0]).toMatchObject({ queue: 'ttl', reason: 'expired', count: 1, exchange: '', 'routing-keys': ['ttl'] });
      expect(dead[0]!.properties.headers?.['x-first-death-reason']).toBe('expired');
    });

    it('expires messages that are not at the head (per-message expiration)', async () => {
      const c = await setup();
      await c.declareQueue('mixed', { durable });
      await c.publish('', 'mixed', 'long', { persistent, expiration: 60_000 });
      for (let i = 0; i < 20; i++) await c.publish('', 'mixed', `short${i}`, { persistent, expiration: 30 });
      await c.publish('', 'mixed', 'forever', { persistent });
      await expect.poll(() => count(c, 'mixed'), { timeout: 5000 }).toBe(2);
      expect(bodies(await drain(c, 'mixed'))).toEqual(['long', 'forever']);
    });

    it('drops expired messages when there is no dead-letter exchange', async () => {
      const c = await setup();
      await c.declareQueue('ttl-drop', { durable, arguments: { 'x-message-ttl': 20 } });
      await c.publish('', 'ttl-drop', 'x', { persistent });
      await expect.poll(() => count(c, 'ttl-drop'), { timeout: 5000 }).toBe(0);
    });

    it('max-length drop-head dead-letters the oldest', async () => {
      const c = await setup();
      await deadLetterSink(c, durable);
      await c.declareQueue('capped', { durable, arguments: { 'x-max-length': 2, 'x-dead-letter-exchange': 'dlx' } });
      for (const b of ['1', '2', '3', '4']) await c.publish('', 'capped', b, { persistent });
      expect(bodies(await drain(c, 'capped'))).toEqual(['3', '4']);
      const dead = await drain(c, 'dead');
      expect(bodies(dead)).toEqual(['1', '2']);
      expect(deaths(dead[0]!)[0]).toMatchObject({ reason: 'maxlen', queue: 'capped' });
    });

    it('delivery limit dead-letters a poison message; consumers see the delivery count', async () => {
      const c = await setup();
      await deadLetterSink(c, durable);
      await c.declareQueue('poison', { durable, arguments: { 'x-delivery-limit': 2, 'x-dead-letter-exchange': 'dlx' } });
      await c.publish('', 'poison', 'bad', { persistent });
      const first = (await c.get('poison'))!;
      expect(first.deliveryCount).toBe(1);
      first.nack({ requeue: true });
      const second = (await c.get('poison'))!;
      expect(second.deliveryCount).toBe(2);
      second.nack({ requeue: true });
      await expect.poll(() => count(c, 'dead')).toBe(1);
      expect(await c.get('poison')).toBeNull();
      const dead = (await drain(c, 'dead'))[0]!;
      expect(deaths(dead)[0]).toMatchObject({ reason: 'delivery-limit', queue: 'poison' });
    });

    it('rejected messages are dead-lettered with reason rejected', async () => {
      const c = await setup();
      await deadLetterSink(c, durable);
      await c.declareQueue('rej', { durable, arguments: { 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'rk' } });
      await c.publish('', 'rej', 'nope', { persistent });
      (await c.get('rej'))!.reject({ requeue: false });
      await expect.poll(() => count(c, 'dead')).toBe(1);
      const dead = (await drain(c, 'dead'))[0]!;
      expect(dead.routingKey).toBe('rk');
      expect(deaths(dead)[0]).toMatchObject({ reason: 'rejected', queue: 'rej' });
    });

    it('priority queue: higher first, FIFO within a level, requeue keeps priority', async () => {
      const c = await setup();
      await c.declareQueue('prio', { durable, arguments: { 'x-max-priority': 10 } });
      const items: Array<[string, number]> = [['p1', 1], ['p5a', 5], ['p3', 3], ['p5b', 5], ['p0', 0], ['p200', 200]];
      for (const [b, priority] of items) await c.publish('', 'prio', b, { persistent, priority });
      // p200 counts as the maximum priority (10), so it leads.
      const top = (await c.get('prio'))!;
      expect(top.body.toString()).toBe('p200');
      const next = (await c.get('prio'))!;
      expect(next.body.toString()).toBe('p5a');
      next.nack({ requeue: true });
      top.nack({ requeue: true });
      expect(bodies(await drain(c, 'prio'))).toEqual(['p200', 'p5a', 'p5b', 'p3', 'p1', 'p0']);
    });
  });
}

describe('overflow reject-publish', () => {
  it('nacks publishes beyond the limit with RESOURCE_LIMIT', async () => {
    const c = await setup();
    await c.declareQueue('full', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await c.publish('', 'full', 'kept');
    await expect(c.publish('', 'full', 'refused')).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LIMIT });
    expect(bodies(await drain(c, 'full'))).toEqual(['kept']);
  });

  it('reject-publish-dlx nacks and dead-letters the refused message', async () => {
    const c = await setup();
    await deadLetterSink(c);
    await c.declareQueue('full', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': 'dlx' } });
    await c.publish('', 'full', 'kept');
    await expect(c.publish('', 'full', 'refused')).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LIMIT });
    const dead = await drain(c, 'dead');
    expect(bodies(dead)).toEqual(['refused']);
    expect(deaths(dead[0]!)[0]).toMatchObject({ reason: 'maxlen' });
  });

  it('decides every target once: a refused queue dead-lettering into a sibling target does not steal its place', async () => {
    const c = await setup();
    await c.declareExchange('fx', 'fanout');
    await c.declareExchange('dlxB', 'fanout');
    await c.declareQueue('A', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': 'dlxB' } });
    await c.declareQueue('B', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await c.bindQueue('A', 'fx');
    await c.bindQueue('B', 'fx');
    await c.bindQueue('B', 'dlxB');
    await expect(c.publish('fx', '', 'x')).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LIMIT });
    const inB = await drain(c, 'B');
    expect(bodies(inB)).toEqual(['x']);
    // B took the original; the dead-lettered copy found B full and was dropped.
    expect(inB[0]!.properties.headers?.['x-death']).toBeUndefined();
    expect((await c.status()).memory.bodyBytes).toBe(0);
  });

  it('limits by bytes', async () => {
    const c = await setup();
    await c.declareQueue('bytes', { arguments: { 'x-max-length-bytes': 10 } });
    for (const b of ['aaaa', 'bbbb', 'cccc']) await c.publish('', 'bytes', b);
    expect(bodies(await drain(c, 'bytes'))).toEqual(['bbbb', 'cccc']);
  });

  it('a dead-letter cycle back into the expiring queue is dropped, not looped', async () => {
    const c = await setup();
    await c.declareQueue('loop', { arguments: { 'x-message-ttl': 10, 'x-dead-letter-exchange': '' } });
    await c.publish('', 'loop', 'x');
    await expect.poll(() => count(c, 'loop'), { timeout: 5000 }).toBe(0);
  });
});

describe('delayed delivery', () => {
  it('holds a message until its delay has passed, then delivers it after earlier ready messages', async () => {
    const c = await setup();
    await c.declareQueue('later');
    await c.publish('', 'later', 'delayed', { headers: { 'x-delay': 300 } });
    await c.publish('', 'later', 'now');
    expect(bodies(await drain(c, 'later'))).toEqual(['now']);
    await expect.poll(() => count(c, 'later'), { timeout: 5000 }).toBe(1);
    const m = (await c.get('later', { noAck: true }))!;
    expect(m.body.toString()).toBe('delayed');
    expect(Date.now()).toBeGreaterThanOrEqual((m.properties.headers!['x-not-before'] as number) - 1);
  });

  it('x-not-before (absolute time) works too, and many delays release in due order', async () => {
    const c = await setup();
    await c.declareQueue('sched');
    const base = Date.now() + 200;
    const order = [5, 1, 4, 2, 3];
    for (const i of order) await c.publish('', 'sched', `t${i}`, { headers: { 'x-not-before': base + i * 30 } });
    await expect.poll(() => count(c, 'sched'), { timeout: 5000 }).toBe(5);
    expect(bodies(await drain(c, 'sched'))).toEqual(['t1', 't2', 't3', 't4', 't5']);
  });

  it('a delayed persistent message survives a restart', async () => {
    tb = await startTestBroker();
    const dataDir = tb.dataDir;
    conn = await connect(tb.url);
    await conn.declareQueue('delayed-durable', { durable: true });
    await conn.publish('', 'delayed-durable', 'after-restart', { persistent: true, headers: { 'x-delay': 700 } });
    await conn.close();
    await tb.broker.close();
    const port = tb.port;
    const { startBroker } = await import('@warren/broker');
    const broker = await startBroker({ port, host: '127.0.0.1', dataDir, logLevel: 'silent' });
    tb = { ...tb, broker, stop: async () => { await broker.close(); } };
    conn = await connect(tb.url);
    expect(await conn.get('delayed-durable')).toBeNull();
    await expect.poll(() => count(conn!, 'delayed-durable'), { timeout: 5000 }).toBe(1);
    expect((await conn.get('delayed-durable', { noAck: true }))!.body.toString()).toBe('after-restart');
    const { rm } = await import('node:fs/promises');
    await conn.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
});

describe('consumers', () => {
  it('single active consumer: one receives; the next takes over when it cancels', async () => {
    const c = await setup();
    await c.declareQueue('sac', { arguments: { 'x-single-active-consumer': true } });
    const got: Record<string, string[]> = { a: [], b: [] };
    const a = await c.consume('sac', (m) => {
      got.a!.push(m.body.toString());
      m.ack();
    });
    await c.consume('sac', (m) => {
      got.b!.push(m.body.toString());
      m.ack();
    });
    for (const b of ['1', '2', '3']) await c.publish('', 'sac', b);
    await expect.poll(() => got.a!.length).toBe(3);
    expect(got.b).toEqual([]);
    await a.cancel();
    for (const b of ['4', '5']) await c.publish('', 'sac', b);
    await expect.poll(() => got.b!.length).toBe(2);
    expect(got.b).toEqual(['4', '5']);
  });

  it('single active consumer fails over when its connection drops', async () => {
    const c = await setup();
    await c.declareQueue('sac2', { arguments: { 'x-single-active-consumer': true } });
    const first = await connect(tb!.url);
    const firstGot: string[] = [];
    await first.consume('sac2', (m) => void firstGot.push(m.body.toString()), { prefetch: 10 });
    const secondGot: string[] = [];
    await c.consume('sac2', (m) => {
      secondGot.push(m.body.toString());
      m.ack();
    });
    await c.publish('', 'sac2', 'x');
    await expect.poll(() => firstGot.length).toBe(1);
    await first.close();
    // the unacked message is requeued and the second consumer takes over
    await expect.poll(() => secondGot).toEqual(['x']);
  });

  it('a delivery unacked past x-consumer-timeout is requeued and the consumer is told', async () => {
    const c = await setup();
    await c.declareQueue('slow', { arguments: { 'x-consumer-timeout': 100 } });
    const seen: Message[] = [];
    const told: unknown[] = [];
    c.on('serverError', (err: unknown) => told.push(err));
    await c.consume('slow', (m) => void seen.push(m), { prefetch: 1 });
    await c.publish('', 'slow', 'job');
    await expect.poll(() => seen.length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect(seen[1]!.redelivered).toBe(true);
    expect(told[0]).toMatchObject({ code: ErrorCodes.TIMEOUT });
  });

  it('x-expires deletes a queue left unused', async () => {
    const c = await setup();
    await c.declareQueue('ephemeral', { arguments: { 'x-expires': 100 } });
    await expect
      .poll(() => c.declareQueue('ephemeral', { passive: true }).then(() => 'exists', (e: { code: number }) => e.code), { timeout: 5000 })
      .toBe(ErrorCodes.NOT_FOUND);
  });
});

describe('validation and memory', () => {
  it('rejects invalid arguments with INVALID_ARGUMENT', async () => {
    const c = await setup();
    // Invalid on purpose, so the types cannot describe them.
    const invalid = [{ 'x-message-ttl': -1 }, { 'x-max-priority': 300 }, { 'x-overflow': 'explode' }, { 'x-max-length': 'ten' }] as unknown as QueueArguments[];
    for (const args of invalid) {
      await expect(c.declareQueue('bad', { arguments: args })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    }
  });

  it('expiring 100,000 messages releases their memory', async () => {
    const c = await setup();
    await c.declareQueue('mass', { arguments: { 'x-message-ttl': 300 } });
    const body = Buffer.alloc(100, 1);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 100_000; i++) {
      await c.writable(); // the publish buffer is bounded: wait for room rather than fail with PublishBufferFullError
      pending.push(c.publish('', 'mass', body));
    }
    await Promise.all(pending);
    const before = await c.status();
    expect(before.memory.bodyBytes).toBeGreaterThan(1_000_000);
    await expect.poll(() => count(c, 'mass'), { timeout: 15_000 }).toBe(0);
    const after = await c.status();
    expect(after.memory.bodyBytes).toBe(0);
  });
});
