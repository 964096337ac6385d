/**
 * The end-to-end scenarios. Each runs against one system at a time through a
 * SystemContext (a fresh Warren broker process, or the RabbitMQ, NATS or Redis
 * server running on this machine) and returns raw measurements; a scenario with
 * a floor also measures it (bare relay or raw append+fdatasync) in the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@warren/client';
import { brokerExecArgv, Child } from './children.js';
import { appendFloor } from './append-floor.js';
import { TrackingDriver, onInterrupt } from './cleanup.js';
import { findBeamPid, findServerPid, openFilesLimit, pairSlices, procSample, sleep, topicExpected, topicMatches, topicWorkload, warmUp } from './common.js';
import { RABBIT_URL, openDriver, type ComparedSystem, type Driver, type Peer, type SystemName } from './drivers.js';
import { NATS_URL, REDIS_URL } from './peers.js';
import { ProgressWatch, describeVerdict, type WatchLimits } from './stall.js';
import type { PhaseReport, WorkerSpec } from './worker.js';

export interface BrokerStats {
  cpuSeconds: number;
  rssBytes: number;
  /** Warren only: event-loop time (performance.eventLoopUtilization) and store I/O counters. */
  eluActiveMs?: number;
  eluIdleMs?: number;
  syncs?: number;
  /** Warren and the durable relay: ms the syncs (fdatasync or O_DSYNC write calls) were out, in all. */
  syncMs?: number;
  writtenBytes?: number;
  /** Warren only: read and write syscalls so far (/proc/self/io), without /proc undefined. */
  syscr?: number;
  syscw?: number;
  /** Warren only: minor page faults so far (first touches of fresh memory). */
  minorFaults?: number;
  /** Warren only: messages paged out to / read back from the queues' spill files so far. */
  pagedOut?: number;
  pagedIn?: number;
  /** Warren only: publisher flow-control holds begun so far, and the ms publishers were held in all. */
  flowHolds?: number;
  flowHeldMs?: number;
  /** Warren only: the deepest any queue's ready count (paged-out included) and paged-out tail were since the previous stats request (polled: peak-poll.mjs). */
  peakReady?: number;
  peakPaged?: number;
}

export interface SystemContext {
  system: SystemName;
  url: string;
  /** A connection for declaring and deleting topology. */
  admin: Driver;
  /** CPU seconds and RSS of the broker process (RabbitMQ: beam.smp via /proc), if visible. */
  stats(): Promise<BrokerStats | undefined>;
  /** The broker's pid, when known. */
  pid: number | undefined;
  /** Remarks that belong next to the numbers (e.g. an extrapolation). */
  notes: string[];
  /**
   * Warren with RunOptions.brokerProfileDir: starts the broker's V8 CPU profiler, and stops it and
   * writes the profile to `file` (the broker profiles itself through node:inspector).
   */
  profile?: { start(): Promise<void>; stop(file: string): Promise<void> };
}

export interface RunOptions {
  /** Overrides every scenario's message count. */
  count?: number;
  quick: boolean;
  /** Directory for broker CPU profiles (Warren only); undefined = no profiling. */
  profileDir?: string;
  /**
   * Directory for the producer and consumer processes' CPU profiles of the one-producer flows
   * (every system, the relay's included), of the measured phase: worker-<system>-<role>-<flow>.cpuprofile.
   */
  workerProfileDir?: string;
  /**
   * Directory for the Warren broker's CPU profiles of the measured phase of the one-producer flows
   * (no start-up or warm-up in them, unlike profileDir's --cpu-prof): broker-warren-<flow>.cpuprofile.
   */
  brokerProfileDir?: string;
  /** Warren's producers and consumers log in as a user with regex permissions instead of the administrator guest. */
  restrictedUser?: boolean;
  log: (line: string) => void;
}

/** A measured number; `better` says which way is good. */
export interface Metric {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Warren must be at least this many times better than RabbitMQ. */
  target?: number;
  /**
   * Against the floor measured in the same run (issue 25): for throughput, the least share of the
   * floor's figure Warren must reach (0.6 = 60%); for latency (ms), the most Warren may add to it.
   */
  floorTarget?: number;
  /** Shown in the table and plotted. */
  headline: boolean;
}

export type Measurements = Record<string, number>;

export interface Scenario {
  id: string;
  alias: string;
  title: string;
  metrics: Metric[];
  defaultCount: number;
  quickCount: number;
  /** Durable storage settings of the Warren broker. */
  sync: 'always' | 'never';
  /** The peers this scenario applies to (Warren always runs). */
  peers: Peer[];
  /** A floor measured in the same run, after the systems of each repetition (gets Warren's numbers of that repetition). */
  floor?: { describe: string; run(count: number, opts: RunOptions, warren: Measurements | undefined): Promise<Measurements> };
  /**
   * Not part of `all`: runs only when named, and gets its own section in RESULTS.md
   * (its numbers are kept in bench/results/<alias>.json).
   */
  extra?: { heading: string; note: string };
  /**
   * --side-by-side (the latency scenarios): Warren and the relay floor measured at the same time, each
   * with its own producer and consumer, so that the machine's stalls hit both alike; per-slice p99s paired.
   */
  sideBySide?: (self: Scenario, count: number, opts: RunOptions) => Promise<Measurements>;
  run(ctx: SystemContext, count: number, opts: RunOptions): Promise<Measurements>;
}

const PREFIX = 'warren-bench';
const BODY = 256;
const PREFETCH = 1000;
const WINDOW = 1000;

// ---------------------------------------------------------------------------
// Systems
// ---------------------------------------------------------------------------

export const PEER_URL: Record<Peer, string> = { rabbitmq: RABBIT_URL, nats: NATS_URL, jetstream: NATS_URL, redis: REDIS_URL, 'redis-streams': REDIS_URL };

export async function withSystem<T>(
  system: ComparedSystem,
  scenario: Scenario,
  opts: RunOptions,
  fn: (ctx: SystemContext) => Promise<T>,
): Promise<T> {
  if (system !== 'warren') {
    const url = PEER_URL[system];
    const pid = system === 'rabbitmq' ? findBeamPid() : findServerPid(system === 'nats' || system === 'jetstream' ? 'nats-server' : 'redis-server');
    // What the scenario declares and does not delete (it failed, or a step was stopped) goes here,
    // or on SIGINT / SIGTERM (run.ts) if the run is interrupted.
    const admin = new TrackingDriver(await openDriver(system, url));
    const leftovers = async () => {
      const failed = await admin.dropAll(() => openDriver(system, url));
      if (failed.length > 0) opts.log(`    ${system}: could not delete ${failed.join(', ')}: delete them by hand`);
    };
    const unregister = onInterrupt(leftovers);
    try {
      return await fn({
        system,
        url,
        admin,
        pid,
        notes: [],
        stats: async () => (pid === undefined ? undefined : procSample(pid)),
      });
    } finally {
      await leftovers();
      unregister();
      await admin.close().catch(() => {});
    }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  // The broker runs with the node flags `npm start` and the Dockerfile use (see README, "npm start"),
  // plus WARREN_BENCH_BROKER_ARGS (e.g. "--trace-gc").
  const execArgv = brokerExecArgv(
    opts.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`, `--cpu-prof-name=warren-${scenario.alias}.cpuprofile`],
  );
  const { child: broker, hello } = await Child.start('warren broker', 'broker-child.mjs', [dataDir, scenario.sync], { execArgv });
  const url = `warren://guest:guest@127.0.0.1:${String(hello.port)}`;
  let admin: Driver | undefined;
  const unregister = onInterrupt(async () => {
    await broker.stop(5_000);
    await rm(dataDir, { recursive: true, force: true });
  });
  try {
    admin = await openDriver('warren', url);
    return await fn({
      system,
      url: opts.restrictedUser === true ? await restrictedUser(url, hello.port as number) : url,
      admin,
      pid: broker.pid,
      notes: opts.restrictedUser === true ? [`workers log in as '${RESTRICTED.username}', permissions ${RESTRICTED.pattern} (not an administrator)`] : [],
      stats: async () => (await broker.request({ type: 'stats' }, 10_000)) as unknown as BrokerStats,
      ...(opts.brokerProfileDir === undefined
        ? {}
        : {
            profile: {
              start: async () => void (await broker.request({ type: 'profile-start' }, 10_000)),
              stop: async (file: string) => void (await broker.request({ type: 'profile-stop', file }, 60_000)),
            },
          }),
    });
  } finally {
    await admin?.close().catch(() => {});
    await broker.stop(30_000);
    await rm(dataDir, { recursive: true, force: true });
    unregister();
  }
}

/** The user of --restricted-user: every check goes through its regexes (and the session's cache of their answers). */
const RESTRICTED = { username: 'bench-app', password: 'bench-app-pw', pattern: '^(amq\\.default|warren-bench\\..*)$' };

/** Creates the restricted user (as guest) and returns the URL the workers use. */
async function restrictedUser(adminUrl: string, port: number): Promise<string> {
  const conn = await connect({ url: adminUrl, reconnect: false });
  try {
    await conn.users.add(RESTRICTED.username, RESTRICTED.password);
    const p = RESTRICTED.pattern;
    await conn.users.setPermissions(RESTRICTED.username, '/', { configure: p, write: p, read: p });
  } finally {
    await conn.close();
  }
  return `warren://${RESTRICTED.username}:${RESTRICTED.password}@127.0.0.1:${String(port)}`;
}

/**
 * relay-child.mjs's durable mode (scenario 2's relay floor): its log's folder, the bytes per record on
 * disk, and what a confirm waits for ('sync', the default: the record on disk; 'ack': also the consumer's ack).
 */
export interface DurableRelay {
  dir: string;
  bytesPerMsg: number;
  confirm?: 'sync' | 'ack';
}

/** Runs fn against the relay of relay-child.mjs (the floor: no broker). */
async function withRelay<T>(fn: (ctx: SystemContext) => Promise<T>, durable?: DurableRelay): Promise<T> {
  const { child, hello } = await Child.start('relay', 'relay-child.mjs', durable === undefined ? [] : [JSON.stringify(durable)]);
  const url = `relay://127.0.0.1:${String(hello.port)}`;
  // Durable mode: the relay's O_DSYNC writes and bytes (its group commit over the measured phase: msgsPerSync, bytesPerSync).
  const stats = async (): Promise<BrokerStats | undefined> => {
    if (durable === undefined) return undefined;
    const r = await child.request({ type: 'stats' }, 10_000);
    const p = procSample(child.pid);
    return { cpuSeconds: p?.cpuSeconds ?? NaN, rssBytes: p?.rssBytes ?? NaN, syncs: r.syncs as number, syncMs: r.syncMs as number, writtenBytes: r.writtenBytes as number };
  };
  try {
    const admin = await openDriver('relay', url);
    try {
      return await fn({ system: 'relay', url, admin, pid: child.pid, notes: [], stats });
    } finally {
      await admin.close().catch(() => {});
    }
  } finally {
    await child.stop();
  }
}

/** Deletes leftovers of an earlier (failed) run: RabbitMQ keeps state between runs, Warren starts empty. */
async function resetTopology(ctx: SystemContext, queues: string[], exchanges: string[]): Promise<void> {
  if (ctx.system === 'warren' || ctx.system === 'relay') return;
  for (const q of queues) await ctx.admin.deleteQueue(q);
  for (const e of exchanges) await ctx.admin.deleteExchange(e);
}

async function dropTopology(ctx: SystemContext, queues: string[], exchanges: string[]): Promise<void> {
  await Promise.all(queues.map((q) => ctx.admin.deleteQueue(q)));
  for (const e of exchanges) await ctx.admin.deleteExchange(e);
}

// ---------------------------------------------------------------------------
// One producer process -> one consumer process
// ---------------------------------------------------------------------------

interface FlowSpec {
  producer: Omit<Extract<WorkerSpec, { role: 'producer' }>, 'role' | 'system' | 'url'>;
  consumer: Omit<Extract<WorkerSpec, { role: 'consumer' }>, 'role' | 'system' | 'url'>;
  /** Deliveries the consumer waits for when `count` messages are published. */
  expected: (count: number) => number;
  warmup: number;
  /**
   * Warm-up phases of `warmup` messages repeat until this long has passed (at most
   * MAX_WARMUP_PHASES), so a fast system reaches the JIT compiler's steady state before the
   * measured phase: at 400k msg/s a tenth of 100k is 25 ms, and the measured phase then still
   * paid for warm-up (clientcpu-2026-12-03.md: broker CPU per message 4x the steady figure).
   */
  warmupMinMs?: number;
  count: number;
  /** Runs alongside the measured phase (not the warm-up); the phase ends when both are done. */
  during?: () => Promise<void>;
  /** Names the workers' CPU profiles (RunOptions.workerProfileDir). */
  label?: string;
  /** Awaited right before the measured phase (--side-by-side: both flows start it together). */
  beforeMeasure?: () => Promise<void>;
}

interface FlowResult {
  producer: PhaseReport;
  consumer: PhaseReport;
  delivered: number;
  /** Seconds from the producer's first publish to the consumer's last delivery. */
  seconds: number;
  brokerCpuSeconds: number;
  brokerRssBytes: number;
  /** Warren: share of the measured phase its event loop was busy; syncs and bytes written meanwhile. */
  brokerElu: number;
  brokerSyncs: number;
  /** ms the syncs were out over the measured phase (Warren, the durable relay; NaN elsewhere). */
  brokerSyncMs: number;
  brokerWrittenBytes: number;
  /** Warren: read and write syscalls of the broker over the measured phase (/proc/self/io; NaN elsewhere). */
  brokerSyscr: number;
  brokerSyscw: number;
  /** Warren: minor page faults of the broker over the measured phase (NaN elsewhere). */
  brokerFaults: number;
  /** Warren: messages paged out / in, flow-control holds and ms held over the measured phase; the queue's peak ready and paged-out depth during it (NaN elsewhere). */
  brokerPagedOut: number;
  brokerPagedIn: number;
  brokerFlowHolds: number;
  brokerFlowHeldMs: number;
  brokerPeakReady: number;
  brokerPeakPaged: number;
  /** CPU seconds (utime + stime) of the producer and consumer processes over the measured phase. */
  producerCpuSeconds: number;
  consumerCpuSeconds: number;
  /** The relay floor only: CPU seconds of the relay process over the measured phase. */
  relayCpuSeconds?: number;
}

async function flow(ctx: SystemContext, spec: FlowSpec, opts: RunOptions): Promise<FlowResult> {
  const base = { system: ctx.system, url: ctx.url };
  const children: Child[] = [];
  // The worker profiles each phase itself (worker.ts), so the file ends up holding the measured phase only.
  const profiled = (role: string): { env?: NodeJS.ProcessEnv } =>
    opts.workerProfileDir === undefined
      ? {}
      : { env: { ...process.env, WARREN_BENCH_WORKER_PROFILE: join(opts.workerProfileDir, `worker-${ctx.system}-${role}-${spec.label ?? 'flow'}.cpuprofile`) } };
  const cpuOf = (pid: number | undefined): number => (pid === undefined ? NaN : (procSample(pid)?.cpuSeconds ?? NaN));
  try {
    const consumer = (await Child.start(`${ctx.system} consumer`, 'worker.ts', [JSON.stringify({ role: 'consumer', ...base, ...spec.consumer })], profiled('consumer'))).child;
    children.push(consumer);
    const producer = (await Child.start(`${ctx.system} producer`, 'worker.ts', [JSON.stringify({ role: 'producer', ...base, ...spec.producer })], profiled('producer'))).child;
    children.push(producer);
    const phase = async (count: number, during?: () => Promise<void>): Promise<[PhaseReport, PhaseReport]> => {
      const timeout = 120_000 + count * 2;
      const c = consumer.request({ type: 'phase', count: spec.expected(count) }, timeout);
      const p = producer.request({ type: 'phase', count }, timeout);
      const [pr, cr] = await Promise.all([p, c, during?.()]);
      return [pr as unknown as PhaseReport, cr as unknown as PhaseReport];
    };
    if (spec.warmup > 0) await warmUp(() => phase(spec.warmup), spec.warmupMinMs ?? 0, MAX_WARMUP_PHASES);
    await sleep(200);
    const before = await ctx.stats();
    const cpuBefore = [cpuOf(producer.pid), cpuOf(consumer.pid), ctx.system === 'relay' ? cpuOf(ctx.pid) : NaN];
    // The profiler starts after `before` and stops after `after`: its own cost stays out of the CPU figures' phase as far as it can.
    await ctx.profile?.start();
    await spec.beforeMeasure?.();
    const [pr, cr] = await phase(spec.count, spec.during);
    const cpuAfter = [cpuOf(producer.pid), cpuOf(consumer.pid), ctx.system === 'relay' ? cpuOf(ctx.pid) : NaN];
    const after = await ctx.stats();
    if (ctx.profile !== undefined && opts.brokerProfileDir !== undefined) await ctx.profile.stop(join(opts.brokerProfileDir, `broker-${ctx.system}-${spec.label ?? 'flow'}.cpuprofile`));
    const seconds = (cr.lastAt! - pr.startAt) / 1000;
    opts.log(`    ${ctx.system}: ${spec.count} published, ${cr.count} delivered in ${seconds.toFixed(2)} s`);
    const diff = (k: 'eluActiveMs' | 'eluIdleMs' | 'syncs' | 'syncMs' | 'writtenBytes' | 'syscr' | 'syscw' | 'minorFaults' | 'pagedOut' | 'pagedIn' | 'flowHolds' | 'flowHeldMs') => (before?.[k] !== undefined && after?.[k] !== undefined ? after[k]! - before[k]! : NaN);
    const lost = spec.expected(spec.count) - cr.count;
    if (lost > 0) {
      ctx.notes.push(
        `${ctx.system}: the measured phase counted ${lost.toLocaleString('en-US')} of ${spec.expected(spec.count).toLocaleString('en-US')} deliveries short ` +
          (ctx.system === 'nats' ? '(lost: at most once).' : '(as many extra deliveries arrived in the warm-up: duplicates).'),
      );
    }
    return {
      brokerElu: diff('eluActiveMs') / (diff('eluActiveMs') + diff('eluIdleMs')),
      brokerSyncs: diff('syncs'),
      brokerSyncMs: diff('syncMs'),
      brokerWrittenBytes: diff('writtenBytes'),
      brokerSyscr: diff('syscr'),
      brokerSyscw: diff('syscw'),
      brokerFaults: diff('minorFaults'),
      brokerPagedOut: diff('pagedOut'),
      brokerPagedIn: diff('pagedIn'),
      brokerFlowHolds: diff('flowHolds'),
      brokerFlowHeldMs: diff('flowHeldMs'),
      // `before` reset the peaks, so `after` holds the measured phase's.
      brokerPeakReady: after?.peakReady ?? NaN,
      brokerPeakPaged: after?.peakPaged ?? NaN,
      producer: pr,
      consumer: cr,
      delivered: cr.count,
      seconds,
      brokerCpuSeconds: before && after ? after.cpuSeconds - before.cpuSeconds : NaN,
      brokerRssBytes: after?.rssBytes ?? NaN,
      producerCpuSeconds: cpuAfter[0]! - cpuBefore[0]!,
      consumerCpuSeconds: cpuAfter[1]! - cpuBefore[1]!,
      ...(ctx.system === 'relay' ? { relayCpuSeconds: cpuAfter[2]! - cpuBefore[2]! } : {}),
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

function throughput(r: FlowResult, count: number): Measurements {
  const pubSeconds = (r.producer.endAt - r.producer.startAt) / 1000;
  return {
    deliveredPerSec: r.delivered / r.seconds,
    publishedPerSec: count / pubSeconds,
    mbPerSec: r.consumer.bytes! / r.seconds / 1e6,
    seconds: r.seconds,
    brokerCpuSecPer100k: (r.brokerCpuSeconds / count) * 100_000,
    brokerRssMB: r.brokerRssBytes / 1e6,
    /** Cores the broker used on average over the phase. */
    brokerCores: r.brokerCpuSeconds / r.seconds,
    brokerElu: r.brokerElu,
    msgsPerSync: count / r.brokerSyncs,
    bytesPerSync: r.brokerWrittenBytes / r.brokerSyncs,
    syncs: r.brokerSyncs,
    // The disk as the system met it in the same seconds: the share of the phase a sync was out, and
    // messages per second of sync time (an append floor measured in place, at the system's batch sizes).
    ...(r.brokerSyncMs > 0 ? { syncBusy: r.brokerSyncMs / 1000 / r.seconds, syncRatePerSec: count / (r.brokerSyncMs / 1000) } : {}),
    ...workerCpu(r, count),
  };
}

/**
 * CPU per 100k published messages of the producer and consumer processes (and the relay's, for
 * the floor): on a machine with few cores they share the cores with the broker, so their CPU per
 * message bounds the throughput as much as the broker's does.
 */
function workerCpu(r: FlowResult, count: number): Measurements {
  const per100k = (s: number) => (s / count) * 100_000;
  return {
    producerCpuSecPer100k: per100k(r.producerCpuSeconds),
    consumerCpuSecPer100k: per100k(r.consumerCpuSeconds),
    workersCpuSecPer100k: per100k(r.producerCpuSeconds + r.consumerCpuSeconds),
    ...(r.relayCpuSeconds !== undefined ? { relayCpuSecPer100k: per100k(r.relayCpuSeconds) } : {}),
    ...(Number.isFinite(r.brokerSyscr) ? { brokerReadsPer100k: per100k(r.brokerSyscr), brokerWritesPer100k: per100k(r.brokerSyscw) } : {}),
    ...(Number.isFinite(r.brokerFaults) ? { brokerPageFaultsPer100k: per100k(r.brokerFaults) } : {}),
    ...(Number.isFinite(r.brokerPagedOut)
      ? {
          queuePeakReady: r.brokerPeakReady,
          queuePeakPaged: r.brokerPeakPaged,
          pagedOut: r.brokerPagedOut,
          pagedIn: r.brokerPagedIn,
          flowHolds: r.brokerFlowHolds,
          flowHeldMs: r.brokerFlowHeldMs,
        }
      : {}),
  };
}

const warm = (count: number) => Math.max(200, Math.round(count / 10));
/** Unpaced flows warm up for at least this long (FlowSpec.warmupMinMs); --quick skips it. */
const MIN_WARMUP_MS = 1000;
const MAX_WARMUP_PHASES = 100;

/** Scenarios 1, 2, 4 and 5: one queue, one producer, one consumer. */
async function singleQueue(
  ctx: SystemContext,
  name: string,
  count: number,
  opts: RunOptions,
  o: {
    durable: boolean;
    bodySize: number;
    rate?: number;
    latency?: boolean;
    warmupSeconds?: number;
    during?: () => Promise<void>;
    queues?: number;
    connections?: number;
    /** With latency: the consumer also reports per-slice p99s (WorkerSpec sliceMs). */
    sliceMs?: number;
    /** FlowSpec.beforeMeasure. */
    beforeMeasure?: () => Promise<void>;
  },
): Promise<FlowResult> {
  const many = o.queues !== undefined && o.queues > 1;
  const queue = `${PREFIX}.${name}`;
  const queues = many ? Array.from({ length: o.queues! }, (_, i) => `${queue}.${i}`) : [queue];
  await resetTopology(ctx, queues, []);
  for (let i = 0; i < queues.length; i += 100) {
    await Promise.all(queues.slice(i, i + 100).map(async (q) => {
      await ctx.admin.declareQueue(q, o.durable);
      await ctx.admin.purgeQueue(q);
    }));
  }
  try {
    return await flow(
      ctx,
      {
        producer: {
          exchange: '',
          routingKey: many ? `${queue}.` : queue,
          ...(many ? { spread: queues.length } : {}),
          ...(o.connections !== undefined ? { connections: o.connections } : {}),
          bodySize: o.bodySize,
          persistent: o.durable,
          confirm: o.durable,
          window: WINDOW,
          rate: o.rate ?? 0,
          timestamp: o.latency === true,
          noDelay: o.latency === true,
        },
        consumer: {
          ...(many ? { queues: [`${queue}.`], queueCount: queues.length } : { queues }),
          connections: Math.min(10, queues.length),
          prefetch: PREFETCH,
          latency: o.latency === true,
          ...(o.sliceMs !== undefined ? { sliceMs: o.sliceMs } : {}),
          noDelay: o.latency === true,
        },
        expected: (n) => n,
        // --quick: a paced warm-up no longer than the measured batch.
        warmup: o.rate !== undefined ? Math.min(Math.round(o.rate * (o.warmupSeconds ?? 1)), opts.quick ? count : Infinity) : warm(count),
        warmupMinMs: o.rate === undefined && !opts.quick ? MIN_WARMUP_MS : 0,
        count,
        ...(o.during ? { during: o.during } : {}),
        ...(o.beforeMeasure ? { beforeMeasure: o.beforeMeasure } : {}),
        label: name,
      },
      opts,
    );
  } finally {
    await dropTopology(ctx, queues, []);
  }
}

/**
 * How many idle connections to open: 1,000, except that RabbitMQ caps sockets at ~90% of its
 * open-files limit (1,024 here, so ~900 sockets); under 1,250 it gets 80% of the limit.
 */
function idleConnections(ctx: SystemContext): { conns: number; fdLimit: number | undefined } {
  const fdLimit = ctx.system === 'rabbitmq' && ctx.pid !== undefined ? openFilesLimit(ctx.pid) : undefined;
  const conns = fdLimit !== undefined && fdLimit < 1250 ? Math.floor((fdLimit * 0.8) / 100) * 100 : 1000;
  return { conns, fdLimit };
}

/** Forks a worker that opens `conns` connections (50 at a time) and is ready once all are open. */
async function openIdle(ctx: SystemContext, conns: number): Promise<{ child: Child; connectMs: number }> {
  const spec = JSON.stringify({ role: 'idle', system: ctx.system, url: ctx.url, connections: conns });
  const { child, hello } = await Child.start(`${ctx.system} idle`, 'worker.ts', [spec], { timeoutMs: 120_000 });
  return { child, connectMs: hello.connectMs as number };
}

/**
 * How long a fill without a consumer (resources) may go on: blocked for 30 s without a break
 * (an alarm that clears sooner is a pause), nothing published for 60 s, or slower than
 * 20,000 msg/s on average (at least 2 minutes) ends it.
 */
export const fillLimits = (count: number): WatchLimits => ({ blockedMs: 30_000, stallMs: 60_000, budgetMs: Math.max(120_000, count / 20) });

/**
 * Publishes `count` messages of `bodySize` bytes to `queue` from a producer process, with no
 * consumer, watching its progress reports (stall.ts). Returns the publish rate, or undefined
 * when the broker blocked or stalled the producer or it ran past its budget: then a note says how
 * far it got (and the broker's RSS) and the producer is stopped.
 */
async function fill(ctx: SystemContext, queue: string, count: number, bodySize: number, opts: RunOptions): Promise<number | undefined> {
  const spec = { role: 'producer', system: ctx.system, url: ctx.url, exchange: '', routingKey: queue, bodySize, persistent: false, confirm: false, window: WINDOW, rate: 0, timestamp: false };
  const producer = (await Child.start(`${ctx.system} producer`, 'worker.ts', [JSON.stringify(spec)])).child;
  // A producer that finished closes its connection cleanly: without confirms its last messages may
  // still be in its socket buffer (RabbitMQ reads them at its own pace), and killing it loses them.
  let stopGraceMs = 60_000;
  try {
    const limits = fillLimits(count);
    const watch = new ProgressWatch(limits, Date.now());
    let report: PhaseReport | undefined;
    let error: Error | undefined;
    const phase = producer.request({ type: 'phase', count }, limits.budgetMs + 60_000).then(
      (r) => void (report = r as unknown as PhaseReport),
      (e: unknown) => void (error = e instanceof Error ? e : new Error(String(e))),
    );
    for (;;) {
      await Promise.race([phase, sleep(1000)]);
      if (error !== undefined) throw error;
      if (report !== undefined) return count / ((report.endAt - report.startAt) / 1000);
      const p = producer.progress;
      const v = watch.sample({ at: Date.now(), count: p?.published ?? 0, blocked: p?.blocked });
      if (v.state !== 'running') {
        // A blocked connection cannot close cleanly (the broker does not read it): killed after 5 s.
        stopGraceMs = 5_000;
        const note = describeVerdict(ctx.system, v, count, (await ctx.stats())?.rssBytes);
        ctx.notes.push(`${note}.`);
        opts.log(`    ${note}`);
        return undefined;
      }
    }
  } finally {
    await producer.stop(stopGraceMs);
  }
}

/**
 * Waits (up to 60 s, while the count still grows) until `queue` holds the `count` messages just
 * published: without confirms (RabbitMQ here) the producer is done when its last message is
 * written to the socket, not when it is queued. A shortfall goes into the notes.
 */
async function queued(ctx: SystemContext, queue: string, count: number, opts: RunOptions): Promise<void> {
  if (ctx.admin.messageCount === undefined) return;
  const t0 = Date.now();
  let n = -1;
  let changedAt = t0;
  for (;;) {
    const now = await ctx.admin.messageCount(queue, false);
    if (now !== n) changedAt = Date.now();
    n = now;
    if (n >= count || Date.now() - t0 > 60_000 || Date.now() - changedAt > 5_000) break;
    await sleep(250);
  }
  if (n < count) {
    const note = `${ctx.system}: the queue held ${n.toLocaleString('en-US')} of the ${count.toLocaleString('en-US')} messages published when its RSS was measured`;
    ctx.notes.push(`${note}.`);
    opts.log(`    ${note}`);
  }
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

const delivered = (target?: number, floorTarget?: number): Metric => ({
  key: 'deliveredPerSec',
  label: 'delivered',
  unit: 'msg/s',
  better: 'higher',
  headline: true,
  ...(target ? { target } : {}),
  ...(floorTarget ? { floorTarget } : {}),
});
const cpu100k: Metric = { key: 'brokerCpuSecPer100k', label: 'broker CPU per 100k msgs', unit: 's', better: 'lower', headline: true };
/** Broker CPU per 100k published messages where each is delivered several times (or is large): table only. */
const cpu100kOf = (what: string): Metric => ({ ...cpu100k, label: `broker CPU per 100k ${what}`, headline: false });

const ALL_PEERS: Peer[] = ['rabbitmq', 'nats', 'jetstream', 'redis', 'redis-streams'];

/** The bare relay's numbers for the same flow: what three Node processes can do with no broker in between. */
const relayFloor = (name: string, o: (quick: boolean) => Parameters<typeof singleQueue>[4], measure: (r: FlowResult, count: number) => Measurements) => ({
  describe:
    'a bare Node relay forwarding length-prefixed records from the producer to the consumer and its acks back ' +
    '(relay-child.mjs; same worker processes and window, no routing, no storage)',
  run: async (count: number, opts: RunOptions) => withRelay(async (relay) => measure(await singleQueue(relay, name, count, opts, o(opts.quick)), count)),
});

function latencyOf(r: FlowResult): Measurements {
  const l = r.consumer.latencyMs!;
  return { p50: l.p50, p99: l.p99, p999: l.p999, max: l.max, mean: l.mean, samples: l.samples, deliveredPerSec: r.delivered / r.seconds, brokerElu: r.brokerElu, brokerCores: r.brokerCpuSeconds / r.seconds };
}

const latencyMetrics = (rate: string): Metric[] => [
  { key: 'p50', label: `latency p50 at ${rate}`, unit: 'ms', better: 'lower', headline: true },
  { key: 'p99', label: `latency p99 at ${rate}`, unit: 'ms', better: 'lower', headline: true },
  { key: 'p999', label: `latency p99.9 at ${rate}`, unit: 'ms', better: 'lower', headline: true },
  { key: 'deliveredPerSec', label: `delivered (offered ${rate})`, unit: 'msg/s', better: 'higher', headline: false },
];

const eluMetric: Metric = { key: 'brokerElu', label: 'broker event-loop utilisation', unit: 'share of time', better: 'lower', headline: false };
const coresMetric: Metric = { key: 'brokerCores', label: 'broker CPU (cores busy)', unit: 'cores', better: 'lower', headline: false };

export const QUEUE_STEPS = [1, 100, 1000, 10_000];
export const CONNECTION_STEPS = [10, 100, 1000];

function scaleMetrics(prefix: string, steps: number[], what: string): Metric[] {
  return steps.flatMap((n): Metric[] => [
    { key: `${prefix}${n}PerSec`, label: `delivered, ${n.toLocaleString('en-US')} ${what}`, unit: 'msg/s', better: 'higher', headline: true },
    { key: `${prefix}${n}RssMB`, label: `broker RSS, ${n.toLocaleString('en-US')} ${what}`, unit: 'MB', better: 'lower', headline: true },
    { key: `${prefix}${n}Cpu`, label: `broker CPU per 100k msgs, ${n.toLocaleString('en-US')} ${what}`, unit: 's', better: 'lower', headline: false },
    { key: `${prefix}${n}Elu`, label: `broker event-loop utilisation, ${n.toLocaleString('en-US')} ${what}`, unit: 'share of time', better: 'lower', headline: false },
  ]);
}

/** Runs one flow per step against the same broker and keeps its throughput, RSS, CPU and event-loop use under `${prefix}${step}...`. */
async function scaleSteps(ctx: SystemContext, prefix: string, steps: number[], opts: RunOptions, step: (n: number) => Promise<FlowResult>, count: number): Promise<Measurements> {
  const m: Measurements = {};
  for (const n of steps) {
    const t = throughput(await step(n), count);
    Object.assign(m, { [`${prefix}${n}PerSec`]: t.deliveredPerSec, [`${prefix}${n}RssMB`]: t.brokerRssMB, [`${prefix}${n}Cpu`]: t.brokerCpuSecPer100k, [`${prefix}${n}Elu`]: t.brokerElu });
    opts.log(`    ${ctx.system}: ${n} ${prefix === 'q' ? 'queues' : 'connections'}: ${Math.round(t.deliveredPerSec!)} msg/s, RSS ${t.brokerRssMB!.toFixed(0)} MB`);
  }
  return m;
}

/** A promise for each of two callers that resolves once both have called (or release() was called: the other side failed). */
function meeting(): { arrive: () => Promise<void>; release: () => void } {
  let waiting = 2;
  let open!: () => void;
  const met = new Promise<void>((r) => (open = r));
  return {
    arrive: () => {
      if (--waiting <= 0) open();
      return met;
    },
    release: () => open(),
  };
}

/** Per-slice p99s: about this many slices per measured phase. */
const SLICES = 20;

/**
 * --side-by-side: a Warren broker and the relay, each with its own producer and consumer at the same
 * offered rate, warmed up side by side and measured over the same seconds (the measured phases start
 * together). Each consumer reports its p99 per slice of publish time (1/20 of the phase); the slices
 * line up by wall clock and are paired: `sliceDiffMedian` is the median of Warren's p99 minus the
 * relay's over the slices, `sliceWithin` the share of slices where that is at most `target` ms.
 * The two flows share the machine's cores (at 5,000 msg/s they use well under one core together; at
 * 50,000 they compete for the two).
 */
const sideBySide =
  (name: string, o: (quick: boolean) => Parameters<typeof singleQueue>[4] & { rate: number }, target: number) =>
  async (self: Scenario, count: number, opts: RunOptions): Promise<Measurements> => {
    // No profiles: they would replace the single-system runs' and start one side later than the other.
    const { brokerProfileDir: _b, workerProfileDir: _w, profileDir: _p, ...plain } = opts;
    opts = plain;
    const spec = o(opts.quick);
    const sliceMs = Math.max(1, Math.round(((count / spec.rate) * 1000) / SLICES));
    const meet = meeting();
    const side = (ctx: SystemContext) =>
      singleQueue(ctx, name, count, opts, { ...spec, sliceMs, beforeMeasure: meet.arrive }).catch((e: unknown) => {
        meet.release();
        throw e;
      });
    const [w, r] = await withSystem('warren', self, opts, (warren) => withRelay((relay) => Promise.all([side(warren), side(relay)])));
    const paired = pairSlices(w.consumer.slices ?? [], r.consumer.slices ?? [], target);
    const wl = w.consumer.latencyMs!;
    const rl = r.consumer.latencyMs!;
    const usPerMsg = (cpuSeconds: number, fr: FlowResult) => (cpuSeconds / fr.delivered) * 1e6;
    const m: Measurements = {
      warrenP50: wl.p50,
      warrenP99: wl.p99,
      relayP50: rl.p50,
      relayP99: rl.p99,
      p99Diff: wl.p99 - rl.p99,
      sliceMs,
      slices: paired.diffs.length,
      sliceDiffMedian: paired.median,
      sliceDiffMin: paired.min,
      sliceDiffMax: paired.max,
      sliceWithin: paired.within,
      brokerUsPerMsg: usPerMsg(w.brokerCpuSeconds, w),
      relayUsPerMsg: usPerMsg(r.relayCpuSeconds ?? NaN, r),
      warrenWorkersUsPerMsg: usPerMsg(w.producerCpuSeconds + w.consumerCpuSeconds, w),
      relayWorkersUsPerMsg: usPerMsg(r.producerCpuSeconds + r.consumerCpuSeconds, r),
    };
    opts.log(
      `    side by side: p99 warren ${wl.p99.toFixed(2)} ms, relay ${rl.p99.toFixed(2)} ms; per ${sliceMs} ms slice (${paired.diffs.length}) warren - relay: ` +
        `median ${paired.median.toFixed(2)} ms [${paired.min.toFixed(2)}..${paired.max.toFixed(2)}], <= ${target} ms in ${Math.round(paired.within * 100)}%; ` +
        `CPU per message: broker ${m.brokerUsPerMsg!.toFixed(1)} us, relay ${m.relayUsPerMsg!.toFixed(1)} us`,
    );
    return m;
  };

/** Scenario 4: a long warm-up, since the tail is what is measured and the JIT compiler's first seconds are not steady state. */
const LATENCY_5K = (quick: boolean) => ({ durable: false, bodySize: BODY, rate: 5000, latency: true, warmupSeconds: quick ? 1 : 5 });

/** Scenario 7's rate: what the relay floor and Warren can carry, beyond what some peers can. */
const FAST_RATE = 50_000;
/** 1 s of warm-up (50,000 messages) is past the JIT compiler's first steps at this rate. */
const LATENCY_FAST = (quick: boolean) => ({ durable: false, bodySize: BODY, rate: FAST_RATE, latency: true, warmupSeconds: quick ? 0.5 : 1 });

export const SCENARIOS: Scenario[] = [
  {
    id: '1',
    alias: 'transient',
    title: 'transient queue, 1 producer -> 1 consumer, 256 B, manual acks, prefetch 1000',
    metrics: [delivered(3, 0.6), cpu100k, { key: 'publishedPerSec', label: 'published', unit: 'msg/s', better: 'higher', headline: false }, eluMetric, coresMetric],
    defaultCount: 100_000,
    quickCount: 10_000,
    sync: 'always',
    peers: ALL_PEERS,
    floor: relayFloor('s1', () => ({ durable: false, bodySize: BODY }), (r, count) => throughput(r, count)),
    run: async (ctx, count, opts) => throughput(await singleQueue(ctx, 's1', count, opts, { durable: false, bodySize: BODY }), count),
  },
  {
    id: '2',
    alias: 'durable',
    title: 'durable queue, persistent 256 B, confirms (1000 in flight; Warren fsyncs before confirming), manual acks',
    metrics: [
      delivered(2, 0.5),
      cpu100k,
      { key: 'publishedPerSec', label: 'published', unit: 'msg/s', better: 'higher', headline: false },
      { key: 'msgsPerSync', label: 'messages per fdatasync (group commit batch)', unit: 'msgs', better: 'higher', headline: false },
      eluMetric,
      coresMetric,
    ],
    defaultCount: 50_000,
    quickCount: 5_000,
    sync: 'always',
    peers: ['rabbitmq', 'jetstream', 'redis-streams'],
    floor: {
      // WARREN_BENCH_S2_FLOOR=relay: the durable relay instead (the append floor is still measured and logged).
      describe:
        process.env.WARREN_BENCH_S2_FLOOR === 'relay'
          ? "durable relay: the bare relay of scenario 1's floor, also appending what the producer sends (padded to the bytes " +
            "per message Warren's store wrote in the same repetition) with group commit through an O_DSYNC handle, and confirming " +
            "each record to the producer once it is written, as a broker does (relay-child.mjs durable mode; no routing, index or " +
            "protocol; the append floor and the first version, whose confirms also waited for the consumer's ack, are kept beside it)"
          : "raw group commit: the bytes Warren's store wrote, in as many batches as it made fdatasyncs in the same repetition " +
            '(so the same messages per batch), appended to a fresh file with one writev and one fdatasync per batch (append-floor.ts)',
      run: async (count, opts, w): Promise<Measurements> => {
        if (w === undefined || !(w.syncs! > 0)) throw new Error('the append floor needs Warren\'s batch sizes from the same repetition');
        const f = await appendFloor(count, Math.round(w.syncs!), w.bytesPerSync!);
        opts.log(`    append floor: ${f.batches} batches of ${f.bytesPerBatch} B: ${Math.round(f.perSec)} msg/s`);
        if (process.env.WARREN_BENCH_S2_FLOOR === 'relay') {
          // The durable relay (relay-child.mjs durable mode): network path and group commit together.
          const bytesPerMsg = (w.bytesPerSync! * w.syncs!) / count;
          const durableRelay = async (confirm: 'sync' | 'ack'): Promise<Measurements> => {
            const dir = await mkdtemp(join(tmpdir(), 'warren-durable-relay-'));
            try {
              const r = await withRelay((relay) => singleQueue(relay, 's2', count, opts, { durable: false, bodySize: BODY }), { dir, bytesPerMsg, confirm });
              const m = throughput(r, count);
              opts.log(
                `    durable relay floor, confirm on ${confirm === 'sync' ? 'sync' : 'sync + consumer ack'} (${Math.round(bytesPerMsg)} B/msg on disk): ` +
                  `${Math.round(m.deliveredPerSec!)} msg/s delivered, ${m.msgsPerSync!.toFixed(0)} msgs per O_DSYNC write`,
              );
              return m;
            } finally {
              await rm(dir, { recursive: true, force: true });
            }
          };
          // The floor: confirms once the record is on disk, as a broker's. Then (logged and kept beside it)
          // the first version, whose confirms also waited for the consumer's ack, and the append floor.
          const m = await durableRelay('sync');
          const gated = await durableRelay('ack');
          return {
            ...m,
            ackGatedPerSec: gated.deliveredPerSec!,
            ackGatedMsgsPerSync: gated.msgsPerSync!,
            appendFloorPerSec: f.perSec,
            appendFloorMsgsPerSync: count / f.batches,
          };
        }
        return { deliveredPerSec: f.perSec, publishedPerSec: f.perSec, msgsPerSync: count / f.batches };
      },
    },
    run: async (ctx, count, opts) => throughput(await singleQueue(ctx, 's2', count, opts, { durable: true, bodySize: BODY }), count),
  },
  {
    id: '3',
    alias: 'fanout',
    title: 'fanout exchange -> 10 queues, 10 consumers (10 connections), 256 B',
    metrics: [
      { key: 'deliveredPerSec', label: 'deliveries', unit: 'msg/s', better: 'higher', target: 3, headline: true },
      { key: 'publishedPerSec', label: 'publishes', unit: 'msg/s', better: 'higher', headline: false },
      cpu100kOf('publishes (10 deliveries each)'),
    ],
    defaultCount: 20_000,
    quickCount: 2_000,
    sync: 'always',
    peers: ['rabbitmq', 'nats', 'jetstream', 'redis-streams'],
    run: async (ctx, count, opts) => {
      const exchange = `${PREFIX}.fanout`;
      const queues = Array.from({ length: 10 }, (_, i) => `${PREFIX}.s3.${i}`);
      await resetTopology(ctx, queues, [exchange]);
      await ctx.admin.declareExchange(exchange, 'fanout');
      const bindsOnly = ctx.system === 'jetstream' || ctx.system === 'redis-streams';
      for (const q of queues) {
        // JetStream and Redis streams: a bound queue is a consumer (group) on the exchange's stream, not a stream of its own.
        if (!bindsOnly) await ctx.admin.declareQueue(q, false);
        await ctx.admin.bindQueue(q, exchange, '');
      }
      try {
        const r = await flow(
          ctx,
          {
            producer: { exchange, routingKey: '', bodySize: BODY, persistent: false, confirm: false, window: WINDOW, rate: 0, timestamp: false },
            consumer: { queues, connections: 10, prefetch: PREFETCH, latency: false, from: Object.fromEntries(queues.map((q) => [q, exchange])) },
            expected: (n) => n * queues.length,
            warmup: warm(count),
            count,
          },
          opts,
        );
        return { ...throughput(r, count), publishedPerSec: count / r.seconds };
      } finally {
        await dropTopology(ctx, bindsOnly ? [] : queues, [exchange]);
      }
    },
  },
  {
    id: '4',
    alias: 'latency',
    title: 'end-to-end latency at a fixed 5,000 msg/s (transient, 256 B, timestamp in the body)',
    metrics: [...latencyMetrics('5,000 msg/s').map((m) => (m.key === 'p99' ? { ...m, floorTarget: 0.3 } : m)), eluMetric, coresMetric],
    defaultCount: 50_000,
    quickCount: 5_000,
    sync: 'always',
    peers: ALL_PEERS,
    floor: relayFloor('s4', LATENCY_5K, latencyOf),
    sideBySide: sideBySide('s4', LATENCY_5K, 0.3),
    run: async (ctx, count, opts) => latencyOf(await singleQueue(ctx, 's4', count, opts, LATENCY_5K(opts.quick))),
  },
  {
    id: '7',
    alias: 'latency-50k',
    title: `end-to-end latency at a fixed ${FAST_RATE.toLocaleString('en-US')} msg/s (transient, 256 B, timestamp in the body)`,
    metrics: [...latencyMetrics(`${FAST_RATE / 1000}k msg/s`), eluMetric, coresMetric],
    defaultCount: 100_000,
    quickCount: 10_000,
    sync: 'always',
    peers: ALL_PEERS,
    floor: relayFloor('s7', LATENCY_FAST, latencyOf),
    sideBySide: sideBySide('s7', LATENCY_FAST, 0.3),
    run: async (ctx, count, opts) =>
      latencyOf(await singleQueue(ctx, 's7', count, opts, LATENCY_FAST(opts.quick))),
  },
  {
    id: '5',
    alias: 'large',
    title: '64 KB bodies, 1 producer -> 1 consumer, transient, manual acks, prefetch 1000',
    metrics: [{ key: 'mbPerSec', label: 'throughput', unit: 'MB/s', better: 'higher', target: 1.5, headline: true }, cpu100kOf('64 KB msgs')],
    // 650 MB: long enough that no warm-up decides the number.
    defaultCount: 10_000,
    quickCount: 1_000,
    sync: 'always',
    peers: ALL_PEERS,
    floor: relayFloor('s5', () => ({ durable: false, bodySize: 64 * 1024 }), (r, count) => throughput(r, count)),
    run: async (ctx, count, opts) => throughput(await singleQueue(ctx, 's5', count, opts, { durable: false, bodySize: 64 * 1024 }), count),
  },
  {
    id: '6',
    alias: 'topic',
    title: 'topic exchange, 100 queues x 100 bindings (10,000 random patterns over 30 words), 256 B',
    metrics: [
      { key: 'deliveredPerSec', label: 'deliveries', unit: 'msg/s', better: 'higher', headline: true },
      { key: 'publishedPerSec', label: 'publishes', unit: 'msg/s', better: 'higher', headline: true },
      { key: 'bindSeconds', label: 'declaring 10,000 bindings', unit: 's', better: 'lower', headline: false },
      cpu100kOf('publishes (~5.7 deliveries each)'),
    ],
    defaultCount: 30_000,
    quickCount: 3_000,
    sync: 'always',
    // AMQP topic matching: NATS wildcards differ (`>` is one or more words, `#` zero or more), Redis has none.
    peers: ['rabbitmq'],
    run: async (ctx, count, opts) => {
      const shape = { queues: 100, bindingsPerQueue: 100 };
      const w = topicWorkload(shape.queues, shape.bindingsPerQueue);
      const matches = topicMatches(w);
      const exchange = `${PREFIX}.topic`;
      const queues = w.patterns.map((_, i) => `${PREFIX}.s6.${i}`);
      await resetTopology(ctx, queues, [exchange]);
      await ctx.admin.declareExchange(exchange, 'topic');
      const t0 = performance.now();
      for (let q = 0; q < queues.length; q++) {
        await ctx.admin.declareQueue(queues[q]!, false);
        await Promise.all(w.patterns[q]!.map((p) => ctx.admin.bindQueue(queues[q]!, exchange, p)));
      }
      const bindSeconds = (performance.now() - t0) / 1000;
      try {
        const r = await flow(
          ctx,
          {
            producer: { exchange, routingKey: '', topic: shape, bodySize: BODY, persistent: false, confirm: false, window: WINDOW, rate: 0, timestamp: false },
            consumer: { queues, connections: 10, prefetch: PREFETCH, latency: false },
            expected: (n) => topicExpected(w, matches, n),
            warmup: warm(count),
            count,
          },
          opts,
        );
        return { ...throughput(r, count), publishedPerSec: count / r.seconds, bindSeconds, fanoutPerMessage: r.delivered / count };
      } finally {
        await dropTopology(ctx, queues, [exchange]);
      }
    },
  },
  {
    id: 'resources',
    alias: 'resources',
    title: 'broker RSS: 1,000 idle connections; 1,000,000 queued transient 256 B messages; 10,000,000 queued 16 B ones (RabbitMQ: lazy queue)',
    metrics: [
      { key: 'idleRssMB', label: 'RSS with 1,000 idle connections', unit: 'MB', better: 'lower', headline: true },
      { key: 'idleKBPerConn', label: 'RSS growth per idle connection', unit: 'KB', better: 'lower', headline: true },
      { key: 'queuedRssMB', label: 'RSS with 1M queued 256 B msgs', unit: 'MB', better: 'lower', headline: true },
      { key: 'queuedGrowthMB', label: 'RSS growth for 1M queued msgs', unit: 'MB', better: 'lower', headline: true },
      { key: 'fillPerSec', label: 'publishing the 1M (no consumer)', unit: 'msg/s', better: 'higher', headline: false },
      { key: 'queued16RssMB', label: 'RSS with 10M queued 16 B msgs', unit: 'MB', better: 'lower', headline: true },
      { key: 'fill16PerSec', label: 'publishing the 10M 16 B (no consumer)', unit: 'msg/s', better: 'higher', headline: false },
    ],
    defaultCount: 1_000_000,
    quickCount: 100_000,
    sync: 'always',
    peers: ['rabbitmq'],
    extra: {
      heading: 'Resources',
      note:
        'RSS of the broker process (RabbitMQ: the whole beam.smp VM). The 1M-message step declares its queue with the defaults ' +
        '(RabbitMQ 3.10 keeps a default classic queue in memory). The 10M-message step declares a queue for a backlog: on RabbitMQ a lazy classic ' +
        'queue (x-queue-mode=lazy), which its docs give for queues of many millions of messages until 3.12 (where classic queues work that way by default); ' +
        'with a default classic queue RabbitMQ stopped taking the 16 B messages at 4.5M of the 10M (RSS 5.8 GB, no memory alarm: past half its 10 GB ' +
        'watermark it pages the queue to disk and holds the publisher back meanwhile; bench/results/resources-2026-12-03.md), and the run used to hang there. Not a quorum queue (replicated, every message fsynced: a durability these transient ' +
        'messages do not ask for) nor a stream (an append-only log that keeps what is consumed, not a queue); classic queue v2 was new and opt-in in 3.10. ' +
        'Warren pages a queue to disk beyond its window in any case. A step whose publisher the broker blocks for 30 s without a break, that publishes nothing for 60 s, ' +
        'or that runs slower than 20,000 msg/s on average is stopped and a note says how far it got (bench/e2e/stall.ts); its queue is deleted on every exit path, Ctrl-C included.',
    },
    run: async (ctx, count, opts) => {
      const m: Measurements = {};
      const { conns, fdLimit } = idleConnections(ctx);
      const base = await ctx.stats();
      const idle = (await openIdle(ctx, conns)).child;
      try {
        await sleep(2000);
        const s = await ctx.stats();
        if (base && s) {
          m.idleKBPerConn = (s.rssBytes - base.rssBytes) / conns / 1000;
          m.idleRssMB = (base.rssBytes + ((s.rssBytes - base.rssBytes) * 1000) / conns) / 1e6;
          m.idleConnections = conns;
          if (conns !== 1000) {
            ctx.notes.push(
              `${ctx.system}: its open-files limit is ${fdLimit}, so ${conns} idle connections were opened ` +
                `(RSS ${(s.rssBytes / 1e6).toFixed(0)} MB); the 1,000-connection RSS is extrapolated linearly.`,
            );
          }
        }
      } finally {
        await idle.stop(60_000);
      }
      opts.log(`    ${ctx.system}: ${conns} idle connections: ${m.idleKBPerConn?.toFixed(0)} KB each`);
      // Queued messages, in a queue declared with the defaults (RabbitMQ keeps them in memory).
      const queue = `${PREFIX}.resources`;
      await resetTopology(ctx, [queue], []);
      try {
        await ctx.admin.declareQueue(queue, false);
        await sleep(500);
        const before = await ctx.stats();
        const perSec = await fill(ctx, queue, count, BODY, opts);
        if (perSec !== undefined) {
          m.fillPerSec = perSec;
          await queued(ctx, queue, count, opts);
          await sleep(2000);
          const after = await ctx.stats();
          if (before && after) {
            m.queuedRssMB = after.rssBytes / 1e6;
            m.queuedGrowthMB = (after.rssBytes - before.rssBytes) / 1e6;
          }
          opts.log(`    ${ctx.system}: ${count} queued: RSS ${m.queuedRssMB?.toFixed(0)} MB`);
        }
      } finally {
        await dropTopology(ctx, [queue], []);
      }
      // Ten times as many 16 B messages: what the per-message overhead (not the bodies) costs, in a
      // queue declared for a backlog (RabbitMQ: lazy; see the note).
      const small = count * 10;
      try {
        await ctx.admin.declareQueue(queue, false, { backlog: true });
        const perSec = await fill(ctx, queue, small, 16, opts);
        if (perSec !== undefined) {
          m.fill16PerSec = perSec;
          await queued(ctx, queue, small, opts);
          await sleep(2000);
          const smallAfter = await ctx.stats();
          if (smallAfter) m.queued16RssMB = smallAfter.rssBytes / 1e6;
          opts.log(`    ${ctx.system}: ${small} queued 16 B: RSS ${m.queued16RssMB?.toFixed(0)} MB, filled at ${Math.round(perSec)} msg/s`);
        }
      } finally {
        await dropTopology(ctx, [queue], []);
      }
      return m;
    },
  },
  {
    id: 'logins',
    alias: 'logins',
    title:
      'connection storm: 1,000 clients connect and log in (50 at a time, one user) and then disconnect, while a producer ' +
      'publishes persistent 256 B messages at 1,000 msg/s with confirms to a durable queue and a consumer acks them',
    metrics: [
      { key: 'connectPerSec', label: 'connections opened (connect + log in)', unit: 'conn/s', better: 'higher', headline: true },
      { key: 'stormP99', label: 'delivery latency p99 during the storm', unit: 'ms', better: 'lower', headline: true },
      { key: 'stormMax', label: 'delivery latency max during the storm', unit: 'ms', better: 'lower', headline: true },
      { key: 'quietP99', label: 'delivery latency p99 without the storm', unit: 'ms', better: 'lower', headline: false },
    ],
    // Messages of the measured phase at 1,000 msg/s: the storm starts 1 s into it and must end before it does.
    defaultCount: 15_000,
    quickCount: 5_000,
    sync: 'always',
    peers: ['rabbitmq'],
    extra: {
      heading: 'Connection storm',
      note:
        'Services reconnecting together after a restart or a deploy: the storm must not stall the traffic that is already flowing. ' +
        'Delivery latency = publish to delivery, persistent messages (fsync before confirm on both brokers).',
    },
    run: async (ctx, count, opts) => {
      const flowOpts = { durable: true, bodySize: BODY, rate: 1000, latency: true, warmupSeconds: opts.quick ? 1 : 3 };
      const quiet = await singleQueue(ctx, 'logins', count, opts, flowOpts);
      const limit = idleConnections(ctx);
      const conns = opts.quick ? Math.min(100, limit.conns) : limit.conns;
      const fdLimit = limit.fdLimit;
      let connectMs = NaN;
      let stormMs = NaN;
      const storm = async () => {
        await sleep(1000);
        const t0 = performance.now();
        const idle = await openIdle(ctx, conns);
        connectMs = idle.connectMs;
        await idle.child.stop(60_000);
        stormMs = performance.now() - t0;
      };
      const r = await singleQueue(ctx, 'logins', count, opts, { ...flowOpts, during: storm });
      const phaseMs = r.consumer.lastAt! - r.producer.startAt;
      if (stormMs + 1000 > phaseMs) {
        ctx.notes.push(`${ctx.system}: the storm (${(stormMs / 1000).toFixed(1)} s) outlasted the measured traffic; raise --count.`);
      }
      if (opts.quick) ctx.notes.push(`--quick: the storm opened ${conns} connections.`);
      else if (conns !== 1000) ctx.notes.push(`${ctx.system}: its open-files limit is ${fdLimit}, so the storm opened ${conns} connections.`);
      const l = r.consumer.latencyMs!;
      opts.log(`    ${ctx.system}: ${conns} connections opened in ${(connectMs / 1000).toFixed(2)} s; latency p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(2)} ms`);
      return {
        connectPerSec: conns / (connectMs / 1000),
        stormP99: l.p99,
        stormMax: l.max,
        stormP50: l.p50,
        quietP99: quiet.consumer.latencyMs!.p99,
        quietMax: quiet.consumer.latencyMs!.max,
        stormSeconds: stormMs / 1000,
      };
    },
  },
  {
    id: 'queues',
    alias: 'queues',
    title: 'cost as queues grow: 1, 100, 1,000 and 10,000 transient queues, one producer cycling over them, 10 consumer connections, 256 B',
    metrics: scaleMetrics('q', QUEUE_STEPS, 'queues'),
    defaultCount: 100_000,
    quickCount: 10_000,
    sync: 'always',
    peers: ['rabbitmq'],
    extra: {
      heading: 'Cost as queues grow',
      note:
        'Throughput over the measured batch; broker RSS at its end, with every queue declared and consumed; broker CPU per 100k messages. ' +
        'The 1-queue step has one consumer connection, the others ten. ' +
        "Warren is flat up to 1,000 queues. At 10,000 its CPU per message is 1.3-1.5x that at 1,000 (0.54-0.57 s against 0.33-0.42 s per 100k, " +
        '7 runs, bench/results/queues-2026-12-03.md): with ~10 messages per queue each message touches another queue (a lookup in a map of 10,000 queues, ' +
        'a drain per queue per ack batch, an arrival checkpoint per queue per tick); an idle queue costs only the rate sampler\'s look at its counters once a second. ' +
        'Its RSS grows by ~11 KB per queue with its ' +
        'consumer from 1,000 to 10,000 queues: ~2.3 KB of it is live heap (queue, message list, spill state, consumer), ~0.6 KB rate history, the rest the V8 heap grown while ' +
        '10,000 queues are declared and consumed, which it keeps. Until 2026-12-03 the management rate sampler gave every busy queue past 2,000 a new ' +
        '29 KB ring each second (10,000 busy queues: 288 MB of arrays and ~0.3 s of CPU a sample): when a sample fell in the batch, 10,000 queues cost ' +
        '0.85-0.89 s per 100k and 480-570 MB. RabbitMQ runs an Erlang process per queue (and per consumer channel): its RSS jumps by about 50-60 KB per ' +
        'queue between 1,000 and 10,000 queues and its CPU per message grows 2.2-2.5x from 1 to 10,000 queues.',
    },
    run: (ctx, count, opts) =>
      scaleSteps(ctx, 'q', QUEUE_STEPS, opts, (n) => singleQueue(ctx, `scale-q${n}`, count, opts, { durable: false, bodySize: BODY, queues: n }), count),
  },
  {
    id: 'connections',
    alias: 'connections',
    title: 'cost as publishing connections grow: 10, 100 and 1,000 connections in one producer process taking turns (1,000 publishes in flight in all), one queue, 256 B',
    metrics: scaleMetrics('c', CONNECTION_STEPS, 'publishing connections'),
    defaultCount: 100_000,
    quickCount: 10_000,
    sync: 'always',
    peers: ['rabbitmq'],
    extra: {
      heading: 'Cost as publishing connections grow',
      note:
        'Throughput over the measured batch; broker RSS at its end, with every connection open; broker CPU per 100k messages. ' +
        "Warren falls off here: with the same 1,000 publishes in flight spread over 1,000 connections each connection carries about one message per turn, so every message " +
        'pays for its own socket read, frame parse call and confirm write (and the producer process for its own write): the batching that a busy connection gets ' +
        '(many frames per read, many confirms per write) is gone, and its CPU per message grows 3.5-5x from 10 to 1,000 connections. ' +
        'RabbitMQ pays per message in any case (a process per connection and channel) and stays slower at every step; ' +
        'its open-files limit (1,024 here) caps it below 1,000 connections.',
    },
    run: (ctx, count, opts) =>
      scaleSteps(ctx, 'c', CONNECTION_STEPS, opts, (n) => {
        // RabbitMQ refuses sockets past ~90% of its open-files limit (1,024 here): stay under it.
        const { conns, fdLimit } = idleConnections(ctx);
        const cap = fdLimit === undefined ? n : conns - 20;
        if (n > cap) ctx.notes.push(`${ctx.system}: its open-files limit is ${fdLimit}, so the ${n}-connection step opened ${cap}.`);
        return singleQueue(ctx, `scale-c${n}`, count, opts, { durable: false, bodySize: BODY, connections: Math.min(n, cap) });
      }, count),
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === name || s.alias === name);
}
