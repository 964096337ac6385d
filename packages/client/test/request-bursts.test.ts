/**
 * Bursts of un-awaited requests on one connection against a real broker with its default limits:
 * the broker stops reading a connection with 1024 requests waiting for storage (protocol-spec 5),
 * which must stay backpressure the caller never sees, and consumers past the per-connection cap
 * (4096 by default, here 8) are refused with a typed RESOURCE_LIMIT that leaves the connection up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '../src/index.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

describe('5,000 un-awaited requests on one connection (default limits)', () => {
  let tb: TestBroker;
  let conn: Connection;
  beforeAll(async () => {
    tb = await startTestBroker();
    conn = await connect(tb.url);
  });
  afterAll(async () => {
    await conn.close();
    await tb.stop();
  });

  it('durable kv puts all succeed on the same connection', async () => {
    const id = conn.connectionId;
    const bucket = await conn.kv('burst-put');
    const puts: Promise<number>[] = [];
    for (let i = 0; i < 5000; i++) puts.push(bucket.put(`k${i}`, `v${i}`));
    const revisions = await Promise.all(puts);
    expect(new Set(revisions).size).toBe(5000);
    expect(conn.connectionId).toBe(id);
    expect((await bucket.get('k4999'))?.text()).toBe('v4999');
  });

  it('kv deletes (answered after storage, counted as waiting requests) all succeed', async () => {
    const id = conn.connectionId;
    const bucket = await conn.kv('burst-del');
    await Promise.all(Array.from({ length: 5000 }, (_, i) => bucket.put(`k${i}`, 'v')));
    const revisions = await Promise.all(Array.from({ length: 5000 }, (_, i) => bucket.delete(`k${i}`)));
    expect(revisions).toHaveLength(5000);
    expect(await bucket.keys()).toEqual([]);
    expect(conn.connectionId).toBe(id);
  });

  it('2,000 queue declares (asynchronous handlers) all succeed', async () => {
    const id = conn.connectionId;
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => conn.declareQueue(`burst-${i}`, { durable: i % 2 === 0 })));
    expect(results.map((r) => r.queue)).toEqual(Array.from({ length: 2000 }, (_, i) => `burst-${i}`));
    expect(conn.connectionId).toBe(id);
  });
});

describe('consumers past the per-connection cap', () => {
  let tb: TestBroker;
  let conn: Connection;
  beforeAll(async () => {
    tb = await startTestBroker({ maxConsumersPerConnection: 8 });
    conn = await connect(tb.url);
    await conn.declareQueue('cq');
  });
  afterAll(async () => {
    await conn.close();
    await tb.stop();
  });

  it('the excess is refused with RESOURCE_LIMIT, not kept for recovery; cancelling makes room', async () => {
    const id = conn.connectionId;
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => conn.consume('cq', () => undefined)));
    const ok = settled.filter((s) => s.status === 'fulfilled');
    const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(ok).toHaveLength(8);
    expect(refused.map((r) => (r.reason as { name: string }).name)).toEqual(['RESOURCE_LIMIT', 'RESOURCE_LIMIT']);
    expect(conn.connectionId).toBe(id);
    const first = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<Connection['consume']>>>).value;
    await first.cancel();
    await expect(conn.consume('cq', () => undefined)).resolves.toBeDefined();
    await expect(conn.consume('cq', () => undefined)).rejects.toMatchObject({ name: 'RESOURCE_LIMIT' });
  });
});
