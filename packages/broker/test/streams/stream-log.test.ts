import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, open, readdir, rm, stat, truncate, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamLog, type StreamLogOptions } from '../../src/streams/stream-log.js';
import { segmentName, indexName, STREAM_SEGMENT_HEADER_SIZE } from '../../src/streams/record-format.js';
import { INDEX_INTERVAL } from '../../src/streams/segment-index.js';
import type { StoredRecord } from '../../src/streams/record-format.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warren-stream-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const meta = Buffer.from([0x93, 0xa0, 0xa1, 0x6b, 0xc0]); // msgpack ["", "k", nil]

function appendAll(log: StreamLog, bodies: string[]): Promise<number[]> {
  return Promise.all(
    bodies.map(
      (b) =>
        new Promise<number>((resolve, reject) => log.append(meta, Buffer.from(b), (err, off) => (err ? reject(err) : resolve(off)))),
    ),
  );
}

async function readAll(log: StreamLog, from: number, batchBytes?: number): Promise<StoredRecord[]> {
  const r = log.reader(from, batchBytes);
  const out: StoredRecord[] = [];
  for (;;) {
    const batch = await r.read(1000);
    if (batch.length === 0) break;
    out.push(...batch);
  }
  await r.close();
  return out;
}

const bodies = (n: number, size = 10) => Array.from({ length: n }, (_, i) => `m${i}`.padEnd(size, '.'));

function openLog(extra: Partial<StreamLogOptions> = {}): Promise<StreamLog> {
  return StreamLog.open({ dir, ...extra });
}

describe('StreamLog appends', () => {
  it('gives dense offsets from 0 and non-decreasing broker timestamps, and reads never remove anything', async () => {
    let now = 1000;
    const log = await openLog({ clock: () => now });
    const a = await appendAll(log, ['a', 'b']);
    now = 900; // the clock steps back: the stream's timestamps do not
    const b = await appendAll(log, ['c']);
    expect([...a, ...b]).toEqual([0, 1, 2]);
    const first = await readAll(log, 0);
    expect(first.map((r) => r.body.toString())).toEqual(['a', 'b', 'c']);
    expect(first.map((r) => r.timestamp)).toEqual([1000, 1000, 1000]);
    expect(first[0]!.meta).toEqual(meta);
    expect((await readAll(log, 0)).length).toBe(3);
    expect(log.next).toBe(3);
    expect(log.messages).toBe(3);
    await log.close();
  });

  it('reports an append durable only after fdatasync, and makes it visible to readers only then', async () => {
    let release!: () => void;
    let reached!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const syncing = new Promise<void>((r) => (reached = r));
    const log = await openLog({
      hooks: {
        beforeSync: () => {
          reached();
          return gate;
        },
      },
    });
    let done = false;
    const p = appendAll(log, ['x']).then(() => (done = true));
    await syncing; // written, fdatasync held back
    expect(done).toBe(false);
    expect(log.next).toBe(0);
    expect(await readAll(log, 0)).toEqual([]);
    release();
    await p;
    expect(log.next).toBe(1);
    expect((await readAll(log, 0)).length).toBe(1);
    await log.close();
  });

  it('group-commits: appends made together share one write and one fdatasync', async () => {
    const log = await openLog();
    const syncsBefore = log.stats.syncs;
    await appendAll(log, bodies(500));
    expect(log.stats.syncs - syncsBefore).toBe(1);
    expect(log.stats.batches).toBe(1);
    await log.close();
  });

  it('a write or sync error fails the pending appends, calls onFatal, and refuses later appends', async () => {
    const fatal: Error[] = [];
    const log = await openLog({ hooks: { beforeSync: () => Promise.reject(new Error('EIO')) }, onFatal: (e) => fatal.push(e) });
    await expect(appendAll(log, ['a', 'b'])).rejects.toMatchObject({ code: 542 });
    expect(fatal.length).toBe(1);
    await expect(appendAll(log, ['c'])).rejects.toMatchObject({ code: 542 });
    expect(log.next).toBe(0);
    await log.close();
  });
});

describe('StreamLog segments and lookups', () => {
  it('rolls segments at segmentBytes, named by their first offset, and reads across them', async () => {
    const log = await openLog({ segmentBytes: 1024 });
    await appendAll(log, bodies(100, 50));
    expect(log.segments.length).toBeGreaterThan(5);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort();
    expect(files[0]).toBe(segmentName(0));
    expect(files).toContain(segmentName(log.segments[1]!.base));
    for (const s of log.segments.slice(0, -1)) expect((await stat(join(dir, segmentName(s.base)))).size).toBeLessThanOrEqual(1024);
    const all = await readAll(log, 0, 300);
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(all[57]!.body.toString()).toBe('m57'.padEnd(50, '.'));
    await log.close();
  });

  it('resolves first, last, next, offsets (clamped to the ends) and timestamps (first at or after)', async () => {
    let now = 10_000;
    const log = await openLog({ segmentBytes: 512, clock: () => now });
    for (let i = 0; i < 30; i++) {
      now = 10_000 + i * 10;
      await appendAll(log, [`m${i}`]);
    }
    expect(await log.resolveStart('first')).toBe(0);
    expect(await log.resolveStart('last')).toBe(29);
    expect(await log.resolveStart('next')).toBe(30);
    expect(await log.resolveStart({ offset: 12 })).toBe(12);
    expect(await log.resolveStart({ offset: 1e9 })).toBe(30);
    expect(await log.resolveStart({ timestamp: 10_125 })).toBe(13);
    expect(await log.resolveStart({ timestamp: 10_130 })).toBe(13);
    expect(await log.resolveStart({ timestamp: 0 })).toBe(0);
    expect(await log.resolveStart({ timestamp: 99_999 })).toBe(30);
    await log.close();
  });

  it('an empty stream resolves every start to 0', async () => {
    const log = await openLog();
    for (const s of ['first', 'last', 'next', { offset: 5 }, { timestamp: 1 }] as const) expect(await log.resolveStart(s)).toBe(0);
    await log.close();
  });

  it('finds an offset deep in a large segment through the sparse index', async () => {
    const log = await openLog();
    await appendAll(log, bodies(2000, 200));
    expect(log.segments.length).toBe(1);
    const pos = log.segments[0]!.positionFor(1500);
    expect(pos.offset).toBeGreaterThan(0);
    expect(pos.offset).toBeLessThanOrEqual(1500);
    expect(pos.pos).toBeGreaterThan(INDEX_INTERVAL);
    const r = log.reader(1500);
    const batch = await r.read(3);
    expect(batch.map((x) => x.offset)).toEqual([1500, 1501, 1502]);
    await r.close();
    await log.close();
  });

  it('reads in bounded batches and still returns a record larger than the batch', async () => {
    const log = await openLog();
    await appendAll(log, ['small', 'x'.repeat(100_000), 'after']);
    const r = log.reader(0, 4096);
    const got: string[] = [];
    for (;;) {
      const b = await r.read(10);
      if (b.length === 0) break;
      for (const x of b) got.push(x.body.length > 10 ? `big${x.body.length}` : x.body.toString());
    }
    expect(got).toEqual(['small', 'big100000', 'after']);
    await r.close();
    await log.close();
  });

  it('waitFor resolves when a record at that offset becomes durable', async () => {
    const log = await openLog();
    let woke = false;
    const w = log.waitFor(0).then(() => (woke = true));
    await new Promise((r) => setImmediate(r));
    expect(woke).toBe(false);
    await appendAll(log, ['a']);
    await w;
    expect(woke).toBe(true);
    await log.close();
  });
});

describe('StreamLog retention', () => {
  it('by size: deletes whole segments from the old end, never the head', async () => {
    const log = await openLog({ segmentBytes: 1024, maxBytes: 3000 });
    await appendAll(log, bodies(200, 50));
    await log.flushed();
    expect(log.bytes).toBeLessThanOrEqual(3000 + 1024);
    expect(log.first).toBeGreaterThan(0);
    expect(log.first).toBe(log.segments[0]!.base);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.seg'));
    expect(files.length).toBe(log.segments.length);
    const rest = await readAll(log, 0);
    expect(rest[0]!.offset).toBe(log.first);
    expect(rest[rest.length - 1]!.offset).toBe(199);
    await log.close();
  });

  it('by age: a segment goes when its newest record is older than x-max-age', async () => {
    let now = 1_000_000;
    const log = await openLog({ segmentBytes: 1024, clock: () => now });
    await appendAll(log, bodies(40, 50)); // several segments at t = 1_000_000
    now += 5_000;
    await appendAll(log, bodies(40, 50));
    const before = log.segments.length;
    log.maxAgeMs = 10_000;
    expect(await log.applyRetention()).toBe(0);
    now += 7_000; // the first batch is 12 s old, the second 7 s
    const deleted = await log.applyRetention();
    expect(deleted).toBeGreaterThan(0);
    expect(log.segments.length).toBe(before - deleted);
    for (const s of log.segments.slice(0, -1)) expect(s.lastTimestamp).toBeGreaterThanOrEqual(now - 10_000);
    expect(await log.resolveStart('first')).toBe(log.first);
    await log.close();
  });

  it('a reader behind retention continues at the oldest kept offset', async () => {
    const log = await openLog({ segmentBytes: 1024 });
    await appendAll(log, bodies(100, 50));
    const r = log.reader(0, 512);
    const firstBatch = await r.read(2);
    expect(firstBatch[0]!.offset).toBe(0);
    log.maxBytes = 2048;
    await log.applyRetention();
    const keptFirst = log.first;
    expect(keptFirst).toBeGreaterThan(10);
    const offsets: number[] = [];
    for (;;) {
      const b = await r.read(1000);
      if (b.length === 0) break;
      offsets.push(...b.map((x) => x.offset));
    }
    // Whatever the open segment still held, then a jump to the first kept offset, then everything.
    expect(offsets[offsets.length - 1]).toBe(99);
    expect(offsets).toContain(keptFirst);
    const afterJump = offsets.slice(offsets.indexOf(keptFirst));
    expect(afterJump).toEqual(Array.from({ length: 100 - keptFirst }, (_, i) => keptFirst + i));
    await r.close();
    await log.close();
  });
});

describe('StreamLog recovery', () => {
  it('reopens with the same offsets, timestamps and contents, trusting sealed segments\' indexes', async () => {
    let log = await openLog({ segmentBytes: 1024 });
    await appendAll(log, bodies(100, 50));
    const before = (await readAll(log, 0)).map((r) => [r.offset, r.timestamp, r.body.toString()]);
    const segs = log.segments.length;
    await log.close();
    log = await openLog({ segmentBytes: 1024 });
    expect(log.recovery.segments).toBe(segs);
    expect(log.recovery.scanned).toBe(1); // only the head
    expect(log.next).toBe(100);
    expect((await readAll(log, 0)).map((r) => [r.offset, r.timestamp, r.body.toString()])).toEqual(before);
    expect(await appendAll(log, ['next'])).toEqual([100]);
    await log.close();
  });

  it('cuts a torn tail at the last valid record and appends after it', async () => {
    let log = await openLog();
    await appendAll(log, bodies(10, 30));
    await log.close();
    const path = join(dir, segmentName(0));
    const size = (await stat(path)).size;
    await truncate(path, size - 7); // the last record lost its end
    log = await openLog();
    expect(log.next).toBe(9);
    expect(log.recovery.truncatedBytes).toBe(size - 7 - log.segments[0]!.size);
    expect(await appendAll(log, ['new'])).toEqual([9]);
    const all = await readAll(log, 0);
    expect(all.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(all[9]!.body.toString()).toBe('new');
    await log.close();
  });

  it('ignores garbage and zero-filled bytes after the last record', async () => {
    let log = await openLog();
    await appendAll(log, bodies(5));
    await log.close();
    const fh = await open(join(dir, segmentName(0)), 'a');
    await fh.write(Buffer.alloc(4096));
    await fh.write(Buffer.from('garbage garbage'));
    await fh.close();
    log = await openLog();
    expect(log.next).toBe(5);
    expect((await stat(join(dir, segmentName(0)))).size).toBe(log.segments[0]!.size);
    await log.close();
  });

  it('a record whose checksum fails ends the log there, with the segments after it dropped', async () => {
    let log = await openLog({ segmentBytes: 1024 });
    await appendAll(log, bodies(60, 50));
    const second = log.segments[1]!;
    const segs = log.segments.length;
    await log.close();
    // Flip a byte inside the third record of the second segment and lose its index.
    const path = join(dir, segmentName(second.base));
    const buf = await readFile(path);
    const recordSize = (second.size - STREAM_SEGMENT_HEADER_SIZE) / second.count;
    buf[STREAM_SEGMENT_HEADER_SIZE + 2 * recordSize + 40] ^= 0xff;
    await writeFile(path, buf);
    await rm(join(dir, indexName(second.base)));
    log = await openLog({ segmentBytes: 1024 });
    expect(log.next).toBe(second.base + 2);
    expect(log.segments.length).toBe(2);
    expect(segs).toBeGreaterThan(2);
    expect((await readdir(dir)).filter((f) => f.endsWith('.seg')).length).toBe(2);
    expect(await appendAll(log, ['again'])).toEqual([second.base + 2]);
    await log.close();
  });

  it('rescans a sealed segment whose index is missing or damaged', async () => {
    let log = await openLog({ segmentBytes: 1024 });
    await appendAll(log, bodies(60, 50));
    const first = log.segments[0]!;
    await log.close();
    await writeFile(join(dir, indexName(first.base)), Buffer.from('not an index'));
    log = await openLog({ segmentBytes: 1024 });
    expect(log.recovery.scanned).toBe(2);
    expect(log.next).toBe(60);
    expect((await readAll(log, 0)).length).toBe(60);
    await log.close();
  });

  it('a segment with a torn header at the end is dropped (it never held a durable record)', async () => {
    let log = await openLog({ segmentBytes: 1024 });
    await appendAll(log, bodies(30, 50));
    const next = log.next;
    await log.close();
    await writeFile(join(dir, segmentName(next)), Buffer.from([1, 2, 3]));
    log = await openLog({ segmentBytes: 1024 });
    expect(log.next).toBe(next);
    expect(await appendAll(log, ['z'])).toEqual([next]);
    await log.close();
  });
});
