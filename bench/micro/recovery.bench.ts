/**
 * Broker recovery with a large durable backlog: publish N persistent 1 KB
 * messages to a durable queue (sync=never while filling, to save time), stop
 * the broker, start a fresh broker process on the same data folder, and report
 * its recovery time and RSS. Then drain a sample to prove bodies are readable.
 *
 *   node --import tsx bench/micro/recovery.bench.ts [count=1000000]
 *
 * Each broker runs in its own process (the built CLI), so RSS is the broker's alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { connect } from '@warren/client';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'packages', 'cli', 'dist', 'bin.js');
const count = Number(process.argv[2] ?? 1_000_000);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

async function startBroker(port: number, dataDir: string, sync: string): Promise<{ child: ChildProcess; startMs: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'server', '--http-port', 'off', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir, '--sync', sync, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  return { child, startMs: performance.now() - t0 };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const dataDir = await mkdtemp(join(tmpdir(), 'warren-recovery-'));
const port = await freePort();
try {
  // Fill.
  let { child } = await startBroker(port, dataDir, 'never');
  const url = `warren://guest:guest@127.0.0.1:${port}`;
  let conn = await connect({ url, reconnect: false } as Parameters<typeof connect>[0]);
  await conn.declareQueue('backlog', { durable: true });
  const body = Buffer.alloc(1024, 7);
  const fillStart = performance.now();
  const window: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    window.push(conn.publish('', 'backlog', body, { persistent: true }));
    if (window.length === 2000) {
      await Promise.all(window);
      window.length = 0;
    }
  }
  await Promise.all(window);
  const fillSeconds = (performance.now() - fillStart) / 1000;
  const rssFilled = rssOf(child.pid!);
  await conn.close();
  await stop(child);

  // Recover in a fresh process.
  const restarted = await startBroker(port, dataDir, 'always');
  child = restarted.child;
  const rssRecovered = rssOf(child.pid!);
  conn = await connect({ url, reconnect: false } as Parameters<typeof connect>[0]);
  const { messageCount } = await conn.declareQueue('backlog', { durable: true });
  const statusFn = (conn as unknown as { brokerStatus?: () => Promise<{ memory: { heapUsed: number } }>; status: () => Promise<{ memory: { heapUsed: number } }> });
  const heapRecovered = (await (statusFn.brokerStatus ?? statusFn.status).call(conn)).memory.heapUsed;
  // A sample of bodies read back from disk.
  let ok = 0;
  for (let i = 0; i < 1000; i++) {
    const m = await conn.get('backlog', { noAck: true });
    if (m !== null && m.body.equals(body)) ok++;
  }
  const rssAfterReads = rssOf(child.pid!);
  await conn.close();
  await stop(child);

  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
  console.log(`messages               ${count.toLocaleString()} x 1 KiB, durable queue, persistent`);
  console.log(`fill (sync=never)      ${fillSeconds.toFixed(1)} s (${Math.round(count / fillSeconds).toLocaleString()} msg/s)`);
  console.log(`broker RSS after fill  ${mb(rssFilled)}`);
  console.log(`restart to listening   ${(restarted.startMs / 1000).toFixed(2)} s (process start + recovery)`);
  console.log(`recovered              ${messageCount.toLocaleString()} messages`);
  console.log(`broker RSS recovered   ${mb(rssRecovered)}, V8 heap in use ${mb(heapRecovered)} (bodies stay on disk: ${mb(count * 1024)} of bodies)`);
  console.log(`bodies read back       ${ok}/1000 intact; RSS then ${mb(rssAfterReads)}`);
  if (messageCount !== count || ok !== 1000) process.exitCode = 1;
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
