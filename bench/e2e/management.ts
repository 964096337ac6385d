/**
 * What the management HTTP API costs (issue 21), in one run:
 *
 *  A. With 10,000 queues (broker in its own process): the time of a Prometheus
 *     scrape (GET /metrics), of queue list pages (GET /api/queues, sorted and
 *     filtered server side), the overview and one queue: median and p95 of
 *     ROUNDS requests one at a time, and the broker CPU each takes.
 *  B. Scenario 1 of `npm run bench` (transient queue, 1 producer -> 1 consumer)
 *     without and with a "console" open (GET /api/overview, a page of
 *     /api/queues and /api/rates every second) plus Prometheus scraping /metrics
 *     every second; the runs alternate (off/on, on/off, ...), medians of 3.
 *     The cost is 1 - median(on) / median(off) of delivered msg/s (target: 3%).
 *
 *   npm run -w bench bench:management -- [--reps 3] [--count 100000] [--queues 10000] [--rounds 50] [--out results/management.md]
 *
 * Writes the Markdown report and a JSON twin (.json) beside it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@warren/client';
import { BROKER_NODE_FLAGS, Child } from './children.js';
import { SCENARIOS, withSystem, type Measurements, type RunOptions } from './scenarios.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const REPS = arg('reps', 3);
const COUNT = arg('count', 100_000);
const QUEUES = arg('queues', 10_000);
/** Requests per list / scrape figure (after 5 warm-up ones). */
const ROUNDS = arg('rounds', 50);
const outArg = process.argv.indexOf('--out');
const OUT = outArg > 0 ? process.argv[outArg + 1]! : join(here, '..', 'results', 'management.md');
const AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** One timed GET (the whole answer read); throws on a non-2xx answer. items: a list page's length, else 1. */
async function get(base: string, path: string): Promise<{ ms: number; bytes: number; items: number }> {
  const t0 = performance.now();
  const res = await fetch(base + path, { headers: { authorization: AUTH } });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  let items = 1;
  if (text.startsWith('{"items"')) items = (JSON.parse(text) as { items: unknown[] }).items.length;
  return { ms, bytes: text.length, items };
}

// -- A. 10,000 queues ------------------------------------------------------------

interface ListTiming {
  what: string;
  path: string;
  items: number;
  medianMs: number;
  p95Ms: number;
  bytes: number;
  brokerCpuMs: number;
  error?: string;
}

const queueName = (i: number): string => `orders.${i % 10 === 0 ? 'eu' : 'us'}.${String(i).padStart(5, '0')}`;

/** The console's and Prometheus's requests of one second. */
const ROUND = ['/api/overview', '/api/queues?page=1&page_size=100&sort=name', '/api/rates?seconds=300', '/metrics'];

/** Broker CPU (ms) of one round, the mean of ROUNDS rounds after 5 warm-up ones. */
async function roundCpu(child: Child, base: string): Promise<number> {
  for (let i = 0; i < 5; i++) for (const p of ROUND) await get(base, p);
  const before = (await child.request({ type: 'stats' })) as { cpuSeconds: number };
  for (let i = 0; i < ROUNDS; i++) for (const p of ROUND) await get(base, p);
  const after = (await child.request({ type: 'stats' })) as { cpuSeconds: number };
  return ((after.cpuSeconds - before.cpuSeconds) * 1000) / ROUNDS;
}

async function manyQueues(): Promise<{ timings: ListTiming[]; rssMB: number; roundCpuMsOneQueue: number; roundCpuMsAll: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-mgmt-'));
  process.env.WARREN_BENCH_BROKER_OPTIONS = JSON.stringify({ httpPort: 0 });
  const { child, hello } = await Child.start('warren broker', 'broker-child.mjs', [dataDir, 'always'], { execArgv: [...BROKER_NODE_FLAGS] });
  delete process.env.WARREN_BENCH_BROKER_OPTIONS;
  try {
    const base = `http://127.0.0.1:${String(hello.httpPort)}`;
    const c = await connect({ url: `warren://guest:guest@127.0.0.1:${String(hello.port)}`, heartbeatMs: 0 });
    // Scenario 1's topology first: one queue.
    await c.declareQueue(queueName(0), { durable: true });
    const roundCpuMsOneQueue = await roundCpu(child, base);
    log(`  one console + Prometheus round with 1 queue: ${roundCpuMsOneQueue.toFixed(2)} ms broker CPU`);
    log(`  declaring ${QUEUES} queues, 2,000 messages spread unevenly over them`);
    for (let i = 0; i < QUEUES; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, QUEUES - i) }, (_, k) => c.declareQueue(queueName(i + k), { durable: (i + k) % 2 === 0 })));
    }
    // Some depth, uneven, so sorting by messages has work to do.
    await Promise.all(Array.from({ length: 2000 }, (_, i) => c.publish('', queueName((i * 7) % QUEUES), 'x'.repeat(100))));
    await c.close();
    const paths: Array<[string, string]> = [
      ['Prometheus scrape', '/metrics'],
      ['queues, page 1 of 100, sorted by name', '/api/queues?page_size=100'],
      ['queues, page 50, sorted by messages desc', '/api/queues?page=50&page_size=100&sort=messages&sort_reverse=true'],
      ['queues, filtered (10%), sorted by messages desc', '/api/queues?page_size=100&name=.eu.&sort=messages&sort_reverse=true'],
      ['queues, regex filter, sorted by lag', `/api/queues?page_size=100&name=${encodeURIComponent('^orders\\.us\\.0')}&use_regex=true&sort=oldestReadyAgeMs&sort_reverse=true`],
      ['overview', '/api/overview'],
      ['one queue', `/api/queues/%2F/${queueName(0)}`],
      ['one queue\'s rates (5 min)', `/api/queues/%2F/${queueName(0)}/rates`],
    ];
    const timings: ListTiming[] = [];
    for (const [what, path] of paths) {
      try {
        for (let i = 0; i < 5; i++) await get(base, path); // warm-up (the first scrape creates the registry)
        const ms: number[] = [];
        let last = { ms: 0, bytes: 0, items: 0 };
        const before = (await child.request({ type: 'stats' })) as { cpuSeconds: number };
        for (let i = 0; i < ROUNDS; i++) {
          last = await get(base, path);
          ms.push(last.ms);
        }
        const after = (await child.request({ type: 'stats' })) as { cpuSeconds: number };
        ms.sort((x, y) => x - y);
        const t = { what, path, items: last.items, medianMs: median(ms), p95Ms: ms[Math.min(ms.length - 1, Math.floor(0.95 * ms.length))]!, bytes: last.bytes, brokerCpuMs: ((after.cpuSeconds - before.cpuSeconds) * 1000) / ROUNDS };
        timings.push(t);
        log(`  ${what}: median ${t.medianMs.toFixed(2)} ms, p95 ${t.p95Ms.toFixed(2)} ms, ${t.bytes} B`);
      } catch (err) {
        timings.push({ what, path, items: 0, medianMs: NaN, p95Ms: NaN, bytes: 0, brokerCpuMs: NaN, error: (err as Error).message });
        log(`  ${what}: ${(err as Error).message}`);
      }
    }
    const roundCpuMsAll = await roundCpu(child, base);
    log(`  one console + Prometheus round with ${QUEUES} queues: ${roundCpuMsAll.toFixed(2)} ms broker CPU`);
    const stats = (await child.request({ type: 'stats' })) as { rssBytes: number };
    return { timings, rssMB: stats.rssBytes / 1e6, roundCpuMsOneQueue, roundCpuMsAll };
  } finally {
    await child.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// -- B. scenario 1 with and without the console and Prometheus --------------------

interface Poller {
  requests: number;
  errors: string[];
  latenciesMs: number[];
  stop(): Promise<void>;
}

/** Every second: the console's overview, a page of queues and the rates chart; and a Prometheus scrape. */
function startPoller(base: string): Poller {
  const p: Poller = { requests: 0, errors: [], latenciesMs: [], stop: async () => undefined };
  const paths = ROUND;
  let inFlight: Promise<unknown> = Promise.resolve();
  const tick = (): void => {
    inFlight = Promise.all(
      paths.map(async (path) => {
        try {
          const r = await get(base, path);
          p.requests++;
          p.latenciesMs.push(r.ms);
        } catch (err) {
          if (p.errors.length < 5) p.errors.push((err as Error).message);
        }
      }),
    );
  };
  tick();
  const timer = setInterval(tick, 1000);
  p.stop = async () => {
    clearInterval(timer);
    await inFlight;
  };
  return p;
}

interface Run {
  rep: number;
  console: boolean;
  m: Measurements;
  requests: number;
  errors: string[];
  p50Ms: number;
}

async function scenarioOne(): Promise<Run[]> {
  const scenario = SCENARIOS.find((s) => s.id === '1')!;
  const opts: RunOptions = { quick: false, log: (l) => log(`    ${l}`) };
  const runs: Run[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    for (const on of rep % 2 === 0 ? [false, true] : [true, false]) {
      // The API listens in both variants: the difference is the polling alone.
      const httpPort = await freePort();
      process.env.WARREN_BENCH_BROKER_OPTIONS = JSON.stringify({ httpPort });
      const run = await withSystem('warren', scenario, opts, async (ctx) => {
        const poller = on ? startPoller(`http://127.0.0.1:${httpPort}`) : null;
        try {
          return { m: await scenario.run(ctx, COUNT, opts), poller };
        } finally {
          await poller?.stop();
        }
      });
      delete process.env.WARREN_BENCH_BROKER_OPTIONS;
      const lat = [...(run.poller?.latenciesMs ?? [])].sort((a, b) => a - b);
      runs.push({ rep, console: on, m: run.m, requests: run.poller?.requests ?? 0, errors: run.poller?.errors ?? [], p50Ms: lat.length > 0 ? lat[lat.length >> 1]! : NaN });
      log(`  rep ${rep + 1} console ${on ? 'on ' : 'off'}: ${Math.round(run.m.deliveredPerSec!)} msg/s, ${run.poller?.requests ?? 0} API requests${run.poller?.errors.length ? `, errors: ${run.poller.errors.join('; ')}` : ''}`);
    }
  }
  return runs;
}

// -- report ------------------------------------------------------------------------

const started = new Date();
const loadAtStart = (await import('node:os')).loadavg()[0]!;
log(`management bench: ${QUEUES} queues; scenario 1 x ${REPS} reps x {off, on}, ${COUNT} messages`);
log('A. list and scrape times');
const a = await manyQueues();
log('B. scenario 1 with and without the console and Prometheus');
const runs = await scenarioOne();
const off = runs.filter((r) => !r.console);
const on = runs.filter((r) => r.console);
const med = (rs: Run[], k: string) => median(rs.map((r) => r.m[k]!));
const offRate = med(off, 'deliveredPerSec');
const onRate = med(on, 'deliveredPerSec');
const cost = 1 - onRate / offRate;
// Each repetition runs off and on back to back: the ratio within a pair sees the same machine load.
const pairRatios = Array.from({ length: REPS }, (_, rep) => {
  const o = runs.find((r) => r.rep === rep && !r.console)!.m.deliveredPerSec!;
  const n = runs.find((r) => r.rep === rep && r.console)!.m.deliveredPerSec!;
  return n / o;
});
const pairedCost = REPS > 0 ? 1 - median(pairRatios) : NaN;
/** Upper bound: a saturated event loop loses at most the time the round takes. */
const boundCost = a.roundCpuMsOneQueue / 1000;
const cpuOff = med(off, 'brokerCpuSecPer100k');
const cpuOn = med(on, 'brokerCpuSecPer100k');
const cpuOf = (path: string): number => a.timings.find((t) => t.path === path)?.brokerCpuMs ?? NaN;
const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');

const md = `# Management API cost (issue 21)

\`npm run bench:management\` (bench/e2e/management.ts), ${started.toISOString().slice(0, 16)}Z, ${(await import('node:os')).cpus().length} cores
(shared with other work: load average ${fmt(loadAtStart, 1)} at the start, ${fmt((await import('node:os')).loadavg()[0]!, 1)} at the end; compare the ratios, not the absolute figures).

## A. ${fmt(QUEUES)} queues: scrape and list times

Broker (its own process) RSS with ${fmt(QUEUES)} queues: ${fmt(a.rssMB)} MB. ${ROUNDS} requests each, one at a time, after 5
warm-up ones; wall time as the client sees it (the answer read whole) and the broker's CPU per request.

| request | items | median | p95 | broker CPU | answer |
|---|---:|---:|---:|---:|---:|
${a.timings.map((t) => `| ${t.what} (\`${t.path}\`) | ${t.items} | ${t.error ? `n/a: ${t.error}` : `${fmt(t.medianMs, 2)} ms`} | ${fmt(t.p95Ms, 2)} ms | ${fmt(t.brokerCpuMs, 2)} ms | ${fmt(t.bytes / 1024)} KiB |`).join('\n')}

## B. Scenario 1 with the console open and Prometheus scraping every second

Scenario 1 of \`npm run bench\` (${SCENARIOS.find((s) => s.id === '1')!.title}), ${fmt(COUNT)} messages,
${REPS} repetitions of each variant, alternating. "on": every second GET /api/overview, a 100-queue page of
/api/queues, /api/rates?seconds=300 (what the console polls) and GET /metrics (Prometheus). The HTTP API
listens in both variants.

| run | console + Prometheus | delivered msg/s | broker CPU s / 100k msgs | API requests (p50 latency) |
|---|---|---:|---:|---:|
${runs.map((r) => `| ${r.rep + 1} | ${r.console ? 'on' : 'off'} | ${fmt(r.m.deliveredPerSec!)} | ${fmt(r.m.brokerCpuSecPer100k!, 3)} | ${r.console ? `${r.requests} (${fmt(r.p50Ms, 1)} ms)${r.errors.length ? ` errors: ${r.errors.join('; ')}` : ''}` : '-'} |`).join('\n')}

Median delivered: off ${fmt(offRate)} msg/s, on ${fmt(onRate)} msg/s (ratio of medians: cost ${fmt(cost * 100, 1)}%);
median of the per-repetition ratios on/off: ${pairRatios.map((r) => fmt(r, 3)).join(', ')} -> **cost ${fmt(pairedCost * 100, 1)}%**.
Broker CPU per 100k messages (medians): off ${fmt(cpuOff, 3)} s, on ${fmt(cpuOn, 3)} s.
Spread of delivered msg/s across runs: off ${fmt(Math.min(...off.map((r) => r.m.deliveredPerSec!)))}-${fmt(Math.max(...off.map((r) => r.m.deliveredPerSec!)))},
on ${fmt(Math.min(...on.map((r) => r.m.deliveredPerSec!)))}-${fmt(Math.max(...on.map((r) => r.m.deliveredPerSec!)))}.

On a shared machine the run-to-run spread is larger than the effect, so the cost is bounded from the
broker CPU a round takes, measured alone: one round (overview + a page of queues + rates + a scrape) with
scenario 1's single queue costs the broker **${fmt(a.roundCpuMsOneQueue, 2)} ms of CPU**; at one round per second a
broker whose event loop is saturated loses at most that share of its time: **cost <= ${fmt(boundCost * 100, 2)}%**
(target: within 3%). With ${fmt(QUEUES)} queues a round costs ${fmt(a.roundCpuMsAll, 1)} ms (${fmt(a.roundCpuMsAll / 10, 1)}% of one
core at one round per second), ${fmt(cpuOf('/metrics'), 1)} ms of it the scrape; Prometheus usually scrapes every 15-60 s.
`;
await writeFile(OUT, md);
await writeFile(OUT.replace(/\.md$/, '.json'), `${JSON.stringify({ date: started.toISOString(), node: process.version, queues: QUEUES, rounds: ROUNDS, count: COUNT, reps: REPS, listTimes: a, runs, offRate, onRate, cost, pairRatios, pairedCost, boundCost }, null, 2)}\n`);
log(`wrote ${OUT}`);
process.stdout.write(md);
