/**
 * Revisions are encoded straight into the kv log writer's slab (RevisionRecord,
 * LogWriter.appendRecord): the bytes must stay exactly those of encodeRevision,
 * so segments written before and after read the same, and what the store writes
 * must decode back to the revision.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRevision, RevisionRecord, type RevisionFields } from '../../src/kv/records.js';
import { KvStore } from '../../src/kv/index.js';
import { SEGMENT_HEADER_SIZE, validRecordAt } from '../../src/storage/format.js';
import type { KvOp } from '../../src/kv/bucket.js';
import { bytes, captureLogger, rng } from '../storage/helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

const OPS: KvOp[] = ['put', 'del', 'purge', 'expired'];
const KEYS = ['k', 't.0123456789abcdef', 'a/b:c@d+e~f%g!h$i&j,k;l=m-n_o', 'x'.repeat(64), 'y'.repeat(65), 'z'.repeat(1024)];
const BUCKETS = ['b', 'tasks-leases', 'N'.repeat(255)];

function fields(i: number, r: () => number): RevisionFields {
  const op = OPS[i % OPS.length]!;
  const size = [0, 1, 31, 32, 33, 300, 4096, 4097, 20_000][i % 9]!;
  return {
    op,
    rev: i % 7 === 0 ? 2 ** 40 + i : i + 1,
    key: KEYS[i % KEYS.length]!,
    createdAt: 1_700_000_000_000 + i,
    expiresAt: i % 3 === 0 ? 0 : 1_700_000_000_000 + i * 1000.5,
    value: op === 'put' ? bytes(size, r) : null,
  };
}

function concat(bufs: Buffer[]): Buffer {
  return Buffer.concat(bufs);
}

describe('RevisionRecord', () => {
  const tmp = tempDirPerTest();

  it('writes the bytes encodeRevision makes (inline and separate values, markers, long keys, large revisions)', () => {
    const r = rng(11);
    const slab = Buffer.alloc(1 << 20, 0xee);
    const rec = new RevisionRecord();
    let at = 3; // records follow each other at any offset
    for (let i = 0; i < 300; i++) {
      const bucket = BUCKETS[i % BUCKETS.length]!;
      const f = fields(i, r);
      const want = concat(encodeRevision(bucket, f).bufs);
      rec.set(Buffer.from(bucket, 'latin1'), f);
      expect(rec.length).toBe(want.length);
      rec.write(slab, at);
      const got = rec.tail === null ? slab.subarray(at, at + rec.headLength) : concat([slab.subarray(at, at + rec.headLength), rec.tail]);
      expect(got.equals(want)).toBe(true);
      at += rec.headLength;
    }
  });

  it('what a durable bucket writes decodes back to its revisions', async () => {
    const store = await KvStore.open({ dir: tmp.path, timers: false, clock: () => 1_000, logger: captureLogger() });
    const { bucket } = await store.create('b', { history: 5 });
    const big = Buffer.alloc(5000, 7);
    await bucket.put('k.1', Buffer.from('v1'));
    await bucket.put('k.1', big, { ttl: 500 });
    await bucket.delete('k.1');
    await store.close();
    const segs = (await readdir(join(tmp.path, 'kv'))).sort();
    expect(segs).toHaveLength(1);
    const buf = await readFile(join(tmp.path, 'kv', segs[0]!));
    const revs = [];
    for (let pos = SEGMENT_HEADER_SIZE; pos < buf.length; ) {
      const len = validRecordAt(buf, pos, buf.length);
      expect(len).toBeGreaterThan(0);
      const d = decodeRecord(buf, pos, len);
      if (d.kind === 'revision') revs.push(d.fields);
      pos += len;
    }
    expect(revs).toEqual([
      { op: 'put', rev: 1, key: 'k.1', createdAt: 1_000, expiresAt: 0, value: Buffer.from('v1') },
      { op: 'put', rev: 2, key: 'k.1', createdAt: 1_000, expiresAt: 1_500, value: big },
      { op: 'del', rev: 3, key: 'k.1', createdAt: 1_000, expiresAt: 1_000 + bucket.config.markerTtl, value: null },
    ]);
  });
});
