/**
 * The Warren broker in its own process, for the end-to-end benchmarks.
 * Plain JavaScript on purpose: it runs without the tsx loader (whose worker
 * thread would otherwise show up in `--cpu-prof` profiles), on the built
 * @warren/broker (packages/broker/dist), like `warren server`.
 * Forked by run.ts with IPC; argv: <dataDir> <always|never>. WARREN_BENCH_BROKER_OPTIONS: extra
 * startBroker options as JSON (e.g. '{"pagingWindow":0}'), for experiments.
 *
 *   -> parent  { type: 'listening', port, httpPort }   (httpPort: null unless WARREN_BENCH_BROKER_OPTIONS sets httpPort)
 *   <- parent  { type: 'stats' }   -> { type: 'stats', cpuSeconds, rssBytes, heapUsedBytes, eluIdleMs, eluActiveMs, syncs, syncMs, writtenBytes }
 *
 * syncs and writtenBytes count the broker's FileHandle datasync() calls (syncMs: their total time) and the bytes it wrote
 * through FileHandle write/writev (its message store): the group-commit batch size that the
 * durable floor repeats with raw appends. A write through a handle opened with O_DSYNC is durable when it
 * returns (the store writes a batch that way instead of write + fdatasync): each counts as a sync too
 * (its time in syncMs), and dsyncWrites counts them alone.
 *   <- parent  { type: 'stop' }    closes the broker and exits (a --cpu-prof profile is written then)
 */
import { constants, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { startBroker } from '@warren/broker';
import { traceGc } from './gc-trace.mjs';

const io = { syncs: 0, syncMs: 0, writtenBytes: 0, dsyncWrites: 0 };
/** Whether a FileHandle was opened with O_DSYNC (its flags in /proc/self/fdinfo, read once per handle). */
const dsyncOf = new WeakMap();
/** @param {{ fd: number }} fh */
function isDsync(fh) {
  let d = dsyncOf.get(fh);
  if (d === undefined) {
    d = false;
    try {
      const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fh.fd}`, 'utf8'));
      d = m !== null && constants.O_DSYNC !== undefined && (parseInt(m[1], 8) & constants.O_DSYNC) !== 0;
    } catch {
      // no /proc: count as a plain write
    }
    dsyncOf.set(fh, d);
  }
  return d;
}
/** @param {{ fd: number }} fh @param {number} bytes @param {number} t0 */
function wrote(fh, bytes, t0) {
  io.writtenBytes += bytes;
  if (!isDsync(fh)) return;
  io.syncs++;
  io.dsyncWrites++;
  io.syncMs += performance.now() - t0;
}
{
  const probe = await open(process.execPath, 'r');
  const proto = Object.getPrototypeOf(probe);
  await probe.close();
  const { datasync, write, writev } = proto;
  proto.datasync = async function (/** @type {unknown[]} */ ...args) {
    io.syncs++;
    const t0 = performance.now();
    try {
      return await datasync.apply(this, args);
    } finally {
      io.syncMs += performance.now() - t0;
    }
  };
  proto.write = async function (/** @type {unknown[]} */ ...args) {
    const t0 = performance.now();
    const r = await write.apply(this, args);
    wrote(this, r.bytesWritten, t0);
    return r;
  };
  proto.writev = async function (/** @type {unknown[]} */ ...args) {
    const t0 = performance.now();
    const r = await writev.apply(this, args);
    wrote(this, r.bytesWritten, t0);
    return r;
  };
}

traceGc('broker-warren');

const [dataDir, sync] = process.argv.slice(2);
if (dataDir === undefined || (sync !== 'always' && sync !== 'never')) {
  console.error('usage: broker-child.mjs <dataDir> <always|never>');
  process.exit(2);
}
/** @param {unknown} m */
const send = (m) => {
  if (process.send !== undefined) process.send(m);
};

const broker = await startBroker({
  port: 0,
  host: '127.0.0.1',
  dataDir,
  sync,
  logLevel: 'warn',
  heartbeatMs: 0,
  maxConnections: 100_000,
  ...JSON.parse(process.env.WARREN_BENCH_BROKER_OPTIONS ?? '{}'),
});

function stats() {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const elu = performance.eventLoopUtilization();
  return {
    type: 'stats',
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    eluIdleMs: elu.idle,
    eluActiveMs: elu.active,
    ...io,
  };
}

let stopping = false;
/** @param {number} code */
async function stop(code) {
  if (stopping) return;
  stopping = true;
  // WARREN_BENCH_FLOW_DEBUG=1: how often publisher flow control held a publisher (flow-control.ts).
  if (process.env.WARREN_BENCH_FLOW_DEBUG !== undefined && broker.flow !== undefined) console.error(`broker: flow control holds ${broker.flow.holdsTotal}`);
  // WARREN_BENCH_IO_DEBUG=1: the store's syncs over the broker's life (fdatasyncs and O_DSYNC writes).
  if (process.env.WARREN_BENCH_IO_DEBUG !== undefined) console.error(`broker: io ${JSON.stringify(io)}`);
  try {
    await broker.close();
  } finally {
    process.exit(code);
  }
}

process.on('message', (/** @type {{ type: string }} */ m) => {
  if (m.type === 'stats') send(stats());
  else if (m.type === 'stop') void stop(0);
});
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
send({ type: 'listening', port: broker.port, httpPort: broker.httpPort ?? null });
