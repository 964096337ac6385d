/**
 * A producer, consumer or idle-connections process of the end-to-end
 * benchmarks. Forked by run.ts: argv[2] is the JSON of a WorkerSpec. It
 * connects, sends { type: 'ready' }, then runs one phase per
 * { type: 'phase', count } message (count = messages to publish, or
 * deliveries to wait for) and answers each with { type: 'done', ... }.
 * A producer also sends { type: 'progress', published, blocked? } every
 * second of a phase (Child keeps the latest; see stall.ts).
 * The idle role opens its connections (50 at a time) before it is ready,
 * and says how long that took (connectMs).
 * { type: 'stop' } closes its connections and exits.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import amqp from 'amqplib';
import { connect as warrenConnect } from '@warren/client';
import { traceGc } from './gc-trace.mjs';
import { openDriver, type Driver, type SystemName } from './drivers.js';
import { percentile, sliceP99s, topicWorkload, wallMs, type TopicWorkload } from './common.js';

export type WorkerSpec =
  | {
      role: 'producer';
      system: SystemName;
      url: string;
      exchange: string;
      routingKey: string;
      /** Cycle through the routing keys of this topic workload instead of routingKey. */
      topic?: { queues: number; bindingsPerQueue: number };
      /** Cycle through the routing keys `${routingKey}0` .. `${routingKey}${spread - 1}` instead (many queues). */
      spread?: number;
      /** Publishing connections, used in turn (default 1). */
      connections?: number;
      bodySize: number;
      persistent: boolean;
      /** RabbitMQ: confirm channel. Warren always confirms. */
      confirm: boolean;
      /** Unconfirmed publishes in flight. */
      window: number;
      /** Messages per second, paced by a catching-up timer; 0 = as fast as possible. */
      rate: number;
      /** Write the publish time (float64 ms) into the first 8 bytes of each body. */
      timestamp: boolean;
      /** RabbitMQ: Nagle off (see DriverOptions.noDelay). */
      noDelay?: boolean;
    }
  | {
      role: 'consumer';
      system: SystemName;
      url: string;
      queues: string[];
      /** Consume `${queues[0]}0` .. `${queues[0]}${queueCount - 1}` instead (too many names for a command line). */
      queueCount?: number;
      /** Connections to spread the queues' consumers over (one consumer per queue). */
      connections: number;
      /** queue -> the exchange it is bound to, for the peers that need it (see Driver.consume). */
      from?: Record<string, string>;
      prefetch: number;
      /** Read the publish time from each body and report latency percentiles. */
      latency: boolean;
      /**
       * With latency: also report the p99 of each slice of this many ms, the slices cut by publish time
       * (ms since the epoch, so that two consumers' slices line up: --side-by-side).
       */
      sliceMs?: number;
      /** RabbitMQ: Nagle off (see DriverOptions.noDelay). */
      noDelay?: boolean;
    }
  | { role: 'idle'; system: SystemName; url: string; connections: number };

export interface PhaseReport {
  type: 'done';
  count: number;
  startAt: number;
  endAt: number;
  /** Consumer: time of the first and last delivery of the phase. */
  firstAt?: number;
  lastAt?: number;
  bytes?: number;
  latencyMs?: { p50: number; p99: number; p999: number; max: number; mean: number; samples: number };
  /** Consumer with sliceMs: per slice of publish time, its start (ms since the epoch), p99 (ms) and samples. */
  slices?: { at: number; p99: number; samples: number }[];
}


const spec = JSON.parse(process.argv[2]!) as WorkerSpec;
traceGc(`${spec.role}-${spec.system}`);
const send = (m: unknown): void => {
  process.send!(m);
};

process.on('uncaughtException', (err) => {
  send({ type: 'error', message: String(err?.stack ?? err) });
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  send({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});

let onPhase: (count: number) => Promise<PhaseReport> | void;
let closeAll: () => Promise<void>;
/** Extra fields of the ready message (idle: how long opening the connections took). */
const readyInfo: { connectMs?: number } = {};

if (spec.role === 'producer') {
  const s = spec;
  const ds: Driver[] = [];
  for (let i = 0; i < (s.connections ?? 1); i += 50) {
    const batch = Array.from({ length: Math.min(50, (s.connections ?? 1) - i) }, () => openDriver(s.system, s.url, { confirm: s.confirm, noDelay: s.noDelay === true }));
    ds.push(...(await Promise.all(batch)));
  }
  const d = ds[0]!;
  const workload: TopicWorkload | undefined = s.topic ? topicWorkload(s.topic.queues, s.topic.bindingsPerQueue) : undefined;
  const keys = workload?.keys ?? (s.spread ? Array.from({ length: s.spread }, (_, i) => `${s.routingKey}${i}`) : undefined);
  const shared = Buffer.alloc(s.bodySize, 0x61);
  const opts = { persistent: s.persistent };
  let inflight = 0;
  let published = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const settled = (): void => {
    inflight--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const failed = (err: unknown): void => {
    failure ??= err;
    settled();
  };
  const waitSettle = () => new Promise<void>((r) => (wake = r));

  const publishOne = (i: number): Promise<void> | undefined => {
    let body = shared;
    if (s.timestamp) {
      body = Buffer.alloc(s.bodySize);
      body.writeDoubleLE(wallMs(), 0);
    }
    published++;
    const p = (ds.length === 1 ? d : ds[i % ds.length]!).publish(s.exchange, keys === undefined ? s.routingKey : keys[i % keys.length]!, body, opts);
    if (d.confirms) {
      inflight++;
      p!.then(settled, failed);
      return undefined;
    }
    return p;
  };

  const fast = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      if (failure !== undefined) throw failure;
      const p = publishOne(i);
      if (p !== undefined) await p;
      while (inflight >= s.window) await waitSettle();
    }
  };

  const paced = (count: number): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let sent = 0;
      const timer = setInterval(() => {
        const due = Math.min(count, Math.floor(((performance.now() - t0) * s.rate) / 1000));
        // Catch up on every message due so far: a late timer does not lower the rate.
        while (sent < due) void publishOne(sent++);
        if (sent >= count) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });

  onPhase = async (count) => {
    const startAt = wallMs();
    let progress = -1;
    const watchdog = setInterval(() => {
      if (published === progress) console.error(`[${s.system} producer] stalled: ${published} of ${count} published, ${inflight} unconfirmed`);
      progress = published;
    }, 10_000);
    // The runner watches this (stall.ts): a broker that blocks us or stops reading ends the phase there.
    const report = setInterval(() => {
      const blocked = ds.find((x) => x.blocked !== undefined)?.blocked;
      send({ type: 'progress', published, ...(blocked !== undefined ? { blocked } : {}) });
    }, 1000);
    published = 0;
    try {
      await (s.rate > 0 ? paced(count) : fast(count));
      while (inflight > 0) await waitSettle();
    } finally {
      clearInterval(watchdog);
      clearInterval(report);
    }
    if (failure !== undefined) throw failure;
    return { type: 'done', count, startAt, endAt: wallMs() };
  };
  closeAll = async () => {
    await Promise.all(ds.map((x) => x.close()));
  };
} else if (spec.role === 'consumer') {
  const s = spec;
  if (s.queueCount !== undefined) s.queues = Array.from({ length: s.queueCount }, (_, i) => `${s.queues[0]}${i}`);
  const drivers: Driver[] = [];
  for (let i = 0; i < Math.max(1, Math.min(s.connections, s.queues.length)); i++) drivers.push(await openDriver(s.system, s.url, { noDelay: s.noDelay === true }));
  let received = 0;
  let target = 0;
  let bytes = 0;
  let firstAt = 0;
  let lastAt = 0;
  let phaseStart = 0;
  let latencies: Float64Array | undefined;
  /** Publish times of the samples, kept only when WARREN_BENCH_DUMP names a folder for the raw samples. */
  let sentTimes: Float64Array | undefined;
  let nLat = 0;
  const dumpDir = process.env.WARREN_BENCH_DUMP;
  let finish: (() => void) | undefined;
  const handler = (m: { body: Buffer; ack(): void }): void => {
    const now = wallMs();
    if (latencies !== undefined && nLat < latencies.length) {
      const sentAt = m.body.readDoubleLE(0);
      if (sentTimes !== undefined) sentTimes[nLat] = sentAt;
      latencies[nLat++] = now - sentAt;
    }
    m.ack();
    if (received === phaseStart) firstAt = now;
    received++;
    bytes += m.body.length;
    lastAt = now;
    if (received >= target && finish !== undefined) {
      const f = finish;
      finish = undefined;
      f();
    }
  };
  // Each connection subscribes to its share of the queues in turn, the connections side by side.
  await Promise.all(
    drivers.map(async (d, i) => {
      for (let q = i; q < s.queues.length; q += drivers.length) await d.consume(s.queues[q]!, s.prefetch, handler, s.from?.[s.queues[q]!]);
    }),
  );
  /** NATS core delivers at most once: a subscriber that falls behind loses messages, so a quiet spell ends the phase. */
  const atMostOnce = s.system === 'nats';

  onPhase = async (count) => {
    const startAt = wallMs();
    phaseStart = received;
    bytes = 0;
    // At most once: what the last phase lost is not coming.
    target = atMostOnce ? received + count : target + count;
    latencies = s.latency ? new Float64Array(count) : undefined;
    sentTimes = s.latency && (dumpDir !== undefined || s.sliceMs !== undefined) ? new Float64Array(count) : undefined;
    nLat = 0;
    if (received < target) {
      // Say so when deliveries stop arriving: a hang then shows where it is.
      let seen = received;
      const watchdog = setInterval(
        () => {
          if (received === seen && atMostOnce && received > phaseStart && finish !== undefined) {
            const f = finish;
            finish = undefined;
            f();
          } else if (received === seen) console.error(`[${s.system} consumer] stalled: ${received - phaseStart} of ${count} deliveries after ${((wallMs() - startAt) / 1000).toFixed(0)} s`);
          seen = received;
        },
        atMostOnce ? 3000 : 10_000,
      );
      await new Promise<void>((r) => (finish = r));
      clearInterval(watchdog);
    }
    const report: PhaseReport = { type: 'done', count: received - phaseStart, startAt, endAt: wallMs(), firstAt, lastAt, bytes };
    if (latencies !== undefined && sentTimes !== undefined && s.sliceMs !== undefined) report.slices = sliceP99s(sentTimes, latencies, nLat, s.sliceMs);
    if (latencies !== undefined && sentTimes !== undefined && dumpDir !== undefined) {
      // Raw samples for offline analysis: CSV of publish time (ms since epoch) and latency (ms).
      const lines = ['sentAtMs,latencyMs'];
      for (let i = 0; i < nLat; i++) lines.push(`${sentTimes[i]!.toFixed(3)},${latencies[i]!.toFixed(4)}`);
      writeFileSync(join(dumpDir!, `latency-${s.system}-${process.pid}-${phaseStart}.csv`), lines.join('\n') + '\n');
    }
    if (latencies !== undefined) {
      const sorted = latencies.subarray(0, nLat).sort();
      let sum = 0;
      for (const v of sorted) sum += v;
      report.latencyMs = {
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        p999: percentile(sorted, 99.9),
        max: sorted[sorted.length - 1] ?? NaN,
        mean: sum / sorted.length,
        samples: sorted.length,
      };
    }
    return report;
  };
  closeAll = async () => {
    await Promise.all(drivers.map((d) => d.close()));
  };
} else {
  // Idle connections: no channels, no consumers, just the connection (heartbeats off on Warren's side).
  const s = spec;
  const closers: (() => Promise<void>)[] = [];
  const t0 = performance.now();
  for (let i = 0; i < s.connections; i += 50) {
    const batch = Array.from({ length: Math.min(50, s.connections - i) }, async () => {
      if (s.system === 'warren') {
        const c = await warrenConnect({ url: s.url, heartbeatMs: 0 });
        closers.push(() => c.close());
      } else {
        const c = await amqp.connect(s.url, { timeout: 10_000 });
        c.on('error', () => {});
        closers.push(() => c.close());
      }
    });
    await Promise.all(batch);
  }
  readyInfo.connectMs = performance.now() - t0;
  onPhase = () => {};
  closeAll = async () => {
    await Promise.all(closers.map((c) => c().catch(() => {})));
  };
}

/**
 * WARREN_BENCH_WORKER_PROFILE=<file>: each phase runs under the V8 CPU profiler (node:inspector) and
 * its profile is written to <file> when the phase ends, so the file holds the last (measured) phase
 * only: no start-up, module loading or warm-up in it (see --profile-workers in run.ts).
 */
const profileFile = process.env.WARREN_BENCH_WORKER_PROFILE;
const profiler = profileFile === undefined ? undefined : new Session();
const post = (method: string): Promise<unknown> =>
  new Promise((resolve, reject) => profiler!.post(method, (err, result) => (err ? reject(err) : resolve(result))));
if (profiler !== undefined) {
  profiler.connect();
  await post('Profiler.enable');
}
const profiled = async (phase: () => Promise<PhaseReport> | void): Promise<PhaseReport | void> => {
  if (profiler === undefined) return phase();
  await post('Profiler.start');
  try {
    return await phase();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(profileFile!, JSON.stringify(profile));
  }
};

process.on('message', (m: { type: string; count?: number }) => {
  if (m.type === 'phase') {
    void profiled(() => onPhase(m.count!)).then(
      (report) => send(report ?? { type: 'done', count: 0, startAt: 0, endAt: 0 }),
      (err: unknown) => {
        send({ type: 'error', message: String((err as Error)?.stack ?? err) });
        process.exit(1);
      },
    );
  } else if (m.type === 'stop') {
    void closeAll()
      .catch(() => {})
      .finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', ...readyInfo });
