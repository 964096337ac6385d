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
 *   <- parent  { type: 'profile-start' }  -> { type: 'profile-started' }: starts the V8 CPU profiler (node:inspector)
 *   <- parent  { type: 'profile-stop', file }  -> { type: 'profile-stopped' }: stops it and writes its profile to file, so
 *              the profile holds what ran in between (the measured phase: no start-up or warm-up; see --profile-broker in run.ts)
 * stats also carries syscr and syscw (/proc/self/io: read and write syscalls so far; undefined without /proc) and
 * minorFaults (minor page faults so far: first touches of fresh memory).
 * stats also carries the queues' paging and publisher flow control: pagedOut and pagedIn (messages paged out to and
 * read back from the queues' spill files so far, counted through each vhost's queue host), flowHolds and flowHeldMs
 * (publisher holds begun so far, and the total ms publishers were held, ended holds plus the ones still on), and
 * peakReady and peakPaged: the deepest any queue's ready count (paged-out ones included) and paged-out tail were, polled
 * since the previous stats request (so `after` holds the peak over the measured phase): every PEAK_POLL_MS while a queue
 * holds messages, every PEAK_IDLE_POLL_MS while all are empty (peak-poll.mjs).
 *   <- parent  { type: 'stop' }    closes the broker and exits (a --cpu-prof profile is written then)
 */
import { constants, readFileSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { startBroker } from '@warren/broker';
import { traceGc } from './gc-trace.mjs';
import { startPeakPoll } from './peak-poll.mjs';

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

/** Queue paging and flow control, for stats (see the header). */
const queueIo = { pagedOut: 0, pagedIn: 0, flowHeldMs: 0 };
/**
 * Counts page-outs and page-ins through each vhost's queue host (vhost.ts: the object its queues call back;
 * only paging calls these two, so the hot path runs the broker's own code). Vhosts made later are not counted.
 */
for (const vhost of broker.vhosts) {
  const host = vhost.queueHost;
  if (host === undefined) continue;
  const { pagedOut, pagedIn } = host;
  host.pagedOut = (m) => {
    queueIo.pagedOut++;
    pagedOut(m);
  };
  host.pagedIn = (m) => {
    queueIo.pagedIn++;
    pagedIn(m);
  };
}
/** Times publisher holds through flow control's map of held publishers (flow-control.ts: set on a hold, delete on its end). */
const heldSince = new Map();
if (broker.flow !== undefined && broker.flow.held instanceof Map) {
  broker.flow.held = new (class extends Map {
    set(k, v) {
      if (!this.has(k)) heldSince.set(k, performance.now());
      return super.set(k, v);
    }
    delete(k) {
      const t0 = heldSince.get(k);
      if (t0 !== undefined) {
        queueIo.flowHeldMs += performance.now() - t0;
        heldSince.delete(k);
      }
      return super.delete(k);
    }
  })();
}
/** Every queue of every vhost, for the peak poll. */
function* allQueues() {
  for (const vhost of broker.vhosts) yield* vhost.queues.values();
}
const peaks = startPeakPoll(allQueues);
function queueStats() {
  const now = performance.now();
  let held = queueIo.flowHeldMs;
  for (const t0 of heldSince.values()) held += now - t0;
  return { pagedOut: queueIo.pagedOut, pagedIn: queueIo.pagedIn, flowHolds: broker.flow?.holdsTotal ?? 0, flowHeldMs: held, ...peaks.take() };
}

/** read and write syscalls of this process so far (/proc/self/io), or {} without /proc. */
function syscalls() {
  try {
    const text = readFileSync('/proc/self/io', 'utf8');
    return { syscr: Number(/^syscr:\s*(\d+)/m.exec(text)?.[1]), syscw: Number(/^syscw:\s*(\d+)/m.exec(text)?.[1]) };
  } catch {
    return {};
  }
}

/** @type {Session | undefined} */
let profiler;
/** @param {string} method @param {object} [params] */
const post = (method, params) =>
  new Promise((resolve, reject) => profiler.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
async function profileStart() {
  if (profiler === undefined) {
    profiler = new Session();
    profiler.connect();
    await post('Profiler.enable');
  }
  await post('Profiler.start');
  send({ type: 'profile-started' });
}
/** @param {string} file */
async function profileStop(file) {
  const { profile } = /** @type {{ profile: unknown }} */ (await post('Profiler.stop'));
  await writeFile(file, JSON.stringify(profile));
  send({ type: 'profile-stopped' });
}

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
    ...syscalls(),
    minorFaults: process.resourceUsage().minorPageFault,
    ...io,
    ...queueStats(),
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

process.on('message', (/** @type {{ type: string, file?: string }} */ m) => {
  if (m.type === 'stats') send(stats());
  else if (m.type === 'profile-start') profileStart().catch((e) => send({ type: 'error', message: String(e) }));
  else if (m.type === 'profile-stop') profileStop(String(m.file)).catch((e) => send({ type: 'error', message: String(e) }));
  else if (m.type === 'stop') void stop(0);
});
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
send({ type: 'listening', port: broker.port, httpPort: broker.httpPort ?? null });
