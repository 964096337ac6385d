/**
 * Memory under a flood (issue 18): a `warren server` started with a memory
 * limit (default 256 MiB) takes transient messages as fast as one publisher
 * can send them, for a fixed time, into a queue with no consumer, or with a
 * consumer that subscribed with unlimited prefetch and stopped reading its
 * socket. The broker's RSS (from /proc) must stay under 1.5x the limit; the
 * report gives the peak, the queue length reached, and how long the publisher
 * was blocked (FLOW): only when paging to disk cannot keep up.
 *
 *   npm run flood -w bench -- [--seconds 600] [--limit-mib 256] [--cases 16B-none,1KiB-none,16B-stalled,1KiB-stalled]
 *                             [--queued 10000000] [--json FILE] [--write-results]
 *
 * `--queued N` instead fills a queue with N 16 B messages (no consumer, no time limit) and reports the RSS.
 * `--write-results` saves to bench/results/flood.json (or flood-queued.json with --queued) and
 * regenerates bench/RESULTS.md, whose Resources table shows the --queued figure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Connection } from '@warren/client';
import { FrameType, PROTOCOL_VERSION, encodeFrame } from '@warren/protocol';
import { procSample, sleep } from './common.js';

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const MIB = 1024 * 1024;

export interface FloodCase {
  id: string;
  bodySize: number;
  consumer: 'none' | 'stalled';
}

export const FLOOD_CASES: FloodCase[] = [
  { id: '16B-none', bodySize: 16, consumer: 'none' },
  { id: '1KiB-none', bodySize: 1024, consumer: 'none' },
  { id: '16B-stalled', bodySize: 16, consumer: 'stalled' },
  { id: '1KiB-stalled', bodySize: 1024, consumer: 'stalled' },
];

export interface FloodResult {
  case: string;
  seconds: number;
  limitBytes: number;
  peakRssBytes: number;
  /** peak / limit; must stay under 1.5. */
  peakRatio: number;
  finalRssBytes: number;
  queueLength: number;
  published: number;
  blockedSeconds: number;
  blockedEvents: number;
  /** RSS once the queue was deleted. */
  rssAfterDeleteBytes: number;
}

export interface FloodBroker {
  child: ChildProcess;
  port: number;
  dataDir: string;
  /** Set once stop() was called: the flood loop ends. */
  stopping: boolean;
  /** SIGTERM (SIGKILL after STOP_GRACE_MS), then the data folder removed; once, however often called. */
  stop(): Promise<void>;
}

/** Brokers started and not yet stopped (see stopFloodBrokers). */
const running = new Set<FloodBroker>();

/** The brokers of the floods still running. */
export function floodBrokers(): FloodBroker[] {
  return [...running];
}

/**
 * Stops every flood broker still running and removes its data folder: the cleanup
 * hook for when runFloodCase's own finally block does not get to run in time (a
 * test that timed out keeps running in the background; Ctrl-C). The flood of a
 * stopped broker then fails.
 */
export async function stopFloodBrokers(): Promise<void> {
  await Promise.allSettled([...running].map((b) => b.stop()));
}

const STOP_GRACE_MS = 10_000;
const START_LIMIT_MS = 30_000;

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(kill);
}

async function startBroker(limitBytes: number): Promise<FloodBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-flood-'));
  const child = spawn(
    process.execPath,
    [BIN, 'server', '--http-port', 'off', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--memory-high-watermark', String(limitBytes), '--log-level', 'warn', '--log-format', 'json'],
    // The broker as it runs in production: the test suite's frame guard (WARREN_FRAME_GUARD=1, inherited
    // from vitest) hands out a fresh, poisoned frame object per publish, which here raised the broker's peak
    // RSS from ~105 to ~160 MiB for the smoke's 300,000 16 B messages and held the publisher blocked at the
    // memory watermark for most of the run (~2,300 msg/s instead of ~35,000): it measured the guard.
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WARREN_FRAME_GUARD: '0' } },
  );
  let out = '';
  let startTimer: NodeJS.Timeout | undefined;
  const listening = new Promise<number>((resolve, reject) => {
    // With JSON logs the plain banner goes to stderr (stdout carries only JSON lines).
    const onData = (d: string): void => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      onData(d);
      process.stderr.write(d);
    });
    child.once('exit', (code) => reject(new Error(`broker exited (${code}) before listening: ${out}`)));
    startTimer = setTimeout(() => reject(new Error(`broker not listening after ${START_LIMIT_MS} ms: ${out}`)), START_LIMIT_MS);
  });
  let port: number;
  try {
    port = await listening;
  } catch (err) {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  } finally {
    clearTimeout(startTimer);
  }
  let stopped: Promise<void> | undefined;
  const broker: FloodBroker = {
    child,
    port,
    dataDir,
    stopping: false,
    stop() {
      broker.stopping = true;
      stopped ??= stopChild(child).finally(() => {
        rmSync(dataDir, { recursive: true, force: true });
        running.delete(broker);
      });
      return stopped;
    },
  };
  running.add(broker);
  return broker;
}

/** A consumer with unlimited prefetch that reads its first deliveries, then stops reading its socket. */
async function stalledConsumer(port: number, queue: string): Promise<() => void> {
  const socket = netConnect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    encodeFrame({
      type: FrameType.OPEN,
      version: PROTOCOL_VERSION,
      properties: { name: 'stalled-consumer' },
      credentials: { mechanism: 'PLAIN', username: 'guest', password: 'guest' },
      frameMax: 0,
      heartbeatMs: 0,
    }),
  );
  socket.write(encodeFrame({ type: FrameType.CONSUME, requestId: 1, queue, options: { prefetch: 0 } }));
  let seen = 0;
  socket.on('data', (chunk) => {
    seen += chunk.length;
    // Some deliveries read, then never another byte.
    if (seen > 256 * 1024) socket.pause();
  });
  return () => socket.destroy();
}

/**
 * Floods for `seconds`, or until `maxMessages` were sent if that comes first. `settleMs`: how long
 * to wait after deleting the queue before sampling `rssAfterDeleteBytes` (a caller that does not
 * read that figure, like the smoke test, passes 0).
 */
export async function runFloodCase(c: FloodCase, seconds: number, limitBytes: number, log: (s: string) => void, maxMessages = Infinity, settleMs = 3000): Promise<FloodResult> {
  const broker = await startBroker(limitBytes);
  const queue = `flood.${c.id}`;
  let conn: Connection | undefined;
  let stopConsumer = () => {};
  try {
    conn = await connect({ url: `warren://guest:guest@127.0.0.1:${broker.port}`, reconnect: false } as Parameters<typeof connect>[0]);
    await conn.declareQueue(queue);
    if (c.consumer === 'stalled') stopConsumer = await stalledConsumer(broker.port, queue);
    let blockedSince = 0;
    let blockedMs = 0;
    let blockedEvents = 0;
    conn.on('blocked', () => {
      blockedEvents++;
      blockedSince = performance.now();
    });
    conn.on('unblocked', () => {
      blockedMs += performance.now() - blockedSince;
      blockedSince = 0;
    });
    const body = Buffer.alloc(c.bodySize, 0x61);
    const end = performance.now() + seconds * 1000;
    let published = 0;
    let peak = 0;
    const pid = broker.child.pid!;
    const sampler = setInterval(() => {
      const s = procSample(pid);
      if (s !== undefined) peak = Math.max(peak, s.rssBytes);
    }, 100);
    let lastLog = performance.now();
    const WINDOW = 2000;
    const inFlight = new Set<Promise<void>>();
    try {
      while (performance.now() < end && published < maxMessages) {
        if (broker.stopping) throw new Error(`flood ${c.id}: its broker was stopped`);
        const p = conn.publish('', queue, body).then(() => {
          inFlight.delete(p);
        });
        inFlight.add(p);
        published++;
        if (inFlight.size >= WINDOW) await Promise.race(inFlight);
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          const s = procSample(pid);
          log(`    ${c.id}: ${published} published, RSS ${((s?.rssBytes ?? 0) / MIB).toFixed(0)} MiB, peak ${(peak / MIB).toFixed(0)} MiB, blocked ${(blockedMs / 1000).toFixed(1)} s`);
        }
      }
      // Let the last window land (a blocked publisher's stays in flight: it is not counted as queued).
      await Promise.race([Promise.all(inFlight), sleep(5000)]);
    } finally {
      clearInterval(sampler);
    }
    if (blockedSince !== 0) blockedMs += performance.now() - blockedSince;
    const final = procSample(pid)?.rssBytes ?? 0;
    peak = Math.max(peak, final);
    const info = (await conn.listQueues()).find((q) => q.name === queue) as { messageCount?: number; messages?: number } | undefined;
    const queueLength = info?.messageCount ?? info?.messages ?? NaN;
    stopConsumer();
    await conn.deleteQueue(queue);
    if (settleMs > 0) await sleep(settleMs);
    const afterDelete = procSample(pid)?.rssBytes ?? 0;
    return {
      case: c.id,
      seconds,
      limitBytes,
      peakRssBytes: peak,
      peakRatio: peak / limitBytes,
      finalRssBytes: final,
      queueLength,
      published,
      blockedSeconds: blockedMs / 1000,
      blockedEvents,
      rssAfterDeleteBytes: afterDelete,
    };
  } finally {
    stopConsumer();
    await conn?.close().catch(() => {});
    await broker.stop();
  }
}

/** Fills a queue with `count` 16 B transient messages; returns the broker's RSS before and after. */
export async function runQueued(
  count: number,
  limitBytes: number,
  log: (s: string) => void,
): Promise<{ count: number; limitBytes: number; rssBeforeBytes: number; rssBytes: number; seconds: number }> {
  const broker = await startBroker(limitBytes);
  let conn: Connection | undefined;
  try {
    conn = await connect({ url: `warren://guest:guest@127.0.0.1:${broker.port}`, reconnect: false } as Parameters<typeof connect>[0]);
    await conn.declareQueue('queued');
    const pid = broker.child.pid!;
    const before = procSample(pid)?.rssBytes ?? 0;
    const body = Buffer.alloc(16, 0x61);
    const t0 = performance.now();
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < count; i++) {
      if (broker.stopping) throw new Error('queued: its broker was stopped');
      const p = conn.publish('', 'queued', body).then(() => {
        inFlight.delete(p);
      });
      inFlight.add(p);
      if (inFlight.size >= 2000) await Promise.race(inFlight);
      if (i % 1_000_000 === 0 && i > 0) log(`    queued ${i}: RSS ${((procSample(pid)?.rssBytes ?? 0) / MIB).toFixed(0)} MiB`);
    }
    await Promise.all(inFlight);
    await sleep(2000);
    return { count, limitBytes, rssBeforeBytes: before, rssBytes: procSample(pid)?.rssBytes ?? 0, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await conn?.close().catch(() => {});
    await broker.stop();
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const USAGE = `usage: npm run -w bench flood -- [--seconds 600] [--limit-mib 256]
         [--cases 16B-none,1KiB-none,16B-stalled,1KiB-stalled] [--json FILE] [--write-results]
       npm run -w bench flood -- --queued 10000000 [--limit-mib 256] [--write-results]
Floods a broker started with --memory-high-watermark LIMIT and reports its peak RSS, the queue
length reached and how long publishers were blocked (FLOW); --queued fills one queue with N 16 B
messages and reports the RSS. --write-results saves bench/results/flood(-queued).json and
regenerates bench/RESULTS.md.`;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const seconds = Number(arg('seconds') ?? 600);
  const limitBytes = Number(arg('limit-mib') ?? 256) * MIB;
  const queuedArg = arg('queued');
  const writeResults = process.argv.includes('--write-results');
  const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
  // npm -w runs in bench/: a relative --json is taken from where npm was started.
  const jsonArg = arg('json');
  const json = jsonArg !== undefined ? resolve(process.env.INIT_CWD ?? process.cwd(), jsonArg) : writeResults ? join(resultsDir, queuedArg !== undefined ? 'flood-queued.json' : 'flood.json') : undefined;
  const log = (s: string) => console.log(s);
  const out: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, command: `npm run -w bench flood -- ${process.argv.slice(2).join(' ')}` };
  if (queuedArg !== undefined) {
    const r = await runQueued(Number(queuedArg), limitBytes, log);
    log(`${r.count} queued 16 B messages: RSS ${(r.rssBytes / MIB).toFixed(0)} MiB (empty: ${(r.rssBeforeBytes / MIB).toFixed(0)} MiB), filled in ${r.seconds.toFixed(0)} s`);
    out['queued'] = r;
  } else {
    const ids = (arg('cases') ?? FLOOD_CASES.map((c) => c.id).join(',')).split(',');
    const results: FloodResult[] = [];
    for (const id of ids) {
      const c = FLOOD_CASES.find((x) => x.id === id);
      if (c === undefined) throw new Error(`unknown case ${id}; cases: ${FLOOD_CASES.map((x) => x.id).join(', ')}`);
      log(`flood ${c.id}: ${seconds} s, limit ${limitBytes / MIB} MiB`);
      const r = await runFloodCase(c, seconds, limitBytes, log);
      results.push(r);
      log(
        `  ${r.case}: peak RSS ${(r.peakRssBytes / MIB).toFixed(0)} MiB = ${r.peakRatio.toFixed(2)} x limit ${r.peakRatio < 1.5 ? '(ok, < 1.5)' : '(OVER 1.5)'}; ` +
          `queue ${r.queueLength}; published ${r.published}; blocked ${r.blockedSeconds.toFixed(1)} s in ${r.blockedEvents} FLOW; ` +
          `RSS after deleting the queue ${(r.rssAfterDeleteBytes / MIB).toFixed(0)} MiB`,
      );
    }
    out['flood'] = results;
  }
  if (json !== undefined) {
    writeFileSync(json, JSON.stringify(out, null, 2) + '\n');
    log(`JSON: ${json}`);
  }
  if (writeResults) {
    const run = fileURLToPath(new URL('./run.ts', import.meta.url));
    spawnSync(process.execPath, ['--import', 'tsx', run, 'report'], { stdio: 'inherit' });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Ctrl-C or SIGTERM mid-flood: no finally block runs, so stop the broker and remove its data folder here.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopFloodBrokers().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143)));
  }
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
