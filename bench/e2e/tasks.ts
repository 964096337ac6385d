/**
 * Background jobs beside BullMQ, in one run: jobs per second from enqueue to
 * completion with every result stored, with 1 and 8 workers.
 *
 *   Warren: @warren/tasks on a broker in a child process (e2e/broker-child.mjs,
 *   built packages, data folder in tmp, every message and bucket write
 *   fdatasync'ed before its confirm). Each job: enqueue (persistent publish +
 *   PENDING record), STARTED, SUCCESS with its result, kept for a day.
 *   BullMQ: jobs kept on completion (removeOnComplete: false), so results stay
 *   in Redis, on up to three Redis servers, one row each (--redis):
 *     shared    the Redis at 127.0.0.1:6379, whatever persistence it is configured
 *               with (this script prints it; on the bench machine none: appendonly
 *               no, save "", so nothing reaches the disk);
 *     always    a redis-server this script starts (free port, temporary folder,
 *               stopped and removed afterwards) with --appendonly yes
 *               --appendfsync always --save "": every write in the append-only
 *               file and fdatasync'ed before Redis answers it (one fdatasync per
 *               event-loop turn), the promise Warren makes: the like-for-like row;
 *     everysec  the same with --appendfsync everysec, Redis's recommended setting:
 *               the file fsync'ed once a second, so a crash can lose up to a second
 *               of writes Redis already acknowledged.
 *   All three by default (each adds one BullMQ run per worker count, ~1-3 s at
 *   --jobs 10000); `--redis shared` gives the old run alone. The redis-server
 *   binary: $REDIS_SERVER, else redis-server on PATH.
 *
 * Both run their producer and workers in this process, each worker on its own
 * connection with the same concurrency, the producer keeping the same number
 * of enqueues in flight. Handlers are async functions that return a small
 * object at once (the same in both).
 *
 *   npm run -w bench bench:tasks -- [--jobs 20000] [--concurrency 16] [--inflight 256] [--workers 1,8] [--out results/tasks.json] [--nosync-too] [--profile DIR] [--profile-measured DIR] [--started-after MS] [--prefetch N] [--warren-mode MODE] [--redis shared,always,everysec] [--redis-strace] [--warmup 2000]
 *
 * Beside jobs/s it prints, per job, this process's CPU (producer and workers),
 * Redis's CPU (INFO cpu, the Redis serving that row) or the Warren broker's CPU, fdatasync calls and mean
 * fdatasync time, and the event-loop utilisation of the broker and of this process
 * (neither near 1 while jobs/s stays flat: the two share 2 cores with the kernel). --nosync-too adds a
 * run of Warren with sync 'never' (nothing fdatasync'ed), for reference only;
 * --profile DIR runs the broker under --cpu-prof (--profile-measured DIR: profiles the measured phase only) (run this script itself under
 * `node --cpu-prof` for the client side; summarise with e2e/profile-summary.ts).
 * --redis-strace runs the private redis-servers under `strace -c -f -e trace=fdatasync,fsync` and prints
 * their fdatasyncs and fsyncs per job (start-up and shutdown included, ~5 in all; strace slows Redis
 * down: use it to count syncs, not for jobs/s).
 * BENCH_ONLY=warren|bullmq runs one system (bullmq: every --redis row), BENCH_SYNC=never Warren unsynced.
 * --warren-mode full|queue|success|applied|applied-mem|two-par|two-seq|success-nowait: the task layer (default), or a plain work queue
 * without / with bucket writes per job, to decompose the cost per job (see WARREN_MODE below).
 * --started-after MS: Warren's workers write STARTED only for jobs still running after MS
 * (WorkerOptions.startedAfterMs; the jobs here never are: PENDING, SUCCESS).
 *
 * Warm-up (--warmup N, default 20% of --jobs, at most 2,000; 0 for none): every row (each system, each
 * Redis, each worker count) first runs N jobs through the same broker or Redis, producer, workers and
 * queue it is then measured on, waits for all N to complete, and only then starts its clocks and CPU and
 * sync counters. Without it the first BullMQ row of a process ran cold (its client ~0.04 ms more CPU per
 * job while ioredis/BullMQ were JIT-compiled) and a fresh broker or redis-server served its first jobs
 * cold, so the order of the rows moved the ratios. The warm-up jobs stay stored (results kept) as the
 * measured ones do; the row's `warmup` field says how many there were.
 *
 * The machine is shared: compare the two systems' figures from the same run only.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Connection } from '@warren/client';
import { defineTasks, TaskClient, Worker } from '@warren/tasks';
import { Queue, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import { brokerExecArgv } from './children.js';
import { killAllRedisSync, startRedis, type AppendFsync, type RedisChild } from './redis-child.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const strArg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const JOBS = arg('jobs', 20_000);
const CONCURRENCY = arg('concurrency', 16);
const INFLIGHT = arg('inflight', 256);
/** --workers 1,8: the worker counts to run, in order. */
const WORKERS = strArg('workers', '1,8').split(',').map(Number);
if (!WORKERS.every((n) => Number.isInteger(n) && n >= 1)) throw new TypeError('--workers: a comma-separated list of worker counts, e.g. 1,8');
const SYNC = process.env.BENCH_SYNC === 'never' ? 'never' : 'always';
/** --nosync-too: also Warren with sync 'never' (nothing fdatasync'ed, as a Redis without AOF), for reference. */
const NOSYNC_TOO = process.argv.includes('--nosync-too');
/** --profile DIR: the broker runs under --cpu-prof (run this script under `node --cpu-prof` for the workers' side). */
const PROFILE_DIR = strArg('profile', '');
/** --profile-measured DIR: the broker's CPU profile of the measured phase only (node:inspector, no start-up), one file per run. */
const PROFILE_MEASURED = strArg('profile-measured', '');
/** --prefetch N: WorkerOptions.prefetch of Warren's workers (default: the worker's, 4 x concurrency). */
const PREFETCH = process.argv.includes('--prefetch') ? arg('prefetch', 0) : undefined;
/** --started-after MS: WorkerOptions.startedAfterMs (off unless given). */
const STARTED_AFTER = process.argv.includes('--started-after') ? arg('started-after', 0) : undefined;
/**
 * --warren-mode MODE: what Warren's side runs (default full, the task layer). For
 * decomposing the per-job cost: `queue` is a plain durable work queue doing the same publish with
 * confirm / deliver / ack (a JSON body the size of a task message, consumer prefetch = concurrency,
 * no bucket writes); `success` adds one bucket write per job (the SUCCESS record, a put awaited
 * stored) before the ack.
 */
const WARREN_MODE = strArg('warren-mode', 'full');
/*
 * Three more for the per-stage question: `applied` = one put per job answered once applied (wait 'applied',
 * no sync wait); `two-par` = two puts per job sent together (the second stored), one round trip; `two-seq` =
 * a put answered once applied, then a put awaited stored (the shape of STARTED then SUCCESS), two round trips;
 * `success-nowait` = the SUCCESS put sent and the delivery acked at once (not waiting for its answer: not
 * what a task layer may do, it only shows what the put costs when it is not on the job's path); `applied-mem` =
 * `applied` on a bucket that is not durable (no bucket log, no syncs: what the second store costs).
 */
const MODES = ['full', 'queue', 'success', 'applied', 'two-par', 'two-seq', 'success-nowait', 'applied-mem'];
if (!MODES.includes(WARREN_MODE)) throw new TypeError(`--warren-mode: one of ${MODES.join(', ')}`);
/**
 * --redis LIST: which Redis BullMQ runs on, one row each, in this order: `shared` = the Redis at
 * 127.0.0.1:6379 as it is configured (this machine's persists nothing: appendonly no, save ""),
 * `always` = a redis-server this script starts (free port, temporary folder, removed afterwards) with
 * --appendonly yes --appendfsync always --save "": every write in the AOF and fdatasync'ed before Redis
 * answers, the promise Warren makes; `everysec` = the same with --appendfsync everysec, Redis's
 * recommended setting (fsync'ed once a second: up to a second of acknowledged writes can be lost).
 */
const REDIS_ROWS = strArg('redis', 'shared,always,everysec').split(',').filter(Boolean);
if (!REDIS_ROWS.every((r) => r === 'shared' || r === 'always' || r === 'everysec')) throw new TypeError('--redis: a comma-separated list of shared, always, everysec');
/** --redis-strace: the private redis-servers run under `strace -c -f -e trace=fdatasync,fsync` to count their syncs (slower: not for jobs/s). */
const REDIS_STRACE = process.argv.includes('--redis-strace');
/** --warmup N: jobs each row runs through its own setup before it is measured (default 20% of --jobs, at most 2,000). */
const WARMUP = arg('warmup', Math.min(2000, Math.ceil(JOBS / 5)));
if (!Number.isInteger(WARMUP) || WARMUP < 0) throw new TypeError('--warmup: a number of jobs, 0 for none');
const OUT = resolve(process.env.INIT_CWD ?? process.cwd(), strArg('out', join(here, '..', 'results', 'tasks.json')));

interface Row {
  system: string;
  workers: number;
  jobs: number;
  /** Jobs run through the same setup before the measured ones (not counted). */
  warmup: number;
  seconds: number;
  /** Until the last enqueue resolved (the rest of `seconds` is workers catching up). */
  enqueueSeconds: number;
  jobsPerSec: number;
  /** Warren: the broker's fdatasync calls per job (message store and bucket log together) and CPU ms per job. */
  syncsPerJob?: number;
  /** Warren: mean time of one fdatasync, ms, and the broker's event-loop utilisation over the run. */
  syncMeanMs?: number;
  brokerElu?: number;
  brokerCpuMsPerJob?: number;
  /** CPU ms per job of this process (producer and workers). */
  clientCpuMsPerJob: number;
  /** Event-loop utilisation of this process (producer and workers) over the run. */
  clientElu: number;
  /** BullMQ: Redis's CPU ms per job (INFO cpu; anything else using that Redis meanwhile counts too). */
  redisCpuMsPerJob?: number;
  /** BullMQ: what that Redis persists (CONFIG GET appendonly, appendfsync, save). */
  redis?: string;
  /** BullMQ on a private Redis under --redis-strace: its fdatasync and fsync calls over its life (start-up and shutdown included: ~5 in all) and per job. */
  redisFdatasyncs?: number;
  redisFsyncs?: number;
  redisFdatasyncsPerJob?: number;
}

/** Redis's CPU time so far, ms (user + system, every thread). */
async function redisCpuMs(): Promise<number> {
  const client = new Redis({ host: '127.0.0.1', port: 6379 });
  const info = await client.info('cpu');
  client.disconnect();
  const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
}

const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/**
 * Counts completed jobs per phase (the warm-up, then the measured jobs): `phase(n)` starts counting from
 * 0 and resolves once `n` have completed; `completed()` is called by the workers on each job done.
 */
function phases(): { phase: (n: number) => Promise<void>; completed: () => void } {
  let done = 0;
  let target = 0;
  let resolve: () => void = () => undefined;
  return {
    phase: (n) => {
      done = 0;
      target = n;
      return n === 0 ? Promise.resolve() : new Promise<void>((r) => (resolve = r));
    },
    completed: () => {
      if (++done === target) resolve();
    },
  };
}

/** Runs `WARMUP` jobs through `enqueue` and waits for them to complete (nothing measured). */
async function warmUp(phase: (n: number) => Promise<void>, enqueue: (i: number) => Promise<unknown>): Promise<void> {
  if (WARMUP === 0) return;
  const all = phase(WARMUP);
  await produce(WARMUP, enqueue);
  await all;
}

/** Enqueues `total` jobs with `INFLIGHT` outstanding. */
async function produce(total: number, enqueue: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) await enqueue(next++);
  };
  await Promise.all(Array.from({ length: INFLIGHT }, lane));
}

interface BrokerStats {
  cpuSeconds: number;
  syncs: number;
  syncMs: number;
  writtenBytes: number;
  eluActiveMs: number;
  eluIdleMs: number;
}

async function startBroker(
  dataDir: string,
  sync: 'always' | 'never',
): Promise<{ port: number; stats: () => Promise<BrokerStats>; ask: (m: Record<string, unknown>, answer: string) => Promise<void>; stop: () => Promise<void> }> {
  // The broker runs under the node flags of `npm start` (plus WARREN_BENCH_BROKER_ARGS), as scenarios.ts's does.
  const execArgv = brokerExecArgv(PROFILE_DIR === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`]);
  const child = fork(join(here, 'broker-child.mjs'), [dataDir, sync], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv });
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: { type: string; port?: number }) => m.type === 'listening' && resolve(m.port!));
    child.once('exit', (code) => reject(new Error(`broker child exited (${code})`)));
  });
  return {
    port,
    ask: (m, answer) =>
      new Promise((resolve) => {
        const on = (r: { type: string }): void => {
          if (r.type !== answer) return;
          child.off('message', on);
          resolve();
        };
        child.on('message', on);
        child.send(m);
      }),
    stats: () =>
      new Promise((resolve) => {
        const on = (m: { type: string } & BrokerStats): void => {
          if (m.type !== 'stats') return;
          child.off('message', on);
          resolve(m);
        };
        child.on('message', on);
        child.send({ type: 'stats' });
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send({ type: 'stop' });
      }),
  };
}

async function warren(workers: number, sync: 'always' | 'never' = SYNC): Promise<Row> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-tasks-'));
  const broker = await startBroker(dataDir, sync);
  const url = `warren://guest:guest@127.0.0.1:${broker.port}`;
  const conns: Connection[] = [];
  try {
    const registry = defineTasks().define('job', async (n: number) => ({ n, ok: true }));
    const producerConn = await connect(url);
    conns.push(producerConn);
    const producer = await TaskClient.open(producerConn, { registry, namespace: 'bench' });
    const { phase, completed } = phases();
    const ws: Worker[] = [];
    let enqueue: (i: number) => Promise<unknown> = (i) => producer.enqueue('job', i);
    if (WARREN_MODE !== 'full') {
      // The floor: the same queue traffic without the task layer (see --warren-mode).
      const queue = 'bench.floor';
      await producerConn.declareQueue(queue, { durable: true, arguments: { 'x-max-priority': 9 } });
      const withSuccess = WARREN_MODE === 'success';
      for (let i = 0; i < workers; i++) {
        const conn = await connect(url);
        conns.push(conn);
        const bucket = WARREN_MODE === 'applied-mem' ? await conn.kv('bench-mem', { history: 1, durable: false }) : await conn.kv('bench', { history: 1 });
        await conn.consume(
          queue,
          async (msg) => {
            const m = msg.json<{ id: string; args: number }>();
            const result = await (async (n: number) => ({ n, ok: true }))(m.args);
            const key = `t.${m.id}`;
            const rec = (status: string): string => JSON.stringify({ ...m, status, result, updatedAt: Date.now(), finishedAt: Date.now() });
            if (withSuccess) await bucket.put(key, rec('SUCCESS'), { ttl: 86_400_000 });
            else if (WARREN_MODE === 'success-nowait') void bucket.put(key, rec('SUCCESS'), { ttl: 86_400_000 }).catch(() => undefined);
            else if (WARREN_MODE === 'applied' || WARREN_MODE === 'applied-mem') await bucket.put(key, rec('SUCCESS'), { ttl: 86_400_000, wait: 'applied' });
            else if (WARREN_MODE === 'two-par') await Promise.all([bucket.put(key, rec('STARTED'), { wait: 'applied' }), bucket.put(key, rec('SUCCESS'), { ttl: 86_400_000 })]);
            else if (WARREN_MODE === 'two-seq') {
              await bucket.put(key, rec('STARTED'), { wait: 'applied' });
              await bucket.put(key, rec('SUCCESS'), { ttl: 86_400_000 });
            }
            msg.ack();
            completed();
          },
          { prefetch: CONCURRENCY },
        );
      }
      enqueue = async (i) => {
        const id = randomUUID();
        const m = { id, name: 'job', args: i, run: 1, attempt: 1, maxAttempts: 1, nonce: randomUUID(), priority: 0, enqueuedAt: Date.now() };
        await producerConn.publish('', queue, Buffer.from(JSON.stringify(m)), { persistent: true, contentType: 'application/json', messageId: id, priority: 0 });
      };
    }
    for (let i = 0; i < (WARREN_MODE === 'full' ? workers : 0); i++) {
      const conn = await connect(url);
      conns.push(conn);
      const w = await Worker.start(await TaskClient.open(conn, { registry, namespace: 'bench' }), { concurrency: CONCURRENCY, ...(PREFETCH !== undefined ? { prefetch: PREFETCH } : {}), ...(STARTED_AFTER !== undefined ? { startedAfterMs: STARTED_AFTER } : {}) });
      w.on('task', (e) => {
        if (e.type === 'succeeded') completed();
      });
      ws.push(w);
    }
    await warmUp(phase, enqueue);
    if (PROFILE_MEASURED !== '') await broker.ask({ type: 'profile-start' }, 'profile-started');
    const all = phase(JOBS);
    const before = await broker.stats();
    const cpu0 = cpuMs();
    const elu0 = performance.eventLoopUtilization();
    const started = performance.now();
    await produce(JOBS, enqueue);
    const enqueueSeconds = (performance.now() - started) / 1000;
    await all;
    const seconds = (performance.now() - started) / 1000;
    const clientCpuMsPerJob = Number(((cpuMs() - cpu0) / JOBS).toFixed(3));
    const clientElu = Number(performance.eventLoopUtilization(elu0).utilization.toFixed(2));
    const after = await broker.stats();
    if (PROFILE_MEASURED !== '') await broker.ask({ type: 'profile-stop', file: join(resolve(PROFILE_MEASURED), `broker-${WARREN_MODE}-${workers}w-${Date.now()}.cpuprofile`) }, 'profile-stopped');
    const syncsPerJob = Number(((after.syncs - before.syncs) / JOBS).toFixed(3));
    const syncMeanMs = Number(((after.syncMs - before.syncMs) / Math.max(1, after.syncs - before.syncs)).toFixed(2));
    const active = after.eluActiveMs - before.eluActiveMs;
    const brokerElu = Number((active / (active + after.eluIdleMs - before.eluIdleMs)).toFixed(2));
    const brokerCpuMsPerJob = Number((((after.cpuSeconds - before.cpuSeconds) * 1000) / JOBS).toFixed(3));
    // Spot check: results are stored.
    if (WARREN_MODE === 'queue' || WARREN_MODE === 'applied-mem') {
      await Promise.all(ws.map((w) => w.close({ graceMs: 0 })));
      return { system: `warren-${WARREN_MODE}`, workers, jobs: JOBS, warmup: WARMUP, seconds, enqueueSeconds, jobsPerSec: Math.round(JOBS / seconds), syncsPerJob, syncMeanMs, brokerElu, brokerCpuMsPerJob, clientCpuMsPerJob, clientElu };
    }
    const some = await producer.list({ status: 'SUCCESS', limit: 1 });
    if (some.length !== 1) throw new Error('no stored result');
    await Promise.all(ws.map((w) => w.close({ graceMs: 0 })));
    return { system: WARREN_MODE !== 'full' ? `warren-${WARREN_MODE}` : sync === 'always' ? 'warren' : 'warren-nosync', workers, jobs: JOBS, warmup: WARMUP, seconds, enqueueSeconds, jobsPerSec: Math.round(JOBS / seconds), syncsPerJob, syncMeanMs, brokerElu, brokerCpuMsPerJob, clientCpuMsPerJob, clientElu };
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** BullMQ on the shared Redis (127.0.0.1:6379) or, with `appendfsync`, on a private redis-server with an AOF fsync'ed so. */
async function bullmq(workers: number, appendfsync?: AppendFsync): Promise<Row> {
  if (appendfsync === undefined) return bullmqOn(workers, 'bullmq', 6379, redisCpuMs, await redisPersistence());
  const server: RedisChild = await startRedis(appendfsync, { strace: REDIS_STRACE });
  let row: Row | undefined;
  try {
    row = await bullmqOn(workers, `bullmq-aof-${appendfsync}`, server.port, () => server.cpuMs(), await server.persistence());
  } finally {
    const syncs = await server.stop();
    if (row !== undefined && syncs !== undefined) {
      row.redisFdatasyncs = syncs.fdatasync;
      row.redisFsyncs = syncs.fsync;
      row.redisFdatasyncsPerJob = Number((syncs.fdatasync / JOBS).toFixed(4));
    }
  }
  return row;
}

async function bullmqOn(workers: number, system: string, port: number, redisCpu: () => Promise<number>, persistence: string): Promise<Row> {
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const name = `warren-bench-${process.pid}-${workers}`;
  const queue = new Queue(name, { connection });
  await queue.obliterate({ force: true }).catch(() => undefined);
  const { phase, completed } = phases();
  const ws: BullWorker[] = [];
  for (let i = 0; i < workers; i++) {
    const w = new BullWorker(name, async (job) => ({ n: job.data as number, ok: true }), { connection, concurrency: CONCURRENCY, autorun: true });
    w.on('completed', completed);
    await w.waitUntilReady();
    ws.push(w);
  }
  const enqueue = (i: number): Promise<unknown> => queue.add('job', i, { removeOnComplete: false, removeOnFail: false });
  await warmUp(phase, enqueue);
  const all = phase(JOBS);
  const redis0 = await redisCpu();
  const cpu0 = cpuMs();
  const elu0 = performance.eventLoopUtilization();
  const started = performance.now();
  await produce(JOBS, enqueue);
  const enqueueSeconds = (performance.now() - started) / 1000;
  await all;
  const seconds = (performance.now() - started) / 1000;
  const clientCpuMsPerJob = Number(((cpuMs() - cpu0) / JOBS).toFixed(3));
  const clientElu = Number(performance.eventLoopUtilization(elu0).utilization.toFixed(2));
  const redisCpuMsPerJob = Number((((await redisCpu()) - redis0) / JOBS).toFixed(3));
  const kept = await queue.getJobCounts('completed');
  if (kept.completed !== WARMUP + JOBS) throw new Error(`BullMQ kept ${kept.completed} completed jobs, expected ${WARMUP + JOBS} (warm-up included)`);
  await Promise.all(ws.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  return { system, workers, jobs: JOBS, warmup: WARMUP, seconds, enqueueSeconds, jobsPerSec: Math.round(JOBS / seconds), clientCpuMsPerJob, clientElu, redisCpuMsPerJob, redis: persistence };
}

async function redisPersistence(): Promise<string> {
  const client = new Redis({ host: '127.0.0.1', port: 6379 });
  const get = async (key: string): Promise<string> => {
    const r = (await client.call('CONFIG', 'GET', key)) as unknown;
    // RESP3 answers a map, RESP2 a flat list.
    return r instanceof Map ? String(r.get(key)) : Array.isArray(r) ? String(r[1]) : String((r as Record<string, unknown>)[key]);
  };
  const [aof, save, fsync] = [await get('appendonly'), await get('save'), await get('appendfsync')];
  client.disconnect();
  return `appendonly ${aof}${aof === 'yes' ? ` (appendfsync ${fsync})` : ''}, save "${save}"`;
}

// An interrupted run stops the private redis-servers and removes their folders.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAllRedisSync();
    process.exit(130);
  });
}
const rows: Row[] = [];
const runBullmq = process.env.BENCH_ONLY !== 'warren';
const persistence = runBullmq && REDIS_ROWS.includes('shared') ? await redisPersistence() : undefined;
const load = loadavg()[0]!.toFixed(1);
for (const n of WORKERS) {
  // Side by side: the systems alternate, so all see the same machine.
  if (runBullmq) for (const r of REDIS_ROWS) rows.push(await bullmq(n, r === 'shared' ? undefined : (r as AppendFsync)));
  if (process.env.BENCH_ONLY !== 'bullmq') rows.push(await warren(n));
  if (NOSYNC_TOO && SYNC === 'always') rows.push(await warren(n, 'never'));
}
const jobsPerSec = (system: string, n: number): number | undefined => rows.find((r) => r.system === system && r.workers === n)?.jobsPerSec;
const ratio = (a: number, b: number | undefined): number => Number((a / (b ?? NaN)).toFixed(2));
const table = WORKERS.map((n) => {
  const b = jobsPerSec('bullmq', n) ?? NaN;
  const w = rows.find((r) => (r.system === 'warren' || r.system === `warren-${WARREN_MODE}`) && r.workers === n)?.jobsPerSec ?? NaN;
  const ns = jobsPerSec('warren-nosync', n);
  const always = jobsPerSec('bullmq-aof-always', n);
  const everysec = jobsPerSec('bullmq-aof-everysec', n);
  return {
    workers: n,
    warrenJobsPerSec: w,
    bullmqJobsPerSec: b,
    ratio: ratio(w, b),
    ...(always !== undefined ? { bullmqAofAlwaysJobsPerSec: always, aofAlwaysRatio: ratio(w, always) } : {}),
    ...(everysec !== undefined ? { bullmqAofEverysecJobsPerSec: everysec, aofEverysecRatio: ratio(w, everysec) } : {}),
    ...(ns !== undefined ? { warrenNoSyncJobsPerSec: ns, noSyncRatio: ratio(ns, b) } : {}),
  };
});
console.log(`jobs ${JOBS} (after ${WARMUP} warm-up jobs per row, not counted), concurrency ${CONCURRENCY} per worker, ${INFLIGHT} enqueues in flight; load average at start ${load}`);
console.log(`Warren: durable (fdatasync per confirm and bucket write)${STARTED_AFTER !== undefined ? `, STARTED only after ${STARTED_AFTER} ms` : ''}`);
const straced = REDIS_STRACE ? ' (under strace: slower)' : '';
if (persistence !== undefined) console.log(`BullMQ (shared): the Redis at 127.0.0.1:6379, ${persistence}`);
if (runBullmq && REDIS_ROWS.includes('always')) console.log(`BullMQ (AOF always): its own redis-server, appendonly yes (appendfsync always), save "": every write fdatasync'ed before Redis answers it, as Warren does${straced}`);
if (runBullmq && REDIS_ROWS.includes('everysec')) console.log(`BullMQ (AOF everysec): its own redis-server, appendonly yes (appendfsync everysec), save "": fsync'ed once a second, up to 1 s of acknowledged writes can be lost${straced}`);
const cols: [string, string, (t: (typeof table)[number]) => string][] = [
  ['', 'warren jobs/s', (t) => String(t.warrenJobsPerSec)],
  ['shared', 'bullmq jobs/s', (t) => String(t.bullmqJobsPerSec)],
  ['shared', 'warren/bullmq', (t) => t.ratio.toFixed(2)],
  ['always', 'bullmq AOF always', (t) => String(t.bullmqAofAlwaysJobsPerSec)],
  ['always', 'warren/AOF always', (t) => String(t.aofAlwaysRatio?.toFixed(2))],
  ['everysec', 'bullmq AOF everysec', (t) => String(t.bullmqAofEverysecJobsPerSec)],
  ['everysec', 'warren/AOF everysec', (t) => String(t.aofEverysecRatio?.toFixed(2))],
];
const shown = cols.filter(([r]) => r === '' || (runBullmq && REDIS_ROWS.includes(r)));
console.log(['workers', ...shown.map(([, h]) => h)].join('  '));
for (const t of table) console.log([String(t.workers).padStart(7), ...shown.map(([, h, f]) => f(t).padStart(h.length))].join('  '));
for (const t of table) if (t.warrenNoSyncJobsPerSec !== undefined) console.log(`  ${t.workers}w, Warren with sync 'never' (reference only): ${t.warrenNoSyncJobsPerSec} jobs/s, ${t.noSyncRatio}x BullMQ`);
for (const r of rows) {
  const syncs = r.redisFdatasyncs !== undefined ? `, ${r.redisFdatasyncsPerJob} fdatasyncs per job (${r.redisFdatasyncs} fdatasyncs and ${r.redisFsyncs} fsyncs in all, start-up and shutdown included)` : '';
  const extra = r.redisCpuMsPerJob !== undefined ? `, Redis ${r.redisCpuMsPerJob} ms CPU per job${syncs}` : r.syncsPerJob === undefined ? '' : `, broker ${r.brokerCpuMsPerJob} ms CPU and ${r.syncsPerJob} fdatasyncs per job (${r.syncMeanMs} ms each), event loop ${r.brokerElu} busy`;
  console.log(`  ${r.system} ${r.workers}w: this process ${r.clientCpuMsPerJob} ms CPU per job (event loop ${r.clientElu} busy)${extra}`);
}
await writeFile(OUT, `${JSON.stringify({ date: new Date().toISOString(), ...(STARTED_AFTER !== undefined ? { startedAfterMs: STARTED_AFTER } : {}), ...(PREFETCH !== undefined ? { prefetch: PREFETCH } : {}), jobs: JOBS, warmup: WARMUP, concurrency: CONCURRENCY, inflight: INFLIGHT, loadAverage: Number(load), ...(persistence !== undefined ? { redis: persistence } : {}), rows, table }, null, 2)}\n`);
console.log(`wrote ${OUT}`);
process.exit(0);
