/**
 * A stream much larger than the broker's memory budget: publish `--bytes` of messages
 * (default 10 GiB of 64 KiB bodies, with confirms) into one Warren stream, restart the
 * broker with `--memory-high-watermark` (default 100 MB) and replay the whole stream
 * from `first` with one consumer, sampling the broker's RSS every 50 ms. A replay never
 * pulls the stream into memory: each subscription holds one read batch (at most 1 MiB)
 * plus what its socket has not taken yet. The restart also makes the replay's peak RSS
 * the replay's own, not what publishing left in the allocator.
 *
 * The publishing broker runs with its default watermark (40% of RAM), or
 * `--publish-watermark`: while publishing large messages its RSS sits a little above
 * 100 MB, and the memory alarm (which blocks publishers above the watermark) would then
 * throttle or stop the publish phase; it gates publishers only, so the replay is where
 * the 100 MB budget is measured.
 *
 *   npm run bench:stream-scale -- [--bytes 10GiB] [--size 64KiB] [--watermark 100MB] [--publish-watermark B] [--out FILE]
 *   npm run bench:stream-scale -- --bytes 256MiB --out /tmp/smoke.json     # smoke test
 *
 * Results: a line on stdout and JSON in bench/results/stream-scale.json.
 */
import { mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@warren/client';
import { Child } from './children.js';

const here = dirname(fileURLToPath(import.meta.url));
const STREAM = 'scale-stream';
/** Publishes in flight: 32 x 64 KiB = 2 MiB, well under the watermark. */
const WINDOW = 32;
const CREDIT = 64;

function bytesOf(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.exec(v.trim());
  if (m === null) throw new Error(`not a size: ${v}`);
  const units: Record<string, number> = { b: 1, kb: 1e3, kib: 2 ** 10, mb: 1e6, mib: 2 ** 20, gb: 1e9, gib: 2 ** 30 };
  return Math.round(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
}

function args(): { bytes: number; size: number; watermark: number; publishWatermark: number | null; out: string } {
  const a = { bytes: 10 * 2 ** 30, size: 64 * 2 ** 10, watermark: 100e6, publishWatermark: null as number | null, out: resolve(here, '../results/stream-scale.json') };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--bytes') a.bytes = bytesOf(v);
    else if (k === '--size') a.size = bytesOf(v);
    else if (k === '--watermark') a.watermark = bytesOf(v);
    else if (k === '--publish-watermark') a.publishWatermark = bytesOf(v);
    else if (k === '--out') a.out = resolve(process.env.INIT_CWD ?? process.cwd(), v); // npm -w runs in bench/
    else throw new Error(`unknown option ${k}`);
  }
  return a;
}

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

const MiB = 2 ** 20;
const a = args();
const count = Math.ceil(a.bytes / a.size);
const dataDir = mkdtempSync(join(tmpdir(), 'warren-bench-stream-scale-'));
const free = statfsSync(dataDir);
if (free.bavail * free.bsize < a.bytes * 1.1 + 1e9) throw new Error(`not enough free disk under ${tmpdir()} for ${a.bytes} bytes`);
const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(
  `stream-scale: ${count.toLocaleString('en-US')} x ${a.size} B = ${(a.bytes / 2 ** 30).toFixed(2)} GiB, replaying broker --memory-high-watermark ${a.watermark} (publishing broker: ${a.publishWatermark ?? 'default'}); ` +
    `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, load ${load}`,
);
const brokerOptions = (watermark: number | null): string => JSON.stringify(watermark === null ? {} : { memoryHighWatermark: watermark });
process.env.WARREN_BENCH_BROKER_OPTIONS = brokerOptions(a.publishWatermark);
let { child, hello } = await Child.start('broker-warren', 'broker-child.mjs', [dataDir, 'always']);
let url = `warren://guest:guest@127.0.0.1:${hello.port as number}`;
try {
  const idleRss = rssOf(child.pid);
  const conn = await connect({ url, heartbeatMs: 0 });
  await conn.declareStream(STREAM);
  const body = Buffer.alloc(a.size, 'x');
  let publishMs = 0;
  const peakPublish = await peakRss(child.pid, async () => {
    const t = performance.now();
    let next = 0;
    let lastReport = t;
    let confirmed = 0;
    let lastConfirmed = 0;
    // Publishers blocked by the memory alarm for a minute with nothing confirmed: say so rather than hang.
    const stall = setInterval(() => {
      if (confirmed === lastConfirmed) {
        console.error(`no publish confirmed for 60 s (broker RSS ${Math.round(rssOf(child.pid) / MiB)} MiB, watermark ${a.watermark}): giving up`);
        void child.stop().finally(() => {
          rmSync(dataDir, { recursive: true, force: true });
          process.exit(1);
        });
      }
      lastConfirmed = confirmed;
    }, 60_000);
    const lane = async (): Promise<void> => {
      while (next < count) {
        next++;
        await conn.publish('', STREAM, body);
        confirmed++;
        const now = performance.now();
        if (now - lastReport > 10_000) {
          lastReport = now;
          console.log(`  published ${next.toLocaleString('en-US')} / ${count.toLocaleString('en-US')}, broker RSS ${Math.round(rssOf(child.pid) / MiB)} MiB`);
        }
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, lane));
    clearInterval(stall);
    publishMs = performance.now() - t;
  });
  const info = await conn.streamInfo(STREAM);
  await conn.close();
  // A fresh broker for the replay, so that its RSS is the replay's and not what publishing
  // left in the allocator (opening the stream reads the sealed segments' saved indexes).
  await child.stop();
  process.env.WARREN_BENCH_BROKER_OPTIONS = brokerOptions(a.watermark);
  const t0 = performance.now();
  ({ child, hello } = await Child.start('broker-warren', 'broker-child.mjs', [dataDir, 'always']));
  const reopenMs = performance.now() - t0;
  url = `warren://guest:guest@127.0.0.1:${hello.port as number}`;
  const reopenedRss = rssOf(child.pid);
  const reader = await connect({ url, heartbeatMs: 0 });
  let replayMs = 0;
  let replayed = 0;
  const peakReplay = await peakRss(child.pid, async () => {
    const t = performance.now();
    for await (const m of await reader.consumeStream(STREAM, { offset: 'first', credit: CREDIT })) {
      if (m.body.length !== a.size) throw new Error(`offset ${m.offset}: ${m.body.length} bytes, expected ${a.size}`);
      if (++replayed === count) break;
    }
    replayMs = performance.now() - t;
  });
  await reader.close();
  const result = {
    date: new Date().toISOString(),
    messages: count,
    size: a.size,
    streamBytes: info.bytes,
    segments: info.segments,
    /** The replaying broker's --memory-high-watermark (the publishing broker's: publishMemoryHighWatermark, null = its default). */
    memoryHighWatermark: a.watermark,
    publishMemoryHighWatermark: a.publishWatermark,
    window: WINDOW,
    credit: CREDIT,
    publishMBPerSec: Math.round((count * a.size) / 1e6 / (publishMs / 1000)),
    publishPerSec: Math.round((count * 1000) / publishMs),
    replayMBPerSec: Math.round((count * a.size) / 1e6 / (replayMs / 1000)),
    replayPerSec: Math.round((count * 1000) / replayMs),
    brokerIdleRssBytes: idleRss,
    brokerPeakRssPublishBytes: peakPublish,
    /** Restart (recovery of the stream from its saved segment indexes) to listening. */
    reopenMs: Math.round(reopenMs),
    brokerReopenedRssBytes: reopenedRss,
    brokerPeakRssReplayBytes: peakReplay,
    loadBefore: load,
    loadAfter: loadavg().map((l) => l.toFixed(2)).join(' '),
  };
  console.log(
    `warren stream of ${(info.bytes / 2 ** 30).toFixed(2)} GiB (${info.segments} segments): publish ${result.publishMBPerSec} MB/s, replay ${result.replayMBPerSec} MB/s; ` +
      `broker RSS idle ${Math.round(idleRss / MiB)} MiB, peak ${Math.round(peakPublish / MiB)} MiB publishing; ` +
      `restarted in ${Math.round(reopenMs)} ms at ${Math.round(reopenedRss / MiB)} MiB, peak ${Math.round(peakReplay / MiB)} MiB replaying`,
  );
  writeFileSync(a.out, JSON.stringify(result, null, 2) + '\n');
} finally {
  await child.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
