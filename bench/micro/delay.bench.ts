/**
 * Delayed delivery accuracy at volume: publish N messages with random delays
 * (x-delay, minMs to maxMs) to one queue, consume them all, and report how
 * late each arrived relative to its due time (x-not-before), as percentiles.
 * Keep N / (maxMs - minMs) below what one consumer can take, or lateness
 * measures consumer throughput rather than the scheduler.
 *
 *   node --import tsx bench/micro/delay.bench.ts [count=100000] [minMs=500] [maxMs=3000]
 *
 * The broker runs in its own process (the built CLI).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { connect } from '@warren/client';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'packages', 'cli', 'dist', 'bin.js');
const count = Number(process.argv[2] ?? 100_000);
const minMs = Number(process.argv[3] ?? 500);
const maxMs = Number(process.argv[4] ?? 3000);

const s = createServer();
await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
const port = (s.address() as { port: number }).port;
await new Promise((r) => s.close(r));
const dataDir = await mkdtemp(join(tmpdir(), 'warren-delay-'));
const broker = spawn(process.execPath, [cli, 'server', '--http-port', 'off', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise<void>((resolve) => broker.stdout!.on('data', (d) => String(d).includes('listening') && resolve()));
try {
  const conn = await connect({ url: `warren://guest:guest@127.0.0.1:${port}`, reconnect: false } as Parameters<typeof connect>[0]);
  await conn.declareQueue('delayed');
  const lateness: number[] = [];
  let early = 0;
  const done = new Promise<void>((resolve) => {
    void conn.consume(
      'delayed',
      (m) => {
        const due = m.properties.headers!['x-not-before'] as number;
        const late = Date.now() - due;
        if (late < 0) early++;
        lateness.push(late);
        if (lateness.length === count) resolve();
      },
      { noAck: true },
    );
  });
  const body = Buffer.alloc(64);
  const pending: Promise<void>[] = [];
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    pending.push(conn.publish('', 'delayed', body, { headers: { 'x-delay': minMs + Math.floor(Math.random() * (maxMs - minMs)) } }));
    if (pending.length === 2000) {
      await Promise.all(pending);
      pending.length = 0;
    }
  }
  await Promise.all(pending);
  const publishSeconds = (Date.now() - t0) / 1000;
  await done;
  lateness.sort((a, b) => a - b);
  const p = (q: number) => lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))]!;
  console.log(`delayed messages   ${count.toLocaleString()} (delays ${minMs}-${maxMs} ms), published in ${publishSeconds.toFixed(1)} s`);
  console.log(`delivered early    ${early}`);
  console.log(`lateness (ms)      p50 ${p(0.5)}  p99 ${p(0.99)}  p99.9 ${p(0.999)}  max ${lateness[lateness.length - 1]}`);
  await conn.close();
} finally {
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
  await rm(dataDir, { recursive: true, force: true });
}
