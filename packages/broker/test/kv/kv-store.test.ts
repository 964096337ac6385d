/**
 * The kv log: durable buckets survive a reopen, a put is confirmed only after
 * fdatasync, puts share syncs (group commit), recovery cuts torn tails and skips
 * corrupt records, compaction gives disk space back, and a failed fsync stops
 * everything.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WarrenError } from '@warren/protocol';
import { KvStore, type KvStoreOptions } from '../../src/kv/index.js';
import { captureLogger } from '../storage/helpers.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

const dirs: string[] = [];
const stores: KvStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await removeDir(d);
});

let now = 5_000_000;
const clock = () => now;

async function openStore(dir: string, extra: Partial<KvStoreOptions> = {}): Promise<KvStore> {
  const s = await KvStore.open({ dir, clock, timers: false, logger: captureLogger(), ...extra });
  stores.push(s);
  return s;
}

async function fresh(extra: Partial<KvStoreOptions> = {}): Promise<{ dir: string; store: KvStore }> {
  const dir = await tempDir();
  dirs.push(dir);
  return { dir, store: await openStore(dir, extra) };
}

async function reopen(dir: string, store: KvStore, extra: Partial<KvStoreOptions> = {}): Promise<KvStore> {
  await store.close();
  return openStore(dir, extra);
}

const v = (s: string) => Buffer.from(s);

async function segFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'kv'))).filter((n) => n.endsWith('.seg')).sort();
}

describe('kv log: durability and recovery', () => {
  it('buckets, values, history, markers and revisions survive a reopen', async () => {
    const { dir, store } = await fresh();
    const { bucket: b } = await store.create('results', { history: 3, ttl: 0 });
    await b.put('a', v('1'));
    await b.put('a', v('2'));
    await b.put('b', v('3'));
    await b.delete('b');
    await b.put('c', v('4'));
    await b.delete('c', { purge: true });
    await b.put('big', Buffer.alloc(10_000, 7));
    await store.create('cache', { durable: false });
    await store.bucket('cache').put('x', v('memory only'));

    const again = await reopen(dir, store);
    expect(again.list().map((i) => i.name)).toEqual(['results']);
    const r = again.bucket('results');
    expect(r.config.history).toBe(3);
    expect(r.lastRevision).toBe(7);
    expect(r.history('a').map((x) => `${x.rev}:${x.value!.toString()}`)).toEqual(['1:1', '2:2']);
    expect(r.history('b').map((x) => x.op)).toEqual(['put', 'del']);
    expect(r.history('c').map((x) => x.op)).toEqual(['purge']);
    expect(r.get('big')!.value!.equals(Buffer.alloc(10_000, 7))).toBe(true);
    expect(r.keyList()).toEqual(['a', 'big']);
    expect(await r.put('a', v('5'))).toBe(8);
  });

  it('a put is confirmed (and watched) only after fdatasync', async () => {
    let release!: () => void;
    let gate: Promise<void> | null = null;
    const { store } = await fresh({ hooks: { beforeSync: () => gate ?? undefined } });
    const { bucket: b } = await store.create('results');
    const seen: number[] = [];
    b.watch(undefined, {}, { change: (r) => seen.push(r.rev), end: () => undefined });
    gate = new Promise<void>((resolve) => (release = resolve));
    let confirmed = false;
    const put = b.put('k', v('x')).then((rev) => {
      confirmed = true;
      return rev;
    });
    await new Promise((resolve) => setTimeout(resolve, 20)); // the write happens; the sync waits at the gate
    expect(confirmed).toBe(false);
    expect(seen).toEqual([]);
    gate = null;
    release();
    expect(await put).toBe(1);
    expect(seen).toEqual([1]);
  });

  it('concurrent puts share fdatasyncs (group commit)', async () => {
    const { store } = await fresh();
    const { bucket: b } = await store.create('results');
    const before = store.writeStats;
    await Promise.all(Array.from({ length: 500 }, (_, i) => b.put(`k${i}`, v(`value ${i}`))));
    const after = store.writeStats;
    expect(after.records - before.records).toBe(500);
    expect(after.syncs - before.syncs).toBeLessThan(50);
  });

  it('a torn tail is cut; everything before it is kept', async () => {
    const { dir, store } = await fresh();
    const { bucket: b } = await store.create('results');
    for (let i = 0; i < 10; i++) await b.put(`k${i}`, v(`v${i}`));
    await store.close();
    const [seg] = await segFiles(dir);
    const path = join(dir, 'kv', seg!);
    const full = await readFile(path);
    await writeFile(path, full.subarray(0, full.length - 5)); // the last record loses its end
    await appendFile(path, Buffer.alloc(100)); // and zeros follow, as after a power cut
    const again = await openStore(dir);
    expect(again.recoveryStats.truncatedBytes).toBeGreaterThan(100);
    expect(again.bucket('results').keyList()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8']);
    expect((await stat(path)).size).toBeLessThan(full.length);
    expect(await again.bucket('results').put('k9', v('again'))).toBe(10);
  });

  it('a corrupt record in the middle is skipped, the ones after it are kept', async () => {
    const { dir, store } = await fresh();
    const { bucket: b } = await store.create('results');
    await b.put('first', v('AAAAAAAAAAAAAAAA'));
    await b.put('middle', v('BBBBBBBBBBBBBBBB'));
    await b.put('last', v('CCCCCCCCCCCCCCCC'));
    await store.close();
    const [seg] = await segFiles(dir);
    const path = join(dir, 'kv', seg!);
    const buf = await readFile(path);
    const at = buf.indexOf('BBBBBBBB');
    buf[at] = 0x58;
    await writeFile(path, buf);
    const again = await openStore(dir);
    expect(again.recoveryStats.droppedRecords).toBe(1);
    expect(again.bucket('results').keyList()).toEqual(['first', 'last']);
  });

  it('a deleted bucket stays deleted; a bucket of the same name starts empty', async () => {
    const { dir, store } = await fresh();
    await (await store.create('b1')).bucket.put('k', v('old'));
    await store.delete('b1');
    await (await store.create('b1', { history: 2 })).bucket.put('other', v('new'));
    const again = await reopen(dir, store);
    expect(again.bucket('b1').keyList()).toEqual(['other']);
    expect(again.bucket('b1').config.history).toBe(2);
  });

  it('values past their TTL at reopen expire at once, each with a new revision', async () => {
    const { dir, store } = await fresh();
    const { bucket: b } = await store.create('results', { ttl: 1000 });
    await b.put('a', v('1'));
    await b.put('b', v('2'), { ttl: 0 });
    now += 5000;
    const again = await reopen(dir, store);
    const r = again.bucket('results');
    expect(r.keyList()).toEqual(['b']);
    expect(r.history('a').map((x) => [x.op, x.rev])).toEqual([['expired', 3]]);
  });
});

describe('kv log: compaction', () => {
  it('many overwrites and deletes: disk and memory come back, state is unchanged after a reopen', async () => {
    const segmentSize = 64 * 1024;
    const { dir, store } = await fresh({ segmentSize });
    const { bucket: b } = await store.create('results', { markerTtl: 1000 });
    const value = Buffer.alloc(500, 1);
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => b.put(`k${i}`, value)));
    }
    for (let i = 0; i < 90; i++) await b.delete(`k${i}`);
    await store.idle();
    const written = store.writeStats.records;
    expect(written).toBeGreaterThan(2000);
    // 10 live values of ~500 B plus 90 markers: far less than the ~1 MiB written.
    expect(store.stats.segmentsDeleted).toBeGreaterThan(5);
    expect(store.diskUsage()).toBeLessThan(4 * segmentSize);
    expect(b.bytes).toBe(10 * (3 + 500) + 10 * 2 + 80 * 3); // k90-k99 values, markers of k0-k89
    now += 1000; // the delete markers age out: their memory goes too
    store.sweep();
    expect(b.bytes).toBe(10 * (3 + 500));
    const rev = b.lastRevision;
    const again = await reopen(dir, store, { segmentSize });
    const r = again.bucket('results');
    expect(r.keyList()).toEqual(['k90', 'k91', 'k92', 'k93', 'k94', 'k95', 'k96', 'k97', 'k98', 'k99']);
    expect(r.lastRevision).toBe(rev);
    expect(r.get('k95')!.value!.equals(value)).toBe(true);
  });

  it('a value written before its bucket\'s record in the log (compaction re-appended the record at the head) survives a reopen', async () => {
    const segmentSize = 8192;
    const { dir, store } = await fresh({ segmentSize });
    const { bucket: b } = await store.create('results', { history: 1 });
    for (let i = 0; i < 8; i++) await b.put('hot', Buffer.alloc(900, i));
    await b.put('keep', Buffer.alloc(900, 77));
    for (let i = 0; i < 40; i++) {
      await b.put('hot', Buffer.alloc(900, i));
      await store.idle();
    }
    // Compaction moved the bucket's record to the head, past 'keep' (still in place: it is written before it in the log).
    expect(store.stats.compactedRecords).toBeGreaterThan(0);
    expect(b.get('keep')!.seg).toBeLessThanOrEqual(b.configSeg);
    const again = await reopen(dir, store, { segmentSize });
    expect(again.bucket('results').keyList()).toEqual(['hot', 'keep']);
    expect(again.bucket('results').get('keep')!.value!.equals(Buffer.alloc(900, 77))).toBe(true);
    expect(again.bucket('results').get('hot')!.value!.equals(Buffer.alloc(900, 39))).toBe(true);
  });

  it('the revision counter outlives compacted-away purge markers', async () => {
    const segmentSize = 16 * 1024;
    const { dir, store } = await fresh({ segmentSize });
    const { bucket: b } = await store.create('results', { markerTtl: 10 });
    await Promise.all(Array.from({ length: 300 }, () => b.put('k', Buffer.alloc(200))));
    await b.delete('k', { purge: true });
    now += 10;
    store.sweep(); // the marker ages out: nothing in the bucket is live
    // Unrelated traffic rolls segments so the old ones are reclaimed.
    const { bucket: other } = await store.create('other');
    await Promise.all(Array.from({ length: 300 }, () => other.put('x', Buffer.alloc(200))));
    await store.idle();
    expect(store.stats.segmentsDeleted).toBeGreaterThan(0);
    const again = await reopen(dir, store, { segmentSize });
    expect(again.bucket('results').lastRevision).toBe(301);
    expect(await again.bucket('results').put('k', v('next'))).toBe(302);
  });
});

describe('kv log: failures', () => {
  it('an fsync failure fails the put with STORAGE_ERROR, reports fatal, and refuses what follows', async () => {
    let fail = false;
    const fatal: Error[] = [];
    const { store } = await fresh({ hooks: { beforeSync: () => { if (fail) throw new Error('EIO'); } }, onFatal: (e) => fatal.push(e) });
    const { bucket: b } = await store.create('results');
    await b.put('ok', v('1'));
    fail = true;
    const err = await b.put('k', v('x')).catch((e: WarrenError) => e);
    expect((err as WarrenError).name).toBe('STORAGE_ERROR');
    expect(fatal).toHaveLength(1);
    fail = false;
    expect(((await b.put('later', v('y')).catch((e: WarrenError) => e)) as WarrenError).name).toBe('STORAGE_ERROR');
    await expect(store.create('new')).rejects.toThrow(/write failed/);
  });
});
