/**
 * Where the broker's memory and CPU go with many queues, each with a consumer:
 * the `queues` scenario's shape (one producer cycling over N transient queues,
 * their consumers spread over 10 connections, prefetch 100, 256 B bodies,
 * 1,000 publishes in flight) without the timing, reading the broker at each stage
 * (started, queues declared, consumers added, messages delivered, idle, queues
 * deleted): process.memoryUsage() before and after a forced GC (twice), its CPU,
 * and the rate sampler's per-queue rings.
 *
 *   node bench/e2e/queues-probe.mjs [queues=10000] [messages=110000] [settleMs=3000]
 *   node bench/e2e/queues-probe.mjs --heap-diff a.heapsnapshot b.heapsnapshot
 *
 * PROBE_PROFILE=file.cpuprofile: the broker's CPU profile of the messages stage only
 * (summarise with `node --import tsx bench/e2e/profile-summary.ts file`).
 * PROBE_SNAPSHOTS=dir: a heap snapshot at each stage; --heap-diff sums the self size
 * of two of them by constructor, b minus a. PROBE_NO_RATES=1: the rate sampler stopped.
 * The broker runs in a child with `--expose-gc --max-semi-space-size=64` (the benchmark's
 * flag) plus WARREN_BENCH_BROKER_ARGS. Plain JavaScript on the built packages (`npm run build`).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

/** @param {number} n */
const MB = (n) => (n / 1048576).toFixed(1);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @typedef {{ rss: number, heapUsed: number, heapTotal: number, external: number, arrayBuffers: number }} Mem */
/** @typedef {{ type: string, port?: number, before?: Mem, after?: Mem, cpuSeconds?: number, rings?: number | null, ringRows?: number | null, trackCalls?: number }} Reply */

/**
 * Self size by node type and constructor name in a heap snapshot.
 * @param {string} file
 */
function heapSummary(file) {
  /** @type {{ snapshot: { meta: { node_fields: string[], node_types: [string[]] } }, nodes: number[], strings: string[] }} */
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  /** @type {Map<string, { count: number, size: number }>} */
  const m = new Map();
  for (let i = 0; i < s.nodes.length; i += f.length) {
    const t = types[s.nodes[i + iType]]; // eslint-disable-line
    const named = t === 'object' || t === 'closure' || t === 'native';
    const k = `${t}:${named ? s.strings[s.nodes[i + iName]]?.slice(0, 60) : ''}`;
    const e = m.get(k) ?? { count: 0, size: 0 };
    e.count++;
    e.size += s.nodes[i + iSize] ?? 0;
    m.set(k, e);
  }
  return m;
}

if (process.argv[2] === '--heap-diff') {
  const a = heapSummary(process.argv[3] ?? '');
  const b = heapSummary(process.argv[4] ?? '');
  const rows = [...new Set([...a.keys(), ...b.keys()])].map((k) => {
    const x = a.get(k) ?? { count: 0, size: 0 };
    const y = b.get(k) ?? { count: 0, size: 0 };
    return { k, count: y.count - x.count, size: y.size - x.size };
  });
  rows.sort((p, q) => q.size - p.size);
  console.log(`total ${MB(rows.reduce((t, r) => t + r.size, 0))} MB`);
  for (const r of rows.slice(0, 30)) console.log(`${String(r.count).padStart(8)} ${(r.size / 1024).toFixed(0).padStart(8)} KB  ${r.k}`);
} else if (process.argv[2] === '--broker') {
  const { startBroker } = await import('@warren/broker');
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'warren-qprobe-')),
    sync: 'always',
    logLevel: 'warn',
    heartbeatMs: 0,
    maxConnections: 100_000,
    ...JSON.parse(process.env.WARREN_BENCH_BROKER_OPTIONS ?? '{}'),
  });
  /** @param {Reply} m */
  const send = (m) => process.send?.(m);
  if (process.env.PROBE_NO_RATES === '1') broker.rates.stop();
  // The sampler's internals, read the same way before and after the ring changes (private in TypeScript).
  /** @type {{ track?: (...a: unknown[]) => void, tracked?: Set<{ ring: { data: Float64Array, width: number } | null }> }} */
  const sampler = /** @type {any} */ (broker.rates);
  // Calls to RateSampler.track (before the fix, each allocated a 600-row ring).
  let trackCalls = 0;
  const track = sampler.track;
  if (typeof track === 'function') sampler.track = function (...a) {
    trackCalls++;
    return track.apply(this, a);
  };
  const read = () => {
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
  };
  let snapshots = 0;
  const session = new inspector.Session();
  process.on('message', (/** @type {{ type: string, on?: boolean }} */ m) => {
    if (m.type === 'mem') {
      const before = read();
      const cpu = process.cpuUsage();
      const gc = /** @type {{ gc?: () => void }} */ (globalThis).gc;
      gc?.();
      gc?.();
      const after = read();
      const states = sampler.tracked === undefined ? [] : [...sampler.tracked];
      const ringRows = states.reduce((t, s) => t + (s.ring === null ? 0 : s.ring.data.length / s.ring.width), 0);
      const dir = process.env.PROBE_SNAPSHOTS;
      if (dir !== undefined && dir !== '') v8.writeHeapSnapshot(join(dir, `stage-${++snapshots}.heapsnapshot`));
      send({ type: 'mem', before, after, cpuSeconds: (cpu.user + cpu.system) / 1e6, rings: sampler.tracked?.size ?? null, ringRows, trackCalls });
    } else if (m.type === 'profile') {
      if (m.on === true) {
        session.connect();
        session.post('Profiler.enable', () => session.post('Profiler.start', () => send({ type: 'profile' })));
      } else
        session.post('Profiler.stop', (err, r) => {
          if (err === null) writeFileSync(process.env.PROBE_PROFILE ?? 'queues-probe.cpuprofile', JSON.stringify(r.profile));
          session.disconnect();
          send({ type: 'profile' });
        });
    } else if (m.type === 'stop') void broker.close().then(() => process.exit(0));
  });
  send({ type: 'listening', port: broker.port });
} else {
  const [nQueues = 10_000, nMessages = 110_000, settleMs = 3000] = process.argv.slice(2).map(Number);
  const { connect } = await import('@warren/client');
  const child = fork(fileURLToPath(import.meta.url), ['--broker'], {
    execArgv: ['--expose-gc', '--max-semi-space-size=64', ...(process.env.WARREN_BENCH_BROKER_ARGS ?? '').split(' ').filter(Boolean)],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  /** @type {Reply[]} */
  const replies = [];
  /** @type {((m: Reply) => void) | undefined} */
  let waiter;
  child.on('message', (/** @type {Reply} */ m) => {
    if (waiter === undefined) replies.push(m);
    else {
      const w = waiter;
      waiter = undefined;
      w(m);
    }
  });
  /** @returns {Promise<Reply>} */
  const next = () => (replies.length > 0 ? Promise.resolve(/** @type {Reply} */ (replies.shift())) : new Promise((r) => (waiter = r)));
  const { port } = await next();
  const opts = { url: `warren://guest:guest@127.0.0.1:${port}`, heartbeatMs: 0, copyPublishBodies: false, maxBufferedPublishes: 1_000_000 };
  /** @type {Reply | undefined} */
  let last;
  /** @param {string} name */
  const stage = async (name) => {
    child.send({ type: 'mem' });
    const r = await next();
    const a = /** @type {Mem} */ (r.after);
    const b = /** @type {Mem} */ (r.before);
    /** @param {keyof Mem} k */
    const d = (k) => (last?.after === undefined ? '' : ` (+${MB(a[k] - last.after[k])})`);
    console.log(
      `${name.padEnd(32)} rss ${MB(b.rss)}->${MB(a.rss)}${d('rss')}  heapUsed ${MB(b.heapUsed)}->${MB(a.heapUsed)}${d('heapUsed')}  heapTotal ${MB(a.heapTotal)}  ` +
        `external ${MB(b.external)}->${MB(a.external)}${d('external')}  cpu ${r.cpuSeconds?.toFixed(2)} s  rate rings ${r.rings} (${r.ringRows} rows; track() calls ${r.trackCalls})`,
    );
    last = r;
  };
  await sleep(500);
  await stage('started');
  const admin = await connect(opts);
  const names = Array.from({ length: nQueues }, (_, i) => `probe.q${i}`);
  for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((q) => admin.declareQueue(q, { durable: false })));
  await sleep(settleMs);
  await stage(`${nQueues} queues declared`);
  let received = 0;
  /** @param {{ ack(): void }} m */
  const handler = (m) => {
    m.ack();
    received++;
  };
  const nConns = Math.min(10, nQueues);
  const conns = [];
  for (let i = 0; i < nConns; i++) conns.push(await connect(opts));
  await Promise.all(
    conns.map(async (c, i) => {
      for (let q = i; q < names.length; q += nConns) await c.consume(/** @type {string} */ (names[q]), handler, { prefetch: 100 });
    }),
  );
  await sleep(settleMs);
  await stage(`+ a consumer each (${nConns} conns)`);
  const producer = await connect(opts);
  const profiling = (process.env.PROBE_PROFILE ?? '') !== '';
  if (profiling) {
    child.send({ type: 'profile', on: true });
    await next();
  }
  const body = Buffer.alloc(256);
  /** @type {Set<Promise<void>>} */
  const inflight = new Set();
  for (let sent = 0; sent < nMessages; sent++) {
    const p = producer.publish('', /** @type {string} */ (names[sent % nQueues]), body).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 1000) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  while (received < nMessages) await sleep(20);
  if (profiling) {
    child.send({ type: 'profile', on: false });
    await next();
  }
  await stage(`+ ${nMessages} messages delivered`);
  await sleep(settleMs);
  await stage(`+ ${settleMs} ms idle`);
  await Promise.all([...conns, producer].map((c) => c.close()));
  for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((q) => admin.deleteQueue(q)));
  await admin.close();
  await sleep(settleMs);
  await stage('queues deleted');
  child.send({ type: 'stop' });
}
