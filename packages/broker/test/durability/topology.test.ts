/**
 * Durable topology across restarts (child-process broker): a declare/bind reply means
 * the topology snapshot is on disk, so it survives `kill -9`; transient entities and
 * transient messages do not survive; delivery counts do.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '@warren/client';
import { client, closeAllClients, killAllChildren, spawnBroker, type ChildBroker } from './harness.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

const dirs: string[] = [];
afterEach(async () => {
  await killAllChildren();
  await closeAllClients();
  for (const d of dirs.splice(0)) await removeDir(d);
});

const P = { persistent: true } as const;

async function setUp(c: Connection): Promise<void> {
  // Durable exchanges of every type (plus options that must round-trip).
  await c.declareExchange('ex.direct', 'direct', { durable: true, alternateExchange: 'ex.fanout' });
  await c.declareExchange('ex.fanout', 'fanout', { durable: true });
  await c.declareExchange('ex.topic', 'topic', { durable: true, arguments: { note: 'kept' } });
  await c.declareExchange('ex.headers', 'headers', { durable: true });
  await c.declareExchange('ex.inner', 'direct', { durable: true, internal: true });
  // Durable queues, some with arguments.
  await c.declareQueue('q.direct', { durable: true, arguments: { 'x-message-ttl': 3_600_000 } });
  await c.declareQueue('q.fanout', { durable: true });
  await c.declareQueue('q.topic', { durable: true, arguments: { 'x-max-priority': 5 } });
  await c.declareQueue('q.headers', { durable: true });
  await c.declareQueue('q.e2e', { durable: true });
  await c.declareQueue('q.limited', { durable: true, arguments: { 'x-max-length': 2 } });
  await c.declareQueue('q.redeliver', { durable: true });
  await c.declareQueue('q.fence', { durable: true });
  // Durable bindings: queue <- exchange and exchange <- exchange.
  await c.bindQueue('q.direct', 'ex.direct', 'rk');
  await c.bindQueue('q.fanout', 'ex.fanout');
  await c.bindQueue('q.topic', 'ex.topic', 'a.*.c');
  await c.bindQueue('q.headers', 'ex.headers', '', { 'x-match': 'all', color: 'red' });
  await c.bindExchange('ex.inner', 'ex.topic', 'e2e.#');
  await c.bindQueue('q.e2e', 'ex.inner', 'e2e.x');
  // Transient things, some bound to durable ones (such bindings are transient too).
  await c.declareExchange('tx.transient', 'direct', { durable: false });
  await c.declareQueue('tq.transient', { durable: false });
  await c.bindQueue('tq.transient', 'ex.direct', 'rk');
  await c.bindQueue('q.direct', 'tx.transient', 'zz');
  await c.bindExchange('tx.transient', 'ex.fanout');
}

function names<T extends { name: string }>(list: T[]): string[] {
  return list.map((x) => x.name).sort();
}

async function checkTopology(c: Connection): Promise<void> {
  const exchanges = await c.listExchanges();
  const mine = exchanges.filter((e) => !e.name.startsWith('amq.') && e.name !== '');
  expect(names(mine)).toEqual(['ex.direct', 'ex.fanout', 'ex.headers', 'ex.inner', 'ex.topic']);
  const byName = new Map(mine.map((e) => [e.name, e]));
  expect(byName.get('ex.direct')).toMatchObject({ type: 'direct', durable: true, alternateExchange: 'ex.fanout' });
  expect(byName.get('ex.fanout')).toMatchObject({ type: 'fanout', durable: true });
  expect(byName.get('ex.topic')).toMatchObject({ type: 'topic', durable: true, arguments: { note: 'kept' } });
  expect(byName.get('ex.headers')).toMatchObject({ type: 'headers', durable: true });
  expect(byName.get('ex.inner')).toMatchObject({ type: 'direct', durable: true, internal: true });

  const queues = await c.listQueues();
  expect(names(queues)).toEqual(['q.direct', 'q.e2e', 'q.fanout', 'q.fence', 'q.headers', 'q.limited', 'q.redeliver', 'q.topic']);
  const q = new Map(queues.map((x) => [x.name, x]));
  expect(q.get('q.direct')).toMatchObject({ durable: true, arguments: { 'x-message-ttl': 3_600_000 } });
  expect(q.get('q.topic')).toMatchObject({ durable: true, arguments: { 'x-max-priority': 5 } });
  expect(q.get('q.limited')).toMatchObject({ durable: true, arguments: { 'x-max-length': 2 } });

  const bindings = (await c.listBindings())
    .filter((b) => b.source !== '' && !b.source.startsWith('amq.'))
    .map((b) => `${b.source}->${b.destinationKind}:${b.destination}[${b.routingKey}]`)
    .sort();
  expect(bindings).toEqual([
    'ex.direct->queue:q.direct[rk]',
    'ex.fanout->queue:q.fanout[]',
    'ex.headers->queue:q.headers[]',
    'ex.inner->queue:q.e2e[e2e.x]',
    'ex.topic->exchange:ex.inner[e2e.#]',
    'ex.topic->queue:q.topic[a.*.c]',
  ]);
  const headers = (await c.listBindings()).find((b) => b.destination === 'q.headers');
  expect(headers?.arguments).toEqual({ 'x-match': 'all', color: 'red' });
}

/** Routing through the restored topology: one message per route, fetched from its queue. */
async function checkRouting(c: Connection, tag: string): Promise<void> {
  await c.publish('ex.direct', 'rk', `direct-${tag}`, P);
  await c.publish('ex.fanout', 'whatever', `fanout-${tag}`, P);
  await c.publish('ex.topic', 'a.b.c', `topic-${tag}`, P);
  await c.publish('ex.topic', 'e2e.x', `e2e-${tag}`, P); // topic -> inner (exchange binding) -> q.e2e
  await c.publish('ex.headers', '', `headers-${tag}`, { persistent: true, headers: { color: 'red' } });
  await c.publish('ex.headers', '', 'not-matching', { persistent: true, headers: { color: 'blue' } });
  await c.publish('ex.direct', 'no-such-key', `alternate-${tag}`, P); // -> alternate exchange ex.fanout
  const take = async (queue: string): Promise<string[]> => {
    const out: string[] = [];
    for (let m = await c.get(queue, { noAck: true }); m !== null; m = await c.get(queue, { noAck: true })) out.push(m.body.toString());
    return out;
  };
  expect(await take('q.direct')).toEqual([`direct-${tag}`]);
  expect(await take('q.fanout')).toEqual([`fanout-${tag}`, `alternate-${tag}`]);
  expect(await take('q.topic')).toEqual([`topic-${tag}`]);
  expect(await take('q.e2e')).toEqual([`e2e-${tag}`]);
  expect(await take('q.headers')).toEqual([`headers-${tag}`]);
  // The restored x-max-length still applies (drop-head keeps the last two).
  for (const i of [1, 2, 3]) await c.publish('', 'q.limited', `l${i}`, P);
  expect(await take('q.limited')).toEqual(['l2', 'l3']);
}

describe('topology and messages across restarts (child-process broker)', () => {
  it('restores durable exchanges, queues and bindings after kill -9 and after a clean stop; drops transient ones', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    let child: ChildBroker = await spawnBroker(dir);
    let c = await client(child.url);
    await setUp(c);

    // Messages: persistent + transient on a durable queue, persistent on a transient queue.
    await c.publish('', 'q.direct', 'kept-persistent', P);
    await c.publish('', 'q.direct', 'lost-transient', { persistent: false });
    await c.publish('', 'tq.transient', 'lost-with-its-queue', P);
    expect((await c.declareQueue('q.direct', { durable: true, arguments: { 'x-message-ttl': 3_600_000 } })).messageCount).toBe(2);

    // Deliver, nack-requeue twice, then a third delivery left unacked at the crash.
    await c.publish('', 'q.redeliver', 'again', P);
    for (let i = 1; i <= 2; i++) {
      const m = await c.get('q.redeliver');
      expect(m?.deliveryCount).toBe(i);
      m!.nack({ requeue: true });
    }
    // Fence: a confirmed persistent publish on the same connection proves the DELIVERED
    // records queued before it are synced (they carry no confirm of their own).
    await c.publish('', 'q.fence', 'fence', P);

    expect(await child.kill9()).toBe('SIGKILL');
    child = await spawnBroker(dir);
    expect(child.hello.queues['q.direct']).toBe(1);
    c = await client(child.url);
    await checkTopology(c);

    const kept = await c.get('q.direct', { noAck: true });
    expect(kept?.body.toString()).toBe('kept-persistent');
    expect(kept?.redelivered).toBe(false);
    expect(await c.get('q.direct', { noAck: true })).toBeNull(); // the transient message is gone

    const again = await c.get('q.redeliver');
    expect(again?.body.toString()).toBe('again');
    expect(again?.redelivered).toBe(true);
    expect(again?.deliveryCount).toBeGreaterThanOrEqual(3);
    again!.nack({ requeue: true }); // delivery #3, unacked at the clean stop below

    // The transient queue is gone with its persistent message: re-declared, it is empty.
    expect((await c.declareQueue('tq.transient', { durable: false })).messageCount).toBe(0);
    await c.deleteQueue('tq.transient');
    await checkRouting(c, 'after-kill');

    // A clean stop (SIGTERM -> broker.close()) keeps the same durable state.
    await c.publish('', 'q.direct', 'kept-2', P);
    await c.publish('', 'q.direct', 'lost-transient-2', { persistent: false });
    await c.close();
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe('code 0');
    child = await spawnBroker(dir);
    c = await client(child.url);
    await checkTopology(c);
    const kept2 = await c.get('q.direct', { noAck: true });
    expect(kept2?.body.toString()).toBe('kept-2');
    expect(await c.get('q.direct', { noAck: true })).toBeNull();
    const third = await c.get('q.redeliver', { noAck: true });
    expect(third?.redelivered).toBe(true);
    expect(third?.deliveryCount).toBeGreaterThanOrEqual(4);
    await checkRouting(c, 'after-clean-stop');
  });
});

describe('exclusive queues across a crash (child-process broker)', () => {
  // protocol-spec 9.4: exclusive = "deleted when the connection closes", so a durable exclusive
  // queue is never saved in the topology and its stored messages are dropped at recovery.
  it('a durable exclusive queue does not outlive its connection across kill -9', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    let child = await spawnBroker(dir);
    let c = await client(child.url);
    await c.declareQueue('mine', { durable: true, exclusive: true });
    await c.publish('', 'mine', 'private', P);
    expect(await child.kill9()).toBe('SIGKILL');
    child = await spawnBroker(dir);
    c = await client(child.url);
    expect(names(await c.listQueues())).not.toContain('mine');
  });
});
