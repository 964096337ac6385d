/**
 * Management HTTP API: exchanges, queues, bindings, publish, overview,
 * connections and consumers (issue 21), on a real broker with plain fetch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, ErrorCodes, type Connection } from '@warren/client';
import { startHttpBroker, ADMIN, type HttpTestBroker } from '../../../../test-support/http-api.js';
import { until } from '../../../../test-support/wait.js';

let tb: HttpTestBroker | undefined;
const conns: Connection[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) await c.close().catch(() => {});
  await tb?.stop();
  tb = undefined;
});

async function client(name = 'billing-service'): Promise<Connection> {
  const c = await connect({ url: `warren://${ADMIN.username}:${ADMIN.password}@127.0.0.1:${tb!.port}`, reconnect: false, name });
  conns.push(c);
  return c;
}

describe('management HTTP API: queues', () => {
  it('declares, shows, lists, purges and deletes a queue', async () => {
    tb = await startHttpBroker();
    const created = await tb.put('/api/queues/%2F/orders', { durable: true, arguments: { 'x-max-length': 10 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ vhost: '/', name: 'orders', type: 'classic', durable: true, messages: 0, oldestReadyAgeMs: null, arguments: { 'x-max-length': 10 } });
    // Declaring it again the same way is fine (200); with other arguments it is a conflict (409).
    expect((await tb.put('/api/queues/%2F/orders', { durable: true, arguments: { 'x-max-length': 10 } })).status).toBe(200);
    const conflict = await tb.put('/api/queues/%2F/orders', { durable: false });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.name).toBe('PRECONDITION_FAILED');

    for (let i = 0; i < 3; i++) {
      const r = await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'orders', payload: `order ${i}`, properties: { persistent: true } });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ routed: true });
    }
    const detail = await tb.get('/api/queues/%2F/orders');
    expect(detail.body).toMatchObject({ messages: 3, ready: 3, unacked: 0, bytes: 'order 0'.length * 3, consumers: 0, consumerDetails: [] });
    expect(detail.body.oldestReadyAgeMs).toBeGreaterThanOrEqual(0);

    const list = await tb.get('/api/queues');
    expect(list.body).toMatchObject({ page: 1, page_size: 100, page_count: 1, filtered_count: 1, total_count: 1 });
    expect(list.body.items[0].name).toBe('orders');

    // Delete refuses a non-empty queue with if_empty.
    const refused = await tb.del('/api/queues/%2F/orders?if_empty=true');
    expect(refused.status).toBe(409);
    const purged = await tb.del('/api/queues/%2F/orders/contents');
    expect(purged.body).toEqual({ purged: 3 });
    expect((await tb.del('/api/queues/%2F/orders?if_empty=true&if_unused=true')).status).toBe(204);
    const gone = await tb.get('/api/queues/%2F/orders');
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: 404, name: 'NOT_FOUND' });
  });

  it('shows ready, unacked, consumers and the lag of a queue with a consumer', async () => {
    tb = await startHttpBroker();
    const c = await client();
    await c.declareQueue('work', { durable: true });
    for (let i = 0; i < 5; i++) await c.publish('', 'work', `job ${i}`);
    const held: unknown[] = [];
    await c.consume('work', (m) => void held.push(m), { prefetch: 2 });
    await until(() => held.length === 2, 'two deliveries');
    const q = await tb.get('/api/queues/%2F/work');
    expect(q.body).toMatchObject({ ready: 3, unacked: 2, messages: 5, consumers: 1 });
    expect(q.body.consumerDetails).toHaveLength(1);
    expect(q.body.consumerDetails[0]).toMatchObject({ queue: 'work', vhost: '/', prefetch: 2, unacked: 2, utilisation: 0 });
    const consumers = await tb.get('/api/consumers/%2F');
    expect(consumers.body).toHaveLength(1);
    expect(consumers.body[0].connection).toBe(q.body.consumerDetails[0].connection);
    const all = await tb.get('/api/consumers');
    expect(all.body).toEqual(consumers.body);
  });

  it('the lag (oldestReadyAgeMs) grows while the head waits and follows the head as it is consumed', async () => {
    tb = await startHttpBroker();
    await tb.put('/api/queues/%2F/lag', {});
    await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'lag', payload: 'old' });
    await new Promise((r) => setTimeout(r, 600));
    await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'lag', payload: 'new' });
    const before = (await tb.get('/api/queues/%2F/lag')).body.oldestReadyAgeMs as number;
    expect(before).toBeGreaterThanOrEqual(500);
    const c = await client();
    const m = await c.get('lag', { noAck: true });
    expect(m?.body.toString()).toBe('old');
    const after = (await tb.get('/api/queues/%2F/lag')).body.oldestReadyAgeMs as number;
    expect(after).toBeLessThan(before);
    await c.get('lag', { noAck: true });
    expect((await tb.get('/api/queues/%2F/lag')).body.oldestReadyAgeMs).toBeNull();
  });

  it('pages, sorts and filters server-side', async () => {
    tb = await startHttpBroker();
    for (let i = 0; i < 25; i++) await tb.put(`/api/queues/%2F/q-${String(i).padStart(2, '0')}`, { durable: false });
    await tb.put('/api/queues/%2F/other', { durable: false });
    for (let i = 0; i < 4; i++) await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'q-07', payload: 'x' });
    await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'q-03', payload: 'x' });

    const page2 = await tb.get('/api/queues/%2F?page=2&page_size=10');
    expect(page2.body).toMatchObject({ page: 2, page_size: 10, page_count: 3, filtered_count: 26, total_count: 26 });
    expect(page2.body.items.map((q: { name: string }) => q.name)).toEqual(['q-09', 'q-10', 'q-11', 'q-12', 'q-13', 'q-14', 'q-15', 'q-16', 'q-17', 'q-18']);

    const byMessages = await tb.get('/api/queues?sort=messages&sort_reverse=true&page_size=2');
    expect(byMessages.body.items.map((q: { name: string }) => q.name)).toEqual(['q-07', 'q-03']);

    const filtered = await tb.get('/api/queues?name=Q-1');
    expect(filtered.body).toMatchObject({ filtered_count: 10, total_count: 26 });
    const regex = await tb.get('/api/queues?name=' + encodeURIComponent('^q-(00|24)$') + '&use_regex=true');
    expect(regex.body.items.map((q: { name: string }) => q.name)).toEqual(['q-00', 'q-24']);

    const badRegex = await tb.get('/api/queues?name=(&use_regex=true');
    expect(badRegex.status).toBe(400);
    expect(badRegex.body.error.name).toBe('INVALID_ARGUMENT');
    const badSize = await tb.get('/api/queues?page_size=501');
    expect(badSize.status).toBe(400);
    const past = await tb.get('/api/queues?page=9');
    expect(past.body.items).toEqual([]);
  });

  it('lists 10,000 queues correctly, one page at a time', async () => {
    tb = await startHttpBroker({ inMemory: true });
    const vhost = tb.broker.vhosts.default!;
    for (let i = 0; i < 10_000; i++) vhost.declareQueue(`bulk-${String(i).padStart(5, '0')}`, { durable: false }, {});
    const res = await tb.get('/api/queues?page=100&page_size=100&name=bulk-&sort=name');
    expect(res.body).toMatchObject({ page: 100, page_count: 100, filtered_count: 10_000, total_count: 10_000 });
    expect(res.body.items).toHaveLength(100);
    expect(res.body.items[0].name).toBe('bulk-09900');
    expect(res.body.items[99].name).toBe('bulk-09999');
    const filtered = await tb.get('/api/queues?name=bulk-0999&sort=messages&sort_reverse=true');
    expect(filtered.body.filtered_count).toBe(10);
  });

  it('refuses bad JSON, a non-object body and a body over the limit', async () => {
    tb = await startHttpBroker({ httpBodyLimit: 1024 });
    const bad = await tb.call('PUT', '/api/queues/%2F/q', { body: '{"durable": tru' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 400, name: 'INVALID_ARGUMENT' });
    expect(bad.body.error.message).toMatch(/not valid JSON/);
    const notObject = await tb.call('PUT', '/api/queues/%2F/q', { body: '[1,2]' });
    expect(notObject.status).toBe(400);
    const wrongType = await tb.put('/api/queues/%2F/q', { durable: 'yes' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.message).toContain("'durable'");
    const large = await tb.put('/api/queues/%2F/q', { arguments: { pad: 'x'.repeat(2000) } });
    expect(large.status).toBe(413);
    expect(large.body.error.name).toBe('FRAME_TOO_LARGE');
    // The server still answers afterwards.
    expect((await tb.get('/api/health', { user: null })).status).toBe(200);
  });

  it('refuses a state-changing request from another origin', async () => {
    tb = await startHttpBroker();
    const res = await tb.put('/api/queues/%2F/q', {}, { headers: { origin: 'http://evil.example' } });
    expect(res.status).toBe(403);
    expect((await tb.get('/api/queues/%2F/q')).status).toBe(404);
    const same = await tb.put('/api/queues/%2F/q', {}, { headers: { origin: tb.base } });
    expect(same.status).toBe(201);
  });

  it('a stream is a queue of type stream', async () => {
    tb = await startHttpBroker();
    const res = await tb.put('/api/queues/%2F/events', { arguments: { 'x-queue-type': 'stream' } });
    expect(res.status).toBe(201);
    expect(res.body.type).toBe('stream');
  });

  it('shows the messages, bytes and subscribers of a stream, in the list and alone; refuses to purge it', async () => {
    tb = await startHttpBroker();
    expect((await tb.put('/api/queues/%2F/events', { arguments: { 'x-queue-type': 'stream' } })).status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const r = await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'events', payload: `event ${i}` });
      expect(r.body).toEqual({ routed: true });
    }
    const c = await client();
    const seen: number[] = [];
    const sub = await c.consumeStream('events', async (msg) => { seen.push(msg.offset); }, { offset: 'first' });
    await until(() => seen.length === 3);
    const info = await c.streamInfo('events');
    const detail = await tb.get('/api/queues/%2F/events');
    expect(detail.body).toMatchObject({ type: 'stream', messages: 3, ready: 3, unacked: 0, consumers: 1, bytes: info.bytes, oldestReadyAgeMs: null });
    // The detail has the stream's offsets and named consumers (STREAM_INFO); the list does not.
    await c.commitStreamOffset('events', 'billing', 0);
    const withConsumer = await tb.get('/api/queues/%2F/events');
    expect(withConsumer.body.stream).toMatchObject({ first: 0, next: 3, messages: 3, segments: 1, subscribers: 1 });
    expect(withConsumer.body.stream.consumers).toEqual([{ name: 'billing', committed: 0, lag: 2, subscribers: 0 }]);
    expect(info.bytes).toBeGreaterThan('event 0'.length * 3);
    const list = await tb.get('/api/queues');
    expect(list.body.items[0]).toMatchObject({ name: 'events', messages: 3, bytes: info.bytes, consumers: 1 });
    expect(list.body.items[0].stream).toBeUndefined();
    // A stream is not purged (it would answer {purged: 0} and keep everything): PRECONDITION_FAILED.
    const purge = await tb.del('/api/queues/%2F/events/contents');
    expect(purge.status).toBe(409);
    expect(purge.body.error).toMatchObject({ name: 'PRECONDITION_FAILED' });
    expect(purge.body.error.message).toMatch(/'events' is a stream: it cannot be purged/);
    await expect(c.purgeQueue('events')).rejects.toMatchObject({ name: 'PRECONDITION_FAILED' });
    expect((await c.streamInfo('events')).messages).toBe(3);
    await sub.cancel();
  });

  it("charts a stream's appends: its rates answer the growth of its log (in, per second)", async () => {
    tb = await startHttpBroker();
    expect((await tb.put('/api/queues/%2F/events', { arguments: { 'x-queue-type': 'stream' } })).status).toBe(201);
    const c = await client();
    // The sampler reads the log's next offset once a second (its first look at a stream is the baseline):
    // appending a message between looks, a sample with appends comes.
    type Sample = { t: number; published: number };
    let samples: Sample[] = [];
    let n = 0;
    await until(async () => {
      await c.publish('', 'events', `event ${n++}`);
      const r = await tb!.get('/api/queues/%2F/events/rates?seconds=60');
      expect(r.status).toBe(200);
      samples = r.body.samples as Sample[];
      return samples.some((s) => s.published > 0);
    }, () => `a rate sample of the stream with appends: ${JSON.stringify(samples.slice(-5))}`, { everyMs: 50 });
    // Stream appends are not in the queue's own counters: without reading the log this stays 0.
    expect(Math.max(...samples.map((s) => s.published))).toBeGreaterThan(0);
  });
});

describe('management HTTP API: exchanges and bindings', () => {
  it('declares exchanges, binds queue and exchange destinations, routes, unbinds and deletes', async () => {
    tb = await startHttpBroker();
    expect((await tb.put('/api/exchanges/%2F/orders', { type: 'topic' })).status).toBe(201);
    expect((await tb.put('/api/exchanges/%2F/audit', { type: 'fanout' })).status).toBe(201);
    const badType = await tb.put('/api/exchanges/%2F/x', { type: 'nope' });
    expect(badType.status).toBe(400);
    const reserved = await tb.put('/api/exchanges/%2F/amq.mine', { type: 'direct' });
    expect(reserved.status).toBe(403);
    await tb.put('/api/queues/%2F/eu', {});
    await tb.put('/api/queues/%2F/all', {});

    expect((await tb.post('/api/bindings/%2F/e/orders/q/eu', { routingKey: 'eu.*' })).status).toBe(201);
    expect((await tb.post('/api/bindings/%2F/e/orders/e/audit', { routingKey: '#' })).status).toBe(201);
    expect((await tb.post('/api/bindings/%2F/e/audit/q/all', {})).status).toBe(201);

    const bindings = await tb.get('/api/bindings/%2F');
    const explicit = bindings.body.filter((b: { source: string }) => b.source !== '');
    expect(explicit).toEqual(
      expect.arrayContaining([
        { vhost: '/', source: 'orders', destination: 'eu', destinationKind: 'queue', routingKey: 'eu.*', arguments: {} },
        { vhost: '/', source: 'orders', destination: 'audit', destinationKind: 'exchange', routingKey: '#', arguments: {} },
        { vhost: '/', source: 'audit', destination: 'all', destinationKind: 'queue', routingKey: '', arguments: {} },
      ]),
    );
    const qb = await tb.get('/api/queues/%2F/eu/bindings');
    expect(qb.body.map((b: { source: string }) => b.source)).toEqual(['', 'orders']);
    expect((await tb.get('/api/exchanges/%2F/orders/bindings/source')).body).toHaveLength(2);
    expect((await tb.get('/api/exchanges/%2F/audit/bindings/destination')).body).toHaveLength(1);

    const pub = await tb.post('/api/exchanges/%2F/orders/publish', { routingKey: 'eu.paris', payload: 'aGVsbG8=', payloadEncoding: 'base64' });
    expect(pub.body).toEqual({ routed: true });
    expect((await tb.get('/api/queues/%2F/eu')).body.ready).toBe(1);
    expect((await tb.get('/api/queues/%2F/all')).body.ready).toBe(1);
    const unrouted = await tb.post('/api/exchanges/%2F/amq.direct/publish', { routingKey: 'nowhere', payload: 'x', mandatory: true });
    expect(unrouted.body).toEqual({ routed: false });

    const detail = await tb.get('/api/exchanges/%2F/orders');
    expect(detail.body).toMatchObject({ vhost: '/', name: 'orders', type: 'topic', durable: true, bindings: 2 });
    const inUse = await tb.del('/api/exchanges/%2F/orders?if_unused=true');
    expect(inUse.status).toBe(409);

    expect((await tb.del('/api/bindings/%2F/e/orders/q/eu?routing_key=' + encodeURIComponent('eu.*'))).status).toBe(204);
    expect((await tb.del('/api/bindings/%2F/e/orders/e/audit?routing_key=' + encodeURIComponent('#'))).status).toBe(204);
    expect((await tb.get('/api/exchanges/%2F/orders')).body.bindings).toBe(0);
    expect((await tb.del('/api/exchanges/%2F/orders?if_unused=true')).status).toBe(204);
    expect((await tb.get('/api/exchanges/%2F/orders')).status).toBe(404);

    const list = await tb.get('/api/exchanges/%2F?name=amq.');
    expect(list.body.items.map((e: { name: string }) => e.name)).toEqual(['amq.direct', 'amq.fanout', 'amq.headers', 'amq.match', 'amq.topic']);
    const def = await tb.get('/api/exchanges/%2F/amq.default');
    expect(def.body).toMatchObject({ name: '', type: 'direct' });
  });

  it('publish checks its fields and reports unknown exchanges', async () => {
    tb = await startHttpBroker();
    expect((await tb.post('/api/exchanges/%2F/nope/publish', { payload: 'x' })).status).toBe(404);
    expect((await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'q' })).status).toBe(400);
    expect((await tb.post('/api/exchanges/%2F/amq.default/publish', { payload: 'x', payloadEncoding: 'hex' })).status).toBe(400);
    const badProp = await tb.post('/api/exchanges/%2F/amq.default/publish', { payload: 'x', properties: { priority: 'high' } });
    expect(badProp.status).toBe(400);
    expect(badProp.body.error.message).toContain('priority');
    expect((await tb.post('/api/exchanges/nohost/amq.default/publish', { payload: 'x' })).status).toBe(404);
  });

  it('a publish a full queue refuses is a 429 RESOURCE_LIMIT', async () => {
    tb = await startHttpBroker();
    await tb.put('/api/queues/%2F/small', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    expect((await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'small', payload: '1' })).body).toEqual({ routed: true });
    const full = await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'small', payload: '2' });
    expect(full.status).toBe(429);
    expect(full.body.error.name).toBe('RESOURCE_LIMIT');
  });

  it('a published message keeps its properties and headers', async () => {
    tb = await startHttpBroker();
    const c = await client();
    await c.declareQueue('props');
    await tb.post('/api/exchanges/%2F/amq.default/publish', {
      routingKey: 'props',
      payload: '{"a":1}',
      properties: { contentType: 'application/json', headers: { 'x-trace': 'abc' }, messageId: 'm1' },
    });
    const m = await c.get('props', { noAck: true });
    expect(m?.body.toString()).toBe('{"a":1}');
    expect(m?.properties).toMatchObject({ contentType: 'application/json', headers: { 'x-trace': 'abc' }, messageId: 'm1' });
  });
});

describe('management HTTP API: overview and connections', () => {
  it('overview has version, node facts, totals, memory, disk, storage and listeners', async () => {
    tb = await startHttpBroker();
    await tb.put('/api/queues/%2F/a', {});
    await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'a', payload: 'x', properties: { persistent: true } });
    const o = await tb.get('/api/overview');
    expect(o.status).toBe(200);
    expect(o.body).toMatchObject({
      node: { pid: process.pid, nodeVersion: process.version },
      totals: { queues: 1, messages: 1, messagesReady: 1, messagesUnacked: 0, connections: 0 },
      memory: { alarm: false },
      disk: { alarm: false },
    });
    expect(typeof o.body.version).toBe('string');
    expect(o.body.rates).toMatchObject({ published: expect.any(Number), deadLettered: expect.any(Number) });
    expect(o.body.storage.records).toBeGreaterThan(0);
    expect(o.body.listeners).toContainEqual({ protocol: 'http', port: tb.httpPort });
  });

  it('lists connections with their client properties and closes one with a reason', async () => {
    tb = await startHttpBroker();
    const c = await client('billing-service');
    const closed = new Promise<{ error: { code: number; message: string } | undefined }>((resolve) => c.once('closed', (e) => resolve(e as never)));
    const list = await tb.get('/api/connections');
    expect(list.body.total_count).toBe(1);
    const item = list.body.items[0];
    expect(item).toMatchObject({ user: 'admin', vhost: '/', tls: null, consumers: 0, unacked: 0 });
    expect(item.clientProperties.name).toBe('billing-service');
    expect(item.address).toMatch(/127\.0\.0\.1/);
    expect(item.rates).toMatchObject({ publishIn: expect.any(Number), deliverOut: expect.any(Number) });
    const one = await tb.get(`/api/connections/${encodeURIComponent(item.name)}`);
    expect(one.body.name).toBe(item.name);
    expect((await tb.get('/api/connections?name=billing')).body.filtered_count).toBe(1);

    const del = await tb.del(`/api/connections/${encodeURIComponent(item.name)}`, { headers: { 'x-reason': 'maintenance window' } });
    expect(del.status).toBe(204);
    const e = await closed;
    expect(e.error?.code).toBe(ErrorCodes.CONNECTION_FORCED);
    expect(e.error?.message).toContain('maintenance window');
    await until(async () => (await tb!.get('/api/connections')).body.total_count === 0, 'the connection to go');
    expect((await tb.get(`/api/connections/${item.name}`)).status).toBe(404);
  });
});
