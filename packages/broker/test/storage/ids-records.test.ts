/**
 * Settlements and delivery marks are deferred and written as one SETTLE_IDS /
 * DELIVERED_IDS record per queue (format version 2): fewer, smaller records,
 * still checksummed, still in order with the records that may depend on them;
 * and version 1 segments (one SETTLE / DELIVERED record per message) still read.
 */
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pack } from '@warren/protocol';
import {
  decodeSegmentHeader,
  encodeMessage,
  encodeQueueRecord,
  encodeSegmentHeader,
  idsRecord,
  MESSAGE_FORMAT_VERSION,
  recordType,
  RecordType,
  SEGMENT_HEADER_SIZE,
  segmentFileName,
} from '../../src/storage/format.js';
import { scanSegment } from '../../src/storage/recovery.js';
import { ids, open, put, segmentFiles } from './helpers.js';
import { IDS_PER_RECORD } from '../../src/storage/log-writer.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

type Store = Awaited<ReturnType<typeof open>>;

const record = { exchange: 'ex', routingKey: 'rk', properties: { contentType: 'text/plain', headers: { n: 1 } }, body: Buffer.from('moved body') };

function move(s: Store, id: number, from: string, to: string[]): Promise<string[] | null> {
  return new Promise((resolve, reject) => {
    const added = s.move(id, from, to, record, (err) => (err ? reject(err) : resolve(added)));
    if (added === null) resolve(null);
  });
}

/** Appends n one-byte messages to queue q at once; resolves with their ids once all are durable. */
async function appendMany(s: Store, n: number): Promise<number[]> {
  const written: number[] = [];
  const body = { exchange: '', routingKey: 'q', properties: null, body: Buffer.from('x') };
  await new Promise<void>((resolve, reject) => {
    let left = n;
    for (let i = 0; i < n; i++) written.push(s.append(['q'], body, (err) => (err ? reject(err) : --left === 0 && resolve())));
  });
  return written;
}

/** Record types (and, for ids records, their ids) of every segment in dir, in log order. */
async function records(dir: string): Promise<Array<{ type: number; pos: number; len: number; file: string; ids: number[] }>> {
  const out: Array<{ type: number; pos: number; len: number; file: string; ids: number[] }> = [];
  for (const f of await segmentFiles(dir)) {
    const file = join(dir, 'messages', f);
    const image = await readFile(file);
    scanSegment(image, SEGMENT_HEADER_SIZE, (pos, len) => {
      const type = recordType(image, pos);
      const got: number[] = [];
      if (type === RecordType.SETTLE_IDS || type === RecordType.DELIVERED_IDS) idsRecord(image, pos, len, (_q, id) => got.push(id));
      out.push({ type, pos, len, file, ids: got });
    });
  }
  return out;
}

describe('SETTLE_IDS and DELIVERED_IDS records', () => {
  const tmp = tempDirPerTest('warren-ids-');

  it('writes the settlements and delivery marks of one turn as one record per queue, and recovers them', async () => {
    const s = await open(tmp.path);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 100; i++) a.push(await put(s, ['a'], `a${i}`));
    for (let i = 0; i < 10; i++) b.push(await put(s, ['b'], `b${i}`));
    await s.idle();
    const before = s.writeStats.records;
    for (const id of a.slice(0, 60)) s.settle('a', id);
    for (const id of a.slice(60)) s.delivered('a', id);
    for (const id of b.slice(0, 5)) s.settle('b', id);
    s.settle('a', a[0]!); // settled already: nothing
    await s.idle();
    expect(s.writeStats.records - before).toBe(3);
    await s.close();

    const recs = await records(tmp.path);
    expect(recs.filter((r) => r.type === RecordType.SETTLE || r.type === RecordType.DELIVERED)).toEqual([]);
    expect(recs.filter((r) => r.type === RecordType.DELIVERED_IDS).map((r) => r.ids)).toEqual([a.slice(60)]);
    expect(recs.filter((r) => r.type === RecordType.SETTLE_IDS).map((r) => r.ids)).toEqual([a.slice(0, 60), b.slice(0, 5)]);

    const again = await open(tmp.path);
    expect(ids(again, 'a')).toEqual(a.slice(60));
    expect(again.recovered().get('a')!.every((m) => m.deliveryCount === 1)).toBe(true);
    expect(ids(again, 'b')).toEqual(b.slice(5));
    await again.close();
  });

  it('each batch writes only its own ids (the per-queue lists are reused from batch to batch)', async () => {
    const s = await open(tmp.path);
    const a = await appendMany(s, 12);
    await s.idle();
    for (const id of a.slice(0, 6)) s.settle('q', id);
    for (const id of a.slice(6, 10)) s.delivered('q', id);
    await s.idle(); // batch 1: 4 marks, 6 settlements
    s.settle('q', a[6]!);
    s.delivered('q', a[7]!);
    await s.idle(); // batch 2: a shorter list in the same arrays
    s.settle('other', 1); // not held: nothing deferred for q
    s.delivered('q', a[8]!);
    await s.idle(); // batch 3: marks only; q's empty settlement list is dropped
    s.settle('q', a[9]!);
    await s.close();
    const recs = (await records(tmp.path)).filter((r) => r.type === RecordType.SETTLE_IDS || r.type === RecordType.DELIVERED_IDS);
    expect(recs.map((r) => [r.type, r.ids])).toEqual([
      [RecordType.DELIVERED_IDS, a.slice(6, 10)],
      [RecordType.SETTLE_IDS, a.slice(0, 6)],
      [RecordType.DELIVERED_IDS, [a[7]]],
      [RecordType.SETTLE_IDS, [a[6]]],
      [RecordType.DELIVERED_IDS, [a[8]]],
      [RecordType.SETTLE_IDS, [a[9]]],
    ]);
    const again = await open(tmp.path);
    expect(ids(again, 'q')).toEqual([a[7], a[8], a[10], a[11]]);
    expect(again.recovered().get('q')!.map((m) => m.deliveryCount)).toEqual([2, 2, 0, 0]);
    await again.close();
  });

  it('splits a long run of ids into records of at most IDS_PER_RECORD', async () => {
    const s = await open(tmp.path);
    const written = await appendMany(s, 9000);
    for (const id of written.slice(0, 8999)) s.settle('q', id);
    await s.close();
    const settles = (await records(tmp.path)).filter((r) => r.type === RecordType.SETTLE_IDS);
    expect(settles.map((r) => r.ids.length)).toEqual(runs(8999));
    const again = await open(tmp.path);
    expect(ids(again, 'q')).toEqual([written[8999]]);
    await again.close();
  });

  it('a deferred settlement goes to the log before a move back to the same queue (the message is not lost)', async () => {
    const s = await open(tmp.path);
    const id = await put(s, ['q1', 'q2'], 'x');
    s.settle('q1', id); // deferred
    expect(await move(s, id, 'q2', ['q1'])).toEqual(['q1']); // its COPY must follow the settlement
    await s.close();
    const again = await open(tmp.path);
    expect(ids(again, 'q1')).toEqual([id]);
    expect(ids(again, 'q2')).toEqual([]);
    await again.close();
  });

  it('a deferred delivery mark goes to the log before a COPY carrying its count (counted once)', async () => {
    const s = await open(tmp.path);
    const id = await put(s, ['q1', 'q2'], 'x');
    s.delivered('q1', id); // deferred; the index counts it at once
    expect(await move(s, id, 'q2', ['q3'])).toEqual(['q3']); // COPY with q1's count 1
    await s.close();
    const again = await open(tmp.path);
    expect(again.recovered().get('q1')!.map((m) => m.deliveryCount)).toEqual([1]);
    await again.close();
  });

  it('a torn SETTLE_IDS record at the tail is cut and its messages stay (at-least-once)', async () => {
    const s = await open(tmp.path);
    const written: number[] = [];
    for (let i = 0; i < 5; i++) written.push(await put(s, ['q'], `m${i}`));
    await s.idle();
    for (const id of written.slice(1, 4)) s.settle('q', id);
    await s.close();
    const recs = await records(tmp.path);
    const last = recs.at(-1)!;
    expect(last.type).toBe(RecordType.SETTLE_IDS);
    for (const cut of [last.pos + 1, last.pos + 25, last.pos + last.len - 1]) {
      await truncate(last.file, cut);
      const again = await open(tmp.path);
      expect(ids(again, 'q')).toEqual(written);
      expect(again.recoveryStats.truncatedBytes).toBe(cut - last.pos);
      await again.close();
    }
  });

  it('reads a version 1 segment (one SETTLE / DELIVERED record per message) and writes new segments as version 2', async () => {
    const dir = join(tmp.path, 'messages');
    await mkdir(dir);
    const meta = pack(['', 'q', null]);
    const parts = [encodeSegmentHeader(1, 1, 1)];
    for (const id of [1, 2, 3, 4]) parts.push(...encodeMessage(RecordType.MESSAGE, id, ['q'], null, meta, Buffer.from(`body${id}`)).bufs);
    parts.push(...encodeQueueRecord(RecordType.SETTLE, 1, 'q').bufs);
    parts.push(...encodeQueueRecord(RecordType.DELIVERED, 2, 'q').bufs);
    parts.push(...encodeQueueRecord(RecordType.DELIVERED, 2, 'q').bufs);
    parts.push(...encodeQueueRecord(RecordType.SETTLE, 4, 'q').bufs);
    await writeFile(join(dir, segmentFileName(1)), Buffer.concat(parts));

    const s = await open(tmp.path);
    expect(s.recovered().get('q')!.map((m) => [m.id, m.deliveryCount])).toEqual([
      [2, 2],
      [3, 0],
    ]);
    expect((await s.readBody(3)).toString()).toBe('body3');
    s.settle('q', 3);
    await s.close();
    const head = decodeSegmentHeader(await readFile(join(dir, segmentFileName(2))));
    expect(head.ok && head.version).toBe(MESSAGE_FORMAT_VERSION);
    expect(MESSAGE_FORMAT_VERSION).toBe(2);
    const again = await open(tmp.path);
    expect(ids(again, 'q')).toEqual([2]);
    await again.close();
  });

  it('refuses a message segment of a newer format version', async () => {
    const dir = join(tmp.path, 'messages');
    await mkdir(dir);
    await writeFile(join(dir, segmentFileName(1)), encodeSegmentHeader(1, 1, MESSAGE_FORMAT_VERSION + 1));
    await expect(open(tmp.path)).rejects.toThrow(/format version 3/);
  });
});

describe('SETTLE_IDS and DELIVERED_IDS records (review)', () => {
  const tmp = tempDirPerTest('warren-ids-review-');

  it('a clean close writes deferred delivery marks and settlements (nothing pending is lost)', async () => {
    const s = await open(tmp.path);
    const written: number[] = [];
    for (let i = 0; i < 6; i++) written.push(await put(s, ['q'], `m${i}`));
    for (const id of written) s.delivered('q', id);
    s.delivered('q', written[5]!);
    for (const id of written.slice(0, 3)) s.settle('q', id);
    await s.close(); // no idle(): close itself must flush what is deferred
    const again = await open(tmp.path);
    expect(again.recovered().get('q')!.map((m) => [m.id, m.deliveryCount])).toEqual([
      [written[3], 1],
      [written[4], 1],
      [written[5], 2],
    ]);
    await again.close();
  });

  it('a corrupt full SETTLE_IDS record in the middle brings back only its IDS_PER_RECORD messages; the records after it still count', async () => {
    const s = await open(tmp.path);
    const written = await appendMany(s, 9000);
    for (const id of written.slice(0, 8999)) s.settle('q', id);
    await s.idle();
    s.delivered('q', written[8999]!);
    await s.close();
    const recs = await records(tmp.path);
    const settles = recs.filter((r) => r.type === RecordType.SETTLE_IDS);
    expect(settles.map((r) => r.ids.length)).toEqual(runs(8999));
    const bad = settles[1]!;
    const image = await readFile(bad.file);
    image[bad.pos + 100] ^= 0xff; // an id byte inside the second record
    await writeFile(bad.file, image);
    const again = await open(tmp.path);
    expect(ids(again, 'q')).toEqual([...bad.ids, written[8999]]);
    expect(again.recovered().get('q')!.at(-1)!.deliveryCount).toBe(1);
    expect(again.recoveryStats.droppedRecords).toBe(1);
    await again.close();
  });
});

/** Record sizes expected for n ids settled together: full records, then the rest. */
function runs(n: number): number[] {
  const sizes = Array<number>(Math.floor(n / IDS_PER_RECORD)).fill(IDS_PER_RECORD);
  return n % IDS_PER_RECORD > 0 ? [...sizes, n % IDS_PER_RECORD] : sizes;
}
