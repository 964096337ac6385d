import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connect } from '@warren/client';
import { TaskClient } from '@warren/tasks';
import { isPrime, MAX_NUMBER } from '../task-api/primes.js';
import { parseTaskRequest } from '../task-api/tasks.js';
import { start, startNode, newBroker, type Example } from './helpers.js';
import { until } from '../../test-support/wait.js';
import { removeDir, tempDir } from '../../test-support/temp-dir.js';

const M61 = '2305843009213693951'; // 2^61 - 1, a Mersenne prime

describe('examples/task-api: primality', () => {
  it('agrees with a sieve below 20000', () => {
    const limit = 20_000;
    const composite = new Uint8Array(limit);
    for (let i = 2; i * i < limit; i++) if (!composite[i]) for (let j = i * i; j < limit; j += i) composite[j] = 1;
    const bySieve: number[] = [];
    const byMillerRabin: number[] = [];
    for (let n = 0; n < limit; n++) {
      if (n >= 2 && !composite[n]) bySieve.push(n);
      if (isPrime(BigInt(n))) byMillerRabin.push(n);
    }
    expect(byMillerRabin).toEqual(bySieve);
  });

  it('is right about large primes and the composites that fool weaker tests', () => {
    for (const p of [M61, '18446744073709551557' /* largest prime below 2^64 */, '4294967291', '1000000000000000003']) {
      expect(isPrime(BigInt(p)), p).toBe(true);
    }
    for (const c of [
      '2305843009213693953', // 2^61 + 1 = 3 * 768614336404564651
      '561', // Carmichael number
      '3215031751', // strong pseudoprime to bases 2, 3, 5 and 7
      '3825123056546413051', // strong pseudoprime to every prime base up to 23
    ]) {
      expect(isPrime(BigInt(c)), c).toBe(false);
    }
    expect(isPrime(BigInt(M61) * 3n)).toBe(false);
    expect(isPrime(4294967291n * 4294967279n)).toBe(false); // product of two 32-bit primes
    expect(isPrime(MAX_NUMBER)).toBe(false);
    expect(() => isPrime(MAX_NUMBER + 1n)).toThrow(RangeError);
  });
});

describe('examples/task-api: request validation', () => {
  it('keeps every digit of a big integer and accepts integral JSON numbers', () => {
    expect(parseTaskRequest(`{"number": ${M61}}`)).toEqual({ number: BigInt(M61) });
    expect(parseTaskRequest('{"number": 18446744073709551615}')).toEqual({ number: MAX_NUMBER });
    expect(parseTaskRequest('{"note": "has 123 and \\"quotes\\"", "number": 0}')).toEqual({ number: 0n });
    expect(parseTaskRequest('{"number": 7.0}')).toEqual({ number: 7n });
    expect(parseTaskRequest('{"number": 1e3}')).toEqual({ number: 1000n });
    expect(parseTaskRequest(' {"number":12} ')).toEqual({ number: 12n });
  });

  it.each([
    ['not json', /JSON/],
    ['', /JSON/],
    ['{"number": 01}', /JSON/],
    ['[1]', /object/],
    ['null', /object/],
    ['{}', /missing/],
    ['{"number": null}', /JSON number/],
    ['{"number": "17"}', /JSON number/],
    ['{"number": true}', /JSON number/],
    ['{"number": -3}', /negative/],
    ['{"number": 2.5}', /integer/],
    ['{"number": 1e-2}', /integer/],
    ['{"number": 18446744073709551616}', /at most/],
    ['{"number": 1e400}', /at most/],
  ])('rejects %j', (body, why) => {
    const r = parseTaskRequest(body);
    expect(r).toHaveProperty('error');
    expect((r as { error: string }).error).toMatch(why);
  });
});

// Concurrent, each test with its own broker: the first needs a broker where no worker runs.
describe.concurrent('examples/task-api: the service', () => {
  async function startApi(url: string, env: Record<string, string> = {}): Promise<{ api: Example; base: string }> {
    const api = start('task-api/api.ts', [], { WARREN_URL: url, PORT: '0', HOST: '127.0.0.1', ...env });
    const line = await api.waitFor(/listening on http:\/\//);
    return { api, base: line.slice(line.indexOf('http://')) };
  }

  async function post(base: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${base}/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  async function getTask(base: string, id: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${base}/${id}`);
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  /** The task layer's worker runner on the example's task module, as docker-compose.yml runs it. */
  function startWorker(url: string): Example {
    return startNode(['--import', 'tsx', 'packages/cli/dist/bin.js', 'worker', 'examples/task-api/tasks.ts', '--concurrency', '2'], { WARREN_URL: url });
  }

  /** Polls the task until it has finished (SUCCESS or FAILURE); on a hang, fails with the output of `children`. */
  async function waitUntilDone(base: string, id: string, ...children: Example[]): Promise<Record<string, unknown>> {
    let json: Record<string, unknown> = {};
    await until(
      async () => {
        const got = await getTask(base, id);
        expect(got.status).toBe(200);
        json = got.json;
        return json.status === 'SUCCESS' || json.status === 'FAILURE';
      },
      () => `task ${id} to finish\n${children.map((c) => c.describe()).join('\n')}`,
      { everyMs: 50 },
    );
    return json;
  }

  it('queues tasks while no worker runs, then a worker answers them', async () => {
    const { url } = await newBroker();
    const { api, base } = await startApi(url);
    const prime = await post(base, `{"number": ${M61}}`);
    expect(prime.status).toBe(202);
    const primeId = String(prime.json.task_id);
    expect(primeId).toMatch(/^[0-9a-f-]{36}$/);
    const composite = await post(base, '{"number": 2305843009213693953}');
    expect(composite.status).toBe(202);
    const compositeId = String(composite.json.task_id);

    // No worker yet: both are pending, and stay so however often we ask.
    for (let i = 0; i < 2; i++) {
      expect(await getTask(base, primeId)).toEqual({ status: 200, json: { status: 'PENDING', result: null } });
    }

    const worker = startWorker(url);
    await worker.waitFor(/running is-prime/);
    expect(await waitUntilDone(base, primeId, api, worker)).toEqual({ status: 'SUCCESS', result: true });
    expect(await waitUntilDone(base, compositeId, api, worker)).toEqual({ status: 'SUCCESS', result: false });
    // The result stays readable, as often as asked.
    expect(await getTask(base, primeId)).toEqual({ status: 200, json: { status: 'SUCCESS', result: true } });
    // No result queues: the task layer's queue, its dead-letter queue, nothing else.
    const conn = await connect(url);
    try {
      expect((await conn.listQueues()).map((q) => q.name).sort()).toEqual(['tasks.dead', 'tasks.q.is-prime']);
    } finally {
      await conn.close();
    }
  });

  it('answers 404 for unknown ids and 400 for bad bodies', async () => {
    const { url } = await newBroker();
    const { base } = await startApi(url);
    expect((await getTask(base, randomUUID())).status).toBe(404);
    expect((await getTask(base, 'not-a-task')).status).toBe(404);
    for (const body of ['not json', '{}', '{"number": -1}', '{"number": 1.5}', '{"number": "7"}', '{"number": 18446744073709551616}', 'x'.repeat(10_000)]) {
      const res = await post(base, body);
      expect(res.status, body.slice(0, 40)).toBe(400);
      expect(res.json.error, body.slice(0, 40)).toEqual(expect.any(String));
    }
    expect((await fetch(`${base}/`)).status).toBe(405);
  });

  it('while the broker is down: one log line, 503 with a JSON error after BROKER_WAIT_MS (no hang), one line and 202 once it is back', async () => {
    // Its own broker, stopped and started again on the same port and data folder.
    const { startTestBroker } = await import('../../test-support/broker.js');
    const dataDir = await tempDir('warren-task-api-');
    let broker = await startTestBroker({ dataDir });
    const port = broker.port;
    try {
      // A tiny wait: the test asserts the answer, not how long it took.
      const { api, base } = await startApi(broker.url, { BROKER_WAIT_MS: '50' });
      // While the link is up there is no deadline, however slow the broker.
      expect((await post(base, '{"number": 7}')).status).toBe(202);
      await broker.stop();
      await api.waitForStderrLine(/^task-api: connection to the broker lost \([A-Z_]+: .+\), reconnecting$/);
      for (const res of [await post(base, '{"number": 7}'), await getTask(base, randomUUID())]) {
        expect(res).toEqual({ status: 503, json: { error: 'the task broker is unavailable, try again' } });
      }
      broker = await startTestBroker({ dataDir, port });
      await api.waitFor(/^task-api: reconnected to the broker \(attempt \d+\)$/);
      const again = await post(base, '{"number": 7}');
      expect(again.status).toBe(202);
      expect((await getTask(base, String(again.json.task_id))).json).toEqual({ status: 'PENDING', result: null });
      expect(api.stderr.match(/connection to the broker lost/g)).toHaveLength(1);
      // The POST answered 503 (the link already down) sent nothing: two tasks, not three.
      const conn = await connect(broker.url);
      try {
        const ids = (await (await TaskClient.open(conn)).list()).map((t) => t.id);
        expect(ids).toHaveLength(2);
        expect(ids).toContain(String(again.json.task_id));
      } finally {
        await conn.close();
      }
    } finally {
      await broker.stop();
      await removeDir(dataDir);
    }
  });

  it('reports FAILURE when the worker cannot compute a task', async () => {
    const { url } = await newBroker();
    const { api, base } = await startApi(url);
    const worker = startWorker(url);
    // A task the API would never accept, enqueued by another producer.
    const conn = await connect(url);
    let id: string;
    try {
      id = await (await TaskClient.open(conn)).enqueue('is-prime', { number: '-5' });
    } finally {
      await conn.close();
    }
    const done = await waitUntilDone(base, id, api, worker);
    expect(done.status).toBe('FAILURE');
    expect(done.result).toMatch(/outside/);
  });
});
