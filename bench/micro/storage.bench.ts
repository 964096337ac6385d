/**
 * Storage micro-benchmark.
 *   node --import tsx bench/micro/storage.bench.ts [--messages 1000000]
 * 1. append + fdatasync throughput for 256 B messages, 1 and 1000 appends in flight;
 * 2. recovery time and RSS for N stored 1 KB messages (written with sync='never',
 *    reopened in a fresh child process so the RSS is the store's alone).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageStore, type MessageRecord } from '../../packages/broker/src/storage/index.js';

const silent = { info() {}, warn() {}, error() {} };
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

function record(size: number, i: number): MessageRecord {
  return { exchange: 'bench', routingKey: `key.${i % 100}`, properties: { contentType: 'application/octet-stream', timestamp: 1_700_000_000_000 + i }, body: Buffer.alloc(size, i & 0xff) };
}

async function appendThroughput(inFlight: number, total: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  const store = await MessageStore.open({ dir, logger: silent, sync: 'always' });
  const started = performance.now();
  let issued = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const next = () => {
      if (issued >= total) return;
      const i = issued++;
      store.append(['q'], record(256, i), (err) => {
        if (err) return reject(err);
        if (++done === total) resolve();
        else next();
      });
    };
    for (let k = 0; k < inFlight; k++) next();
  });
  const secs = (performance.now() - started) / 1000;
  const st = store.writeStats;
  console.log(
    `append 256 B, sync=always, ${String(inFlight).padStart(4)} in flight: ${Math.round(total / secs).toLocaleString('en')} msgs/s ` +
      `(${total} msgs in ${secs.toFixed(2)} s, ${st.syncs} fdatasync, ${st.batches} batches, ${(total / st.syncs).toFixed(1)} msgs/sync)`,
  );
  await store.close();
  await rm(dir, { recursive: true, force: true });
}

async function writeBacklog(dir: string, n: number): Promise<void> {
  const store = await MessageStore.open({ dir, logger: silent, sync: 'never' });
  const started = performance.now();
  const body = Buffer.alloc(1024, 0x61);
  for (let i = 0; i < n; ) {
    const batchEnd = Math.min(n, i + 10_000);
    await new Promise<void>((resolve, reject) => {
      for (; i < batchEnd; i++) {
        const last = i === batchEnd - 1;
        store.append(['backlog'], { exchange: 'bench', routingKey: 'k', properties: { timestamp: i }, body }, (err) => {
          if (err) reject(err);
          else if (last) resolve();
        });
      }
    });
  }
  await store.close();
  console.log(`wrote ${n.toLocaleString('en')} x 1 KB (sync=never) in ${((performance.now() - started) / 1000).toFixed(1)} s, ${mb(store.diskUsage())} on disk`);
}

/** Child process: open (recover) and report. */
async function recoverChild(dir: string): Promise<void> {
  const before = process.memoryUsage().rss;
  const store = await MessageStore.open({ dir, logger: silent });
  const mem = process.memoryUsage();
  const recovered = store.recovered().get('backlog')?.length ?? 0;
  const sample = store.recovered().get('backlog')![recovered >> 1]!;
  const body = await store.readBody(sample.id);
  store.releaseRecovered();
  // Two collections a tick apart: ArrayBuffer backing stores are freed by a concurrent sweeper.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setTimeout(r, 100));
  gc?.();
  const indexOnly = process.memoryUsage();
  console.log(
    JSON.stringify({ stats: store.recoveryStats, recovered, rssBefore: before, rssAfter: mem.rss, heapUsed: mem.heapUsed, rssIndexOnly: indexOnly.rss, heapIndexOnly: indexOnly.heapUsed, bodyOk: body.length === 1024 }),
  );
  await store.close();
}

async function main(): Promise<void> {
  const childDir = process.argv.indexOf('--recover-child');
  if (childDir > 0) return recoverChild(process.argv[childDir + 1]!);

  await appendThroughput(1, 2_000);
  await appendThroughput(1000, 100_000);

  const n = arg('messages', 1_000_000);
  const dir = await mkdtemp(join(tmpdir(), 'warren-bench-recovery-'));
  try {
    await writeBacklog(dir, n);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--recover-child', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`child exited ${code}`))));
    });
    const r = JSON.parse(out.trim().split('\n').at(-1)!);
    console.log(
      `recovery of ${r.recovered.toLocaleString('en')} x 1 KB: ${r.stats.durationMs} ms (${r.stats.records.toLocaleString('en')} records), ` +
        `RSS ${mb(r.rssBefore)} -> ${mb(r.rssAfter)} (heap ${mb(r.heapUsed)}); index only after releaseRecovered(): RSS ${mb(r.rssIndexOnly)}, heap ${mb(r.heapIndexOnly)}; readBody ok: ${r.bodyOk}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
