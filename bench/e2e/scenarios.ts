/**
 * The end-to-end scenarios. Each runs against one system at a time through a
 * SystemContext (a fresh Warren broker process, or the RabbitMQ on :5672) and
 * returns raw measurements plus the rows for the comparison table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child } from './children.js';
import { findBeamPid, openFilesLimit, procSample, sleep, topicExpected, topicMatches, topicWorkload } from './common.js';
import { RABBIT_URL, openDriver, type Driver, type SystemName } from './drivers.js';
import type { PhaseReport, WorkerSpec } from './worker.js';

export interface BrokerStats {
  cpuSeconds: number;
  rssBytes: number;
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
}

export interface RunOptions {
  /** Overrides every scenario's message count. */
  count?: number;
  quick: boolean;
  /** Directory for broker CPU profiles (Warren only); undefined = no profiling. */
  profileDir?: string;
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
  /**
   * Not part of `all`: runs only when named, and gets its own section in RESULTS.md
   * (its numbers are kept in bench/results/<alias>.json).
   */
  extra?: { heading: string; note: string };
  run(ctx: SystemContext, count: number, opts: RunOptions): Promise<Measurements>;
}

const PREFIX = 'warren-bench';
const BODY = 256;
const PREFETCH = 1000;
const WINDOW = 1000;

// ---------------------------------------------------------------------------
// Systems
// ---------------------------------------------------------------------------

export async function withSystem<T>(
  system: SystemName,
  scenario: Scenario,
  opts: RunOptions,
  fn: (ctx: SystemContext) => Promise<T>,
): Promise<T> {
  if (system === 'rabbitmq') {
    const pid = findBeamPid();
    const admin = await openDriver('rabbitmq', RABBIT_URL);
    try {
      return await fn({
        system,
        url: RABBIT_URL,
        admin,
        pid,
        notes: [],
        stats: async () => (pid === undefined ? undefined : procSample(pid)),
      });
    } finally {
      await admin.close().catch(() => {});
    }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  // The broker runs with the node flags `npm start` and the Dockerfile use (a larger young
  // generation: fewer scavenges, a shorter latency tail), plus WARREN_BENCH_BROKER_ARGS (e.g. "--trace-gc").
  const execArgv = [
    '--max-semi-space-size=64',
    ...(process.env.WARREN_BENCH_BROKER_ARGS ?? '').split(' ').filter(Boolean),
    ...(opts.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`, `--cpu-prof-name=warren-${scenario.alias}.cpuprofile`]),
  ];
  const { child: broker, hello } = await Child.start('warren broker', 'broker-child.mjs', [dataDir, scenario.sync], { execArgv });
  const url = `warren://guest:guest@127.0.0.1:${String(hello.port)}`;
  let admin: Driver | undefined;
  try {
    admin = await openDriver('warren', url);
    return await fn({
      system,
      url,
      admin,
      pid: broker.pid,
      notes: [],
      stats: async () => {
        const s = await broker.request({ type: 'stats' }, 10_000);
        return { cpuSeconds: s.cpuSeconds as number, rssBytes: s.rssBytes as number };
      },
    });
  } finally {
    await admin?.close().catch(() => {});
    await broker.stop(30_000);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Runs fn against the relay of relay-child.mjs (the latency floor; no broker). */
async function withRelay<T>(fn: (ctx: SystemContext) => Promise<T>): Promise<T> {
  const { child, hello } = await Child.start('relay', 'relay-child.mjs', []);
  const url = `relay://127.0.0.1:${String(hello.port)}`;
  try {
    const admin = await openDriver('relay', url);
    try {
      return await fn({ system: 'relay', url, admin, pid: child.pid, notes: [], stats: async () => undefined });
    } finally {
      await admin.close().catch(() => {});
    }
  } finally {
    await child.stop();
  }
}

/** Deletes leftovers of an earlier (failed) run: RabbitMQ keeps state between runs, Warren starts empty. */
async function resetTopology(ctx: SystemContext, queues: string[], exchanges: string[]): Promise<void> {
  if (ctx.system !== 'rabbitmq') return;
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
  count: number;
  /** Runs alongside the measured phase (not the warm-up); the phase ends when both are done. */
  during?: () => Promise<void>;
}

interface FlowResult {
  producer: PhaseReport;
  consumer: PhaseReport;
  delivered: number;
  /** Seconds from the producer's first publish to the consumer's last delivery. */
  seconds: number;
  brokerCpuSeconds: number;
  brokerRssBytes: number;
}

async function flow(ctx: SystemContext, spec: FlowSpec, opts: RunOptions): Promise<FlowResult> {
  const base = { system: ctx.system, url: ctx.url };
  const children: Child[] = [];
  try {
    const consumer = (await Child.start(`${ctx.system} consumer`, 'worker.ts', [JSON.stringify({ role: 'consumer', ...base, ...spec.consumer })])).child;
    children.push(consumer);
    const producer = (await Child.start(`${ctx.system} producer`, 'worker.ts', [JSON.stringify({ role: 'producer', ...base, ...spec.producer })])).child;
    children.push(producer);
    const phase = async (count: number, during?: () => Promise<void>): Promise<[PhaseReport, PhaseReport]> => {
      const timeout = 120_000 + count * 2;
      const c = consumer.request({ type: 'phase', count: spec.expected(count) }, timeout);
      const p = producer.request({ type: 'phase', count }, timeout);
      const [pr, cr] = await Promise.all([p, c, during?.()]);
      return [pr as unknown as PhaseReport, cr as unknown as PhaseReport];
    };
    if (spec.warmup > 0) await phase(spec.warmup);
    await sleep(200);
    const before = await ctx.stats();
    const [pr, cr] = await phase(spec.count, spec.during);
    const after = await ctx.stats();
    const seconds = (cr.lastAt! - pr.startAt) / 1000;
    opts.log(`    ${ctx.system}: ${spec.count} published, ${cr.count} delivered in ${seconds.toFixed(2)} s`);
    return {
      producer: pr,
      consumer: cr,
      delivered: cr.count,
      seconds,
      brokerCpuSeconds: before && after ? after.cpuSeconds - before.cpuSeconds : NaN,
      brokerRssBytes: after?.rssBytes ?? NaN,
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
  };
}

const warm = (count: number) => Math.max(200, Math.round(count / 10));

/** Scenarios 1, 2, 4 and 5: one queue, one producer, one consumer. */
async function singleQueue(
  ctx: SystemContext,
  name: string,
  count: number,
  opts: RunOptions,
  o: { durable: boolean; bodySize: number; rate?: number; latency?: boolean; warmupSeconds?: number; during?: () => Promise<void> },
): Promise<FlowResult> {
  const queue = `${PREFIX}.${name}`;
  await resetTopology(ctx, [queue], []);
  await ctx.admin.declareQueue(queue, o.durable);
  await ctx.admin.purgeQueue(queue);
  try {
    return await flow(
      ctx,
      {
        producer: {
          exchange: '',
          routingKey: queue,
          bodySize: o.bodySize,
          persistent: o.durable,
          confirm: o.durable,
          window: WINDOW,
          rate: o.rate ?? 0,
          timestamp: o.latency === true,
          noDelay: o.latency === true,
        },
        consumer: { queues: [queue], connections: 1, prefetch: PREFETCH, latency: o.latency === true, noDelay: o.latency === true },
        expected: (n) => n,
        warmup: o.rate !== undefined ? Math.round(o.rate * (o.warmupSeconds ?? 1)) : warm(count),
        count,
        ...(o.during ? { during: o.during } : {}),
      },
      opts,
    );
  } finally {
    await dropTopology(ctx, [queue], []);
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

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

const delivered = (target?: number): Metric => ({ key: 'deliveredPerSec', label: 'delivered', unit: 'msg/s', better: 'higher', headline: true, ...(target ? { target } : {}) });
const cpu100k: Metric = { key: 'brokerCpuSecPer100k', label: 'broker CPU per 100k msgs', unit: 's', better: 'lower', headline: true };
/** Broker CPU per 100k published messages where each is delivered several times (or is large): table only. */
const cpu100kOf = (what: string): Metric => ({ ...cpu100k, label: `broker CPU per 100k ${what}`, headline: false });

export const SCENARIOS: Scenario[] = [
  {
    id: '1',
    alias: 'transient',
    title: 'transient queue, 1 producer -> 1 consumer, 256 B, manual acks, prefetch 1000',
    metrics: [delivered(3), cpu100k, { key: 'publishedPerSec', label: 'published', unit: 'msg/s', better: 'higher', headline: false }],
    defaultCount: 200_000,
    quickCount: 20_000,
    sync: 'always',
    run: async (ctx, count, opts) => throughput(await singleQueue(ctx, 's1', count, opts, { durable: false, bodySize: BODY }), count),
  },
  {
    id: '2',
    alias: 'durable',
    title: 'durable queue, persistent 256 B, confirms (1000 in flight), fsync before confirm, manual acks',
    metrics: [delivered(2), cpu100k, { key: 'publishedPerSec', label: 'published', unit: 'msg/s', better: 'higher', headline: false }],
    defaultCount: 100_000,
    quickCount: 10_000,
    sync: 'always',
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
    defaultCount: 30_000,
    quickCount: 3_000,
    sync: 'always',
    run: async (ctx, count, opts) => {
      const exchange = `${PREFIX}.fanout`;
      const queues = Array.from({ length: 10 }, (_, i) => `${PREFIX}.s3.${i}`);
      await resetTopology(ctx, queues, [exchange]);
      await ctx.admin.declareExchange(exchange, 'fanout');
      for (const q of queues) {
        await ctx.admin.declareQueue(q, false);
        await ctx.admin.bindQueue(q, exchange, '');
      }
      try {
        const r = await flow(
          ctx,
          {
            producer: { exchange, routingKey: '', bodySize: BODY, persistent: false, confirm: false, window: WINDOW, rate: 0, timestamp: false },
            consumer: { queues, connections: 10, prefetch: PREFETCH, latency: false },
            expected: (n) => n * queues.length,
            warmup: warm(count),
            count,
          },
          opts,
        );
        return { ...throughput(r, count), publishedPerSec: count / r.seconds };
      } finally {
        await dropTopology(ctx, queues, [exchange]);
      }
    },
  },
  {
    id: '4',
    alias: 'latency',
    title: 'end-to-end latency at a fixed 5,000 msg/s (transient, 256 B, timestamp in the body)',
    metrics: [
      { key: 'p50', label: 'latency p50', unit: 'ms', better: 'lower', headline: true },
      { key: 'p99', label: 'latency p99', unit: 'ms', better: 'lower', target: 5, headline: true },
      { key: 'p999', label: 'latency p99.9', unit: 'ms', better: 'lower', headline: true },
    ],
    defaultCount: 50_000,
    quickCount: 5_000,
    sync: 'always',
    run: async (ctx, count, opts) => {
      // A long warm-up: the tail is what is measured, and the JIT compiler's first seconds are not steady state.
      const latency = { durable: false, bodySize: BODY, rate: 5000, latency: true, warmupSeconds: opts.quick ? 1 : 5 };
      const r = await singleQueue(ctx, 's4', count, opts, latency);
      const l = r.consumer.latencyMs!;
      const m: Measurements = { p50: l.p50, p99: l.p99, p999: l.p999, max: l.max, mean: l.mean, samples: l.samples, deliveredPerSec: r.delivered / r.seconds };
      if (ctx.system === 'warren') {
        // The floor, measured next to Warren: the same workers through a relay with no broker logic.
        const f = await withRelay((relay) => singleQueue(relay, 's4', count, opts, latency));
        const fl = f.consumer.latencyMs!;
        opts.log(`    relay floor: p50 ${fl.p50.toFixed(3)} ms, p99 ${fl.p99.toFixed(3)} ms, p99.9 ${fl.p999.toFixed(3)} ms`);
        Object.assign(m, { floorP50: fl.p50, floorP99: fl.p99, floorP999: fl.p999 });
      }
      return m;
    },
  },
  {
    id: '5',
    alias: 'large',
    title: '64 KB bodies, 1 producer -> 1 consumer, transient, manual acks, prefetch 1000',
    metrics: [{ key: 'mbPerSec', label: 'throughput', unit: 'MB/s', better: 'higher', target: 1.5, headline: true }, cpu100kOf('64 KB msgs')],
    // 1.3 GB: long enough that neither side's warm-up decides the number.
    defaultCount: 20_000,
    quickCount: 2_000,
    sync: 'always',
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
    defaultCount: 50_000,
    quickCount: 5_000,
    sync: 'always',
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
    title: 'broker RSS: 1,000 idle connections; 1,000,000 queued transient 256 B messages; 10,000,000 queued 16 B ones',
    metrics: [
      { key: 'idleRssMB', label: 'RSS with 1,000 idle connections', unit: 'MB', better: 'lower', headline: true },
      { key: 'idleKBPerConn', label: 'RSS growth per idle connection', unit: 'KB', better: 'lower', headline: true },
      { key: 'queuedRssMB', label: 'RSS with 1M queued 256 B msgs', unit: 'MB', better: 'lower', headline: true },
      { key: 'queuedGrowthMB', label: 'RSS growth for 1M queued msgs', unit: 'MB', better: 'lower', headline: true },
      { key: 'fillPerSec', label: 'publishing the 1M (no consumer)', unit: 'msg/s', better: 'higher', headline: false },
      { key: 'queued16RssMB', label: 'RSS with 10M queued 16 B msgs', unit: 'MB', better: 'lower', headline: true },
    ],
    defaultCount: 1_000_000,
    quickCount: 100_000,
    sync: 'always',
    extra: { heading: 'Resources', note: 'RSS of the broker process (RabbitMQ: the whole beam.smp VM).' },
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
      // Queued messages.
      const queue = `${PREFIX}.resources`;
      await resetTopology(ctx, [queue], []);
      await ctx.admin.declareQueue(queue, false);
      await sleep(500);
      const before = await ctx.stats();
      const producer = (
        await Child.start(`${ctx.system} producer`, 'worker.ts', [
          JSON.stringify({ role: 'producer', system: ctx.system, url: ctx.url, exchange: '', routingKey: queue, bodySize: BODY, persistent: false, confirm: false, window: WINDOW, rate: 0, timestamp: false }),
        ])
      ).child;
      try {
        const r = (await producer.request({ type: 'phase', count }, 600_000)) as unknown as PhaseReport;
        m.fillPerSec = count / ((r.endAt - r.startAt) / 1000);
      } finally {
        await producer.stop();
      }
      await sleep(2000);
      const after = await ctx.stats();
      if (before && after) {
        m.queuedRssMB = after.rssBytes / 1e6;
        m.queuedGrowthMB = (after.rssBytes - before.rssBytes) / 1e6;
      }
      opts.log(`    ${ctx.system}: ${count} queued: RSS ${m.queuedRssMB?.toFixed(0)} MB`);
      await dropTopology(ctx, [queue], []);
      // Ten times as many 16 B messages: what the per-message overhead (not the bodies) costs.
      const small = count * 10;
      await ctx.admin.declareQueue(queue, false);
      const smallProducer = (
        await Child.start(`${ctx.system} producer`, 'worker.ts', [
          JSON.stringify({ role: 'producer', system: ctx.system, url: ctx.url, exchange: '', routingKey: queue, bodySize: 16, persistent: false, confirm: false, window: WINDOW, rate: 0, timestamp: false }),
        ])
      ).child;
      try {
        await smallProducer.request({ type: 'phase', count: small }, 3_600_000);
      } finally {
        await smallProducer.stop();
      }
      await sleep(2000);
      const smallAfter = await ctx.stats();
      if (smallAfter) m.queued16RssMB = smallAfter.rssBytes / 1e6;
      opts.log(`    ${ctx.system}: ${small} queued 16 B: RSS ${m.queued16RssMB?.toFixed(0)} MB`);
      await dropTopology(ctx, [queue], []);
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
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === name || s.alias === name);
}
