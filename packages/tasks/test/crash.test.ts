/**
 * Crashes: a worker SIGKILLed mid-task (its task finishes once, on another
 * worker), and a broker SIGKILLed after a task finished (its result is still
 * there after the restart, and expires at its TTL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { defineTasks, TaskClient, Worker, type TaskRecord } from '@warren/tasks';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { killAllChildren, spawnBroker } from '../../../test-support/broker-process.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { until } from '../../../test-support/wait.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(here, '../../..');
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await killAllChildren();
});

function spawnWorker(url: string, namespace: string): { proc: ChildProcess; out: () => string } {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'worker-child.ts'), url, namespace], {
    cwd: repoRoot,
    env: { ...process.env, TSX_TSCONFIG_PATH: join(repoRoot, 'test-support/tsconfig.child.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    }
  });
  return { proc, out: () => out };
}

describe('a worker SIGKILLed mid-task', () => {
  it('the task is redelivered at once and finishes once, on another worker', async () => {
    const tb: TestBroker = await startTestBroker();
    cleanups.push(() => tb.stop());
    const child = spawnWorker(tb.url, 'crash');
    await until(() => child.out().includes('ready'), () => `the child worker: ${child.out()}`);

    const conn: Connection = await connect(tb.url);
    cleanups.push(() => conn.close());
    let runs = 0;
    const registry = defineTasks().define('slow', () => {
      runs++;
      return 'from the survivor';
    });
    // A long lease: the takeover below must come from the redelivery, not from a lease running out.
    const client = await TaskClient.open(conn, { namespace: 'crash', registry });
    const id = await client.enqueue('slow', { n: 1 });
    await until(() => child.out().includes(`started ${id} 1`), () => `the child to start the task: ${child.out()}`);
    expect(await client.get(id)).toMatchObject({ status: 'STARTED', worker: 'child' });

    child.proc.kill('SIGKILL');
    await new Promise((r) => child.proc.once('exit', r));
    const survivor = await Worker.start(client, { id: 'survivor', leaseMs: 3_600_000 });
    cleanups.push(() => survivor.close({ graceMs: 0 }));
    const taken: string[] = [];
    survivor.on('task', (e) => e.type === 'taken-over' && taken.push(e.from));

    const done = await client.wait(id);
    expect(done).toMatchObject({ status: 'SUCCESS', result: 'from the survivor', worker: 'survivor', attempt: 1 });
    expect(runs).toBe(1);
    expect(taken).toEqual(['child']);
    // Nothing left to run it a third time.
    expect((await conn.declareQueue(client.queueName('slow'), { passive: true })).messageCount).toBe(0);
  });
});

describe('a worker SIGKILLed with a task delivered ahead (waiting for a slot)', () => {
  it('both its tasks are redelivered at once: the running one is taken over, the waiting one runs as a first start; each runs once', async () => {
    const tb: TestBroker = await startTestBroker();
    cleanups.push(() => tb.stop());
    const child = spawnWorker(tb.url, 'crash2'); // concurrency 1, prefetch 4 (the default)
    await until(() => child.out().includes('ready'), () => `the child worker: ${child.out()}`);

    const conn: Connection = await connect(tb.url);
    cleanups.push(() => conn.close());
    const runs: string[] = [];
    const registry = defineTasks().define('slow', (args: { n: number }) => {
      runs.push(`${args.n}`);
      return 'from the survivor';
    });
    const client = await TaskClient.open(conn, { namespace: 'crash2', registry });
    const first = await client.enqueue('slow', { n: 1 });
    await until(() => child.out().includes(`started ${first} 1`), () => `the child to start the task: ${child.out()}`);
    const second = await client.enqueue('slow', { n: 2 });
    const queue = tb.broker.vhosts.get('/')!.queues.get(client.queueName('slow'))!;
    await until(() => queue.unackedCount === 2, 'both delivered to the child');
    expect(await client.get(second)).toMatchObject({ status: 'PENDING' });

    child.proc.kill('SIGKILL');
    await new Promise((r) => child.proc.once('exit', r));
    const survivor = await Worker.start(client, { id: 'survivor', leaseMs: 3_600_000 });
    cleanups.push(() => survivor.close({ graceMs: 0 }));
    const taken: string[] = [];
    survivor.on('task', (e) => e.type === 'taken-over' && taken.push(e.id));

    expect(await client.wait(first)).toMatchObject({ status: 'SUCCESS', worker: 'survivor', attempt: 1 });
    expect(await client.wait(second)).toMatchObject({ status: 'SUCCESS', worker: 'survivor', attempt: 1, run: 1 });
    expect(runs.sort()).toEqual(['1', '2']);
    expect(taken).toEqual([first]);
    expect(child.out()).not.toContain(`started ${second}`);
    expect((await conn.declareQueue(client.queueName('slow'), { passive: true })).messageCount).toBe(0);
  });
});

describe('a broker SIGKILLed after a task finished', () => {
  it('keeps the result across the restart, and the result expires at its TTL', async () => {
    const dataDir = await tempDir('warren-tasks-');
    cleanups.push(() => removeDir(dataDir));
    let broker = await spawnBroker(dataDir);
    // Long enough to outlive the broker's restart on a loaded machine; the expiry is then awaited (real time: the broker's clock).
    const ttl = 10_000;
    const registry = defineTasks().define('square', (n: number) => n * n, { resultTtlMs: ttl });
    let conn = await connect({ url: broker.url, reconnect: false } as Parameters<typeof connect>[0]);
    let client = await TaskClient.open(conn, { namespace: 'durable', registry });
    const worker = await Worker.start(client, {});
    const id = await client.enqueue('square', 12);
    expect(await client.wait(id)).toMatchObject({ status: 'SUCCESS', result: 144 });
    await worker.close({ graceMs: 0 });

    await broker.kill9();
    await conn.close().catch(() => undefined);
    broker = await spawnBroker(dataDir);
    conn = await connect(broker.url);
    cleanups.push(() => conn.close());
    client = await TaskClient.open(conn, { namespace: 'durable', registry });
    const e = await client.bucket.get(`t.${id}`);
    expect(e!.json<TaskRecord>()).toMatchObject({ status: 'SUCCESS', result: 144, attempt: 1 });
    expect(await client.result(id)).toMatchObject({ status: 'SUCCESS', result: 144 });
    // Expires `ttl` ms after it was written (the broker's clock), and then the task is unknown.
    expect(e!.expiresAt - e!.createdAt).toBe(ttl);
    await until(async () => (await client.result(id)) === null, 'the result to expire', { limitMs: 40_000, everyMs: 100 });
    expect((await client.bucket.history(`t.${id}`)).at(-1)).toMatchObject({ op: 'expired', createdAt: e!.expiresAt });
  });
});
