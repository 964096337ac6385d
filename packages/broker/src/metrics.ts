/**
 * Prometheus metrics (GET /metrics): everything is collected at scrape time
 * from what the broker already keeps (queue depths, the plain counters,
 * storage histograms, memory and disk), so a scrape costs the scraper's
 * request and nothing on the publish path. prom-client provides the
 * registry, the text exposition format and the process metrics; per-queue
 * families are emitted as custom collectors that build their values straight
 * from the queues (10,000 queues: no label hashing per series), and so are the
 * per-stream ones (from each stream's log and offset store).
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { StreamInfo } from '@warren/protocol';
import { BATCH_BUCKETS, BucketHistogram, FSYNC_BUCKETS } from './storage/index.js';
import type { MemoryBudget } from './memory.js';
import type { Queue } from './queue.js';
import type { VirtualHost } from './vhost.js';

/** What the metrics read from the broker. */
export interface MetricsSource {
  readonly vhosts: Iterable<VirtualHost>;
  readonly memory: MemoryBudget;
  /** Publisher flow control (flow-control.ts); absent: not reported. */
  readonly flow?: { readonly heldCount: number; readonly holdsTotal: number };
  /** The broker's STATUS report: connections, memory, disk (management.ts statusReport). */
  status(): Record<string, unknown>;
}

type MetricType = 'gauge' | 'counter' | 'histogram';
interface Value {
  labels?: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A metric whose values are computed by `values()` at each scrape (prom-client's registry duck-types them). */
function custom(registry: Registry, name: string, help: string, type: MetricType, values: () => Value[]): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => undefined,
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}

/** Prometheus histogram lines (cumulative buckets, +Inf, sum, count) of a BucketHistogram. */
function histogramValues(name: string, h: BucketHistogram): Value[] {
  const out: Value[] = [];
  let cumulative = 0;
  h.bounds.forEach((le, i) => {
    cumulative += h.counts[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { le }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, value: h.sum });
  out.push({ metricName: `${name}_count`, value: h.count });
  return out;
}

/** The storage histograms summed over every vhost's message store. */
export function storageHistograms(vhosts: Iterable<VirtualHost>): { syncSeconds: BucketHistogram; batchRecords: BucketHistogram } {
  const syncSeconds = new BucketHistogram(FSYNC_BUCKETS);
  const batchRecords = new BucketHistogram(BATCH_BUCKETS);
  for (const v of vhosts) {
    if (v.store === null) continue;
    v.store.syncSeconds.addTo(syncSeconds);
    v.store.batchRecords.addTo(batchRecords);
  }
  return { syncSeconds, batchRecords };
}

/** The overview's storage figures: fsync latency quantiles (ms) and mean records per group-commit batch. */
export function storageSummary(vhosts: Iterable<VirtualHost>): { fsyncP50Ms: number | null; fsyncP99Ms: number | null; groupCommitBatch: number | null } {
  const { syncSeconds, batchRecords } = storageHistograms(vhosts);
  const ms = (s: number | null) => (s === null ? null : Math.round(s * 1e6) / 1e3);
  return {
    fsyncP50Ms: ms(syncSeconds.quantile(0.5)),
    fsyncP99Ms: ms(syncSeconds.quantile(0.99)),
    groupCommitBatch: batchRecords.count === 0 ? null : Math.round((batchRecords.sum / batchRecords.count) * 10) / 10,
  };
}

const QUEUE_GAUGES: Array<[string, string, (q: Queue) => number]> = [
  ['warren_queue_messages_ready', 'Ready messages (paged-out ones included)', (q) => q.messageCount],
  ['warren_queue_messages_unacked', 'Delivered, not yet acknowledged', (q) => q.unackedCount],
  ['warren_queue_messages_delayed', 'Delayed messages (x-delay) not yet ready', (q) => q.delayedCount],
  ['warren_queue_consumers', 'Consumers', (q) => q.consumerCount],
  ['warren_queue_messages_bytes', 'Body bytes of the ready messages', (q) => q.readyBytes],
];
const QUEUE_COUNTERS: Array<[string, string, (q: Queue) => number]> = [
  ['warren_queue_messages_published_total', 'Messages that entered the queue', (q) => q.counters.published],
  ['warren_queue_messages_delivered_total', 'Deliveries (consume and get), redeliveries included', (q) => q.counters.delivered],
  ['warren_queue_messages_redelivered_total', 'Redeliveries', (q) => q.counters.redelivered],
  ['warren_queue_messages_acked_total', 'Acknowledgements', (q) => q.counters.acked],
];

const STREAM_GAUGES: Array<[string, string, (s: StreamInfo) => number]> = [
  ['warren_stream_messages', 'Messages the stream keeps (first to last offset)', (s) => s.messages],
  ['warren_stream_bytes', 'Bytes of the stream\'s segment files', (s) => s.bytes],
  ['warren_stream_segments', 'Segment files of the stream', (s) => s.segments],
  ['warren_stream_first_offset', 'First offset still kept', (s) => s.first],
  ['warren_stream_last_offset', 'Offset of the last stored message (first offset - 1 when none is kept)', (s) => s.next - 1],
  ['warren_stream_subscribers', 'Subscriptions reading the stream', (s) => s.subscribers],
];
type StreamConsumer = StreamInfo['consumers'][number] & { committed: number };
const STREAM_CONSUMER_GAUGES: Array<[string, string, (c: StreamConsumer) => number]> = [
  ['warren_stream_consumer_offset', 'Last offset a named consumer committed (stored offset)', (c) => c.committed],
  ['warren_stream_consumer_lag', 'Messages after a named consumer\'s stored offset (last offset - stored offset)', (c) => c.lag],
];

/** A label value in the exposition format: backslash, double quote and newline escaped. */
function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** One family in the exposition format: HELP, TYPE, then a line per (item, its escaped label set). */
function family<T>(name: string, help: string, type: MetricType, items: Array<[T, string]>, read: (item: T) => number): string {
  const lines: string[] = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [item, labels] of items) lines.push(`${name}{${labels}} ${read(item)}`);
  return `\n${lines.join('\n')}\n`;
}

/** f's result, computed at most once per scrape (values computed within 100 ms are shared). */
function memo<T>(f: () => T): () => T {
  let at = -Infinity;
  let value: T;
  return () => {
    const now = performance.now();
    if (now - at > 100) {
      value = f();
      at = now;
    }
    return value;
  };
}

export class BrokerMetrics {
  readonly registry = new Registry();

  constructor(private readonly source: MetricsSource) {
    const r = this.registry;
    // prom-client counts process CPU from this call (the registry is made at the first scrape):
    // add what the process used before it, so the counters run from process start.
    const before = process.cpuUsage();
    collectDefaultMetrics({ register: r });
    for (const [name, micros] of [
      ['process_cpu_user_seconds_total', before.user],
      ['process_cpu_system_seconds_total', before.system],
      ['process_cpu_seconds_total', before.user + before.system],
    ] as const) {
      (r.getSingleMetric(name) as { inc(v: number): void } | undefined)?.inc(micros / 1e6);
    }
    const perVhost = (read: (v: VirtualHost) => number) => (): Value[] => [...source.vhosts].map((v) => ({ labels: { vhost: v.name }, value: read(v) }));
    custom(r, 'warren_messages_published_total', 'Publishes received', 'counter', perVhost((v) => v.counters.published));
    custom(r, 'warren_messages_returned_total', 'Unroutable mandatory publishes returned', 'counter', perVhost((v) => v.counters.returned));
    custom(r, 'warren_messages_dead_lettered_total', 'Messages republished to a dead-letter exchange', 'counter', perVhost((v) => v.counters.deadLettered));
    custom(r, 'warren_messages_undeliverable_total', 'Messages dropped because their delivery could not be encoded (headers nested too deeply)', 'counter', perVhost((v) => v.counters.undeliverable));
    custom(r, 'warren_queues', 'Queues (streams included)', 'gauge', perVhost((v) => v.queues.size));
    // One status() per scrape feeds the broker-wide gauges.
    const status = memo(() => source.status());
    const fromStatus = (read: (s: Record<string, unknown>) => unknown) => (): Value[] => {
      const v = read(status());
      return typeof v === 'number' ? [{ value: v }] : [];
    };
    custom(r, 'warren_connections', 'Open client connections', 'gauge', fromStatus((s) => s['connections']));
    const mem = (s: Record<string, unknown>) => s['memory'] as Record<string, unknown>;
    const disk = (s: Record<string, unknown>) => s['disk'] as Record<string, unknown>;
    custom(r, 'warren_memory_rss_bytes', 'Resident set size', 'gauge', fromStatus((s) => mem(s)['rss']));
    custom(r, 'warren_memory_body_bytes', 'Message bodies held in RAM', 'gauge', fromStatus((s) => mem(s)['bodyBytes']));
    custom(r, 'warren_memory_budget_bytes', 'Memory budget for message bodies', 'gauge', fromStatus((s) => mem(s)['budget']));
    custom(r, 'warren_memory_alarm', '1 while the memory alarm blocks publishers', 'gauge', () => [{ value: source.memory.memoryAlarm ? 1 : 0 }]);
    custom(r, 'warren_disk_free_bytes', 'Free bytes under the data folder', 'gauge', fromStatus((s) => disk(s)['freeBytes']));
    custom(r, 'warren_disk_used_bytes', 'Bytes of message store segments', 'gauge', fromStatus((s) => disk(s)['usedBytes']));
    custom(r, 'warren_disk_alarm', '1 while the disk alarm blocks publishers', 'gauge', () => [{ value: source.memory.diskAlarm ? 1 : 0 }]);
    const flow = source.flow;
    if (flow !== undefined) {
      custom(r, 'warren_flow_held_publishers', 'Publishers not read right now by flow control (saturated broker, growing queue)', 'gauge', () => [{ value: flow.heldCount }]);
      custom(r, 'warren_flow_holds_total', 'Times flow control held a publisher', 'counter', () => [{ value: flow.holdsTotal }]);
    }
    const storage = memo(() => storageHistograms(source.vhosts));
    custom(r, 'warren_fsync_duration_seconds', 'fdatasync (or O_DSYNC write) latency of the message stores', 'histogram', () =>
      histogramValues('warren_fsync_duration_seconds', storage().syncSeconds),
    );
    custom(r, 'warren_group_commit_batch_size', 'Records per group-commit batch of the message stores', 'histogram', () =>
      histogramValues('warren_group_commit_batch_size', storage().batchRecords),
    );
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, collected now: the registry's families, then the per-queue and per-stream ones. */
  async text(): Promise<string> {
    return (await this.registry.metrics()) + this.queueFamilies() + this.streamFamilies();
  }

  /**
   * The per-queue families, rendered here rather than by the registry: with
   * 10,000 queues they are 90,000 lines, and each queue's escaped label set
   * is built once and kept (prom-client would format the labels of every
   * line at every scrape).
   */
  private queueFamilies(): string {
    const queues: Array<[Queue, string]> = [];
    for (const v of this.source.vhosts) {
      for (const q of v.queues.values()) if (!q.isStream) queues.push([q, this.labelsOf(v, q)]);
    }
    let out = '';
    for (const [name, help, read] of QUEUE_GAUGES) out += family(name, help, 'gauge', queues, read);
    for (const [name, help, read] of QUEUE_COUNTERS) out += family(name, help, 'counter', queues, read);
    return out;
  }

  /**
   * The per-stream families (labels vhost, stream) and, for each named consumer
   * with a stored offset, its offset and lag (labels vhost, stream, consumer).
   * Read from each open stream's log and offset store, as STREAM_INFO does.
   */
  private streamFamilies(): string {
    const streams: Array<[StreamInfo, string]> = [];
    for (const v of this.source.vhosts) {
      const open = v.streams;
      if (open === null) continue;
      for (const q of v.queues.values()) {
        if (q.isStream && open.log(q.name) !== undefined) streams.push([open.infoOf(q.name), this.labelsOf(v, q)]);
      }
    }
    let out = '';
    for (const [name, help, read] of STREAM_GAUGES) out += family(name, help, 'gauge', streams, read);
    const consumers: Array<[StreamConsumer, string]> = [];
    for (const [s, labels] of streams) {
      for (const c of s.consumers) {
        if (c.committed !== null) consumers.push([c as StreamConsumer, `${labels},consumer="${escapeLabel(c.name)}"`]);
      }
    }
    for (const [name, help, read] of STREAM_CONSUMER_GAUGES) out += family(name, help, 'gauge', consumers, read);
    return out;
  }

  private readonly labels = new WeakMap<Queue, string>();

  private labelsOf(v: VirtualHost, q: Queue): string {
    let l = this.labels.get(q);
    if (l === undefined) {
      l = `vhost="${escapeLabel(v.name)}",${q.isStream ? 'stream' : 'queue'}="${escapeLabel(q.name)}"`;
      this.labels.set(q, l);
    }
    return l;
  }
}
