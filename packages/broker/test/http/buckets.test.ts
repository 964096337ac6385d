/**
 * The management API's read-only bucket routes (GET /api/buckets...): what the
 * console's task view reads. Lists, one bucket, entries by key or newest first
 * with a bounded limit, one entry, and the read permission on the bucket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpBroker, ADMIN, type HttpTestBroker } from '../../../../test-support/http-api.js';
import { client, closeAllClients } from '../durability/harness.js';

let tb: HttpTestBroker | undefined;
afterEach(async () => {
  await closeAllClients();
  await tb?.stop();
  tb = undefined;
});

const READER = { username: 'reader', password: 'reader-pw' };

async function setup(): Promise<HttpTestBroker> {
  tb = await startHttpBroker();
  await tb.broker.access.putUser(READER.username, { password: READER.password, tags: ['management'] });
  // May read bucket 'jobs' only.
  await tb.broker.access.setPermissions(READER.username, '/', { configure: '', write: '', read: '^jobs$' });
  const c = await client(`warren://${ADMIN.username}:${ADMIN.password}@127.0.0.1:${tb.port}`);
  const jobs = await c.kv('jobs', { history: 1 });
  await jobs.put('t.b', JSON.stringify({ n: 1 }));
  await jobs.put('t.a', JSON.stringify({ n: 2 }));
  await jobs.put('t.c', Buffer.from([0, 1, 2, 255]));
  await jobs.put('other', 'x', { ttl: 60_000 });
  await jobs.put('t.b', JSON.stringify({ n: 3 })); // t.b is now the newest
  await c.kv('secret', { history: 1 });
  return tb;
}

describe('HTTP API: buckets', () => {
  it('lists the buckets the caller may read, with their sizes', async () => {
    const tb = await setup();
    const all = await tb.get('/api/buckets');
    expect(all.status).toBe(200);
    expect(all.body.map((b: { name: string }) => b.name)).toEqual(['jobs', 'secret']);
    expect(all.body[0]).toMatchObject({ vhost: '/', name: 'jobs', keys: 4, revision: 5 });
    const mine = await tb.get('/api/buckets/%2F', { user: READER });
    expect(mine.body.map((b: { name: string }) => b.name)).toEqual(['jobs']);
    expect((await tb.get('/api/buckets/%2F/jobs')).body).toMatchObject({ vhost: '/', name: 'jobs', keys: 4 });
  });

  it('returns entries by key or newest first, with a limit, the total and whether it was cut', async () => {
    const tb = await setup();
    const byKey = await tb.get('/api/buckets/%2F/jobs/entries?prefix=t.');
    expect(byKey.status).toBe(200);
    expect(byKey.body.total).toBe(3);
    expect(byKey.body.truncated).toBe(false);
    expect(byKey.body.items.map((e: { key: string }) => e.key)).toEqual(['t.a', 't.b', 't.c']);
    expect(byKey.body.items[1]).toMatchObject({ key: 't.b', revision: 5, value: '{"n":3}', valueEncoding: 'string', valueBytes: 7, expiresAt: null });
    expect(byKey.body.items[2]).toMatchObject({ key: 't.c', value: Buffer.from([0, 1, 2, 255]).toString('base64'), valueEncoding: 'base64' });

    const recent = await tb.get('/api/buckets/%2F/jobs/entries?order=recent&limit=2');
    expect(recent.body.items.map((e: { key: string }) => e.key)).toEqual(['t.b', 'other']);
    expect(recent.body).toMatchObject({ total: 4, truncated: true });
    expect(recent.body.items[1].expiresAt).toBeGreaterThan(recent.body.items[1].createdAt);

    const one = await tb.get('/api/buckets/%2F/jobs/entries/t.a');
    expect(one.body).toMatchObject({ key: 't.a', value: '{"n":2}', revision: 2 });
  });

  it('refuses what the caller may not read, and says what is wrong with a bad request', async () => {
    const tb = await setup();
    expect((await tb.get('/api/buckets/%2F/jobs/entries', { user: READER })).status).toBe(200);
    const refused = await tb.get('/api/buckets/%2F/secret/entries', { user: READER });
    expect(refused.status).toBe(403);
    // The same refusal whether or not the bucket exists.
    const unknownRefused = await tb.get('/api/buckets/%2F/nope/entries', { user: READER });
    expect(unknownRefused.status).toBe(403);
    expect(unknownRefused.body.error.code).toBe(refused.body.error.code);
    expect((await tb.get('/api/buckets/%2F/nope')).status).toBe(404);
    expect((await tb.get('/api/buckets/%2F/jobs/entries/t.zzz')).status).toBe(404);
    const bad = await tb.get('/api/buckets/%2F/jobs/entries?order=size');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/order/);
    expect((await tb.get('/api/buckets/%2F/jobs/entries?limit=100000')).status).toBe(400);
    expect((await tb.get('/api/buckets', { user: null })).status).toBe(401);
  });

  it('keeps the first `limit` of many keys in either order, and at most 8 MiB of values per answer', async () => {
    const tb = await setup();
    const c = await client(`warren://${ADMIN.username}:${ADMIN.password}@127.0.0.1:${tb.port}`);
    const many = await c.kv('many', { history: 1 });
    // 60 keys written in a shuffled order: revision order differs from key order.
    const names = Array.from({ length: 60 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const shuffled = names.map((n, i) => [n, (i * 37) % 60] as const).sort((a, b) => a[1] - b[1]).map(([n]) => n);
    for (const n of shuffled) await many.put(n, n);
    const byKey = await tb.get('/api/buckets/%2F/many/entries?limit=7');
    expect(byKey.body.items.map((e: { key: string }) => e.key)).toEqual(names.slice(0, 7));
    expect(byKey.body).toMatchObject({ total: 60, truncated: true });
    const recent = await tb.get('/api/buckets/%2F/many/entries?order=recent&limit=7');
    expect(recent.body.items.map((e: { key: string }) => e.key)).toEqual(shuffled.slice(-7).reverse());

    const big = await c.kv('big', { history: 1 });
    for (let i = 0; i < 10; i++) await big.put(`v${i}`, Buffer.alloc(1024 * 1024 - 100, 0x61));
    const capped = await tb.get('/api/buckets/%2F/big/entries?limit=20');
    expect(capped.status).toBe(200);
    expect(capped.body.items.length).toBe(8);
    expect(capped.body).toMatchObject({ total: 10, truncated: true });
    expect((await tb.get('/api/buckets/%2F/big/entries/v9')).body.valueBytes).toBe(1024 * 1024 - 100);
  });
});
