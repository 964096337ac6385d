/** /metrics content: per-queue gauges and counters, storage histograms, broker gauges, parsed from the exposition text. */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import { client, closeAllClients } from './durability/harness.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { BrokerMetrics, storageSummary } from '../src/metrics.js';

const dirs: string[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const b of brokers.splice(0)) await b.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

/** name{labels} value lines -> map of "name{labels}" to value. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('metrics', () => {
  it('exposes queue depths, counters, fsync and batch histograms, connections and memory', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dir, logLevel: 'silent' });
    brokers.push(broker);
    const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
    await c.declareQueue('q1', { durable: true });
    await c.declareQueue('q"2', { durable: false });
    await Promise.all(Array.from({ length: 10 }, (_, i) => c.publish('', 'q1', `m${i}`, { persistent: true })));
    await c.publish('', 'q"2', 'x');
    const m = (await c.get('q1'))!;
    m.ack();
    await c.get('q1'); // unacked
    await c.publish('', 'nowhere', 'y', { mandatory: true }).catch(() => undefined);

    const atStart = process.cpuUsage(); // this process's CPU so far: the broker's metrics must include it
    const metrics = new BrokerMetrics(broker);
    const text = await metrics.text();
    expect(metrics.contentType).toMatch(/^text\/plain/);
    const v = parseExposition(text);
    expect(v.get('warren_queue_messages_ready{vhost="/",queue="q1"}')).toBe(8);
    expect(v.get('warren_queue_messages_unacked{vhost="/",queue="q1"}')).toBe(1);
    expect(v.get('warren_queue_messages_ready{vhost="/",queue="q\\"2"}')).toBe(1);
    expect(v.get('warren_queue_messages_published_total{vhost="/",queue="q1"}')).toBe(10);
    expect(v.get('warren_queue_messages_delivered_total{vhost="/",queue="q1"}')).toBe(2);
    expect(v.get('warren_queue_messages_acked_total{vhost="/",queue="q1"}')).toBe(1);
    expect(v.get('warren_queue_messages_bytes{vhost="/",queue="q1"}')).toBe(16);
    expect(v.get('warren_messages_published_total{vhost="/"}')).toBe(12);
    expect(v.get('warren_messages_returned_total{vhost="/"}')).toBe(1);
    expect(v.get('warren_connections')).toBe(1);
    expect(v.get('warren_memory_alarm')).toBe(0);
    expect(v.get('warren_disk_free_bytes') ?? 0).toBeGreaterThanOrEqual(0);
    // Ten confirmed persistent publishes: at least one fsync and one batch, buckets cumulative.
    const syncs = v.get('warren_fsync_duration_seconds_count')!;
    expect(syncs).toBeGreaterThan(0);
    expect(v.get('warren_fsync_duration_seconds_bucket{le="+Inf"}')).toBe(syncs);
    expect(v.get('warren_group_commit_batch_size_sum')).toBeGreaterThanOrEqual(10);
    expect(text).toContain('# TYPE warren_fsync_duration_seconds histogram');
    expect(text).toContain('# TYPE warren_queue_messages_published_total counter');
    expect(v.has('process_cpu_user_seconds_total')).toBe(true);
    // Counted from process start, not from the registry's creation (the first scrape).
    const used = process.cpuUsage();
    expect(v.get('process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(atStart.user / 1e6);
    expect(v.get('process_cpu_system_seconds_total')).toBeGreaterThanOrEqual(atStart.system / 1e6);
    expect(v.get('process_cpu_seconds_total')).toBeGreaterThanOrEqual((atStart.user + atStart.system) / 1e6);
    expect(v.get('process_cpu_seconds_total')).toBeLessThanOrEqual((used.user + used.system) / 1e6 + 1e-6);
    const summary = storageSummary(broker.vhosts);
    expect(summary.fsyncP50Ms).toBeGreaterThan(0);
    expect(summary.groupCommitBatch).toBeGreaterThan(0);
  });
});
