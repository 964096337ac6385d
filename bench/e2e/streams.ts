/**
 * Streams side by side: Warren streams, RabbitMQ streams (AMQP 0-9-1, x-queue-type
 * stream) and NATS JetStream (file storage), on this machine, in one run.
 *
 *   npm run bench:streams -- [--count N] [--size B] [--only warren,rabbitmq,nats] [--repeat N]
 *                             [--write-results | --out FILE] [--profile DIR]
 *
 * Per system: publish N messages of B bytes (default 1,000,000 x 256 B) with confirms
 * (publisher acknowledgements / PubAcks, at most WINDOW in flight), then replay the
 * whole stream from the first message with one consumer, then with three at once.
 * For Warren it also reports the broker's peak RSS while replaying (the stream is
 * larger than anything the broker keeps in memory: reads go to disk in batches).
 * With --repeat N every system runs N rounds in turn and the medians are reported.
 * Results: a table and Warren's ratios on stdout; JSON with --out FILE, or in
 * bench/results/streams.json with --write-results. --profile DIR: the broker writes
 * a --cpu-prof profile there (read it with bench/e2e/profile-summary.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { StorageType, connect as natsConnect } from 'nats';
import { connect } from '@warren/client';
import { Child } from './children.js';

const here = dirname(fileURLToPath(import.meta.url));
const WINDOW = 2000;
const STREAM = 'bench-stream';
const RABBIT_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';

interface Result {
  system: string;
  publishPerSec: number;
  replay1PerSec: number;
  replay3PerSec: number;
  peakReplayRssBytes?: number;
  diskBytes?: number;
  /** fdatasync calls while publishing (group commit: messages per sync = count / publishSyncs). */
  publishSyncs?: number;
}

interface Args {
  count: number;
  size: number;
  only: string[];
  /** Where the JSON goes: --out FILE, or bench/results/streams.json with --write-results, else nowhere. */
  out: string | null;
  repeat: number;
  profile: string | null;
}

function args(): Args {
  const a: Args = { count: 1_000_000, size: 256, only: ['warren', 'rabbitmq', 'nats'], out: null, repeat: 1, profile: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--write-results') {
      a.out = resolve(here, '../results/streams.json');
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--count') a.count = Number(v);
    else if (k === '--size') a.size = Number(v);
    else if (k === '--only') a.only = v.split(',');
    else if (k === '--repeat') a.repeat = Number(v);
    else if (k === '--profile') a.profile = resolve(process.env.INIT_CWD ?? process.cwd(), v);
    else if (k === '--out') a.out = resolve(process.env.INIT_CWD ?? process.cwd(), v); // npm -w runs in bench/
    else throw new Error(`unknown option ${k}`);
  }
  return a;
}

/** Runs `publish(i)` for i in 0..n-1 with at most `window` unresolved at once. */
async function windowed(n: number, window: number, publish: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await publish(next++);
  };
  await Promise.all(Array.from({ length: window }, lane));
}

const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Samples a process's RSS every 50 ms while `work` runs; returns the peak. */
async function peakRss(pid: number, work: () => Promise<void>): Promise<number> {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rssOf(pid));
}

async function benchWarren(count: number, body: Buffer): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-bench-streams-'));
  // --profile DIR: the broker writes a --cpu-prof profile there when it stops (bench/e2e/profile-summary.ts reads it).
  const execArgv = a.profile === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${a.profile}`];
  const { child, hello } = await Child.start('broker-warren', 'broker-child.mjs', [dataDir, 'always'], { execArgv });
  const url = `warren://guest:guest@127.0.0.1:${hello.port as number}`;
  try {
    const conn = await connect({ url, heartbeatMs: 0 });
    await conn.declareStream(STREAM);
    const before = await child.request({ type: 'stats' });
    let t = performance.now();
    await windowed(count, WINDOW, () => conn.publish('', STREAM, body));
    const publishMs = performance.now() - t;
    const after = await child.request({ type: 'stats' });
    const publishSyncs = (after.syncs as number) - (before.syncs as number);
    const replay = async (consumers: number): Promise<number> => {
      const conns = await Promise.all(Array.from({ length: consumers }, () => connect({ url, heartbeatMs: 0 })));
      const start = performance.now();
      await Promise.all(
        conns.map(async (c) => {
          let n = 0;
          for await (const _ of await c.consumeStream(STREAM, { offset: 'first', credit: 5000 })) if (++n === count) break;
        }),
      );
      const ms = performance.now() - start;
      await Promise.all(conns.map((c) => c.close()));
      return ms;
    };
    let r1 = 0;
    let r3 = 0;
    const peak = await peakRss(child.pid, async () => {
      r1 = await replay(1);
      r3 = await replay(3);
    });
    const info = await conn.streamInfo(STREAM);
    await conn.close();
    t = 0;
    return {
      system: 'warren',
      publishPerSec: rate(count, publishMs),
      replay1PerSec: rate(count, r1),
      replay3PerSec: rate(3 * count, r3),
      peakReplayRssBytes: peak,
      diskBytes: info.bytes,
      publishSyncs,
    };
  } finally {
    await child.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchRabbit(count: number, body: Buffer): Promise<Result> {
  const conn = await amqp.connect(RABBIT_URL);
  try {
    const setup = await conn.createChannel();
    await setup.deleteQueue(STREAM).catch(() => undefined);
    await setup.assertQueue(STREAM, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    const pub = await conn.createConfirmChannel();
    const t = performance.now();
    await windowed(count, WINDOW, () => new Promise<void>((res, rej) => pub.sendToQueue(STREAM, body, {}, (err) => (err ? rej(err) : res()))));
    const publishMs = performance.now() - t;
    const replay = async (consumers: number): Promise<number> => {
      const conns = await Promise.all(Array.from({ length: consumers }, () => amqp.connect(RABBIT_URL)));
      const start = performance.now();
      await Promise.all(
        conns.map(async (c) => {
          const ch = await c.createChannel();
          await ch.prefetch(5000);
          await new Promise<void>((res) => {
            let n = 0;
            void ch.consume(
              STREAM,
              (m) => {
                if (m === null) return;
                if (++n % 1000 === 0 || n === count) ch.ack(m, true);
                if (n === count) res();
              },
              { noAck: false, arguments: { 'x-stream-offset': 'first' } },
            );
          });
        }),
      );
      const ms = performance.now() - start;
      await Promise.all(conns.map((c) => c.close()));
      return ms;
    };
    const r1 = await replay(1);
    const r3 = await replay(3);
    await setup.deleteQueue(STREAM);
    return { system: 'rabbitmq-stream', publishPerSec: rate(count, publishMs), replay1PerSec: rate(count, r1), replay3PerSec: rate(3 * count, r3) };
  } finally {
    await conn.close();
  }
}

async function benchNats(count: number, body: Buffer): Promise<Result> {
  const nc = await natsConnect({ servers: NATS_URL });
  const name = 'BENCH_STREAM';
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(name).catch(() => undefined);
    await jsm.streams.add({ name, subjects: ['bench.stream'], storage: StorageType.File });
    const js = nc.jetstream();
    const t = performance.now();
    await windowed(count, WINDOW, () => js.publish('bench.stream', body));
    const publishMs = performance.now() - t;
    const replay = async (consumers: number): Promise<number> => {
      const conns = await Promise.all(Array.from({ length: consumers }, () => natsConnect({ servers: NATS_URL })));
      const start = performance.now();
      await Promise.all(
        conns.map(async (c) => {
          // An ordered consumer: the client's flow-controlled, unacknowledged replay.
          const consumer = await c.jetstream().consumers.get(name);
          const messages = await consumer.consume({ max_messages: 5000 });
          let n = 0;
          for await (const _ of messages) if (++n === count) break;
        }),
      );
      const ms = performance.now() - start;
      await Promise.all(conns.map((c) => c.close()));
      return ms;
    };
    const r1 = await replay(1);
    const r3 = await replay(3);
    await jsm.streams.delete(name);
    return { system: 'nats-jetstream', publishPerSec: rate(count, publishMs), replay1PerSec: rate(count, r1), replay3PerSec: rate(3 * count, r3) };
  } finally {
    await nc.close();
  }
}

const a = args();
const body = Buffer.alloc(a.size, 'x');
const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(
  `streams: ${a.count.toLocaleString('en-US')} x ${a.size} B, window ${WINDOW}, ${a.repeat} round(s); ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, load ${load}`,
);
const systems: Record<string, (n: number, b: Buffer) => Promise<Result>> = { warren: benchWarren, rabbitmq: benchRabbit, nats: benchNats };
const fmt = (n: number) => n.toLocaleString('en-US').padStart(9);
function line(r: Result): string {
  return (
    `${r.system.padEnd(16)} publish ${fmt(r.publishPerSec)} msg/s   replay x1 ${fmt(r.replay1PerSec)} msg/s   replay x3 ${fmt(r.replay3PerSec)} msg/s` +
    (r.peakReplayRssBytes !== undefined
      ? `   broker peak RSS while replaying ${Math.round(r.peakReplayRssBytes / 2 ** 20)} MiB (stream ${Math.round(r.diskBytes! / 2 ** 20)} MiB on disk), ${Math.round(a.count / r.publishSyncs!)} msgs/fsync`
      : '')
  );
}
// Rounds run every system in turn, so each round's ratios come from one stretch of time on a shared machine.
const rounds: Result[][] = [];
for (let round = 0; round < a.repeat; round++) {
  const results: Result[] = [];
  for (const name of a.only) {
    const r = await systems[name]!(a.count, body);
    results.push(r);
    console.log((a.repeat > 1 ? `[${round + 1}] ` : '') + line(r));
  }
  rounds.push(results);
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 === 1 ? s[s.length >> 1]! : Math.round((s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);
};
const results: Result[] = rounds[0]!.map((first, i) => {
  const all = rounds.map((r) => r[i]!);
  const m: Result = { ...first };
  for (const k of ['publishPerSec', 'replay1PerSec', 'replay3PerSec', 'peakReplayRssBytes', 'diskBytes', 'publishSyncs'] as const) {
    if (first[k] !== undefined) m[k] = median(all.map((r) => r[k]!));
  }
  return m;
});
if (a.repeat > 1) {
  console.log(`medians of ${a.repeat}:`);
  for (const r of results) console.log(line(r));
}
const warren = results.find((r) => r.system === 'warren');
const ratios: Record<string, Record<string, number>> = {};
if (warren !== undefined) {
  for (const r of results) {
    if (r === warren) continue;
    const x = (w: number, o: number) => Math.round((w / o) * 100) / 100;
    ratios[r.system] = { publish: x(warren.publishPerSec, r.publishPerSec), replay1: x(warren.replay1PerSec, r.replay1PerSec), replay3: x(warren.replay3PerSec, r.replay3PerSec) };
    console.log(`warren / ${r.system}: publish ${ratios[r.system]!.publish}x, replay x1 ${ratios[r.system]!.replay1}x, replay x3 ${ratios[r.system]!.replay3}x`);
  }
}
if (a.out !== null) {
  const doc = {
    date: new Date().toISOString(),
    count: a.count,
    size: a.size,
    window: WINDOW,
    repeat: a.repeat,
    loadBefore: load,
    loadAfter: loadavg().map((l) => l.toFixed(2)).join(' '),
    results,
    ratios,
    ...(a.repeat > 1 ? { rounds } : {}),
  };
  writeFileSync(a.out, JSON.stringify(doc, null, 2) + '\n');
}
