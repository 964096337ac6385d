/** /metrics content: per-queue gauges and counters, storage histograms, broker gauges, parsed from the exposition text. */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import { client, closeAllClients } from './durability/harness.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { BrokerMetrics, storageSummary } from '../src/metrics.js';
import { ADMIN, startHttpBroker, type HttpTestBroker } from '../../../test-support/http-api.js';

const dirs: string[] = [];
const brokers: Broker[] = [];
const httpBrokers: HttpTestBroker[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const b of brokers.splice(0)) await b.close();
  for (const b of httpBrokers.splice(0)) await b.stop();
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

describe('metrics: streams', () => {
  it('GET /metrics has per-stream size, offsets and subscribers, and each named consumer\'s stored offset and lag', async () => {
    const tb = await startHttpBroker();
    httpBrokers.push(tb);
    const c = await client(`warren://${ADMIN.username}:${ADMIN.password}@127.0.0.1:${tb.port}`);
    await c.declareQueue('q', { durable: true });
    await c.declareStream('events', { segmentBytes: 4096 });
    await c.declareStream('empty');
    const body = 'x'.repeat(200);
    for (let i = 0; i < 30; i++) await c.publish('', 'events', body);
    await c.commitStreamOffset('events', 'billing', 9); // processed 0..9: 20 behind
    await c.commitStreamOffset('events', 'a"b', 29); // caught up
    const reader = await c.consumeStream('events', { offset: 'first' }); // an anonymous subscriber
    const info = await c.streamInfo('events');
    expect(info.segments).toBeGreaterThan(1);

    const res = await tb.get('/metrics');
    expect(res.status).toBe(200);
    const v = parseExposition(res.text);
    const events = 'vhost="/",stream="events"';
    expect(v.get(`warren_stream_messages{${events}}`)).toBe(30);
    expect(v.get(`warren_stream_bytes{${events}}`)).toBe(info.bytes);
    expect(info.bytes).toBeGreaterThan(30 * 200);
    expect(v.get(`warren_stream_segments{${events}}`)).toBe(info.segments);
    expect(v.get(`warren_stream_first_offset{${events}}`)).toBe(0);
    expect(v.get(`warren_stream_last_offset{${events}}`)).toBe(29);
    expect(v.get(`warren_stream_subscribers{${events}}`)).toBe(1);
    expect(v.get(`warren_stream_consumer_offset{${events},consumer="billing"}`)).toBe(9);
    expect(v.get(`warren_stream_consumer_lag{${events},consumer="billing"}`)).toBe(20);
    expect(v.get(`warren_stream_consumer_offset{${events},consumer="a\\"b"}`)).toBe(29);
    expect(v.get(`warren_stream_consumer_lag{${events},consumer="a\\"b"}`)).toBe(0);
    // An empty stream: nothing kept, last offset one before the first.
    const empty = 'vhost="/",stream="empty"';
    expect(v.get(`warren_stream_messages{${empty}}`)).toBe(0);
    expect(v.get(`warren_stream_first_offset{${empty}}`)).toBe(0);
    expect(v.get(`warren_stream_last_offset{${empty}}`)).toBe(-1);
    expect(v.get(`warren_stream_subscribers{${empty}}`)).toBe(0);
    expect([...v.keys()].filter((k) => k.includes('stream="empty"') && k.startsWith('warren_stream_consumer'))).toEqual([]);
    // Streams stay out of the queue families, and queues out of the stream ones.
    expect(v.get('warren_queue_messages_ready{vhost="/",queue="q"}')).toBe(0);
    expect([...v.keys()].filter((k) => k.startsWith('warren_queue_') && k.includes('events'))).toEqual([]);
    expect([...v.keys()].filter((k) => k.startsWith('warren_stream_') && k.includes('queue='))).toEqual([]);
    for (const name of ['messages', 'bytes', 'segments', 'first_offset', 'last_offset', 'subscribers', 'consumer_offset', 'consumer_lag']) {
      expect(res.text).toContain(`# TYPE warren_stream_${name} gauge`);
      expect(res.text).toMatch(new RegExp(`# HELP warren_stream_${name} \\S`));
    }

    // Values are read at scrape time: the billing consumer catches up, the subscriber leaves.
    await c.commitStreamOffset('events', 'billing', 29);
    await reader.cancel();
    const after = parseExposition((await tb.get('/metrics')).text);
    expect(after.get(`warren_stream_consumer_lag{${events},consumer="billing"}`)).toBe(0);
    expect(after.get(`warren_stream_subscribers{${events}}`)).toBe(0);
  });
});
