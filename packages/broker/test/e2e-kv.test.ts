/**
 * Key-value buckets end to end over TCP: every operation through the SDK,
 * compare-and-set between two connections, limits, watches (from now, with
 * current values, across a broker restart with a reconnecting client), a
 * bucket surviving a restart, and the raw KV_ENTRY frame.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBroker } from '@warren/broker';
import { connect, WarrenError, type Connection, type KvEntry, type KvWatch } from '@warren/client';
import { FrameType, type KvEntryFrame } from '@warren/protocol';
import { RawClient } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

let tb: TestBroker;
let conn: Connection;
const extra: Connection[] = [];
beforeEach(async () => {
  tb = await startTestBroker();
  conn = await connect(tb.url);
});
afterEach(async () => {
  for (const c of extra.splice(0)) await c.close().catch(() => {});
  await conn.close().catch(() => {});
  await tb.stop();
});

async function another(url = tb.url, options: Record<string, unknown> = {}): Promise<Connection> {
  const c = await connect({ url, ...options });
  extra.push(c);
  return c;
}

async function take(w: KvWatch, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await w.next();
    const e = r.value as KvEntry;
    out.push(`${e.op} ${e.key}@${e.revision}${e.op === 'put' ? `=${e.text()}` : ''}`);
  }
  return out;
}

async function failure(p: Promise<unknown>): Promise<WarrenError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WarrenError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('kv over the wire', () => {
  it('the broker advertises the kv capability', () => {
    expect((conn.serverProperties.capabilities as Record<string, unknown>).kv).toBe(true);
  });

  it('put, get, update, delete, purge, keys, history; bucket info and list', async () => {
    const kv = await conn.kv('results', { history: 3 });
    expect(kv.info).toMatchObject({ name: 'results', created: true, history: 3, durable: true, revision: 0 });
    expect(await kv.put('task.1', 'queued')).toBe(1);
    expect(await kv.put('task.1', JSON.stringify({ ok: true }))).toBe(2);
    expect(await kv.put('task.2', Buffer.from([0, 1, 2]))).toBe(3);
    const e = await kv.get('task.1');
    expect(e!.json()).toEqual({ ok: true });
    expect(e!.revision).toBe(2);
    expect((await kv.get('task.1', { revision: 1 }))!.text()).toBe('queued');
    expect(await kv.get('missing')).toBeNull();
    expect((await kv.get('task.2'))!.value).toEqual(Buffer.from([0, 1, 2]));
    expect(await kv.keys()).toEqual(['task.1', 'task.2']);
    expect(await kv.keys({ pattern: 'task.*' })).toEqual(['task.1', 'task.2']);
    expect(await kv.keys({ prefix: 'nope' })).toEqual([]);
    expect(await kv.delete('task.2')).toBe(4);
    expect(await kv.get('task.2')).toBeNull();
    expect((await kv.history('task.2')).map((h) => h.op)).toEqual(['put', 'del']);
    expect(await kv.purge('task.1')).toBe(5);
    expect((await kv.history('task.1')).map((h) => [h.op, h.revision])).toEqual([['purge', 5]]);
    expect(await kv.keys()).toEqual([]);
    expect((await conn.listKv()).map((b) => [b.name, b.revision])).toEqual([['results', 5]]);
    // Opening it again without options works; with other options it is refused.
    expect((await (await another()).kv('results')).info.created).toBe(false);
    expect((await failure(conn.kv('results', { history: 1 }))).name).toBe('PRECONDITION_FAILED');
    await conn.deleteKv('results');
    expect((await failure(kv.get('x'))).name).toBe('NOT_FOUND');
    expect((await failure(conn.kv('results', { passive: true }))).name).toBe('NOT_FOUND');
  });

  it('two writers with the same expected revision: one wins, the other gets WRONG_REVISION naming the current one', async () => {
    const a = await conn.kv('locks', { durable: false });
    const b = await (await another()).kv('locks');
    const rev = await a.create('leader', 'a');
    expect((await failure(b.create('leader', 'b'))).details).toEqual({ key: 'leader', expected: 0, current: rev });
    const results = await Promise.allSettled([a.update('leader', 'a2', rev), b.update('leader', 'b2', rev)]);
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toMatchObject({ code: 460, name: 'WRONG_REVISION', details: { key: 'leader', expected: rev, current: rev + 1 } });
  });

  it('limits come back as coded errors', async () => {
    const kv = await conn.kv('small', { maxValueSize: 8, maxBytes: 20 });
    expect(await failure(kv.put('k', '123456789'))).toMatchObject({ name: 'VALUE_TOO_LARGE', details: { size: 9, maxValueSize: 8 } });
    await kv.put('a', '12345678');
    await kv.put('b', '12345678');
    expect(await failure(kv.put('c', '12345678'))).toMatchObject({ name: 'BUCKET_FULL', details: { bytes: 18, maxBytes: 20 } });
    expect((await failure(kv.put('bad key', 'x'))).name).toBe('INVALID_ARGUMENT');
  });

  it('watch from now and with current values; a deleted bucket ends the watch', async () => {
    const kv = await conn.kv('w', { durable: false });
    await kv.put('jobs.1', 'old');
    const fromNow = await kv.watch({ pattern: 'jobs.*' });
    const withCurrent = await kv.watch({}, { includeCurrent: true });
    const writer = await (await another()).kv('w');
    await writer.put('jobs.2', 'new');
    await writer.put('other', 'x');
    await writer.delete('jobs.1');
    expect(await take(fromNow, 2)).toEqual(['put jobs.2@2=new', 'del jobs.1@4']);
    expect(await take(withCurrent, 4)).toEqual(['put jobs.1@1=old', 'put jobs.2@2=new', 'put other@3=x', 'del jobs.1@4']);
    await fromNow.close();
    await conn.deleteKv('w');
    await expect(withCurrent.next()).rejects.toMatchObject({ name: 'NOT_FOUND' });
  });

  it('KV_GET is answered with a KV_ENTRY frame carrying the value as body', async () => {
    await (await conn.kv('raw', { durable: false })).put('k', 'hello', { ttl: 60_000 });
    const raw = await RawClient.open(tb.port);
    try {
      raw.send({ type: FrameType.KV_GET, requestId: 9, bucket: 'raw', key: 'k', revision: 0 });
      const f = (await raw.next()) as KvEntryFrame;
      expect(f).toMatchObject({ type: FrameType.KV_ENTRY, requestId: 9, key: 'k', revision: 1, op: 'put' });
      expect(f.expiresAt - f.createdAt).toBe(60_000);
      expect(f.body.toString()).toBe('hello');
    } finally {
      raw.close();
    }
  });

  it("a write with option applied gets KV_APPLIED with its revision before the OK, on a durable bucket only", async () => {
    await conn.kv('ap');
    await conn.kv('ap-mem', { durable: false });
    expect((conn.serverProperties.capabilities as Record<string, unknown>)['kv.applied']).toBe(true);
    const raw = await RawClient.open(tb.port);
    try {
      // A KV_GET right behind the put sees the change; KV_APPLIED comes ahead of its answer, the OK after the sync.
      raw.send({ type: FrameType.KV_PUT, requestId: 5, bucket: 'ap', key: 'k', options: { applied: true }, body: Buffer.from('v1') });
      raw.send({ type: FrameType.KV_GET, requestId: 6, bucket: 'ap', key: 'k', revision: 0 });
      expect(await raw.next()).toEqual({ type: FrameType.KV_APPLIED, requestId: 5, revision: 1 });
      expect(await raw.next()).toMatchObject({ type: FrameType.KV_ENTRY, requestId: 6, revision: 1 });
      expect(await raw.next()).toEqual({ type: FrameType.OK, requestId: 5, result: { revision: 1 } });
      // A failing write gets its ERROR only.
      raw.send({ type: FrameType.KV_PUT, requestId: 7, bucket: 'ap', key: 'k', options: { applied: true, expect: 9 }, body: Buffer.from('v2') });
      expect(await raw.next()).toMatchObject({ type: FrameType.ERROR, requestId: 7, name: 'WRONG_REVISION' });
      raw.send({ type: FrameType.KV_DELETE, requestId: 8, bucket: 'ap', key: 'k', options: { applied: true, expect: 1 } });
      expect(await raw.next()).toEqual({ type: FrameType.KV_APPLIED, requestId: 8, revision: 2 });
      expect(await raw.next()).toEqual({ type: FrameType.OK, requestId: 8, result: { revision: 2 } });
      // Without the option, or on a bucket kept in memory, the OK is the only answer.
      raw.send({ type: FrameType.KV_PUT, requestId: 9, bucket: 'ap', key: 'k', options: {}, body: Buffer.from('v3') });
      expect(await raw.next()).toEqual({ type: FrameType.OK, requestId: 9, result: { revision: 3 } });
      raw.send({ type: FrameType.KV_PUT, requestId: 10, bucket: 'ap-mem', key: 'k', options: { applied: true }, body: Buffer.from('v') });
      expect(await raw.next()).toEqual({ type: FrameType.OK, requestId: 10, result: { revision: 1 } });
    } finally {
      raw.close();
    }
  });

  it('the SDK hands a write its revision through applied() before the write resolves, and not for a failed write', async () => {
    for (const durable of [true, false]) {
      const kv = await conn.kv(`sdk-ap-${durable}`, { durable });
      const seen: string[] = [];
      let read: Promise<KvEntry | null> | undefined;
      const rev = await kv.put('k', 'v1', {
        applied: (r) => {
          seen.push(`applied ${r}`);
          read = kv.get('k');
        },
      });
      seen.push(`resolved ${rev}`);
      expect(seen).toEqual(['applied 1', 'resolved 1']);
      expect((await read!)?.text()).toBe('v1');
      const calls: number[] = [];
      await expect(kv.update('k', 'v2', 7, { applied: (r) => calls.push(r) })).rejects.toMatchObject({ name: 'WRONG_REVISION' });
      expect(await kv.update('k', 'v2', 1, { applied: (r) => calls.push(r) })).toBe(2);
      expect(await kv.create('k2', 'x', { applied: (r) => calls.push(r) })).toBe(3);
      expect(calls).toEqual([2, 3]);
      // wait 'applied': resolves with the revision without waiting for the sync; the value is there.
      expect(await kv.update('k2', 'y', 3, { wait: 'applied' })).toBe(4);
      expect((await kv.get('k2'))?.text()).toBe('y');
    }
  });
});

describe('kv across a broker restart', () => {
  it('a durable bucket keeps its values; a watching client reconnects and resumes without missing a change', async () => {
    const port = tb.port;
    const watcher = await another(tb.url, { reconnect: { initialDelayMs: 5, maxDelayMs: 50, jitter: 0.2 } });
    const kv = await conn.kv('state', { history: 2 });
    await kv.put('a', '1');
    const w = await (await watcher.kv('state')).watch();
    await kv.put('b', '2');
    expect(await take(w, 1)).toEqual(['put b@2=2']);

    const reconnected = new Promise((resolve) => watcher.once('connected', resolve));
    await tb.broker.close();
    const broker = await startBroker({ port, host: '127.0.0.1', dataDir: tb.dataDir, logLevel: 'silent' });
    // In the same turn as the restart, before the client can be back: changes it must not miss.
    const b = broker.vhosts.default!.kv.bucket('state');
    expect(b.get('a')!.value!.toString()).toBe('1');
    const away = Promise.all([b.put('a', Buffer.from('3')), b.delete('b')]);
    try {
      await away;
      await resumeAfterRestart(port, w, reconnected);
    } finally {
      for (const c of extra.splice(0)) await c.close().catch(() => {});
      await conn.close().catch(() => {});
      await broker.close();
    }
  });
});

/** Changes made while the watcher is away (on the restarted broker) reach it once it has resumed. */
async function resumeAfterRestart(port: number, w: KvWatch, reconnected: Promise<unknown>): Promise<void> {
  const writer = await another(`warren://guest:guest@127.0.0.1:${port}`);
  const again = await writer.kv('state');
  expect(again.info.revision).toBe(4);
  await reconnected;
  await again.put('c', '5');
  expect(await take(w, 3)).toEqual(['put a@3=3', 'del b@4', 'put c@5=5']);
  await w.close();
}
