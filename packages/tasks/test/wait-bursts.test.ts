/**
 * TaskClient.wait holds one key-value watch per call, and the broker caps a connection's
 * consumers, stream subscriptions and watches together (maxConsumersPerConnection). Waiting for
 * a burst of tasks at once must not trip that cap: past maxWaitWatches a wait takes its turn.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { defineTasks, ManualClock, TaskClient, Worker } from '@warren/tasks';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { tracked, until } from '../../../test-support/wait.js';

/** A broker whose connections may hold 16 subscriptions (the default is 4096). */
const CAP = 16;
let tb: TestBroker;
const open: Connection[] = [];
const workers: Worker[] = [];

beforeAll(async () => {
  tb = await startTestBroker({ maxConsumersPerConnection: CAP });
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close({ graceMs: 0 }).catch(() => undefined)));
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
});
afterAll(async () => {
  await tb.stop();
});

const registry = defineTasks().define('double', async (n: number) => 2 * n);

async function client(namespace: string, options: { maxWaitWatches?: number; clock?: ManualClock } = {}): Promise<TaskClient> {
  const conn = await connect(tb.url);
  open.push(conn);
  return TaskClient.open(conn, { registry, namespace, ...options });
}

describe('bursts on one TaskClient connection', () => {
  it('waits for 10 x the connection cap of tasks at once: all SUCCESS, none refused', async () => {
    const producer = await client('burst', { maxWaitWatches: CAP / 2 });
    const w = await Worker.start(await client('burst'), { concurrency: 8 });
    workers.push(w);
    const ids = await Promise.all(Array.from({ length: 10 * CAP }, (_, i) => producer.enqueue('double', i)));
    const records = await Promise.all(ids.map((id) => producer.wait(id)));
    expect(records.map((r) => [r.status, r.result])).toEqual(Array.from({ length: 10 * CAP }, (_, i) => ['SUCCESS', 2 * i]));
  });

  it('5,000 un-awaited enqueues on one connection: all stored', async () => {
    const producer = await client('enqueues');
    const ids = await Promise.all(Array.from({ length: 5000 }, (_, i) => producer.enqueue('double', i)));
    expect(new Set(ids).size).toBe(5000);
    expect(await producer.get(ids[4999]!)).toMatchObject({ status: 'PENDING', args: 4999 });
    expect((await producer.conn.declareQueue(producer.queueName('double'), { passive: true })).messageCount).toBe(5000);
  });

  it('a wait that times out in line gives up its place; the line moves on', async () => {
    const clock = new ManualClock();
    const c = await client('line', { maxWaitWatches: 1, clock });
    // No worker: both tasks stay PENDING until revoked.
    const a = await c.enqueue('double', 1);
    const b = await c.enqueue('double', 2);
    const first = tracked(c.wait(a));
    const second = tracked(c.wait(b, { timeoutMs: 1000 }));
    clock.advance(1000);
    await until(second.settled, 'the queued wait to time out');
    expect(await second.result).toMatchObject({ ok: false, error: { name: 'TIMEOUT' } });
    expect(first.settled()).toBe(false);
    await c.revoke(a);
    expect(await first.result).toMatchObject({ ok: true, value: { status: 'REVOKED' } });
    // The place held by the first wait went back; a new wait gets it.
    await c.revoke(b);
    expect(await c.wait(b)).toMatchObject({ status: 'REVOKED' });
  });
});

describe('the defaults', () => {
  it('waits for 5,000 tasks at once on a broker with the default cap (4096): all SUCCESS', async () => {
    const dflt = await startTestBroker();
    try {
      const conn = await connect(dflt.url);
      open.push(conn);
      const producer = await TaskClient.open(conn, { registry, namespace: 'dflt' });
      const workerConn = await connect(dflt.url);
      open.push(workerConn);
      workers.push(await Worker.start(await TaskClient.open(workerConn, { registry, namespace: 'dflt' }), { concurrency: 32 }));
      const ids = await Promise.all(Array.from({ length: 5000 }, (_, i) => producer.enqueue('double', i)));
      const records = await Promise.all(ids.map((id) => producer.wait(id)));
      expect(records.every((r, i) => r.status === 'SUCCESS' && r.result === 2 * i)).toBe(true);
    } finally {
      await Promise.all(workers.splice(0).map((w) => w.close({ graceMs: 0 }).catch(() => undefined)));
      await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
      await dflt.stop();
    }
  });
});
