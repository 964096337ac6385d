/**
 * The bucket engine in memory: every operation, revisions and history depth,
 * compare-and-set, limits, TTL per bucket and per key on an injected clock,
 * and watch (from now, with current values, resumed after a revision).
 */
import { describe, expect, it } from 'vitest';
import { WarrenError } from '@warren/protocol';
import { KvStore, type Bucket, type Revision, type WatchListener } from '../../src/kv/index.js';
import { keyMatcher } from '../../src/kv/keys.js';
import { captureLogger } from '../storage/helpers.js';

function fakeClock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

async function memoryBucket(options: Record<string, unknown> = {}, clock = fakeClock()): Promise<{ store: KvStore; b: Bucket; clock: ReturnType<typeof fakeClock> }> {
  const store = await KvStore.open({ dir: null, clock: clock.now, timers: false, logger: captureLogger() });
  const { bucket } = await store.create('results', { durable: false, ...options });
  return { store, b: bucket, clock };
}

const v = (s: string) => Buffer.from(s);
const text = (r: Revision | null) => (r && r.value ? r.value.toString() : null);

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof WarrenError) return err.name;
    throw err;
  }
  return 'no error';
}

function recorder(): WatchListener & { seen: string[]; ended: string[] } {
  const seen: string[] = [];
  const ended: string[] = [];
  return {
    seen,
    ended,
    change: (r) => seen.push(`${r.op} ${r.key}@${r.rev}${r.value ? `=${r.value.toString()}` : ''}`),
    end: (err) => ended.push(err.name),
  };
}

describe('bucket operations', () => {
  it('put, get, delete, purge and keys; every change has the next revision', async () => {
    const { b } = await memoryBucket();
    expect(await b.put('task.1', v('a'))).toBe(1);
    expect(await b.put('task.2', v('b'))).toBe(2);
    expect(await b.put('task.1', v('c'))).toBe(3);
    expect(text(b.get('task.1'))).toBe('c');
    expect(b.get('task.1')!.rev).toBe(3);
    expect(b.get('nope')).toBeNull();
    expect(b.keyList()).toEqual(['task.1', 'task.2']);
    expect(await b.delete('task.1')).toBe(4);
    expect(b.get('task.1')).toBeNull();
    expect(b.keyList()).toEqual(['task.2']);
    expect(await b.delete('task.2', { purge: true })).toBe(5);
    expect(b.history('task.2').map((r) => r.op)).toEqual(['purge']);
    expect(b.keyList()).toEqual([]);
    expect(b.lastRevision).toBe(5);
  });

  it('keys by prefix and by pattern (* one word, # any number)', async () => {
    const { b } = await memoryBucket();
    for (const k of ['jobs.1.state', 'jobs.1.result', 'jobs.2.state', 'config.timeout', 'jobsx']) await b.put(k, v('x'));
    expect(b.keyList({ prefix: 'jobs.' })).toEqual(['jobs.1.result', 'jobs.1.state', 'jobs.2.state']);
    expect(b.keyList({ pattern: 'jobs.*.state' })).toEqual(['jobs.1.state', 'jobs.2.state']);
    expect(b.keyList({ pattern: 'jobs.#' })).toEqual(['jobs.1.result', 'jobs.1.state', 'jobs.2.state']);
    expect(b.keyList({ pattern: '#.state' })).toEqual(['jobs.1.state', 'jobs.2.state']);
    expect(b.keyList({ pattern: 'config.timeout' })).toEqual(['config.timeout']);
    expect(keyMatcher({ pattern: '#' })('anything.at.all')).toBe(true);
    expect(await codeOf(() => b.keyList({ pattern: 'jobs.a*' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => b.keyList({ prefix: 'a', pattern: 'b' }))).toBe('INVALID_ARGUMENT');
  });

  it('refuses bad keys and bucket names', async () => {
    const { store, b } = await memoryBucket();
    for (const bad of ['', 'a b', 'a*', 'x.#', '.a', 'a.', 'a..b', 'k'.repeat(1025), 'é']) {
      expect(await codeOf(() => b.put(bad, v('x'))), bad).toBe('INVALID_ARGUMENT');
    }
    expect(await codeOf(store.create('has space'))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.create('x', { history: 65 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.create('x', { ttl: -1 }))).toBe('INVALID_ARGUMENT');
  });

  it('create is idempotent with the same options and refused with others', async () => {
    const { store } = await memoryBucket({ history: 3 });
    expect((await store.create('results', { durable: false, history: 3 })).created).toBe(false);
    const err = await store.create('results', { durable: false, history: 4 }).catch((e: WarrenError) => e);
    expect(err).toBeInstanceOf(WarrenError);
    expect((err as WarrenError).name).toBe('PRECONDITION_FAILED');
    expect((err as WarrenError).details).toEqual({ field: 'history', received: 4, current: 3 });
    expect(store.list().map((i) => [i.name, i.config.history])).toEqual([['results', 3]]);
    // Options left out are not compared: a reader opens the bucket whatever its options.
    expect((await store.create('results')).created).toBe(false);
    expect(await codeOf(store.create('missing', { passive: true }))).toBe('NOT_FOUND');
    expect(store.has('missing')).toBe(false);
  });

  it('keeps at most `history` revisions per key, oldest dropped first; get by revision', async () => {
    const { b } = await memoryBucket({ history: 3 });
    for (let i = 1; i <= 5; i++) await b.put('k', v(`v${i}`));
    expect(b.history('k').map((r) => `${r.rev}:${text(r)}`)).toEqual(['3:v3', '4:v4', '5:v5']);
    expect(text(b.get('k', 4))).toBe('v4');
    expect(b.get('k', 2)).toBeNull(); // dropped
    await b.delete('k');
    expect(b.history('k').map((r) => r.op)).toEqual(['put', 'put', 'del']);
    expect(b.get('k')).toBeNull();
    expect(text(b.get('k', 5))).toBe('v5'); // still in history after the delete
    await b.delete('k', { purge: true });
    expect(b.history('k').map((r) => r.op)).toEqual(['purge']);
    expect(b.bytes).toBe(1); // only the purge marker's key
  });

  it('deleting a bucket ends its watches and forgets it', async () => {
    const { store, b } = await memoryBucket();
    const w = recorder();
    b.watch(undefined, {}, w);
    await store.delete('results');
    expect(w.ended).toEqual(['NOT_FOUND']);
    expect(await codeOf(() => store.bucket('results'))).toBe('NOT_FOUND');
    expect(await codeOf(() => b.put('k', v('x')))).toBe('NOT_FOUND');
    expect(await codeOf(store.delete('results'))).toBe('NOT_FOUND');
  });
});

describe('compare-and-set', () => {
  it('create only when absent (or deleted); update only at the expected revision', async () => {
    const { b } = await memoryBucket();
    expect(await b.put('lock', v('me'), { expect: 0 })).toBe(1);
    const err = await b.put('lock', v('you'), { expect: 0 }).catch((e: WarrenError) => e);
    expect((err as WarrenError).code).toBe(460);
    expect((err as WarrenError).name).toBe('WRONG_REVISION');
    expect((err as WarrenError).details).toEqual({ key: 'lock', expected: 0, current: 1 });
    expect(await b.put('lock', v('me2'), { expect: 1 })).toBe(2);
    expect(await codeOf(b.put('lock', v('x'), { expect: 1 }))).toBe('WRONG_REVISION');
    expect(await codeOf(b.put('none', v('x'), { expect: 7 }))).toBe('WRONG_REVISION');
    expect(await codeOf(b.delete('lock', { expect: 1 }))).toBe('WRONG_REVISION');
    expect(await b.delete('lock', { expect: 2 })).toBe(3);
    // After a delete the key may be created again.
    expect(await b.put('lock', v('again'), { expect: 0 })).toBe(4);
  });

  it('two writers racing on the same revision: exactly one wins, the other learns the current revision', async () => {
    const { b } = await memoryBucket();
    const rev = await b.put('counter', v('0'));
    const results = await Promise.allSettled([b.put('counter', v('A'), { expect: rev }), b.put('counter', v('B'), { expect: rev })].map((p) => p));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0]!.reason as WarrenError).details).toEqual({ key: 'counter', expected: rev, current: rev + 1 });
    expect(text(b.get('counter'))).toBe('A');
  });
});

describe('limits', () => {
  it('value too large and bucket full are refused with their codes and change nothing', async () => {
    const { b } = await memoryBucket({ maxValueSize: 10, maxBytes: 30 });
    const big = await b.put('k', Buffer.alloc(11)).catch((e: WarrenError) => e);
    expect((big as WarrenError).name).toBe('VALUE_TOO_LARGE');
    expect((big as WarrenError).details).toEqual({ size: 11, maxValueSize: 10 });
    await b.put('a', Buffer.alloc(10)); // 11 bytes
    await b.put('b', Buffer.alloc(10)); // 22 bytes
    const full = await b.put('c', Buffer.alloc(10)).catch((e: WarrenError) => e);
    expect((full as WarrenError).name).toBe('BUCKET_FULL');
    expect((full as WarrenError).details).toEqual({ bytes: 22, maxBytes: 30 });
    expect(b.lastRevision).toBe(2);
    // Overwriting frees the old value first (history 1), so it fits.
    expect(await b.put('a', Buffer.alloc(10))).toBe(3);
    await b.delete('b');
    expect(await b.put('c', Buffer.alloc(10))).toBe(5);
  });

  it('the value is copied: changing the caller buffer afterwards changes nothing', async () => {
    const { b } = await memoryBucket();
    const buf = v('abc');
    await b.put('k', buf);
    buf.write('xyz');
    expect(text(b.get('k'))).toBe('abc');
  });
});

describe('TTL on an injected clock', () => {
  it('per bucket: a value expires ttl after it was written; its expiry is a change with a revision', async () => {
    const { b, clock } = await memoryBucket({ ttl: 1000 });
    const w = recorder();
    b.watch(undefined, {}, w);
    await b.put('a', v('1'));
    clock.advance(600);
    await b.put('b', v('2'));
    clock.advance(399);
    expect(b.keyList()).toEqual(['a', 'b']);
    clock.advance(1);
    expect(b.keyList()).toEqual(['b']);
    expect(b.get('a')).toBeNull();
    expect(b.history('a').map((r) => [r.op, r.rev, r.createdAt])).toEqual([['expired', 3, 1_001_000]]);
    clock.advance(600);
    expect(b.keyList()).toEqual([]);
    expect(w.seen).toEqual(['put a@1=1', 'put b@2=2', 'expired a@3', 'expired b@4']);
  });

  it('per key: the put option overrides the bucket ttl (0 = never)', async () => {
    const { b, clock } = await memoryBucket({ ttl: 1000 });
    await b.put('short', v('x'), { ttl: 10 });
    await b.put('forever', v('x'), { ttl: 0 });
    await b.put('default', v('x'));
    clock.advance(10);
    expect(b.keyList()).toEqual(['default', 'forever']);
    clock.advance(5000);
    expect(b.keyList()).toEqual(['forever']);
  });

  it('a per-key ttl works in a bucket without one; markers age out after markerTtl and free the key', async () => {
    const { store, b, clock } = await memoryBucket({ markerTtl: 100, history: 2 });
    await b.put('k', v('x'), { ttl: 50 });
    await b.put('gone', v('y'));
    await b.delete('gone');
    clock.advance(50);
    expect(store.sweep()).toBeGreaterThan(0);
    expect(b.history('k').map((r) => r.op)).toEqual(['expired']);
    clock.advance(100);
    store.sweep();
    expect(b.history('k')).toEqual([]);
    expect(b.history('gone')).toEqual([]);
    expect(b.bytes).toBe(0);
  });

  it('an overwrite cancels the old value expiry; older history entries age out without a revision', async () => {
    const { b, clock } = await memoryBucket({ history: 3 });
    await b.put('k', v('1'), { ttl: 100 });
    await b.put('k', v('2'), { ttl: 1000 });
    clock.advance(100);
    expect(text(b.get('k'))).toBe('2');
    expect(b.history('k').map((r) => text(r))).toEqual(['2']);
    expect(b.lastRevision).toBe(2);
  });

  it('stale expiry entries from many overwrites do not pile up', async () => {
    const { b } = await memoryBucket({ ttl: 60_000 });
    for (let i = 0; i < 10_000; i++) await b.put('hot', v(String(i)));
    // The heap is rebuilt once stale entries outnumber live ones (plus slack).
    expect((b as unknown as { expiry: { size: number } }).expiry.size).toBeLessThanOrEqual(1024 + 2);
  });
});

describe('watch', () => {
  it('from now: only later changes that match', async () => {
    const { b } = await memoryBucket();
    await b.put('jobs.1', v('old'));
    const w = recorder();
    const watch = b.watch({ pattern: 'jobs.*' }, {}, w);
    expect(watch.initial).toEqual([]);
    expect(watch.startRevision).toBe(1);
    await b.put('jobs.2', v('new'));
    await b.put('other', v('x'));
    await b.delete('jobs.1');
    expect(w.seen).toEqual(['put jobs.2@2=new', 'del jobs.1@4']);
    watch.close();
    await b.put('jobs.3', v('after'));
    expect(w.seen).toHaveLength(2);
  });

  it('with current values first (markers left out), then live changes', async () => {
    const { b } = await memoryBucket();
    await b.put('a', v('1'));
    await b.put('b', v('2'));
    await b.delete('a');
    await b.put('c', v('3'));
    const w = recorder();
    const watch = b.watch(undefined, { includeCurrent: true }, w);
    expect(watch.initial.map((r) => `${r.key}@${r.rev}`)).toEqual(['b@2', 'c@4']);
    await b.put('b', v('5'));
    expect(w.seen).toEqual(['put b@5=5']);
  });

  it('resumed after a revision (a client reconnecting): latest of each key changed since, markers included', async () => {
    const { b } = await memoryBucket();
    await b.put('a', v('1'));
    await b.put('b', v('2'));
    const lastSeen = b.lastRevision;
    // ... the client is away ...
    await b.put('a', v('3'));
    await b.delete('b');
    await b.put('c', v('5'));
    const watch = b.watch(undefined, { afterRevision: lastSeen }, recorder());
    expect(watch.initial.map((r) => `${r.op} ${r.key}@${r.rev}`)).toEqual(['put a@3', 'del b@4', 'put c@5']);
  });
});
