/**
 * Management browse and move, in process: browse changes nothing (order,
 * redelivered flags, delivery counts; paged-out and delayed messages
 * included), move and redrive keep every message exactly once, durably.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker, type BrokerOptions } from '@warren/broker';
import type { Connection, Message } from '@warren/client';
import { client, closeAllClients } from './durability/harness.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { until } from '../../../test-support/wait.js';
import { browseQueue } from '../src/browse.js';
import { moveMessages } from '../src/move.js';

const dirs: string[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const b of brokers.splice(0)) await b.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function start(extra: BrokerOptions = {}, dataDir?: string): Promise<{ broker: Broker; c: Connection; dir: string }> {
  const dir = dataDir ?? (await tempDir());
  if (dataDir === undefined) dirs.push(dir);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dir, logLevel: 'silent', pagingWindow: 50, ...extra });
  brokers.push(broker);
  const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
  return { broker, c, dir };
}

async function publishN(c: Connection, queue: string, n: number, persistent: boolean, prefix = 'm'): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) all.push(c.publish('', queue, `${prefix}${i}`, { persistent }));
  await Promise.all(all);
}

async function consumeN(c: Connection, queue: string, n: number): Promise<Array<{ body: string; redelivered: boolean; deliveryCount: number }>> {
  const got: Array<{ body: string; redelivered: boolean; deliveryCount: number }> = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = await c.consume(
    queue,
    (msg: Message) => {
      got.push({ body: msg.body.toString(), redelivered: msg.redelivered, deliveryCount: msg.deliveryCount });
      msg.ack();
      if (got.length === n) done();
    },
    { prefetch: 100 },
  );
  if (n > 0) await finished;
  await consumer.cancel();
  return got;
}

const vhostOf = (broker: Broker) => broker.vhosts.default!;
const queueOf = (broker: Broker, name: string) => vhostOf(broker).queues.get(name)!;

describe('browse', () => {
  for (const persistent of [false, true]) {
    it(`changes nothing: order, redelivered flags and delivery counts (paged-out tail, ${persistent ? 'persistent' : 'transient'})`, async () => {
      const { broker, c } = await start();
      await c.declareQueue('q', { durable: true });
      await publishN(c, 'q', 300, persistent);
      // Two deliveries requeued: the head now carries delivery counts.
      const a = (await c.get('q'))!;
      const b = (await c.get('q'))!;
      b.nack({ requeue: true });
      a.nack({ requeue: true });
      await c.publish('', 'q', 'later', { persistent, headers: { 'x-delay': 60_000 } });
      const q = queueOf(broker, 'q');
      expect(q.pagedCount).toBeGreaterThan(0);

      const all = await browseQueue(vhostOf(broker), q, { count: 1000 });
      expect(all.total).toBe(301);
      expect(all.ready).toBe(300);
      expect(all.delayed).toBe(1);
      expect(all.items.map((i) => i.payload)).toEqual([...Array.from({ length: 300 }, (_, i) => `m${i}`), 'later']);
      expect(all.items.slice(0, 3).map((i) => [i.deliveryCount, i.redelivered])).toEqual([[1, true], [1, true], [0, false]]);
      expect(all.items[300]!.state).toBe('delayed');
      expect(all.items[300]!.deliverAt).toBeGreaterThan(Date.now());
      // A page in the middle of the paged-out tail, and a binary body as base64.
      const page = await browseQueue(vhostOf(broker), q, { offset: 120, count: 5, encoding: 'base64' });
      expect(page.items.map((i) => [i.position, Buffer.from(i.payload, 'base64').toString()])).toEqual(
        [120, 121, 122, 123, 124].map((p) => [p, `m${p}`]),
      );
      // Browsed twice more: still nothing changes.
      await browseQueue(vhostOf(broker), q, { offset: 0, count: 1000 });
      expect(q.messageCount).toBe(300);
      expect(q.unackedCount).toBe(0);

      const got = await consumeN(c, 'q', 300);
      expect(got.map((g) => g.body)).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
      expect(got.filter((g) => g.redelivered).map((g) => [g.body, g.deliveryCount])).toEqual([
        ['m0', 2],
        ['m1', 2],
      ]);
    });
  }

  it('reads bodies evicted to disk without loading them back', async () => {
    const { broker, c } = await start({ memoryBudget: 1 });
    await c.declareQueue('q', { durable: true });
    await publishN(c, 'q', 20, true);
    const q = queueOf(broker, 'q');
    const res = await browseQueue(vhostOf(broker), q, { offset: 18, count: 10 });
    expect(res.items.map((i) => i.payload)).toEqual(['m18', 'm19']);
  });

  it('browses a stream from first, last and a number', async () => {
    const { broker, c } = await start();
    await c.declareStream('s');
    for (let i = 0; i < 10; i++) await c.publish('', 's', `s${i}`, { headers: { i } });
    const q = queueOf(broker, 's');
    const first = await browseQueue(vhostOf(broker), q, { offset: 'first', count: 3 });
    expect(first.items.map((i) => [i.offset, i.payload, i.properties.headers?.['i']])).toEqual([
      [0, 's0', 0],
      [1, 's1', 1],
      [2, 's2', 2],
    ]);
    expect(first.total).toBe(10);
    const last = await browseQueue(vhostOf(broker), q, { offset: 'last', count: 3 });
    expect(last.items.map((i) => i.payload)).toEqual(['s9']);
    const mid = await browseQueue(vhostOf(broker), q, { offset: 7, count: 100 });
    expect(mid.items.map((i) => i.offset)).toEqual([7, 8, 9]);
    expect(mid.items[0]!.timestamp).toBeGreaterThan(0);
  });
});

describe('move', () => {
  it('moves N then all ready messages to another queue, in order, durably across a restart', async () => {
    const { broker, c, dir } = await start();
    await c.declareQueue('a', { durable: true });
    await c.declareQueue('b', { durable: true });
    await publishN(c, 'a', 200, true);
    const vh = vhostOf(broker);
    expect(await moveMessages(vh, queueOf(broker, 'a'), { queue: 'b' }, 30)).toEqual({ moved: 30, skipped: 0 });
    expect(queueOf(broker, 'a').messageCount).toBe(170);
    expect(await moveMessages(vh, queueOf(broker, 'a'), { queue: 'b' }, null)).toEqual({ moved: 170, skipped: 0 });
    expect(queueOf(broker, 'b').messageCount).toBe(200);
    // Restart: the moves are in the store.
    await closeAllClients();
    brokers.splice(brokers.indexOf(broker), 1);
    await broker.close();
    const again = await start({}, dir);
    expect(queueOf(again.broker, 'a').messageCount).toBe(0);
    const got = await consumeN(again.c, 'b', 200);
    expect(got.map((g) => g.body)).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
    expect(got.every((g) => !g.redelivered && g.deliveryCount === 1)).toBe(true);
  });

  it("redrives a dead-letter queue to where each message died ('$x-death') and skips what has nowhere to go", async () => {
    const { broker, c } = await start();
    await c.declareExchange('dlx', 'fanout', { durable: true });
    await c.declareQueue('dlq', { durable: true });
    await c.bindQueue('dlq', 'dlx');
    await c.declareExchange('work', 'direct', { durable: true });
    await c.declareQueue('jobs', { durable: true, arguments: { 'x-dead-letter-exchange': 'dlx' } });
    await c.bindQueue('jobs', 'work', 'job');
    for (let i = 0; i < 5; i++) await c.publish('work', 'job', `j${i}`, { persistent: true });
    await c.publish('', 'dlq', 'stray', { persistent: true });
    for (let i = 0; i < 5; i++) (await c.get('jobs'))!.reject({ requeue: false });
    await until(() => queueOf(broker, 'dlq').messageCount === 6, 'dead-lettered');
    const res = await moveMessages(vhostOf(broker), queueOf(broker, 'dlq'), { exchange: '$x-death' }, null);
    expect(res).toEqual({ moved: 5, skipped: 1 });
    const dlq = await browseQueue(vhostOf(broker), queueOf(broker, 'dlq'), { count: 10 });
    expect(dlq.items.map((i) => i.payload)).toEqual(['stray']);
    const jobs = await browseQueue(vhostOf(broker), queueOf(broker, 'jobs'), { count: 10 });
    expect(jobs.items.map((i) => i.payload).sort()).toEqual(['j0', 'j1', 'j2', 'j3', 'j4']);
    expect((jobs.items[0]!.properties.headers?.['x-death'] as unknown[]).length).toBe(1);
  });

  it('moves through an exchange with a routing key, and refuses unknown targets', async () => {
    const { broker, c } = await start();
    await c.declareQueue('a');
    await c.declareQueue('b');
    await c.declareQueue('c');
    await c.declareExchange('x', 'topic');
    await c.bindQueue('b', 'x', 'k.*');
    await c.bindQueue('c', 'x', 'k.#');
    await publishN(c, 'a', 10, false);
    const vh = vhostOf(broker);
    expect(await moveMessages(vh, queueOf(broker, 'a'), { exchange: 'x', routingKey: 'k.1' }, 4)).toEqual({ moved: 4, skipped: 0 });
    expect([queueOf(broker, 'a').messageCount, queueOf(broker, 'b').messageCount, queueOf(broker, 'c').messageCount]).toEqual([6, 4, 4]);
    await expect(moveMessages(vh, queueOf(broker, 'a'), { queue: 'nope' }, null)).rejects.toMatchObject({ name: 'NOT_FOUND' });
    await expect(moveMessages(vh, queueOf(broker, 'a'), { exchange: 'nope' }, null)).rejects.toMatchObject({ name: 'NOT_FOUND' });
    await expect(moveMessages(vh, queueOf(broker, 'a'), { queue: 'a' }, null)).rejects.toMatchObject({ name: 'PRECONDITION_FAILED' });
    const got = await consumeN(c, 'b', 4);
    expect(got.map((g) => g.body)).toEqual(['m0', 'm1', 'm2', 'm3']);
  });
});
