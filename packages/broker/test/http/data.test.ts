/**
 * The data half of the management HTTP API (issue 21): browse without side
 * effects, move/redrive, rates and /metrics, with their auth and errors.
 * (The SIGKILL-mid-move test is durability/move-crash.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Message } from '@warren/client';
import { startHttpBroker, ADMIN, type HttpTestBroker } from '../../../../test-support/http-api.js';
import { client, closeAllClients } from '../durability/harness.js';
import { until } from '../../../../test-support/wait.js';

let tb: HttpTestBroker | undefined;
afterEach(async () => {
  await closeAllClients();
  await tb?.stop();
  tb = undefined;
});

const MONITOR = { username: 'mon', password: 'mon-pw' };
const MANAGER = { username: 'mgr', password: 'mgr-pw' };
const NOTAG = { username: 'plain', password: 'plain-pw' };

async function setup(opts: { httpMetricsOpen?: boolean } = {}): Promise<{ tb: HttpTestBroker; c: Connection }> {
  tb = await startHttpBroker(opts);
  const access = tb.broker.access;
  await access.putUser(MONITOR.username, { password: MONITOR.password, tags: ['monitoring'] });
  await access.putUser(MANAGER.username, { password: MANAGER.password, tags: ['management'] });
  await access.putUser(NOTAG.username, { password: NOTAG.password, tags: [] });
  // The manager may read (browse/move out of) 'a' and write (move into) 'b' only.
  await access.setPermissions(MANAGER.username, '/', { configure: '', write: '^b$', read: '^a$' });
  const c = await client(`warren://${ADMIN.username}:${ADMIN.password}@127.0.0.1:${tb.port}`);
  await c.declareQueue('a', { durable: true });
  await c.declareQueue('b', { durable: true });
  return { tb, c };
}

async function consumeAll(c: Connection, queue: string, n: number): Promise<Array<[string, boolean]>> {
  const got: Array<[string, boolean]> = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const consumer = await c.consume(queue, (m: Message) => {
    got.push([m.body.toString(), m.redelivered]);
    m.ack();
    if (got.length === n) done();
  });
  await finished;
  await consumer.cancel();
  return got;
}

describe('HTTP API: browse', () => {
  it('returns messages with properties and payloads, and changes nothing', async () => {
    const { tb, c } = await setup();
    await c.publish('', 'a', 'hello', { persistent: true, headers: { h: 1 }, contentType: 'text/plain' });
    await c.publish('', 'a', Buffer.from([0, 1, 2, 255]), { persistent: true });
    const res = await tb.post('/api/queues/%2F/a/browse', { count: 10 });
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    expect(res.body.items).toEqual([
      expect.objectContaining({ position: 0, deliveryCount: 0, redelivered: false, exchange: '', routingKey: 'a', payload: 'hello', payloadEncoding: 'string', payloadBytes: 5 }),
      expect.objectContaining({ position: 1, payload: Buffer.from([0, 1, 2, 255]).toString('base64'), payloadEncoding: 'base64', payloadBytes: 4 }),
    ]);
    expect(res.body.items[0].properties).toMatchObject({ headers: { h: 1 }, contentType: 'text/plain', persistent: true });
    // The manager may read 'a'; the console's empty body means the defaults.
    expect((await tb.post('/api/queues/%2F/a/browse', undefined, { user: MANAGER })).status).toBe(200);
    expect(await consumeAll(c, 'a', 2)).toEqual([
      ['hello', false],
      [Buffer.from([0, 1, 2, 255]).toString(), false],
    ]);
  });

  it('answers 401, 403, 404 and 400 as JSON errors', async () => {
    const { tb } = await setup();
    const none = await tb.post('/api/queues/%2F/a/browse', {}, { user: null });
    expect(none.status).toBe(401);
    const wrong = await tb.post('/api/queues/%2F/a/browse', {}, { user: { username: 'admin', password: 'nope' } });
    expect(wrong.status).toBe(401);
    const notag = await tb.post('/api/queues/%2F/a/browse', {}, { user: NOTAG });
    expect(notag.status).toBe(403);
    // Monitoring sees everything but has no read permission on the queue's messages.
    const mon = await tb.post('/api/queues/%2F/a/browse', {}, { user: MONITOR });
    expect(mon.status).toBe(403);
    expect(mon.body.error).toMatchObject({ name: 'ACCESS_REFUSED' });
    expect((await tb.post('/api/queues/%2F/b/browse', {}, { user: MANAGER })).status).toBe(403);
    const missing = await tb.post('/api/queues/%2F/nope/browse', {});
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ name: 'NOT_FOUND' });
    expect((await tb.post('/api/queues/nohost/a/browse', {})).status).toBe(404);
    const bad = await tb.call('POST', '/api/queues/%2F/a/browse', { body: '{"count":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect((await tb.post('/api/queues/%2F/a/browse', { count: 5000 })).status).toBe(400);
    expect((await tb.post('/api/queues/%2F/a/browse', { offset: 'first' })).status).toBe(400);
    expect((await tb.post('/api/queues/%2F/a/browse', [1])).status).toBe(400);
  });

  it('browses a stream from an offset', async () => {
    const { tb, c } = await setup();
    await c.declareStream('s');
    for (let i = 0; i < 5; i++) await c.publish('', 's', `s${i}`);
    const res = await tb.post('/api/queues/%2F/s/browse', { offset: 'last', count: 10 });
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([expect.objectContaining({ offset: 4, payload: 's4' })]);
    const from = await tb.post('/api/queues/%2F/s/browse', { offset: 2, count: 2 });
    expect(from.body.items.map((i: { offset: number }) => i.offset)).toEqual([2, 3]);
  });
});

describe('HTTP API: move', () => {
  it('moves N and then all, checks permissions and targets', async () => {
    const { tb, c } = await setup();
    for (let i = 0; i < 10; i++) await c.publish('', 'a', `m${i}`, { persistent: true });
    const three = await tb.post('/api/queues/%2F/a/move', { toQueue: 'b', count: 3 });
    expect(three.status).toBe(200);
    expect(three.body).toEqual({ moved: 3, skipped: 0 });
    expect((await tb.post('/api/queues/%2F/a/move', { toQueue: 'b' }, { user: MONITOR })).status).toBe(403);
    expect((await tb.post('/api/queues/%2F/a/move', { toQueue: 'a2' }, { user: MANAGER })).status).toBe(403);
    expect((await tb.post('/api/queues/%2F/a/move', { toQueue: 'nope' })).status).toBe(404);
    expect((await tb.post('/api/queues/%2F/a/move', { toExchange: 'nope' })).status).toBe(404);
    expect((await tb.post('/api/queues/%2F/a/move', {})).status).toBe(400);
    expect((await tb.post('/api/queues/%2F/a/move', { toQueue: 'b', toVhost: 'other' })).status).toBe(400);
    expect((await tb.post('/api/queues/%2F/a/move', { toQueue: 'a' })).status).toBe(409);
    const rest = await tb.post('/api/queues/%2F/a/move', { toExchange: 'amq.default', routingKey: 'b' }, { user: { ...ADMIN } });
    expect(rest.body).toEqual({ moved: 7, skipped: 0 });
    expect(await consumeAll(c, 'b', 10)).toEqual(Array.from({ length: 10 }, (_, i) => [`m${i}`, false]));
  });

  it("redrives a dead-letter queue with toExchange '$x-death'", async () => {
    const { tb, c } = await setup();
    await c.declareExchange('dlx', 'fanout', { durable: true });
    await c.declareQueue('dlq', { durable: true });
    await c.bindQueue('dlq', 'dlx');
    await c.declareQueue('work', { durable: true, arguments: { 'x-dead-letter-exchange': 'dlx' } });
    for (let i = 0; i < 3; i++) await c.publish('', 'work', `w${i}`, { persistent: true });
    for (let i = 0; i < 3; i++) (await c.get('work'))!.reject({ requeue: false });
    await until(() => tb.broker.vhosts.default!.queues.get('dlq')!.messageCount === 3, 'dead-lettered');
    const res = await tb.post('/api/queues/%2F/dlq/move', { toExchange: '$x-death' });
    expect(res.body).toEqual({ moved: 3, skipped: 0 });
    expect((await consumeAll(c, 'work', 3)).map(([b]) => b).sort()).toEqual(['w0', 'w1', 'w2']);
  });
});

describe('HTTP API: rates and metrics', () => {
  it('GET /api/rates and a queue\'s rates', async () => {
    const { tb, c } = await setup();
    await c.publish('', 'a', 'x');
    tb.broker.rates.sample();
    const rates = await tb.get('/api/rates?seconds=60');
    expect(rates.status).toBe(200);
    expect(rates.body.intervalMs).toBe(1000);
    expect(rates.body.samples.length).toBeGreaterThan(0);
    expect(Object.keys(rates.body.samples[0]).sort()).toEqual(['acked', 'deadLettered', 'delivered', 'published', 'redelivered', 'returned', 't']);
    const q = await tb.get('/api/queues/%2F/a/rates', { user: MONITOR });
    expect(q.status).toBe(200);
    expect(q.body.samples.at(-1)).toMatchObject({ ready: 1, unacked: 0 });
    expect((await tb.get('/api/queues/%2F/nope/rates')).status).toBe(404);
    expect((await tb.get('/api/rates?seconds=0')).status).toBe(400);
    expect((await tb.get('/api/rates', { user: null })).status).toBe(401);
  });

  it('GET /metrics needs monitoring or administrator unless --http-metrics-open', async () => {
    const { tb, c } = await setup();
    await c.publish('', 'a', 'x', { persistent: true });
    const res = await tb.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toContain('warren_queue_messages_ready{vhost="/",queue="a"} 1');
    expect(res.text).toMatch(/warren_fsync_duration_seconds_count [1-9]/);
    expect((await tb.get('/metrics', { user: MONITOR })).status).toBe(200);
    expect((await tb.get('/metrics', { user: MANAGER })).status).toBe(403);
    expect((await tb.get('/metrics', { user: null })).status).toBe(401);
  });

  it('GET /metrics is open with httpMetricsOpen', async () => {
    const { tb } = await setup({ httpMetricsOpen: true });
    const res = await tb.get('/metrics', { user: null });
    expect(res.status).toBe(200);
    expect(res.text).toContain('warren_connections 1');
  });
});
