/**
 * The task layer against a real broker: states, results, retries and
 * back-off, dedup, delay, priority, revoke, timeouts, leases, rate limits,
 * graceful shutdown, dead-letter redrive. Time is a ManualClock: back-off,
 * lease and timeout times are asserted exactly, and nothing sleeps.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { backoffDelay, defineTasks, ManualClock, type Clock, TaskAbort, TaskClient, Worker, type TaskContext, type TaskMessage, type TaskRecord, type TaskRegistry, type TaskStatus, type WorkerEvent } from '@warren/tasks';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { earlyWrite } from '../src/client.js';
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

async function client(registry: TaskRegistry | undefined, options: { clock?: ManualClock; namespace?: string; random?: () => number; resultTtlMs?: number } = {}): Promise<TaskClient> {
  const conn = await connect(tb.url);
  open.push(conn);
  return TaskClient.open(conn, { registry, namespace: options.namespace ?? `ns${++nsCount}`, clock: options.clock ?? new ManualClock(), random: options.random, resultTtlMs: options.resultTtlMs });
}

async function worker(c: TaskClient, options: Parameters<typeof Worker.start>[1] = {}): Promise<Worker> {
  const w = await Worker.start(c, options);
  workers.push(w);
  return w;
}

/** Every state the task goes through, from now on (the current one first). */
async function recordStates(c: TaskClient, id: string): Promise<{ records: TaskRecord[]; statuses: () => TaskStatus[]; stop: () => Promise<void> }> {
  const records: TaskRecord[] = [];
  const watch = await c.watch(id);
  void (async () => {
    for await (const r of watch) if (r) records.push(r);
  })();
  return { records, statuses: () => records.map((r) => r.status), stop: () => watch.close() };
}

/** Holds the client's write of the RETRY record of `attempt` until `retryHeld` resolves; `retryWriteReached` resolves when it is held. */
function holdRetryWrite(c: TaskClient, attempt: number): { retryWriteReached: { promise: Promise<void>; resolve: () => void }; retryHeld: { promise: Promise<void>; resolve: () => void } } {
  const retryHeld = deferred();
  const retryWriteReached = deferred();
  const update = c.bucket.update.bind(c.bucket);
  c.bucket.update = async (key, value, revision, options) => {
    const rec = typeof value === 'string' ? (JSON.parse(value) as TaskRecord) : undefined;
    if (rec?.status === 'RETRY' && rec.attempt === attempt) {
      retryWriteReached.resolve();
      await retryHeld.promise;
    }
    return update(key, value, revision, options);
  };
  return { retryWriteReached, retryHeld };
}

const ready = async (c: TaskClient, task: string): Promise<number> => (await c.conn.declareQueue(c.queueName(task), { passive: true })).messageCount;

describe('states and results', () => {
  it('goes PENDING, STARTED, PROGRESS, SUCCESS with the result kept, and wait() returns it', async () => {
    const gate = deferred();
    const reg = defineTasks().define('add', async ({ a, b }: { a: number; b: number }, ctx) => {
      await ctx.progress({ done: 50 });
      await gate.promise;
      return a + b;
    });
    const c = await client(reg, { resultTtlMs: 60_000 });
    const id = await c.enqueue('add', { a: 2, b: 3 });
    expect(await c.get(id)).toMatchObject({ id, name: 'add', status: 'PENDING', args: { a: 2, b: 3 }, attempt: 0, run: 1 });
    const seen = await recordStates(c, id);
    const w = await worker(c);
    await until(() => seen.statuses().includes('PROGRESS'), 'PROGRESS');
    const waiting = c.wait(id, { timeoutMs: 60_000 });
    gate.resolve();
    const done = await waiting;
    expect(done).toMatchObject({ status: 'SUCCESS', result: 5, attempt: 1, worker: w.id, progress: { done: 50 } });
    await until(() => seen.statuses().includes('SUCCESS'), 'SUCCESS seen');
    expect(seen.statuses()).toEqual(['PENDING', 'STARTED', 'PROGRESS', 'SUCCESS']);
    expect(seen.records[2]!.progress).toEqual({ done: 50 });
    expect(await c.result(id)).toMatchObject({ status: 'SUCCESS', result: 5 });
    // The finished record carries the result TTL; unfinished ones never expire.
    const e = await c.bucket.get(`t.${id}`);
    expect(e!.expiresAt - e!.createdAt).toBe(60_000);
    await seen.stop();
  });

  it('result() and get() answer null for an unknown id; wait() on one is NOT_FOUND; wait() times out on the clock', async () => {
    const clock = new ManualClock();
    const c = await client(defineTasks().define('never', () => 1), { clock });
    expect(await c.result('no-such-task')).toBeNull();
    await expect(c.wait('no-such-task')).rejects.toMatchObject({ name: 'NOT_FOUND' });
    const id = await c.enqueue('never');
    const w = c.wait(id, { timeoutMs: 5000 });
    await until(() => clock.pending > 0, 'the wait timer');
    clock.advance(5000);
    await expect(w).rejects.toMatchObject({ name: 'TIMEOUT' });
  });

  it('a queued task and a task with no worker are PENDING, and PENDING never expires', async () => {
    const c = await client(undefined, { resultTtlMs: 1000 });
    const id = await c.enqueue('unhandled', [1]);
    const e = await c.bucket.get(`t.${id}`);
    expect(e!.json<TaskRecord>().status).toBe('PENDING');
    expect(e!.expiresAt).toBe(0);
    expect(await ready(c, 'unhandled')).toBe(1);
  });
});

describe('retries and back-off', () => {
  it('computes exponential back-off with jitter, capped', () => {
    const o = { baseMs: 1000, factor: 2, maxMs: 5000, jitter: 0.5 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, o, () => 0.5))).toEqual([1000, 2000, 4000, 5000]);
    expect(backoffDelay(1, o, () => 0)).toBe(500);
    expect(backoffDelay(2, o, () => 0.75)).toBe(2500);
    expect(backoffDelay(3, { ...o, jitter: 0 }, () => 0.99)).toBe(4000);
  });

  it('goes RETRY with the error and the next attempt time, then succeeds; each retry waits the back-off', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    let calls = 0;
    const reg = defineTasks().define(
      'flaky',
      (_a, ctx) => {
        calls++;
        if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
        return 'ok';
      },
      // Tiny real delays: the broker holds each retry for (nextAttemptAt - now) ms.
      { retries: 3, backoff: { baseMs: 20, factor: 3, jitter: 0.5 } },
    );
    const c = await client(reg, { clock, random: () => 0.75 });
    const id = await c.enqueue('flaky');
    const seen = await recordStates(c, id);
    await worker(c);
    const done = await c.wait(id);
    expect(done).toMatchObject({ status: 'SUCCESS', result: 'ok', attempt: 3, run: 3 });
    expect(calls).toBe(3);
    await until(() => seen.statuses().at(-1) === 'SUCCESS', 'SUCCESS seen');
    expect(seen.statuses()).toEqual(['PENDING', 'STARTED', 'RETRY', 'STARTED', 'RETRY', 'STARTED', 'SUCCESS']);
    const retries = seen.records.filter((r) => r.status === 'RETRY');
    // jitter 0.5 with r = 0.75: x1.25. Attempt 1 -> 25 ms, attempt 2 -> 75 ms.
    expect(retries.map((r) => [r.error!.message, r.nextAttemptAt! - clock.now(), r.attempt])).toEqual([
      ['boom 1', 25, 1],
      ['boom 2', 75, 2],
    ]);
    await seen.stop();
  });

  it('goes FAILURE after the last retry, lands in the dead-letter queue, and redrive runs it again', async () => {
    let failing = true;
    let calls = 0;
    const reg = defineTasks().define(
      'fragile',
      () => {
        calls++;
        if (failing) throw new TypeError('bad input');
        return 'fixed';
      },
      { retries: 1, backoff: { baseMs: 1, jitter: 0 } },
    );
    const c = await client(reg);
    const id = await c.enqueue('fragile', { x: 1 });
    await worker(c);
    const failed = await c.wait(id);
    expect(failed).toMatchObject({ status: 'FAILURE', attempt: 2, error: { name: 'TypeError', message: 'bad input' } });
    expect(calls).toBe(2);
    await until(async () => (await c.conn.declareQueue(c.deadLetterQueue, { passive: true })).messageCount === 1, 'the dead letter');
    failing = false;
    expect(await c.redrive()).toEqual([id]);
    const again = await c.wait(id);
    expect(again).toMatchObject({ status: 'SUCCESS', result: 'fixed', attempt: 1 });
    expect((await c.conn.declareQueue(c.deadLetterQueue, { passive: true })).messageCount).toBe(0);
    // retry() of a finished (SUCCESS) task is refused.
    await expect(c.retry(id)).rejects.toMatchObject({ name: 'PRECONDITION_FAILED' });
  });

  it('a retry is held by the broker for its back-off: the next attempt does not start before nextAttemptAt', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    let calls = 0;
    const reg = defineTasks().define(
      'later',
      () => {
        calls++;
        throw new Error(`attempt ${calls}`);
      },
      { retries: 2, backoff: { baseMs: 3_600_000, jitter: 0 } },
    );
    const c = await client(reg, { clock });
    const id = await c.enqueue('later');
    const w = await worker(c);
    const events: string[] = [];
    w.on('task', (e) => events.push(e.type));
    await until(() => events.includes('retrying'), 'the first attempt to fail');
    expect(await c.get(id)).toMatchObject({ status: 'RETRY', attempt: 1, run: 2, error: { message: 'attempt 1' }, nextAttemptAt: clock.now() + 3_600_000 });
    // The second attempt's message waits on the broker (delayed, not ready), for the whole back-off.
    const q = tb.broker.vhosts.get('/')!.queues.get(c.queueName('later'))!;
    await until(() => q.delayedCount === 1, 'the retry held by the broker');
    expect(await ready(c, 'later')).toBe(0);
    expect(calls).toBe(1);
    expect((await c.get(id))!.status).toBe('RETRY');
  });

  it('a retry claimed before its RETRY record is written: the next STARTED record keeps the failed attempt\'s error, and the failed worker says retrying', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const gate = deferred();
    const reg = defineTasks().define(
      'race',
      async (_a, ctx) => {
        if (ctx.attempt === 1) throw new Error('boom 1');
        await gate.promise;
        return 'ok';
      },
      { retries: 1, backoff: { baseMs: 1, jitter: 0 } },
    );
    // A's RETRY write is held until B has claimed the retry (deterministic order: claim, then RETRY write).
    const ca = await client(reg, { clock });
    const { retryWriteReached, retryHeld } = holdRetryWrite(ca, 1);
    // prefetch 1: A takes no task while one is still unacked there (its RETRY write held), so the retry goes to B.
    const a = await worker(ca, { id: 'A', prefetch: 1 });
    const eventsA: string[] = [];
    a.on('task', (e) => eventsA.push(e.type));
    const id = await ca.enqueue('race');
    await retryWriteReached.promise;
    const cb = await client(reg, { clock, namespace: ca.namespace });
    const b = await worker(cb, { id: 'B' });
    const eventsB: string[] = [];
    b.on('task', (e) => eventsB.push(e.type));
    await until(() => b.active.includes(id), 'attempt 2 on B');
    // The record never went RETRY: B claimed it from A's STARTED attempt 1, and still records attempt 1's error.
    expect(await cb.get(id)).toMatchObject({ status: 'STARTED', attempt: 2, run: 2, worker: 'B', error: { name: 'Error', message: 'boom 1' } });
    retryHeld.resolve();
    await until(() => eventsA.length === 2, "A's outcome");
    // A's RETRY write lost its compare-and-set to B's claim; the retry did happen, so A reports it, not 'lost'.
    expect(eventsA).toEqual(['started', 'retrying']);
    expect(eventsB).toEqual(['started']); // the retry is not a take-over of A
    gate.resolve();
    expect(await cb.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'ok', attempt: 2, run: 2, worker: 'B' });
  });

  it('the same race with a retry sent by an older worker (no previousError): the STARTED record has no error rather than an older attempt\'s', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const gate = deferred();
    const reg = defineTasks().define(
      'race',
      async (_a, ctx) => {
        if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
        await gate.promise;
        return 'ok';
      },
      { retries: 2, backoff: { baseMs: 1, jitter: 0 } },
    );
    const ca = await client(reg, { clock });
    // A sends its retries as a worker of the previous version did: without previousError.
    const publish = ca.publish.bind(ca);
    ca.publish = (msg, notBefore) => {
      const { previousError: _dropped, ...old } = msg;
      return publish(old, notBefore);
    };
    // Attempt 2's RETRY write (attempt 1's goes through) is held until B has claimed attempt 3.
    const { retryWriteReached, retryHeld } = holdRetryWrite(ca, 2);
    await worker(ca, { id: 'A', prefetch: 1 }); // takes nothing more while attempt 2 is unacked: attempt 3 goes to B
    const id = await ca.enqueue('race');
    await retryWriteReached.promise;
    const cb = await client(reg, { clock, namespace: ca.namespace });
    const b = await worker(cb, { id: 'B' });
    await until(() => b.active.includes(id), 'attempt 3 on B');
    const started = await cb.get(id);
    expect(started).toMatchObject({ status: 'STARTED', attempt: 3, run: 3, worker: 'B' });
    expect(started!.error).toBeUndefined(); // not attempt 1's 'boom 1', left from A's STARTED attempt 2
    retryHeld.resolve();
    gate.resolve();
    expect(await cb.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'ok', attempt: 3, run: 3, worker: 'B' });
  });

  it('a per-attempt timeout aborts the handler and fails the attempt with TimeoutError', async () => {
    const clock = new ManualClock();
    let aborted: unknown;
    const reg = defineTasks().define(
      'hang',
      (_a, ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            aborted = ctx.signal.reason;
            reject(ctx.signal.reason as Error);
          }),
        ),
      { timeoutMs: 10_000 },
    );
    const c = await client(reg, { clock });
    const id = await c.enqueue('hang');
    const w = await worker(c);
    await until(() => w.active.includes(id), 'running');
    clock.advance(9_999);
    expect((await c.get(id))?.status).toBe('STARTED');
    clock.advance(1);
    const done = await c.wait(id);
    expect(done).toMatchObject({ status: 'FAILURE', error: { name: 'TimeoutError' } });
    expect(aborted).toBeInstanceOf(TaskAbort);
  });
});

describe('redrive of a stale dead letter', () => {
  const deadCount = async (c: TaskClient): Promise<number> => (await c.conn.declareQueue(c.deadLetterQueue, { passive: true })).messageCount;

  it('a task retried since its failure and then revoked, or succeeded, is left as it is: not run again, not resurrected', async () => {
    const calls: string[] = [];
    let failing = true;
    const reg = defineTasks().define('flaky', ({ n }: { n: number }) => {
      calls.push(`${n}`);
      if (failing) throw new Error(`failed ${n}`);
      return `ok ${n}`;
    });
    const c = await client(reg);
    const revoked = await c.enqueue('flaky', { n: 1 });
    const succeeded = await c.enqueue('flaky', { n: 2 });
    const w = await worker(c);
    expect(await c.wait(revoked)).toMatchObject({ status: 'FAILURE', run: 1 });
    expect(await c.wait(succeeded)).toMatchObject({ status: 'FAILURE', run: 1 });
    await until(async () => (await deadCount(c)) === 2, 'both dead letters');
    await w.close({ graceMs: 0 });
    // One is retried by hand and revoked before any worker takes it ...
    expect(await c.retry(revoked)).toMatchObject({ status: 'PENDING', run: 2 });
    expect(await c.revoke(revoked, 'not wanted any more')).toMatchObject({ status: 'REVOKED', run: 2 });
    // ... the other retried by hand, and it succeeds.
    failing = false;
    expect(await c.retry(succeeded)).toMatchObject({ status: 'PENDING', run: 2 });
    const w2 = await worker(c);
    expect(await c.wait(succeeded)).toMatchObject({ status: 'SUCCESS', result: 'ok 2', run: 2 });
    // Their dead letters (run 1) are stale: dropped, neither task runs again.
    expect(await c.redrive()).toEqual([]);
    expect(await deadCount(c)).toBe(0);
    const probe = await c.enqueue('flaky', { n: 3 }); // runs after anything redrive would have queued
    expect(await c.wait(probe)).toMatchObject({ status: 'SUCCESS' });
    await until(async () => (await ready(c, 'flaky')) === 0 && w2.active.length === 0, 'queue drained');
    expect(await c.get(revoked)).toMatchObject({ status: 'REVOKED', run: 2, reason: 'not wanted any more' });
    expect(await c.get(succeeded)).toMatchObject({ status: 'SUCCESS', run: 2, result: 'ok 2' });
    expect(calls.sort()).toEqual(['1', '2', '2', '3']);
  });

  it('two copies of one dead letter redriven at once run the task again once, not twice', async () => {
    let calls = 0;
    const reg = defineTasks().define('doomed', () => {
      calls++;
      throw new Error(`failure ${calls}`);
    });
    const a = await client(reg);
    const b = await client(undefined, { namespace: a.namespace });
    const id = await a.enqueue('doomed');
    await worker(a);
    expect(await a.wait(id)).toMatchObject({ status: 'FAILURE', run: 1 });
    await until(async () => (await deadCount(a)) === 1, 'the dead letter');
    // A second copy of it (as a publish re-sent after a reconnect would leave).
    const letter = (await a.conn.get(a.deadLetterQueue))!;
    for (let i = 0; i < 2; i++) await a.conn.publish('', a.deadLetterQueue, letter.body, { persistent: true, contentType: 'application/json' });
    letter.ack();
    // Redrive A reads the record (FAILURE, run 1) and is held there while redrive B redrives the other
    // copy and the task runs again and fails again (FAILURE, run 2).
    const get = a.bucket.get.bind(a.bucket);
    const readStale = deferred();
    const resume = deferred();
    let held = false;
    a.bucket.get = (async (key: string, ...rest: unknown[]) => {
      const e = await (get as (...args: unknown[]) => ReturnType<typeof get>)(key, ...rest);
      if (!held && key === `t.${id}`) {
        held = true;
        readStale.resolve();
        await resume.promise;
      }
      return e;
    }) as typeof a.bucket.get;
    const first = a.redrive({ limit: 1 });
    await readStale.promise;
    expect(await b.redrive({ limit: 1 })).toEqual([id]);
    await until(async () => (await b.get(id))?.status === 'FAILURE' && (await b.get(id))?.run === 2, 'the redriven run to fail again');
    resume.resolve();
    // A's copy is of run 1's failure: the task has moved on, so it is dropped.
    expect(await first).toEqual([]);
    expect(await b.get(id)).toMatchObject({ status: 'FAILURE', run: 2, error: { message: 'failure 2' } });
    const probe = await a.enqueue('doomed', null, { id: 'probe' });
    await a.wait(probe);
    expect(calls).toBe(3); // run 1, run 2, the probe
    // Run 2's own dead letter (and the probe's) are still there for a later redrive.
    await until(async () => (await deadCount(a)) === 2, "run 2's and the probe's dead letters");
  });
});

describe('a per-attempt timeout whose timer fires late', () => {
  /** A ManualClock whose time can also jump without firing timers: the event loop was blocked meanwhile. */
  function lateClock(): { clock: Clock; manual: ManualClock; block: (ms: number) => void } {
    const manual = new ManualClock();
    let skew = 0;
    const clock: Clock = { now: () => manual.now() + skew, setTimeout: (fn, ms) => manual.setTimeout(fn, ms), clearTimeout: (h) => manual.clearTimeout(h) };
    return { clock, manual, block: (ms) => (skew += ms) };
  }

  it('a handler that blocks past the deadline (the timer cannot fire) still fails that attempt with TimeoutError, then retries', async () => {
    const { clock, block } = lateClock();
    let calls = 0;
    const reg = defineTasks().define(
      'blocking',
      () => {
        calls++;
        if (calls === 1) block(15_000); // a synchronous handler that ran 15 s: no timer could fire meanwhile
        return `attempt ${calls}`;
      },
      { timeoutMs: 10_000, retries: 1, backoff: { baseMs: 1, jitter: 0 } },
    );
    const conn = await connect(tb.url);
    open.push(conn);
    const c = await TaskClient.open(conn, { registry: reg, namespace: `ns${++nsCount}`, clock });
    const id = await c.enqueue('blocking');
    const w = await worker(c);
    const events: WorkerEvent[] = [];
    w.on('task', (e) => events.push(e));
    const done = await c.wait(id);
    expect(done).toMatchObject({ status: 'SUCCESS', result: 'attempt 2', attempt: 2 });
    expect(calls).toBe(2);
    // In either order: attempt 1's slot is freed when its handler returns, so attempt 2 may run and
    // succeed before attempt 1's RETRY write (behind the retry's publish) is answered.
    await until(() => events.some((e) => e.type === 'retrying'), 'attempt 1 retrying');
    const outcomes = events.filter((e) => e.type !== 'started');
    expect(outcomes).toHaveLength(2);
    expect(outcomes.find((e) => e.type === 'retrying')).toMatchObject({ attempt: 1, error: { name: 'TimeoutError' } });
    expect(outcomes.find((e) => e.type === 'succeeded')).toMatchObject({ attempt: 2 });
  });

  it('an async handler that settles at the deadline, its timer not yet run, fails with TimeoutError; one a millisecond sooner succeeds', async () => {
    for (const [ran, status] of [
      [9_999, 'SUCCESS'],
      [10_000, 'FAILURE'],
    ] as const) {
      const { clock, manual, block } = lateClock();
      const gate = deferred();
      const reg = defineTasks().define(
        'slowish',
        async () => {
          await gate.promise;
          return 'finished';
        },
        { timeoutMs: 10_000 },
      );
      const conn = await connect(tb.url);
      open.push(conn);
      const c = await TaskClient.open(conn, { registry: reg, namespace: `ns${++nsCount}`, clock });
      const id = await c.enqueue('slowish');
      const w = await worker(c);
      await until(() => w.active.includes(id), 'running');
      block(ran); // time passes, the timer does not fire
      gate.resolve();
      const done = await c.wait(id);
      expect(done.status).toBe(status);
      if (status === 'FAILURE') expect(done.error).toMatchObject({ name: 'TimeoutError' });
      else expect(done.result).toBe('finished');
      manual.advance(60_000); // the late timer, had it been left, finds nothing to abort
      expect((await c.get(id))!.status).toBe(status);
    }
  });
});

describe('enqueue options', () => {
  it('a caller-chosen id runs once however often it is enqueued', async () => {
    let calls = 0;
    const reg = defineTasks().define('once', () => ++calls);
    const c = await client(reg);
    const c2 = await client(reg, { namespace: c.namespace });
    const ids = await Promise.all([c.enqueue('once', 1, { id: 'order-42' }), c2.enqueue('once', 2, { id: 'order-42' }), c.enqueue('once', 3, { id: 'order-42' })]);
    expect(ids).toEqual(['order-42', 'order-42', 'order-42']);
    expect(await ready(c, 'once')).toBe(1);
    await worker(c);
    expect(await c.wait('order-42')).toMatchObject({ status: 'SUCCESS', result: 1 });
    expect(await c.enqueue('once', 4, { id: 'order-42' })).toBe('order-42');
    expect(await ready(c, 'once')).toBe(0);
    expect(calls).toBe(1);
    await expect(c.enqueue('once', 1, { id: 'has.dots' })).rejects.toMatchObject({ name: 'INVALID_ARGUMENT' });
  });

  it('a delayed task is held by the broker until its ETA (not ready, not counted)', async () => {
    const clock = new ManualClock(1_900_000_000_000);
    const c = await client(undefined, { clock });
    const id = await c.enqueue('later', null, { delayMs: 3_600_000 });
    expect(await c.get(id)).toMatchObject({ status: 'PENDING', eta: clock.now() + 3_600_000 });
    const eta = await c.enqueue('later', null, { eta: new Date(clock.now() + 7_200_000) });
    expect((await c.get(eta))!.eta).toBe(clock.now() + 7_200_000);
    expect(await ready(c, 'later')).toBe(0);
  });

  it('higher priority runs first', async () => {
    const order: string[] = [];
    const reg = defineTasks().define('job', (name: string) => void order.push(name), { priority: 2 });
    const c = await client(reg);
    const low = await c.enqueue('job', 'low', { priority: 0 });
    await c.enqueue('job', 'default');
    await c.enqueue('job', 'high', { priority: 9 });
    await worker(c, { concurrency: 1 });
    await c.wait(low);
    expect(order).toEqual(['high', 'default', 'low']);
  });
});

describe('writes followed without waiting for their sync', () => {
  it('earlyWrite() learns the revision of a write that went through before it is durable, and fails with one that did not', async () => {
    const c = await client(undefined);
    const order: string[] = [];
    const first = earlyWrite((applied) => c.bucket.create('t.k1', 'first', { applied }));
    void first.applied.then(() => order.push('applied'));
    void first.done.then(() => order.push('done'));
    const rev = await first.applied;
    expect(await first.done).toBe(rev);
    expect(order).toEqual(['applied', 'done']);
    const losing = earlyWrite((applied) => c.bucket.create('t.k1', 'second', { applied }));
    await expect(losing.applied).rejects.toMatchObject({ name: 'WRONG_REVISION' });
    await expect(losing.done).rejects.toMatchObject({ name: 'WRONG_REVISION' });
  });

  it('two copies of a message race for one PENDING record: one claim wins, the task runs once', async () => {
    let calls = 0;
    const gate = deferred();
    const reg = defineTasks().define('dup', async () => {
      calls++;
      await gate.promise;
      return 'ok';
    });
    const c = await client(reg);
    const id = await c.enqueue('dup');
    const cur = (await c.entry(id))!;
    // A second, non-redelivered copy carrying the same record revision (as a duplicated publish would).
    await c.publish({ id, name: 'dup', args: null, run: 1, attempt: 1, maxAttempts: 1, nonce: cur.record.nonce, priority: 0, enqueuedAt: cur.record.enqueuedAt, rev: cur.revision });
    const c2 = await client(reg, { namespace: c.namespace });
    const [w1, w2] = [await worker(c, { concurrency: 2 }), await worker(c2, { concurrency: 2 })];
    await until(async () => (await ready(c, 'dup')) === 0 && w1.active.length + w2.active.length === 1, 'one copy running, the other dropped');
    const running = (await c.get(id))!;
    expect(running).toMatchObject({ status: 'STARTED', worker: w1.active.length === 1 ? w1.id : w2.id });
    expect(typeof running.claim).toBe('number');
    gate.resolve();
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'ok' });
    expect(calls).toBe(1);
  });

  it('wait() on a task already finished resolves only after a write behind its result is synced', async () => {
    const reg = defineTasks().define('quick', () => 7);
    const c = await client(reg);
    const id = await c.enqueue('quick');
    await worker(c);
    await until(async () => (await c.get(id))?.status === 'SUCCESS', 'finished');
    const before = (await c.bucket.get('sync'))?.revision ?? 0;
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', result: 7 });
    const barrier = await c.bucket.get('sync');
    expect(barrier!.revision).toBeGreaterThan(Math.max(before, (await c.entry(id))!.revision));
  });
});

describe('revoke', () => {
  it('a revoked queued task never runs', async () => {
    let calls = 0;
    const reg = defineTasks().define('r', () => ++calls);
    const c = await client(reg);
    const id = await c.enqueue('r');
    const other = await c.enqueue('r');
    expect(await c.revoke(id, 'changed my mind')).toMatchObject({ status: 'REVOKED', reason: 'changed my mind' });
    await worker(c, { concurrency: 1 });
    await c.wait(other);
    await until(async () => (await ready(c, 'r')) === 0, 'queue drained');
    expect(calls).toBe(1);
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED' });
  });

  it('a task revoked in the claim window (delivered, STARTED not yet written) is not run, and ends REVOKED', async () => {
    let calls = 0;
    const reg = defineTasks().define('cw', () => ++calls);
    const c = await client(reg);
    const other = await client(reg, { namespace: c.namespace });
    const id = await c.enqueue('cw');
    // The worker's claim (the STARTED write) reaches the broker just after a revoke from another client.
    const update = c.bucket.update.bind(c.bucket);
    let revokedFirst = false;
    c.bucket.update = (async (key: string, value: string, ...rest: unknown[]) => {
      if (!revokedFirst && key === `t.${id}` && JSON.parse(value).status === 'STARTED') {
        revokedFirst = true;
        expect(await other.revoke(id, 'in the claim window')).toMatchObject({ status: 'REVOKED' });
      }
      return (update as (...a: unknown[]) => Promise<number>)(key, value, ...rest);
    }) as typeof c.bucket.update;
    const w = await worker(c);
    const events: string[] = [];
    w.on('task', (e) => events.push(e.type));
    const next = await c.enqueue('cw');
    expect(await c.wait(next)).toMatchObject({ status: 'SUCCESS', result: 1 });
    expect(revokedFirst).toBe(true);
    expect(calls).toBe(1); // the revoked task's handler never ran
    expect(events.filter((e) => e === 'started')).toHaveLength(1);
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED', reason: 'in the claim window', attempt: 0 });
    await until(async () => (await ready(c, 'cw')) === 0 && q().unackedCount === 0, 'the revoked task settled');
    function q() {
      return tb.broker.vhosts.get('/')!.queues.get(c.queueName('cw'))!;
    }
  });

  /** Runs one task of `handler` on a worker, revokes it once the handler has started, and waits for the worker to report the revoke. */
  async function revokedWhileRunning(handler: (ctx: TaskContext) => Promise<unknown>): Promise<{ c: TaskClient; id: string; w: Worker }> {
    const started = deferred();
    const reg = defineTasks().define('long', async (_a, ctx) => {
      started.resolve();
      return handler(ctx);
    });
    const c = await client(reg);
    const id = await c.enqueue('long');
    const w = await worker(c);
    const events: string[] = [];
    w.on('task', (e) => events.push(e.type));
    await started.promise;
    await c.revoke(id);
    await until(() => events.includes('revoked'), 'the worker to report the revoke');
    return { c, id, w };
  }

  it('a running handler gets its signal aborted, and the task ends REVOKED', async () => {
    let reason: unknown;
    const { c, id, w } = await revokedWhileRunning(async (ctx) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      reason = ctx.signal.reason;
      return 'should be discarded';
    });
    expect(reason).toMatchObject({ kind: 'revoked' });
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED' });
    expect(w.active).toEqual([]);
    // Revoking a finished task changes nothing.
    expect(await c.revoke(id)).toMatchObject({ status: 'REVOKED' });
    expect(await c.revoke('unknown-id')).toBeNull();
  });

  it('a handler that looks at its signal only after the revoke finds it aborted; the attempt ended at the revoke', async () => {
    const gate = deferred();
    let seen: { aborted: boolean; reason: unknown } | undefined;
    // The handler is still blocked when the worker reports the revoke: the attempt ended without it.
    const { c, id, w } = await revokedWhileRunning(async (ctx) => {
      await gate.promise;
      seen = { aborted: ctx.signal.aborted, reason: ctx.signal.reason };
      return 'should be discarded';
    });
    expect(w.active).toEqual([]);
    gate.resolve();
    await until(() => seen !== undefined, 'the handler to look at its signal');
    expect(seen).toMatchObject({ aborted: true, reason: { kind: 'revoked' } });
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED' });
  });
});

describe('a reaper\'s leftover claim', () => {
  it('does not get a re-issued task re-issued again when its new run starts after the claim ran out', async () => {
    const clockA = new ManualClock(1_000_000); // A is stuck: it writes its lease once
    const clockB = new ManualClock(1_000_000);
    const gate = deferred();
    const ran: string[] = [];
    const reg = defineTasks().define('job', async () => {
      ran.push(ran.length === 0 ? 'A' : 'B');
      if (ran.length === 1) return new Promise(() => undefined);
      await gate.promise;
      return 'from B';
    });
    const ca = await client(reg, { clock: clockA });
    // prefetch 1: the stuck A is not handed run 2 (with more, it would wait there for A's slot until slotWaitMs on A's clock).
    const a = await worker(ca, { leaseMs: 1000, id: 'A', prefetch: 1 });
    const id = await ca.enqueue('job');
    await until(() => a.active.includes(id), 'running on A');
    clockA.advance(333);
    await until(async () => (await ca.leases.get(`l.${id}`)) !== null, "A's lease");
    // C, running no tasks, re-issues it (run 2) once A's lease has run out; its claim on the lease lasts 1000 ms.
    const cc = await client(reg, { clock: clockB, namespace: ca.namespace });
    const reaper = await worker(cc, { leaseMs: 1000, id: 'C', tasks: [] });
    clockB.set(1_002_000);
    expect(await reaper.reap()).toEqual([id]);
    expect(await cc.get(id)).toMatchObject({ status: 'PENDING', run: 2 });
    // Run 2 starts on B only after C's claim ran out, and a reaper looks before B's first renewal.
    clockB.set(1_004_000);
    const cb = await client(reg, { clock: clockB, namespace: ca.namespace });
    const b = await worker(cb, { leaseMs: 1000, id: 'B' });
    await until(() => b.active.includes(id), 'run 2 on B');
    expect(await cb.get(id)).toMatchObject({ status: 'STARTED', run: 2, worker: 'B' });
    expect(await reaper.reap()).toEqual([]);
    expect(await cb.get(id)).toMatchObject({ status: 'STARTED', run: 2, worker: 'B' });
    gate.resolve();
    expect(await cb.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'from B', run: 2, worker: 'B' });
    expect(ran).toEqual(['A', 'B']);
    expect(await ready(cb, 'job')).toBe(0);
  });
});

describe('a late revocation', () => {
  /**
   * A task `long` whose every run waits for its signal or for `finish`; and a task `other`, whose
   * genuine revoke, later on the same worker, shows the worker has seen the revocations before it
   * (they reach it in order).
   */
  async function setup() {
    const runs: Array<{ run: number; signal: AbortSignal }> = [];
    const finish = deferred();
    const reg = defineTasks()
      .define('long', async (_a, ctx) => {
        runs.push({ run: runs.length + 1, signal: ctx.signal });
        await Promise.race([finish.promise, new Promise((r) => ctx.signal.addEventListener('abort', r))]);
        return `run ${runs.length}`;
      })
      .define('other', (_a, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', r)));
    const c = await client(reg);
    const w = await worker(c, { concurrency: 2 });
    const events: string[] = [];
    w.on('task', (e) => events.push(`${e.type} ${e.id}`));
    const id = await c.enqueue('long');
    await until(() => runs.length === 1, 'run 1 to start');
    // Revoked, then retried (run 2) and running again.
    expect(await c.revoke(id)).toMatchObject({ status: 'REVOKED', run: 1 });
    await until(() => events.includes(`revoked ${id}`), 'run 1 revoked');
    expect(await c.retry(id)).toMatchObject({ status: 'PENDING', run: 2 });
    await until(() => runs.length === 2, 'run 2 to start');
    await until(async () => (await c.get(id))?.status === 'STARTED', 'run 2 STARTED');
    /** Waits until the worker has taken in every revocation written before now. */
    const seen = async () => {
      const other = await c.enqueue('other');
      await until(() => w.active.includes(other), 'the marker task to run');
      await c.revoke(other);
      await until(() => events.includes(`revoked ${other}`), 'the marker task revoked');
    };
    return { c, w, id, runs, finish, seen };
  }

  it('of an earlier run (revoke, retry, then the revocation of run 1 arrives) is ignored: the retried run goes on and succeeds', async () => {
    const { c, w, id, runs, finish, seen } = await setup();
    // The revocation of run 1 reaches the worker only now (its marker written late, or written again).
    await c.leases.put(`r.${id}`, '1');
    await seen();
    expect(runs[1]!.signal.aborted).toBe(false);
    expect(w.active).toContain(id);
    expect(await c.get(id)).toMatchObject({ status: 'STARTED', run: 2 });
    finish.resolve();
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'run 2', run: 2 });
  });

  it('one the worker cannot place aborts the running attempt and ends the task REVOKED, never STARTED with nothing running', async () => {
    const { c, w, id, runs, seen } = await setup();
    await c.leases.put(`r.${id}`, 'not a run');
    await seen();
    expect(runs[1]!.signal.aborted).toBe(true);
    expect(w.active).not.toContain(id);
    await until(async () => (await c.get(id))?.status !== 'STARTED', 'the record to leave STARTED');
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED', run: 2 });
  });
});

describe('startedAfterMs: STARTED written only for attempts still running after it', () => {
  it('a task that ends sooner goes PENDING -> SUCCESS, its result record naming the worker and start', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const c = await client(defineTasks().define('quick', (n: number) => n * 2), { clock });
    const id = await c.enqueue('quick', 21);
    const seen = await recordStates(c, id);
    const w = await worker(c, { startedAfterMs: 50 });
    const done = await c.wait(id);
    expect(done).toMatchObject({ status: 'SUCCESS', result: 42, attempt: 1, run: 1, worker: w.id, startedAt: 1_800_000_000_000 });
    await until(() => seen.statuses().includes('SUCCESS'), 'SUCCESS seen');
    expect(seen.statuses()).toEqual(['PENDING', 'SUCCESS']);
    await seen.stop();
  });

  it('a task still running after startedAfterMs goes PENDING -> STARTED -> SUCCESS', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const running = deferred();
    const c = await client(
      defineTasks().define('slow', async () => {
        running.resolve();
        await gate.promise;
        return 'done';
      }),
      { clock },
    );
    const id = await c.enqueue('slow');
    const seen = await recordStates(c, id);
    const w = await worker(c, { startedAfterMs: 50 });
    await running.promise;
    expect((await c.get(id))!.status).toBe('PENDING');
    clock.advance(49);
    expect((await c.get(id))!.status).toBe('PENDING');
    clock.advance(1);
    await until(() => seen.statuses().includes('STARTED'), 'STARTED');
    expect(await c.get(id)).toMatchObject({ status: 'STARTED', worker: w.id, attempt: 1 });
    gate.resolve();
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'done', worker: w.id });
    await until(() => seen.statuses().includes('SUCCESS'), 'SUCCESS seen');
    expect(seen.statuses()).toEqual(['PENDING', 'STARTED', 'SUCCESS']);
    await seen.stop();
  });

  it('progress before startedAfterMs is recorded, and no STARTED record follows it', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const reported = deferred();
    const c = await client(
      defineTasks().define('p', async (_a, ctx) => {
        await ctx.progress(10);
        reported.resolve();
        await gate.promise;
        return 1;
      }),
      { clock },
    );
    const id = await c.enqueue('p');
    const seen = await recordStates(c, id);
    await worker(c, { startedAfterMs: 50 });
    await reported.promise;
    clock.advance(1000);
    gate.resolve();
    await c.wait(id);
    await until(() => seen.statuses().includes('SUCCESS'), 'SUCCESS seen');
    expect(seen.statuses()).toEqual(['PENDING', 'PROGRESS', 'SUCCESS']);
    await seen.stop();
  });

  it('a task revoked while it runs unrecorded ends REVOKED; the outcome is discarded', async () => {
    const gate = deferred();
    const running = deferred();
    const c = await client(
      defineTasks().define('r', async () => {
        running.resolve();
        await gate.promise;
        return 'discarded';
      }),
    );
    const id = await c.enqueue('r');
    const w = await worker(c, { startedAfterMs: 50 });
    const events: string[] = [];
    w.on('task', (e) => events.push(e.type));
    await running.promise;
    expect(await c.revoke(id)).toMatchObject({ status: 'REVOKED' });
    await until(() => events.includes('revoked'), 'the worker to report the revoke');
    gate.resolve();
    await until(async () => (await ready(c, 'r')) === 0, 'queue drained');
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED' });
    expect(events).not.toContain('succeeded');
  });

  it('a task revoked between the read that claims it and its handler start: the handler is not run, the task ends REVOKED', async () => {
    let calls = 0;
    const c = await client(defineTasks().define('cw', () => ++calls));
    const other = await client(undefined, { namespace: c.namespace });
    const id = await c.enqueue('cw');
    // The worker's read of the record answers PENDING (its claim), then the revoke lands and reaches
    // the worker before the read's answer does.
    const get = c.bucket.get.bind(c.bucket);
    let revokedFirst = false;
    c.bucket.get = (async (key: string, ...rest: unknown[]) => {
      const e = await (get as (...a: unknown[]) => ReturnType<typeof get>)(key, ...rest);
      if (!revokedFirst && key === `t.${id}` && e?.json<TaskRecord>().status === 'PENDING') {
        revokedFirst = true;
        expect(await other.revoke(id, 'too late to claim')).toMatchObject({ status: 'REVOKED' });
        await until(async () => (await c.leases.get(`r.${id}`)) !== null, 'the marker');
        for (let i = 0; i < 5; i++) await nextTurn();
      }
      return e;
    }) as typeof c.bucket.get;
    const w = await worker(c, { startedAfterMs: 50 });
    const events: string[] = [];
    w.on('task', (e) => events.push(e.type));
    await until(() => events.includes('revoked') || events.includes('succeeded') || events.includes('lost'), 'the task settled');
    expect(revokedFirst).toBe(true);
    expect(calls).toBe(0);
    expect(events).toContain('revoked');
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED', reason: 'too late to claim' });
    await until(async () => (await ready(c, 'cw')) === 0 && tb.broker.vhosts.get('/')!.queues.get(c.queueName('cw'))!.unackedCount === 0, 'the message settled');
  });

  it('a task re-sent by retry() while it runs unrecorded: the first outcome is discarded (lost), the second is kept', async () => {
    const gate = deferred();
    const running = deferred();
    let calls = 0;
    const c = await client(
      defineTasks().define('t', async () => {
        const n = ++calls;
        if (n === 1) {
          running.resolve();
          await gate.promise;
        }
        return n;
      }),
    );
    const id = await c.enqueue('t');
    const w = await worker(c, { startedAfterMs: 50, concurrency: 2 });
    const events: string[] = [];
    w.on('task', (e) => events.push(e.type));
    await running.promise;
    expect(await c.retry(id)).toMatchObject({ status: 'PENDING', run: 2 });
    await until(() => events.includes('succeeded'), 'the re-sent run to succeed');
    gate.resolve();
    await until(() => events.includes('lost'), 'the first run to be reported lost');
    expect(await c.get(id)).toMatchObject({ status: 'SUCCESS', result: 2, run: 2 });
  });

  it('a task revoked while still queued is not run: its handler never starts', async () => {
    const ran: string[] = [];
    const c = await client(defineTasks().define('rq', (tag: string) => void ran.push(tag)));
    const id = await c.enqueue('rq', 'revoked');
    expect(await c.revoke(id)).toMatchObject({ status: 'REVOKED' });
    const after = await c.enqueue('rq', 'after');
    // Concurrency 1: the revoked task's message is settled before the next one runs.
    await worker(c, { startedAfterMs: 50 });
    expect(await c.wait(after)).toMatchObject({ status: 'SUCCESS' });
    expect(ran).toEqual(['after']);
    expect(await c.get(id)).toMatchObject({ status: 'REVOKED' });
  });

  it('a queued task re-sent by retry(): the superseded message is not run, only the new run is', async () => {
    const ran: number[] = [];
    const c = await client(defineTasks().define('rs', (n: number) => void ran.push(n)));
    const id = await c.enqueue('rs', 1);
    expect(await c.retry(id)).toMatchObject({ status: 'PENDING', run: 2 });
    const after = await c.enqueue('rs', 2);
    await worker(c, { startedAfterMs: 50 });
    expect(await c.wait(after)).toMatchObject({ status: 'SUCCESS' });
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', run: 2 });
    expect(ran.filter((n) => n === 1)).toHaveLength(1);
  });

  it('a second copy of the message (a publish re-sent after reconnecting) is not run while this worker runs the first', async () => {
    const gate = deferred();
    const running = deferred();
    let calls = 0;
    const c = await client(
      defineTasks().define('dup', async () => {
        calls++;
        running.resolve();
        await gate.promise;
        return calls;
      }),
    );
    const id = await c.enqueue('dup');
    // The queued message, sent twice: two copies of one run, neither redelivered.
    const got = (await c.conn.get(c.queueName('dup')))!;
    const m = got.json<TaskMessage>();
    expect(m.rev).toBeGreaterThan(0);
    await c.publish(m);
    await c.publish(m);
    got.ack();
    const w = await worker(c, { startedAfterMs: 50, concurrency: 2 });
    const events: string[] = [];
    w.on('task', (e) => events.push(e.type));
    await running.promise;
    await until(async () => (await ready(c, 'dup')) === 0, 'both copies delivered');
    await until(() => w.active.length === 1 && events.length >= 1, 'the first copy running');
    gate.resolve();
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', result: 1 });
    await until(() => events.includes('succeeded'), 'succeeded');
    expect(calls).toBe(1);
    expect(events).not.toContain('lost');
  });

  it('a task handed back by close() before its STARTED record: no STARTED by the closed worker, the next one runs it', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    let calls = 0;
    const reg = defineTasks().define('hb', async (_a, ctx) => {
      if (++calls === 1) {
        await new Promise((r) => ctx.signal.addEventListener('abort', r));
        return 'from A';
      }
      await gate.promise;
      return 'from B';
    });
    const c = await client(reg, { clock });
    const id = await c.enqueue('hb');
    const seen = await recordStates(c, id);
    const a = await Worker.start(c, { id: 'A', startedAfterMs: 1000 });
    await until(() => a.active.includes(id), 'running on A');
    const closing = tracked(a.close({ graceMs: 500 }));
    await until(() => {
      clock.advance(100);
      return closing.settled();
    }, 'close');
    // Past A's start timer: a timer left behind would write STARTED for A now.
    clock.advance(5000);
    const c2 = await client(reg, { clock, namespace: c.namespace });
    await worker(c2, { id: 'B', startedAfterMs: 1000 });
    gate.resolve();
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'from B', worker: 'B' });
    await until(() => seen.statuses().includes('SUCCESS'), 'SUCCESS seen');
    expect(seen.records.filter((r) => r.worker === 'A')).toEqual([]);
    await seen.stop();
  });

  it('rejects a negative startedAfterMs', async () => {
    const c = await client(defineTasks().define('x', () => 1));
    await expect(Worker.start(c, { startedAfterMs: -1 })).rejects.toThrow(TypeError);
  });
});

describe('leases', () => {
  it('keeps the lease of a task that runs far longer than the lease: nobody takes it over', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    let calls = 0;
    const reg = defineTasks().define('hour', async () => {
      calls++;
      await gate.promise;
      return 'done';
    });
    const c = await client(reg, { clock });
    const c2 = await client(reg, { clock, namespace: c.namespace });
    const a = await worker(c, { leaseMs: 900, id: 'A' });
    const id = await c.enqueue('hour');
    await until(() => a.active.includes(id), 'running on A');
    const b = await worker(c2, { leaseMs: 900, id: 'B' });
    // 20 lease lengths: A renews every 300 ms of clock time.
    for (let i = 0; i < 60; i++) {
      clock.advance(300);
      let last: string | undefined;
      await until(async () => {
        last = (await c.leases.get(`l.${id}`))?.text();
        return last !== undefined && JSON.parse(last).until === clock.now() + 900;
      }, () => `the renewal at ${clock.now()} (lease ${last})`);
      if (i % 10 === 0) expect(await b.reap()).toEqual([]);
    }
    expect(await b.reap()).toEqual([]);
    gate.resolve();
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', worker: 'A', run: 1 });
    expect(calls).toBe(1);
    expect(a.active).toEqual([]);
    await until(async () => (await c.leases.get(`l.${id}`)) === null, 'the lease dropped');
  });

  it('takes over the task of a stuck worker (its lease ran out) and discards the stuck outcome', async () => {
    const clockA = new ManualClock(1_000_000); // moves once: A writes its lease, then never renews it
    const clockB = new ManualClock(1_000_000);
    const gate = deferred();
    const ran: string[] = [];
    const reg = defineTasks().define('job', async (_a, ctx) => {
      ran.push(`${ctx.attempt}`);
      if (ran.length === 1) {
        await gate.promise; // the stuck one
        return 'stuck result';
      }
      return 'fresh result';
    });
    const ca = await client(reg, { clock: clockA });
    const cb = await client(reg, { clock: clockB, namespace: ca.namespace });
    const a = await worker(ca, { leaseMs: 1000, id: 'A', prefetch: 1 }); // the stuck A is not handed run 2
    const lost: string[] = [];
    a.on('task', (e) => e.type === 'lost' && lost.push(e.id));
    const id = await ca.enqueue('job');
    await until(() => a.active.includes(id), 'running on A');
    // The lease is written at the first renewal, a third of the lease in: valid until 1_000_333 + 1000.
    clockA.advance(333);
    await until(async () => (await ca.leases.get(`l.${id}`)) !== null, 'the lease');
    const b = await worker(cb, { leaseMs: 1000, id: 'B' });
    expect(await b.reap()).toEqual([]);
    clockB.set(1_001_333);
    expect(await b.reap()).toEqual([]);
    clockB.set(1_001_334);
    expect(await b.reap()).toEqual([id]);
    await until(async () => (await ca.get(id))?.status === 'SUCCESS', 'SUCCESS after the takeover');
    expect(await ca.get(id)).toMatchObject({ status: 'SUCCESS', worker: 'B', result: 'fresh result', run: 2 });
    gate.resolve();
    await until(() => lost.includes(id), 'A to notice it lost the task');
    expect(await ca.get(id)).toMatchObject({ status: 'SUCCESS', worker: 'B', result: 'fresh result' });
    expect(ran).toHaveLength(2);
  });
});

describe('a dead worker\'s leftover lease', () => {
  it('does not let a reaper re-issue the task another worker took over by redelivery: it runs once', async () => {
    const clockA = new ManualClock(1_000_000); // A dies with its clock: it never renews again
    const clockB = new ManualClock(1_000_000);
    const gateB = deferred();
    const ran: string[] = [];
    const reg = defineTasks().define('job', async (_a, ctx) => {
      ran.push(`${ran.length === 0 ? 'A' : 'B'}:${ctx.attempt}`);
      if (ran.length === 1) return new Promise(() => undefined); // A's run: never ends, ignores its signal
      await gateB.promise;
      return 'from B';
    });
    // A on a link of its own that can be cut as a dead process's would be (no reconnect).
    const connA = await connect({ url: tb.url, reconnect: false } as Parameters<typeof connect>[0]);
    open.push(connA);
    const ns = `ns${++nsCount}`;
    const ca = await TaskClient.open(connA, { registry: reg, namespace: ns, clock: clockA });
    const a = await worker(ca, { leaseMs: 1000, id: 'A' });
    a.on('error', () => undefined); // its link is cut below
    const id = await ca.enqueue('job');
    await until(() => a.active.includes(id), 'running on A');
    clockA.advance(333); // A writes its lease: valid until 1_001_333
    await until(async () => (await ca.leases.get(`l.${id}`)) !== null, "A's lease");
    // A dies: its link drops, the broker requeues the task (redelivered). Its lease stays behind.
    (connA as unknown as { links: { current: { transport: { destroy(e?: Error): void } } } }).links.current.transport.destroy(new Error('killed'));
    const cb = await client(reg, { clock: clockB, namespace: ns });
    await until(async () => (await ready(cb, 'job')) === 1, 'the task requeued');
    // B comes up after A's lease has run out and takes the task over (same run, redelivered).
    clockB.set(1_005_000);
    const b = await worker(cb, { leaseMs: 1000, id: 'B' });
    await until(() => b.active.includes(id), 'taken over by B');
    expect(await cb.get(id)).toMatchObject({ status: 'STARTED', worker: 'B', run: 1 });
    // A reaper runs before B's first renewal: A's lease is out of date, but it is not B's.
    const c3 = await client(reg, { clock: clockB, namespace: ns });
    const reaper = await worker(c3, { leaseMs: 1000, id: 'C', tasks: [] });
    expect(await reaper.reap()).toEqual([]);
    expect(await b.reap()).toEqual([]);
    expect(await cb.leases.get(`l.${id}`)).toBeNull(); // A's leftover lease, dropped
    expect(await cb.get(id)).toMatchObject({ status: 'STARTED', worker: 'B', run: 1 });
    expect(await ready(cb, 'job')).toBe(0);
    // B keeps its lease from now on, and the task finishes once, on B.
    for (let i = 0; i < 6; i++) {
      clockB.advance(333);
      expect(await reaper.reap()).toEqual([]);
    }
    gateB.resolve();
    expect(await cb.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'from B', worker: 'B', run: 1 });
    expect(ran).toEqual(['A:1', 'B:1']);
    expect(await ready(cb, 'job')).toBe(0);
  });
});

describe('rate limits and concurrency', () => {
  it('starts at most `max` per window per task name, and per group', async () => {
    const clock = new ManualClock(60_000 * 1000 + 5000);
    const ran: string[] = [];
    const reg = defineTasks()
      .define('api', (x: string) => void ran.push(x), { rateLimit: { max: 2, perMs: 60_000 } })
      .define('mail', (x: string) => void ran.push(x), { groupRateLimit: { max: 1, perMs: 60_000 } });
    const c = await client(reg, { clock });
    const ids = [await c.enqueue('api', 'a1'), await c.enqueue('api', 'a2'), await c.enqueue('api', 'a3')];
    const m = [await c.enqueue('mail', 'x1', { group: 'x.com' }), await c.enqueue('mail', 'x2', { group: 'x.com' }), await c.enqueue('mail', 'y1', { group: 'y.com' })];
    await worker(c, { concurrency: 4 });
    await Promise.all([c.wait(ids[0]!), c.wait(ids[1]!), c.wait(m[0]!), c.wait(m[2]!)]);
    // The third start of `api` and the second of group x.com wait for the next window (55 s away), held by the broker.
    await until(async () => (await ready(c, 'api')) === 0 && (await ready(c, 'mail')) === 0, 'held');
    expect((await c.get(ids[2]!))!.status).toBe('PENDING');
    expect((await c.get(m[1]!))!.status).toBe('PENDING');
    expect(ran.sort()).toEqual(['a1', 'a2', 'x1', 'y1']);
  });

  it('runs at most `concurrency` handlers at once per worker, and a task limit below it', async () => {
    let now = 0;
    let peak = 0;
    let peakSlow = 0;
    let slowNow = 0;
    const gates: Array<() => void> = [];
    const hold = () => new Promise<void>((r) => gates.push(r));
    const reg = defineTasks()
      .define('fast', async () => {
        peak = Math.max(peak, ++now);
        await hold();
        now--;
      })
      .define(
        'slow',
        async () => {
          peak = Math.max(peak, ++now);
          peakSlow = Math.max(peakSlow, ++slowNow);
          await hold();
          now--;
          slowNow--;
        },
        { concurrency: 1 },
      );
    const c = await client(reg);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await c.enqueue(i % 2 ? 'fast' : 'slow'));
    await worker(c, { concurrency: 3 });
    await until(() => gates.length === 3, 'three running');
    expect(now).toBe(3);
    await until(async () => {
      while (gates.length > 0) gates.shift()!();
      return (await Promise.all(ids.map((id) => c.get(id)))).every((r) => r!.status === 'SUCCESS');
    }, 'all done');
    expect(peak).toBe(3);
    expect(peakSlow).toBe(1);
  });
});

describe('tasks delivered beyond the running handlers (prefetch)', () => {
  const unacked = (c: TaskClient, task: string): number => tb.broker.vhosts.get('/')!.queues.get(c.queueName(task))!.unackedCount;

  it("frees a handler's slot when it returns: the next task runs while the outcome is written, and the ack waits for the stored outcome", async () => {
    const ran: string[] = [];
    const reg = defineTasks().define('t', (x: string) => {
      ran.push(x);
      return x;
    });
    const c = await client(reg);
    // The SUCCESS write of the first task is held.
    const held = deferred();
    const reached = deferred();
    const update = c.bucket.update.bind(c.bucket);
    c.bucket.update = async (key, value, revision, options) => {
      const rec = typeof value === 'string' ? (JSON.parse(value) as TaskRecord) : undefined;
      if (rec?.status === 'SUCCESS' && rec.args === 'one') {
        reached.resolve();
        await held.promise;
      }
      return update(key, value, revision, options);
    };
    const one = await c.enqueue('t', 'one');
    const two = await c.enqueue('t', 'two');
    await worker(c, { concurrency: 1 }); // prefetch: 4 by default
    await reached.promise;
    // One slot: 'two' ran after 'one' returned, while one's outcome is still unwritten; 'one' is not acked.
    expect((await c.wait(two)).status).toBe('SUCCESS');
    expect(ran).toEqual(['one', 'two']);
    expect((await c.get(one))!.status).toBe('STARTED');
    expect(unacked(c, 't')).toBe(1);
    held.resolve();
    expect(await c.wait(one)).toMatchObject({ status: 'SUCCESS', result: 'one' });
    await until(() => unacked(c, 't') === 0, 'one acked');
    expect(await ready(c, 't')).toBe(0);
  });

  it('runs at most `concurrency` handlers; the tasks delivered ahead wait unstarted (PENDING) and start highest priority first', async () => {
    const gates = new Map<string, () => void>();
    const order: string[] = [];
    let now = 0;
    let peak = 0;
    const reg = defineTasks().define('t', async (x: string) => {
      order.push(x);
      peak = Math.max(peak, ++now);
      await new Promise<void>((r) => gates.set(x, r));
      now--;
    });
    const c = await client(reg);
    const w = await worker(c, { concurrency: 1, prefetch: 3 });
    const first = await c.enqueue('t', 'first');
    await until(() => gates.has('first'), 'first running');
    const low = await c.enqueue('t', 'low', { priority: 1 });
    await until(() => w.waiting.length === 1, 'low waiting');
    const high = await c.enqueue('t', 'high', { priority: 5 });
    await until(() => w.waiting.length === 2, 'high waiting');
    expect(w.waiting).toEqual([high, low]);
    expect(w.active).toEqual([first]);
    expect((await c.get(low))!.status).toBe('PENDING');
    expect((await c.get(high))!.status).toBe('PENDING');
    expect(await ready(c, 't')).toBe(0);
    gates.get('first')!();
    await until(() => gates.has('high'), 'high running');
    expect(w.waiting).toEqual([low]);
    gates.get('high')!();
    await until(() => gates.has('low'), 'low running');
    gates.get('low')!();
    await c.wait(low);
    expect(order).toEqual(['first', 'high', 'low']);
    expect(peak).toBe(1);
  });

  it('a revoked task waiting for a slot is dropped at once and never runs; it ends REVOKED', async () => {
    const ran: string[] = [];
    const gate = deferred();
    const reg = defineTasks().define('t', async (x: string) => {
      ran.push(x);
      if (x === 'first') await gate.promise;
      return x;
    });
    const c = await client(reg);
    const w = await worker(c, { concurrency: 1 });
    const first = await c.enqueue('t', 'first');
    await until(() => w.active.includes(first), 'first running');
    const second = await c.enqueue('t', 'second');
    await until(() => w.waiting.includes(second), 'second waiting');
    await c.revoke(second);
    await until(() => w.waiting.length === 0 && unacked(c, 't') === 1, 'second dropped');
    expect((await c.get(second))!.status).toBe('REVOKED');
    gate.resolve();
    expect((await c.wait(first)).status).toBe('SUCCESS');
    expect(ran).toEqual(['first']);
    expect(await c.wait(second)).toMatchObject({ status: 'REVOKED' });
    await until(() => unacked(c, 't') === 0, 'all acked');
    expect(await ready(c, 't')).toBe(0);
  });

  it('a task that waits for a slot longer than slotWaitMs is handed back, and an idle worker runs it', async () => {
    const clockA = new ManualClock();
    const gate = deferred();
    const reg = defineTasks().define('t', async (x: string) => {
      if (x === 'long') await gate.promise;
      return x;
    });
    const ca = await client(reg, { clock: clockA });
    const a = await worker(ca, { id: 'A', concurrency: 1, slotWaitMs: 1000 });
    const startedOnA: string[] = [];
    a.on('task', (e) => e.type === 'started' && startedOnA.push(e.id));
    const long = await ca.enqueue('t', 'long');
    await until(() => a.active.includes(long), 'long running on A');
    const next = await ca.enqueue('t', 'next');
    await until(() => a.waiting.includes(next), 'next waiting on A');
    const cb = await client(reg, { namespace: ca.namespace });
    await worker(cb, { id: 'B', concurrency: 1 });
    // Not before slotWaitMs; then A hands it back, and the broker's round-robin gives it to B (after one more turn on A at most).
    clockA.advance(999);
    expect(a.waiting).toEqual([next]);
    await until(async () => {
      clockA.advance(1);
      if (a.waiting.length > 0) clockA.advance(1000);
      return (await ca.get(next))?.status === 'SUCCESS';
    }, 'next to run on B');
    expect(await ca.get(next)).toMatchObject({ status: 'SUCCESS', worker: 'B', result: 'next', attempt: 1, run: 1 });
    expect(startedOnA).toEqual([long]);
    gate.resolve();
    expect(await ca.wait(long)).toMatchObject({ status: 'SUCCESS', worker: 'A' });
  });
});

describe('workers seen from the broker', () => {
  it("names each consumer after its worker and task ('<worker id>/<task>'), as the console shows them", async () => {
    const reg = defineTasks()
      .define('a', () => 1)
      .define('b', () => 2);
    const c = await client(reg);
    const w = await worker(c, { id: 'box-1' });
    const tags = (task: string) => tb.broker.vhosts.get('/')!.queues.get(c.queueName(task))!.consumerList().map((k) => k.tag);
    expect(tags('a')).toEqual(['box-1/a']);
    expect(tags('b')).toEqual(['box-1/b']);
    expect(w.id).toBe('box-1');
  });

  it('a second worker given the same id on the same connection still starts (the broker picks its tags)', async () => {
    const reg = defineTasks().define('a', () => 1);
    const c = await client(reg);
    await worker(c, { id: 'twin' });
    await worker(c, { id: 'twin' });
    const tags = tb.broker.vhosts.get('/')!.queues.get(c.queueName('a'))!.consumerList().map((k) => k.tag);
    expect(tags.length).toBe(2);
    expect(tags[0]).toBe('twin/a');
    expect(tags[1]).not.toBe('twin/a');
  });

  it('a worker that fails to start leaves no consumer behind', async () => {
    const reg = defineTasks()
      .define('a', () => 1)
      .define('b', () => 2);
    const c = await client(reg);
    // b's queue exists with other arguments: declaring it fails (PRECONDITION_FAILED) after a's consumer started.
    await c.conn.declareQueue(c.queueName('b'), { durable: true });
    await expect(Worker.start(c, { id: 'half' })).rejects.toMatchObject({ name: 'PRECONDITION_FAILED' });
    await until(() => tb.broker.vhosts.get('/')!.queues.get(c.queueName('a'))!.consumerList().length === 0, 'a has no consumer');
    // And nothing runs a's tasks.
    const id = await c.enqueue('a');
    expect((await c.get(id))?.status).toBe('PENDING');
    expect(await ready(c, 'a')).toBe(1);
  });
});

describe('graceful shutdown', () => {
  it('lets running tasks finish within the grace, and hands back the rest to another worker', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    let calls = 0;
    const reg = defineTasks().define('t', async (_a, ctx) => {
      calls++;
      if (calls === 1) {
        await new Promise((r) => ctx.signal.addEventListener('abort', r)); // ignores everything but abort
        return 'from the first';
      }
      await gate.promise;
      return 'from the second';
    });
    const c = await client(reg, { clock });
    const a = await Worker.start(c, { id: 'A' });
    const id = await c.enqueue('t');
    await until(() => a.active.includes(id), 'running on A');
    const closing = tracked(a.close({ graceMs: 5000 }));
    // Time passes until close() gives up waiting (grace) and hands the task back.
    await until(() => {
      clock.advance(100);
      return closing.settled();
    }, 'close');
    expect((await closing.result).ok).toBe(true);
    const c2 = await client(reg, { clock, namespace: c.namespace });
    const b = await worker(c2, { id: 'B' });
    const taken: string[] = [];
    b.on('task', (e) => e.type === 'taken-over' && taken.push(e.from));
    gate.resolve();
    expect(await c.wait(id)).toMatchObject({ status: 'SUCCESS', result: 'from the second', worker: 'B' });
    expect(taken).toEqual(['A']);
  });

  it('hands back at once the tasks delivered but not started (waiting for a slot), and lets the running one finish', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const ran: string[] = [];
    const reg = defineTasks().define('t', async (x: string) => {
      ran.push(x);
      if (x === 'running') await gate.promise;
      return x;
    });
    const c = await client(reg, { clock });
    const a = await Worker.start(c, { id: 'A', concurrency: 1 });
    const events: string[] = [];
    a.on('task', (e) => events.push(`${e.type} ${e.id}`));
    const running = await c.enqueue('t', 'running');
    await until(() => a.active.includes(running), 'running on A');
    const queued = await c.enqueue('t', 'queued');
    await until(() => a.waiting.includes(queued), 'queued waiting on A');
    const closing = tracked(a.close({ graceMs: 60_000 }));
    // Handed back before the grace has passed (the clock does not move) while the running task goes on.
    await until(async () => (await ready(c, 't')) === 1, 'queued back in the queue');
    expect(events).toEqual([`started ${running}`, `handed-back ${queued}`]);
    expect(closing.settled()).toBe(false);
    expect((await c.get(queued))!.status).toBe('PENDING');
    gate.resolve();
    expect((await closing.result).ok).toBe(true);
    expect(await c.get(running)).toMatchObject({ status: 'SUCCESS', worker: 'A' });
    const c2 = await client(reg, { clock, namespace: c.namespace });
    const b = await worker(c2, { id: 'B' });
    const taken: string[] = [];
    b.on('task', (e) => e.type === 'taken-over' && taken.push(e.from));
    expect(await c.wait(queued)).toMatchObject({ status: 'SUCCESS', worker: 'B', attempt: 1 });
    expect(taken).toEqual([]);
    expect(ran).toEqual(['running', 'queued']);
  });
});
