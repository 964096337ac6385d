/** `warren worker` and `warren task ...` against a real broker. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { defineTasks, TaskClient, Worker } from '@warren/tasks';
import { startHttpBroker, ADMIN } from '../../../test-support/http-api.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { ensureBuilt, ROOT, run, start } from './helpers.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';

let tb: TestBroker;
let conn: Connection;
let client: TaskClient;

beforeAll(async () => {
  ensureBuilt();
  tb = await startTestBroker();
  conn = await connect(tb.url);
  client = await TaskClient.open(conn, { namespace: 'cli' });
});
afterAll(async () => {
  await conn.close();
  await tb.stop();
});

const cli = (...args: string[]) => run([...args, '--url', tb.url, '--namespace', 'cli']);

describe('warren worker and warren task', () => {
  it('runs the module’s tasks, shows, lists, revokes, retries and redrives them, and stops on SIGTERM', async () => {
    const worker = start(['worker', 'packages/cli/test/fixtures/tasks.mjs', '--concurrency', '2', '--url', tb.url, '--namespace', 'cli']);
    await worker.waitForStdout(/running double, explode, wait \(concurrency 2\)/);
    const id = await client.enqueue('double', 21, { id: 'd-1' });
    expect(await client.wait(id)).toMatchObject({ status: 'SUCCESS', result: 42 });
    await worker.waitForStdout(/succeeded double d-1 attempt 1/);

    const show = await cli('task', 'show', 'd-1');
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/status\s+SUCCESS/);
    expect(show.stdout).toMatch(/result\s+42/);
    expect(JSON.parse((await cli('task', 'show', 'd-1', '--json')).stdout)).toMatchObject({ id: 'd-1', result: 42 });
    const missing = await cli('task', 'show', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND/);

    const failed = await client.enqueue('explode', null, { id: 'e-1' });
    expect(await client.wait(failed)).toMatchObject({ status: 'FAILURE', error: { message: 'kaboom' } });
    const listed = JSON.parse((await cli('task', 'list', '--status', 'FAILURE', '--json')).stdout) as Array<{ id: string }>;
    expect(listed.map((r) => r.id)).toEqual(['e-1']);
    const table = await cli('task', 'list');
    expect(table.stdout).toMatch(/e-1\s+explode\s+FAILURE\s+1\/1/);
    expect((await cli('task', 'retry', 'e-1')).stdout).toMatch(/queued again/);
    await worker.waitForStdout(/failed explode e-1[^\n]*\n[\s\S]*failed explode e-1/);
    expect(JSON.parse((await cli('task', 'redrive', '--json')).stdout)).toEqual(['e-1']);

    const running = await client.enqueue('wait', null, { id: 'w-1' });
    await worker.waitForStdout(/started wait w-1/);
    expect((await cli('task', 'revoke', running)).stdout).toMatch(/task w-1 revoked/);
    expect(await client.wait(running)).toMatchObject({ status: 'REVOKED', reason: 'revoked from the CLI' });
    await worker.waitForStdout(/revoked wait w-1/);
    expect((await cli('task', 'revoke', 'd-1')).stdout).toMatch(/already finished: SUCCESS/);

    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code).toBe(0);
    expect(exit.stdout).toMatch(/SIGTERM[\s\S]*stopped/);
  });

  it('prints one line when the broker link is lost (with the reason) and one when it is back', async () => {
    const dataDir = await tempDir();
    let broker = await startTestBroker({ dataDir });
    const port = broker.port;
    const worker = start(['worker', 'packages/cli/test/fixtures/tasks.mjs', '--url', broker.url, '--namespace', 'link', '--quiet']);
    try {
      await worker.waitForStdout(/running double/);
      await broker.stop();
      await worker.waitForStdout(/^\S+ worker \S+: connection to the broker lost \(([A-Z_]+): .+\), reconnecting$/m);
      broker = await startTestBroker({ dataDir, port });
      await worker.waitForStdout(/^\S+ worker \S+: reconnected to the broker \(attempt \d+\)$/m);
      // One line each, not one per reconnect attempt.
      expect(worker.stdout().match(/connection to the broker lost/g)).toHaveLength(1);
      expect(worker.stdout().match(/reconnected to the broker/g)).toHaveLength(1);
      // And it works again: a task enqueued now runs.
      const c = await connect(broker.url);
      try {
        const tc = await TaskClient.open(c, { namespace: 'link' });
        expect(await tc.wait(await tc.enqueue('double', 5))).toMatchObject({ status: 'SUCCESS', result: 10 });
      } finally {
        await c.close();
      }
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
    } finally {
      worker.child.kill('SIGKILL');
      await broker.stop();
      await removeDir(dataDir);
    }
  });

  it('passes --started-after-ms to the worker (capped below a third of the lease) and still records results', async () => {
    const worker = start(['worker', 'packages/cli/test/fixtures/tasks.mjs', '--started-after-ms', '60000', '--lease-ms', '3000', '--url', tb.url, '--namespace', 'cli']);
    await worker.waitForStdout(/\(concurrency 1, STARTED after 999 ms\)/);
    const id = await client.enqueue('double', 4, { id: 'd-started-after' });
    expect(await client.wait(id)).toMatchObject({ status: 'SUCCESS', result: 8 });
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  it('refuses a module without a registry, and an unknown namespace', async () => {
    const bad = await run(['worker', 'packages/cli/test/fixtures/fail-message-writes.mjs', '--url', tb.url]);
    expect(bad.code).toBe(2);
    const none = await run(['task', 'list', '--url', tb.url, '--namespace', 'no-such-ns']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no task namespace/);
  });

  it('task list with the default namespace on a broker that never ran tasks: no rows, exit 0 (an explicit unknown namespace stays NOT_FOUND)', async () => {
    const table = await run(['task', 'list', '--url', tb.url]);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+STATUS\s+ATTEMPT\s+WORKER\s+ENQUEUED\s+UPDATED\s+RESULT\/ERROR\n$/);
    const json = await run(['task', 'list', '--url', tb.url, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
    const explicit = await run(['task', 'list', '--url', tb.url, '--namespace', 'tasks']);
    expect(explicit.code).toBe(1);
    expect(explicit.stderr).toBe("warren: NOT_FOUND: no task namespace 'tasks' (no bucket of that name)\n");
  });

  it('task show|revoke|retry <id> with the default namespace on a broker that never ran tasks: the unknown-id answer; redrive: none', async () => {
    const unknown = "warren: NOT_FOUND: task 'order-42' not found (unknown, or its result expired)\n";
    for (const verb of ['show', 'revoke', 'retry']) {
      const r = await run(['task', verb, 'order-42', '--url', tb.url]);
      expect(r.stderr, verb).toBe(unknown);
      expect(r.code, verb).toBe(1);
      // The same answer as an unknown id in a namespace that exists.
      const known = await run(['task', verb, 'order-42', '--url', tb.url, '--namespace', 'cli']);
      expect(known.stderr, `${verb} in 'cli'`).toBe(unknown);
      // An explicit namespace that does not exist stays NOT_FOUND about the namespace (a typo).
      const explicit = await run(['task', verb, 'order-42', '--url', tb.url, '--namespace', 'tasks']);
      expect(explicit.stderr, `${verb} --namespace tasks`).toBe("warren: NOT_FOUND: no task namespace 'tasks' (no bucket of that name)\n");
    }
    const redrive = await run(['task', 'redrive', '--url', tb.url]);
    expect(redrive.stderr).toBe('');
    expect(redrive.stdout).toBe('0 tasks queued again\n');
    expect(redrive.code).toBe(0);
    expect(JSON.parse((await run(['task', 'redrive', '--url', tb.url, '--json'])).stdout)).toEqual([]);
    // Nothing was created on the way.
    expect((await conn.listKv()).map((b) => b.name)).not.toContain('tasks');
  });

  it("a module that cannot be loaded names the user's file, not the CLI's own", async () => {
    const missing = await run(['worker', 'no-such-tasks.mjs', '--url', tb.url]);
    expect(missing.stderr).toBe(`warren: USAGE: cannot load no-such-tasks.mjs: no such file (${ROOT}no-such-tasks.mjs)\n`);
    expect(missing.code).toBe(2);
    const broken = await run(['worker', 'packages/cli/test/fixtures/imports-missing.mjs', '--url', tb.url]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^warren: USAGE: cannot load packages\/cli\/test\/fixtures\/imports-missing\.mjs: Cannot find module '.*no-such-helper\.mjs' imported from .*imports-missing\.mjs\n$/);
    expect(broken.stderr).not.toContain('dist');
  });

  it('a TypeScript module without a loader: a usage error saying how to run it', async () => {
    const ts = await run(['worker', 'examples/task-api/tasks.ts', '--url', tb.url], { env: { NODE_OPTIONS: '' } });
    expect(ts.stderr).toBe(
      "warren: USAGE: cannot load examples/task-api/tasks.ts: Node runs a TypeScript module only with a loader such as tsx: NODE_OPTIONS='--import tsx' warren worker examples/task-api/tasks.ts (npm install tsx if it is missing), or compile it to JavaScript\n",
    );
    expect(ts.code).toBe(2);
  });
});

describe('warren task workers', () => {
  it('lists the workers of a namespace from their consumer tags, through the management API', async () => {
    const hb = await startHttpBroker();
    const url = `warren://${ADMIN.username}:${ADMIN.password}@127.0.0.1:${hb.port}`;
    const c = await connect(url);
    try {
      const reg = defineTasks()
        .define('a', () => 1)
        .define('b', () => 2);
      const tc = await TaskClient.open(c, { registry: reg, namespace: 'jobs' });
      // The default namespace, never used on this broker: no workers, exit 0.
      const fresh = await run(['task', 'workers', '--url', url, '--http-url', hb.base, '--json']);
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(JSON.parse(fresh.stdout)).toEqual([]);
      const args = ['task', 'workers', '--url', url, '--http-url', hb.base, '--namespace', 'jobs'];
      const none = await run(args);
      expect(none.code).toBe(0);
      expect(none.stdout).toMatch(/no worker consumes the task queues of namespace 'jobs'/);
      const w1 = await Worker.start(tc, { id: 'box-1', concurrency: 3 });
      const w2 = await Worker.start(tc, { id: 'box-2', concurrency: 1, tasks: ['b'] });
      const table = await run(args);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^WORKER\s+TASKS\s+HOLDING\s+PREFETCH\s+CONNECTION\n/);
      // prefetch: 4 x concurrency per task queue (WorkerOptions.prefetch), summed over the worker's tasks.
      expect(table.stdout).toMatch(/box-1\s+a, b\s+0\s+24\s/);
      expect(table.stdout).toMatch(/box-2\s+b\s+0\s+4\s/);
      const json = JSON.parse((await run([...args, '--json'])).stdout) as Array<{ worker: string; tasks: string[] }>;
      expect(json.map((w) => [w.worker, w.tasks])).toEqual([
        ['box-1', ['a', 'b']],
        ['box-2', ['b']],
      ]);
      await w1.close({ graceMs: 0 });
      await w2.close({ graceMs: 0 });
    } finally {
      await c.close();
      await hb.stop();
    }
  });
});
