/**
 * Adversarial review of the prefetch change (issue 24's guarantees under tasks delivered ahead of
 * a free handler slot): duplicates of a run handed back, outcome writes in flight at a revoke or a
 * close(), rate limits counted only for started tasks, the prefetch bound. Real broker on port 0,
 * ManualClock, no sleeps.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { defineTasks, ManualClock, TaskClient, Worker, type TaskMessage, type TaskRecord, type TaskRegistry } from '@warren/tasks';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { deferred, nextTurn, tracked, until } from '../../../test-support/wait.js';

let tb: TestBroker;
const open: Connection[] = [];
const workers: Worker[] = [];
let nsCount = 0;

beforeAll(async () => {
  tb = await startTestBroker();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close({ graceMs: 0 }).catch(() => undefined)));
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
});
afterAll(async () => {
  await tb.stop();
});

async function client(registry: TaskRegistry | undefined, options: { clock?: ManualClock; namespace?: string } = {}): Promise<TaskClient> {
  const conn = await connect(tb.url);
  open.push(conn);
  return TaskClient.open(conn, { registry, namespace: options.namespace ?? `pr${++nsCount}`, clock: options.clock ?? new ManualClock() });
}

async function worker(c: TaskClient, options: Parameters<typeof Worker.start>[1] = {}): Promise<Worker> {
  const w = await Worker.start(c, options);
  workers.push(w);
  return w;
}

const ready = async (c: TaskClient, task: string): Promise<number> => (await c.conn.declareQueue(c.queueName(task), { passive: true })).messageCount;
const unacked = (c: TaskClient, task: string): number => tb.broker.vhosts.get('/')!.queues.get(c.queueName(task))!.unackedCount;

/** The task's queued message, sent twice (as a publish re-sent after a reconnect): two copies of run 1, neither redelivered. */
async function duplicate(c: TaskClient, task: string): Promise<void> {
  const got = (await c.conn.get(c.queueName(task)))!;
  const m = got.json<TaskMessage>();
  await c.publish(m);
  await c.publish(m);
  got.ack();
}

/** Holds the SUCCESS write of the task whose args are `args` until `held` resolves. */
function holdSuccess(c: TaskClient, args: unknown): { reached: Promise<void>; release: () => void } {
  const held = deferred();
  const reached = deferred();
  const update = c.bucket.update.bind(c.bucket);
  c.bucket.update = async (key, value, revision, options) => {
    const rec = typeof value === 'string' ? (JSON.parse(value) as TaskRecord) : undefined;
    if (rec?.status === 'SUCCESS' && rec.args === args) {
      reached.resolve();
      await held.promise;
    }
    return update(key, value, revision, options);
  };
  return { reached: reached.promise, release: () => held.resolve() };
}

/**
 * Lets the first copy's handler return (its SUCCESS write held by `hold`), then sees the second copy,
 * waiting on `a`, take the freed slot: it must be dropped, not run; then the SUCCESS goes in, acked.
 */
async function secondCopyDuringWrite(c: TaskClient, a: Worker, id: string, gate: { resolve: () => void }, hold: { reached: Promise<void>; release: () => void }, calls: () => number): Promise<void> {
  gate.resolve();
  await hold.reached;
  await until(() => calls() > 1 || (a.waiting.length === 0 && unacked(c, 'dup') === 1), 'the second copy dropped, or run');
  expect(calls()).toBe(1);
  hold.release();
  expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'one' });
  await until(() => unacked(c, 'dup') === 0, 'acked');
  expect(calls()).toBe(1);
}

/**
 * Task 'one' run by worker A (concurrency 1): its handler has returned, its SUCCESS write is held.
 * `untracked`: A is not closed by afterEach (the test closes it).
 */
async function heldAtWrite(clock: ManualClock = new ManualClock(), untracked = false) {
  let calls = 0;
  const reg = defineTasks().define('t', (x: string) => {
    calls++;
    return x;
  });
  const c = await client(reg, { clock });
  const hold = holdSuccess(c, 'one');
  const id = await c.enqueue('t', 'one');
  const a = untracked ? await Worker.start(c, { id: 'A', concurrency: 1 }) : await worker(c, { id: 'A', concurrency: 1 });
  a.on('error', () => undefined);
  const events: string[] = [];
  a.on('task', (e) => events.push(e.type));
  await hold.reached;
  expect(a.active).toEqual([]);
  return { reg, c, id, a, hold, events, calls: () => calls };
}

/** Task 'dup', whose handler counts its calls and waits for `gate`. */
function gatedDup() {
  const gate = deferred();
  let calls = 0;
  const reg = defineTasks().define('dup', async (x: string) => {
    calls++;
    await gate.promise;
    return x;
  });
  return { gate, reg, calls: () => calls };
}

describe('a second copy of a run, handed back after waiting for a slot', () => {
  it('is not taken over by an idle worker while the first copy runs: the task never runs twice at once', async () => {
    const gate = deferred();
    let calls = 0;
    let now = 0;
    let peak = 0;
    const reg = defineTasks().define('dup', async () => {
      calls++;
      peak = Math.max(peak, ++now);
      await gate.promise;
      now--;
      return calls;
    });
    const clockA = new ManualClock();
    const ca = await client(reg, { clock: clockA });
    const id = await ca.enqueue('dup');
    await duplicate(ca, 'dup');
    const a = await worker(ca, { id: 'A', concurrency: 1, slotWaitMs: 1000 });
    await until(() => a.active.length === 1 && a.waiting.length === 1, 'one copy running on A, the other waiting there');
    const cb = await client(reg, { namespace: ca.namespace });
    const b = await worker(cb, { id: 'B', concurrency: 1 });
    const onB: string[] = [];
    b.on('task', (e) => onB.push(e.type));
    // A hands the waiting copy back (again after another turn on A, if the broker gives it to A).
    await until(
      async () => {
        if (a.waiting.length > 0) clockA.advance(1000);
        return calls > 1 || (a.waiting.length === 0 && unacked(ca, 'dup') === 1 && (await ready(ca, 'dup')) === 0);
      },
      'the second copy dropped, or run',
    );
    expect(onB).toEqual([]);
    expect(calls).toBe(1);
    gate.resolve();
    expect(await ca.wait(id)).toMatchObject({ status: 'SUCCESS', result: 1, worker: 'A' });
    expect(calls).toBe(1);
    expect(peak).toBe(1);
  });

  it('is not run again by the same worker once the first copy returned and its outcome is being written', async () => {
    const { gate, reg, calls } = gatedDup();
    const clock = new ManualClock();
    const c = await client(reg, { clock });
    const id = await c.enqueue('dup', 'one');
    await duplicate(c, 'dup');
    const hold = holdSuccess(c, 'one');
    const a = await worker(c, { id: 'A', concurrency: 1, slotWaitMs: 1000 });
    await until(() => a.active.length === 1 && a.waiting.length === 1, 'one copy running, the other waiting');
    // The waiting copy is handed back; being the only worker, A gets it again.
    clock.advance(1000);
    await until(async () => a.waiting.length === 1 && (await ready(c, 'dup')) === 0, 'the second copy waiting on A again');
    // The slot is free while the first copy's SUCCESS is being written: the second copy takes it.
    await secondCopyDuringWrite(c, a, id, gate, hold, calls);
  });

  it('close() hands a waiting copy back without letting another worker take over the running one', async () => {
    const gate = deferred();
    let calls = 0;
    const reg = defineTasks().define('dup', async () => {
      calls++;
      await gate.promise;
      return calls;
    });
    const clock = new ManualClock();
    const ca = await client(reg, { clock });
    const id = await ca.enqueue('dup');
    await duplicate(ca, 'dup');
    const a = await Worker.start(ca, { id: 'A', concurrency: 1 });
    await until(() => a.active.length === 1 && a.waiting.length === 1, 'one copy running, the other waiting');
    const cb = await client(reg, { namespace: ca.namespace });
    const b = await worker(cb, { id: 'B', concurrency: 1 });
    const onB: string[] = [];
    b.on('task', (e) => onB.push(e.type));
    const closing = tracked(a.close({ graceMs: 60_000 }));
    // The waiting copy goes back at once; B gets it while A's copy still runs (the grace has not passed).
    await until(async () => calls > 1 || (unacked(ca, 'dup') === 1 && (await ready(ca, 'dup')) === 0 && a.waiting.length === 0), 'the second copy dropped by B, or run');
    expect(calls).toBe(1);
    expect(onB).toEqual([]);
    gate.resolve();
    expect((await closing.result).ok).toBe(true);
    expect(await ca.wait(id)).toMatchObject({ status: 'SUCCESS', result: 1, worker: 'A' });
    expect(calls).toBe(1);
  });
});

describe('an outcome write in flight (the handler returned, its slot freed)', () => {
  /** Worker A's only task has returned and its SUCCESS write is held; A's close({ graceMs }) is then waiting out the grace. */
  async function closingDuringWrite(graceMs: number) {
    const clock = new ManualClock();
    const graces: number[] = [];
    const setTimer = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn, ms) => {
      graces.push(ms);
      return setTimer(fn, ms);
    };
    const held = await heldAtWrite(clock, true);
    const closing = tracked(held.a.close({ graceMs }));
    await until(() => graces.includes(graceMs), 'the grace timer');
    return { clock, closing, ...held };
  }

  it('close() waits for it inside the grace; the task is acked once, not handed back, not run again', async () => {
    const { clock, reg, c, id, hold, events, closing, calls } = await closingDuringWrite(60_000);
    expect(closing.settled()).toBe(false);
    expect(unacked(c, 't')).toBe(1);
    hold.release();
    expect((await closing.result).ok).toBe(true);
    expect(await c.get(id)).toMatchObject({ status: 'SUCCESS', result: 'one', worker: 'A' });
    expect(unacked(c, 't')).toBe(0);
    expect(await ready(c, 't')).toBe(0);
    expect(events).toEqual(['started', 'succeeded']);
    const b = await worker(await client(reg, { clock, namespace: c.namespace }), { id: 'B' });
    expect(b.active).toEqual([]);
    expect(calls()).toBe(1);
  });

  it('close() whose grace runs out first leaves it to finish: stored, then acked once, nothing handed back', async () => {
    const { clock, c, id, hold, events, closing, calls } = await closingDuringWrite(1234);
    clock.advance(1234);
    expect((await closing.result).ok).toBe(true);
    expect(await ready(c, 't')).toBe(0);
    expect(unacked(c, 't')).toBe(1);
    hold.release();
    await until(() => unacked(c, 't') === 0, 'acked after the write');
    expect(await c.get(id)).toMatchObject({ status: 'SUCCESS', result: 'one' });
    expect(await ready(c, 't')).toBe(0);
    expect(events).toEqual(['started', 'succeeded']);
    expect(calls()).toBe(1);
  });

  it('a revoke meanwhile wins or loses by compare-and-set: REVOKED kept, the outcome dropped (lost), acked, not run again', async () => {
    const { c, id, hold, events, calls } = await heldAtWrite();
    expect((await c.revoke(id))!.status).toBe('REVOKED');
    hold.release();
    await until(() => events.includes('lost'), 'the outcome lost');
    await until(() => unacked(c, 't') === 0, 'acked');
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED' });
    expect(await ready(c, 't')).toBe(0);
    expect(calls()).toBe(1);
  });
});

describe('rate limits and the prefetch bound', () => {
  it('tasks waiting for a slot are not counted against the rate limit; started ones are', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const reg = defineTasks().define(
      't',
      async (x: string) => {
        if (x === 'first') await gate.promise;
        return x;
      },
      { rateLimit: { max: 2, perMs: 60_000 } },
    );
    const c = await client(reg, { clock });
    const first = await c.enqueue('t', 'first');
    for (let i = 0; i < 3; i++) await c.enqueue('t', `w${i}`);
    const a = await worker(c, { id: 'A', concurrency: 1, prefetch: 4 });
    await until(() => a.active.length === 1 && a.waiting.length === 3, 'one running, three waiting');
    const window = Math.floor(clock.now() / 60_000) * 60_000;
    expect((await c.leases.get(`w.t.${window}`))!.text()).toBe('1');
    gate.resolve();
    expect((await c.wait(first)).status).toBe('SUCCESS');
    // One more may start in this window; the other two are put off to the next one (not started).
    await until(async () => a.waiting.length === 0 && (await ready(c, 't')) === 0 && unacked(c, 't') === 0, 'settled');
    expect((await c.leases.get(`w.t.${window}`))!.text()).toBe('2');
    const statuses = await Promise.all([0, 1, 2].map(async (i) => (await c.list()).find((r) => r.args === `w${i}`)!.status));
    expect(statuses.filter((s) => s === 'SUCCESS')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'PENDING')).toHaveLength(2);
  });

  it('a large prefetch with a slow handler holds at most `prefetch` deliveries, across hand-backs', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const reg = defineTasks().define('t', async (x: number) => {
      if (x === 0) await gate.promise;
      return x;
    });
    const c = await client(reg, { clock });
    for (let i = 0; i < 60; i++) await c.enqueue('t', i);
    const a = await worker(c, { id: 'A', concurrency: 1, prefetch: 20, slotWaitMs: 1000 });
    await until(() => a.active.length === 1 && a.waiting.length === 19, '1 running, 19 waiting');
    expect(unacked(c, 't')).toBe(20);
    for (let round = 0; round < 3; round++) {
      clock.advance(1000);
      await until(async () => a.waiting.length === 19 && (await ready(c, 't')) === 40, `hand-back round ${round}`);
      expect(unacked(c, 't')).toBeLessThanOrEqual(20);
    }
    gate.resolve();
    await until(async () => (await ready(c, 't')) === 0 && unacked(c, 't') === 0 && a.waiting.length === 0, 'all done');
    const done = (await c.list()).filter((r) => r.status === 'SUCCESS');
    expect(done).toHaveLength(60);
  });
});

describe('startedAfterMs with a second copy of a run', () => {
  it('the second copy is not run while the first copy\'s outcome is being written (its record still the PENDING one)', async () => {
    const { gate, reg, calls } = gatedDup();
    const c = await client(reg);
    const id = await c.enqueue('dup', 'one');
    await duplicate(c, 'dup');
    const hold = holdSuccess(c, 'one');
    const a = await worker(c, { id: 'A', concurrency: 1, startedAfterMs: 50 });
    const events: string[] = [];
    a.on('task', (e) => events.push(e.type));
    await until(() => a.active.length === 1 && a.waiting.length === 1, 'one copy running, the other waiting');
    // The first copy returned; its SUCCESS (compare-and-set on the PENDING record) is held; the second copy gets the slot.
    await secondCopyDuringWrite(c, a, id, gate, hold, calls);
    expect(events).not.toContain('lost');
  });
});

describe('a task waiting for a slot when the link drops', () => {
  it('is not sent again by its hand-back: the broker requeued it already (it would be a second copy)', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const reg = defineTasks().define('t', async (x: string) => {
      if (x === 'long') await gate.promise;
      return x;
    });
    const c = await client(reg, { clock });
    const a = await worker(c, { id: 'A', concurrency: 1, slotWaitMs: 1000 });
    a.on('error', () => undefined);
    const long = await c.enqueue('t', 'long');
    await until(() => a.active.includes(long), 'long running');
    const next = await c.enqueue('t', 'next');
    await until(() => a.waiting.includes(next), 'next waiting');
    const sent: TaskMessage[] = [];
    const publish = c.publish.bind(c);
    c.publish = (msg, notBefore) => {
      sent.push(msg);
      return publish(msg, notBefore);
    };
    // The broker drops the link: both deliveries go back to the queue (redelivered to A once it reconnects).
    for (const conn of tb.broker.openConnections) conn.close(320, 'test: link dropped');
    await until(() => c.conn.isConnected && a.waiting.filter((id) => id === next).length === 2, 'reconnected, next redelivered');
    // The hand-back timers fire: the stale delivery of the dropped link is not published again.
    clock.advance(1000);
    await nextTurn();
    expect(sent.filter((m) => m.id === next)).toEqual([]);
    gate.resolve();
    await until(async () => (await c.get(next))?.status === 'SUCCESS', 'next done');
  });
});

describe('the link drops while an outcome is being written', () => {
  it('the requeued copy that comes back to this worker waits for that write, then finds SUCCESS: not run again', async () => {
    const { c, id, hold, events, calls } = await heldAtWrite();
    // The handler returned, its slot is free, its SUCCESS is not written: the broker drops the link and requeues the task.
    let reads = 0;
    const get = c.bucket.get.bind(c.bucket);
    c.bucket.get = async (key) => {
      const e = await get(key);
      if (key === `t.${id}`) reads++;
      return e;
    };
    const reconnected = new Promise((resolve) => c.conn.once('connected', resolve));
    for (const conn of tb.broker.openConnections) conn.close(320, 'test: link dropped');
    await reconnected;
    await until(() => unacked(c, 't') === 1, 'the task redelivered to A');
    // It reads the record (STARTED by A): without waiting for A's write, it is claimed at once as a
    // take-over (the claim's write goes out before the SUCCESS below) and run again.
    await until(() => reads > 0, 'the redelivered copy read the record');
    await nextTurn();
    hold.release();
    await until(async () => (await c.get(id))?.status === 'SUCCESS', 'SUCCESS');
    expect(await c.get(id)).toMatchObject({ status: 'SUCCESS', result: 'one' });
    await until(() => unacked(c, 't') === 0, 'the redelivered copy acked');
    expect(calls()).toBe(1);
    expect(events).not.toContain('taken-over');
  });
});

describe('priority across the prefetch', () => {
  async function order(prefetch: number | undefined): Promise<string[]> {
    const gate = deferred();
    const ran: string[] = [];
    const reg = defineTasks().define('t', async (x: string) => {
      ran.push(x);
      if (x === 'first') await gate.promise;
      return x;
    });
    const c = await client(reg);
    const a = await worker(c, { id: 'A', concurrency: 1, ...(prefetch !== undefined ? { prefetch } : {}) });
    await c.enqueue('t', 'first');
    await until(() => ran.length === 1, 'first running');
    for (const x of ['low1', 'low2', 'low3']) await c.enqueue('t', x, { priority: 0 });
    await until(async () => a.waiting.length === Math.min(3, (prefetch ?? 4) - 1) && (await ready(c, 't')) === 3 - a.waiting.length, 'the lows delivered as far as the prefetch goes');
    const high = await c.enqueue('t', 'high', { priority: 9 });
    gate.resolve();
    await c.wait(high);
    await until(() => ran.length === 5, 'all ran');
    return ran;
  }

  it('a high-priority task enqueued after the prefetch filled runs after the lower ones already delivered; prefetch = concurrency keeps strict order', async () => {
    expect(await order(undefined)).toEqual(['first', 'low1', 'low2', 'low3', 'high']);
    expect(await order(1)).toEqual(['first', 'high', 'low1', 'low2', 'low3']);
  });
});
