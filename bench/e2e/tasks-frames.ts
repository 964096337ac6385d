/**
 * Frames per job of @warren/tasks, counted on the wire: a producer and one worker, each on its
 * own connection through a counting TCP proxy to a broker in a child process (e2e/broker-child.mjs,
 * sync 'always'), the same job as bench:tasks (an async handler returning a small object at once,
 * 256 enqueues in flight, worker concurrency 64). Prints, per connection and direction, the
 * frames of each type per job: what a change to the task layer or the client adds or saves.
 * Not a throughput figure (the proxy is in the way).
 *
 *   npm run -w bench bench:tasks-frames -- [--jobs 3000] [--started-after MS]
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as tcp, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@warren/client';
import { FrameType } from '@warren/protocol';
import { defineTasks, TaskClient, Worker } from '@warren/tasks';

const here = dirname(fileURLToPath(import.meta.url));
const argAt = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const JOBS = Number(argAt('jobs') ?? 3000);
const STARTED_AFTER = argAt('started-after') === undefined ? undefined : Number(argAt('started-after'));
const typeName = new Map<number, string>(Object.entries(FrameType).map(([name, t]) => [t as number, name]));

/** Frames by type name, counted while `counting`. */
type Tally = Map<string, number>;
let counting = false;

/** Splits a byte stream into frames (u32 BE length prefix, then the type byte) and counts them. */
function counter(tally: Tally): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(0) + 4;
      if (pending.length < length) break;
      if (counting) {
        const name = typeName.get(pending[4]!) ?? `0x${pending[4]!.toString(16)}`;
        tally.set(name, (tally.get(name) ?? 0) + 1);
      }
      pending = pending.subarray(length);
    }
  };
}

const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-tasks-frames-'));
const child = fork(join(here, 'broker-child.mjs'), [dataDir, 'always'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const brokerPort = await new Promise<number>((resolve) => child.on('message', (m: { type: string; port?: number }) => m.type === 'listening' && resolve(m.port!)));

const tallies: Array<{ who: string; up: Tally; down: Tally }> = [];
let nextLabel = '';
const proxy = createServer((client: Socket) => {
  const broker = tcp(brokerPort, '127.0.0.1');
  const t = { who: nextLabel, up: new Map<string, number>(), down: new Map<string, number>() };
  tallies.push(t);
  const up = counter(t.up);
  const down = counter(t.down);
  client.on('data', (d: Buffer) => {
    up(d);
    broker.write(d);
  });
  broker.on('data', (d: Buffer) => {
    down(d);
    client.write(d);
  });
  client.on('close', () => broker.destroy());
  broker.on('close', () => client.destroy());
});
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const url = `warren://guest:guest@127.0.0.1:${(proxy.address() as AddressInfo).port}`;

const registry = defineTasks().define('job', async (n: number) => ({ n, ok: true }));
nextLabel = 'producer';
const producerConn = await connect(url);
const producer = await TaskClient.open(producerConn, { registry, namespace: 'bench' });
nextLabel = 'worker';
const workerConn = await connect(url);
const worker = await Worker.start(await TaskClient.open(workerConn, { registry, namespace: 'bench' }), { concurrency: 64, ...(STARTED_AFTER !== undefined ? { startedAfterMs: STARTED_AFTER } : {}) });
let done = 0;
let allDone!: () => void;
const finished = new Promise<void>((resolve) => (allDone = resolve));
worker.on('task', (e) => {
  if (e.type === 'succeeded' && ++done === JOBS + 1) allDone();
});
await producer.wait(await producer.enqueue('job', -1), { timeoutMs: 10_000 }); // queue declared, consumer running
counting = true;
let next = 0;
await Promise.all(
  Array.from({ length: 256 }, async () => {
    while (next < JOBS) await producer.enqueue('job', next++);
  }),
);
await finished;
counting = false;

console.log(`frames per job, ${JOBS} jobs${STARTED_AFTER !== undefined ? `, startedAfterMs ${STARTED_AFTER}` : ''}:`);
let total = 0;
for (const t of tallies) {
  for (const [dir, tally] of [['-> broker', t.up] as const, ['<- broker', t.down] as const]) {
    const n = [...tally.values()].reduce((a, b) => a + b, 0);
    total += n;
    console.log(`  ${t.who.padEnd(8)} ${dir}: ${(n / JOBS).toFixed(2)} (${[...tally].map(([k, v]) => `${k} ${(v / JOBS).toFixed(2)}`).join(', ')})`);
  }
}
console.log(`  all: ${(total / JOBS).toFixed(2)}`);
await worker.close({ graceMs: 0 });
await Promise.all([producerConn.close(), workerConn.close()]);
await new Promise<void>((resolve) => {
  child.once('exit', () => resolve());
  child.send({ type: 'stop' });
});
proxy.close();
await rm(dataDir, { recursive: true, force: true });
process.exit(0);
