/**
 * Review of the slab-encoded kv revisions (kvperf): under load that keeps slabs
 * referenced (syncs held), with segment rolls, separate value buffers (over 4 KiB,
 * over 64 KiB, over 1 MiB) and compaction, every revision on disk is byte for byte
 * what encodeRevision makes and recovery brings back the same state; storage
 * failures answer every KV_PUT exactly once, with STORAGE_ERROR.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvRevision, type WarrenError } from '@warren/protocol';
import { KvSession, KvStore, type FrameOut } from '../../src/kv/index.js';
import { ANSWERED } from '../../src/dispatch.js';
import { decodeRecord, encodeRevision } from '../../src/kv/records.js';
import { SEGMENT_HEADER_SIZE, validRecordAt } from '../../src/storage/format.js';
import { bytes, captureLogger, rng } from '../storage/helpers.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

const SIZES = [0, 1, 33, 700, 4096, 4097, 5000, 30_000, 65_536, 70_000, 1_300_000];

/** A KV_PUT's answer as the session sends it (FrameOut.ok / failed), by request id. */
const answers = new Map<number, { resolve: (r: KvRevision) => void; reject: (e: unknown) => void }>();
/** Request ids answered by the session when no answer was pending (twice, or a put answered at once). */
const unexpected: number[] = [];

function sink(): FrameOut {
  const ok = () => true;
  return {
    kvEntry: ok,
    kvEvent: ok,
    kvWatchEnd: ok,
    kvApplied: ok,
    error: ok,
    ok: (requestId: number, result: unknown) => {
      const a = answers.get(requestId);
      answers.delete(requestId);
      if (a === undefined) unexpected.push(requestId);
      else a.resolve(result as KvRevision);
    },
    failed: (requestId: number, err: unknown) => {
      const a = answers.get(requestId);
      answers.delete(requestId);
      if (a === undefined) unexpected.push(requestId);
      else a.reject(err);
    },
  } as unknown as FrameOut;
}

/**
 * KV_PUT as the connection calls it: the answer itself, or (ANSWERED) a promise of the answer the
 * session sends later; a put answered twice, or never, fails the test (the promise never settles).
 */
function putOf(s: KvSession): (bucket: string, key: string, o: Record<string, unknown> | null, v: Buffer, id: number) => KvRevision | Promise<KvRevision> {
  return (bucket, key, o, v, id) => {
    expect(answers.has(id)).toBe(false);
    const later = new Promise<KvRevision>((resolve, reject) => answers.set(id, { resolve, reject }));
    const res = s.putFrame(bucket, key, o, v, id);
    if (res !== ANSWERED) {
      answers.delete(id);
      return res;
    }
    return later;
  };
}

async function revisionsOnDisk(dir: string): Promise<{ count: number; mismatches: number }> {
  let count = 0;
  let mismatches = 0;
  for (const name of (await readdir(join(dir, 'kv'))).filter((n) => n.endsWith('.seg')).sort()) {
    const buf = await readFile(join(dir, 'kv', name));
    for (let pos = SEGMENT_HEADER_SIZE; pos < buf.length; ) {
      const len = validRecordAt(buf, pos, buf.length);
      expect(len, `${name} @${pos}`).toBeGreaterThan(0);
      const d = decodeRecord(buf, pos, len);
      if (d.kind === 'revision') {
        count++;
        if (!Buffer.concat(encodeRevision(d.bucket, d.fields).bufs).equals(buf.subarray(pos, pos + len))) mismatches++;
      }
      pos += len;
    }
  }
  return { count, mismatches };
}

describe('kv revisions in the slab (review)', () => {
  it('under held syncs, rolls, large values and compaction: bytes are encodeRevision\'s and a reopen gives the same state', async () => {
    const dir = await tempDir();
    let open!: () => void;
    let gate: Promise<void> | null = null;
    const opts = { dir, clock: () => 7_000, timers: false as const, logger: captureLogger(), segmentSize: 256 * 1024 };
    const store = await KvStore.open({ ...opts, hooks: { beforeSync: () => gate ?? undefined } });
    try {
      const s = new KvSession(store, sink());
      await s.createBucket('b', { history: 2, maxValueSize: 2_000_000 });
      const r = rng(5);
      const model = new Map<string, Buffer>();
      for (let round = 0; round < 6; round++) {
        gate = new Promise<void>((resolve) => (open = resolve));
        const pending: Array<Promise<unknown>> = [];
        for (let i = 0; i < 120; i++) {
          const key = `k.${(i * 7 + round) % 40}`;
          const value = bytes(SIZES[(i + round) % SIZES.length]!, r);
          // The caller's buffer is scribbled over at once: the store must have its own copy.
          const sent = Buffer.from(value);
          const wait = i % 3 === 0 ? { wait: 'applied' } : {};
          const res = putOf(s)('b', key, wait, sent, i + 1);
          sent.fill(0xab);
          model.set(key, value);
          pending.push(Promise.resolve(res));
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
        const g = open;
        gate = null;
        g();
        for (const p of pending) expect(await p).toBeInstanceOf(KvRevision);
        expect(unexpected).toEqual([]);
        await store.idle();
      }
      await store.idle();
      expect(store.stats.compactedRecords + store.stats.segmentsDeleted).toBeGreaterThan(0);
      for (const [key, value] of model) expect(store.bucket('b').get(key)!.value!.equals(value), key).toBe(true);
      await store.close();
      const disk = await revisionsOnDisk(dir);
      expect(disk.count).toBeGreaterThan(0);
      expect(disk.mismatches).toBe(0);
      const again = await KvStore.open(opts);
      try {
        expect(again.recoveryStats.droppedRecords).toBe(0);
        expect(again.recoveryStats.truncatedBytes).toBe(0);
        const b = again.bucket('b');
        expect(b.lastRevision).toBe(6 * 120);
        for (const [key, value] of model) expect(b.get(key)?.value?.equals(value), key).toBe(true);
      } finally {
        await again.close();
      }
    } finally {
      await store.close();
      await removeDir(dir);
    }
  }, 60_000);

  it('writes of several buckets, expiry markers and bucket records queued together under a held sync: each put is answered once, with its own revision, and watchers see every change', async () => {
    const dir = await tempDir();
    let open!: () => void;
    let gate: Promise<void> | null = null;
    let now = 7_000;
    const store = await KvStore.open({ dir, clock: () => now, timers: false, logger: captureLogger(), hooks: { beforeSync: () => gate ?? undefined } });
    try {
      const s = new KvSession(store, sink());
      await s.createBucket('a', null);
      await s.createBucket('b', { history: 3 });
      await s.createBucket('e', { ttl: 1_000 });
      await putOf(s)('e', 'x', null, Buffer.from('1'), 900);
      await putOf(s)('e', 'y', null, Buffer.from('2'), 901);
      const seen: string[] = [];
      for (const bucket of ['a', 'b', 'e']) {
        store.bucket(bucket).watch(undefined, {}, { change: (r) => seen.push(`${bucket}/${r.key}@${r.rev}:${r.op}`), end: () => undefined });
      }
      gate = new Promise<void>((resolve) => (open = resolve));
      const answered: Array<Promise<unknown>> = [];
      const put = (bucket: string, key: string, o: Record<string, unknown> | null, id: number) =>
        answered.push(Promise.resolve(putOf(s)(bucket, key, o, Buffer.from(`${bucket}${id}`), id)).then((r) => [id, r.revision]));
      put('a', 'k1', null, 1);
      put('b', 'k1', null, 2);
      put('a', 'k2', { applied: true }, 3);
      const created = s.createBucket('c', null);
      now = 9_000;
      expect(store.sweep()).toBe(2); // two EXPIRED markers, nobody waits for them
      put('b', 'k1', { expect: 1 }, 4);
      put('c', 'k', null, 5);
      put('a', 'k1', { wait: 'applied' }, 6);
      put('b', 'k2', null, 7);
      const g = open;
      gate = null;
      g();
      expect(await Promise.all(answered)).toEqual([[1, 1], [2, 1], [3, 2], [4, 2], [5, 1], [6, 3], [7, 3]]);
      expect(await created).toMatchObject({ name: 'c', created: true });
      expect(unexpected).toEqual([]);
      await store.idle();
      expect(seen.sort()).toEqual(['a/k1@1:put', 'a/k1@3:put', 'a/k2@2:put', 'b/k1@1:put', 'b/k1@2:put', 'b/k2@3:put', 'e/x@3:expired', 'e/y@4:expired']);
    } finally {
      await store.close();
      await removeDir(dir);
    }
  });

  for (const where of ['sync', 'write'] as const) {
    it(`a failed ${where === 'sync' ? 'fdatasync' : 'write (disk full)'}: every KV_PUT is answered once, stored ones with STORAGE_ERROR, and later ones too`, async () => {
      const dir = await tempDir();
      let fail = false;
      let open!: () => void;
      let gate: Promise<void> | null = null;
      const boom = () => {
        if (fail) throw Object.assign(new Error(where === 'sync' ? 'EIO' : 'ENOSPC: no space left on device'), { code: where === 'sync' ? 'EIO' : 'ENOSPC' });
      };
      const fatal: Error[] = [];
      const store = await KvStore.open({
        dir,
        clock: () => 7_000,
        timers: false,
        logger: captureLogger(),
        onFatal: (e) => fatal.push(e),
        hooks: where === 'sync' ? { beforeSync: async () => (await gate, boom()) } : { beforeWrite: async () => (await gate, boom()) },
      });
      try {
        const s = new KvSession(store, sink());
        await s.createBucket('b', null);
        gate = new Promise<void>((resolve) => (open = resolve));
        const outcomes: Array<string[]> = [];
        const settled: Array<Promise<unknown>> = [];
        const answer = (i: number, res: KvRevision | Promise<KvRevision>) => {
          outcomes[i] = [];
          if (res instanceof KvRevision) outcomes[i]!.push(`ok ${res.revision}`);
          else settled.push(res.then((x) => outcomes[i]!.push(`ok ${x.revision}`), (e: WarrenError) => outcomes[i]!.push(e.name)));
        };
        answer(0, putOf(s)('b', 'a', null, Buffer.from('1'), 1));
        answer(1, putOf(s)('b', 'a', { wait: 'applied' }, Buffer.alloc(9000, 1), 2));
        answer(2, putOf(s)('b', 'c', { applied: true }, Buffer.alloc(80_000, 2), 3));
        fail = true;
        open();
        gate = null;
        await Promise.all(settled);
        answer(3, putOf(s)('b', 'd', null, Buffer.from('later'), 4));
        await Promise.all(settled);
        await new Promise((resolve) => setImmediate(resolve));
        expect(outcomes).toEqual([['STORAGE_ERROR'], ['ok 2'], ['STORAGE_ERROR'], ['STORAGE_ERROR']]);
        expect(unexpected).toEqual([]);
        expect(fatal).toHaveLength(1);
      } finally {
        await store.close();
        await removeDir(dir);
      }
    });
  }
});
