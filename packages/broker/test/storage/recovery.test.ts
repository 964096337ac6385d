import { mkdir, open as openFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '@warren/protocol';
import { recordId, recordType, RecordType, SEGMENT_HEADER_SIZE, segmentFileName } from '../../src/storage/format.js';
import { scanSegment } from '../../src/storage/recovery.js';
import { captureLogger, ids, open, put, segmentFiles } from './helpers.js';
import { removeDir, tempDir, tempDirPerTest } from '../../../../test-support/temp-dir.js';

interface Rec {
  id: number;
  type: number;
  pos: number;
  len: number;
}

/** Writes messages (and optional extra work) with a fresh store; returns segment 1's image and its records. */
async function build(dir: string, bodies: string[], extra?: (s: Awaited<ReturnType<typeof open>>, ids: number[]) => void | Promise<void>) {
  const s = await open(dir);
  const written: number[] = [];
  for (const b of bodies) written.push(await put(s, ['q'], b));
  await extra?.(s, written);
  await s.close();
  const path = join(dir, 'messages', segmentFileName(1));
  const image = await readFile(path);
  const records: Rec[] = [];
  scanSegment(image, SEGMENT_HEADER_SIZE, (pos, len) => records.push({ id: recordId(image, pos), type: recordType(image, pos), pos, len }));
  return { ids: written, path, image, records };
}

/** A fresh data dir holding just this segment 1 image. */
async function withSegment(image: Buffer): Promise<string> {
  const dir = await tempDir();
  await mkdir(join(dir, 'messages'));
  await writeFile(join(dir, 'messages', segmentFileName(1)), image);
  return dir;
}

const bodies = (n: number, size = 8) => Array.from({ length: n }, (_, i) => `m${i}-`.padEnd(size, String.fromCharCode(97 + (i % 26))));

describe('recovery', () => {
  const tmp = tempDirPerTest('warren-storage-');

  it('cuts a torn last record at every byte offset, keeping every intact record', async () => {
    const b = await build(tmp.path, bodies(4));
    const last = b.records.at(-1)!;
    expect(last.pos + last.len).toBe(b.image.length);
    for (let cut = last.pos; cut < b.image.length; cut++) {
      const d = await withSegment(b.image.subarray(0, cut));
      try {
        const s = await open(d);
        expect(ids(s, 'q')).toEqual(b.ids.slice(0, 3));
        expect(s.recoveryStats.truncatedBytes).toBe(cut - last.pos);
        expect(s.recoveryStats.droppedRecords).toBe(0);
        expect(s.recoveryStats.records).toBe(3);
        expect((await stat(join(d, 'messages', segmentFileName(1)))).size).toBe(last.pos);
        await s.close();
      } finally {
        await removeDir(d);
      }
    }
  });

  it('cuts at random offsets anywhere in the segment (header included)', async () => {
    const b = await build(tmp.path, Array.from({ length: 40 }, (_, i) => 'z'.repeat(1 + ((i * 37) % 300))));
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const cuts = [0, 5, SEGMENT_HEADER_SIZE - 1, SEGMENT_HEADER_SIZE, ...Array.from({ length: 25 }, () => Math.floor(rand() * b.image.length))];
    for (const cut of cuts) {
      const intact = b.records.filter((r) => r.pos + r.len <= cut);
      const validEnd = intact.length ? intact.at(-1)!.pos + intact.at(-1)!.len : Math.min(cut, SEGMENT_HEADER_SIZE);
      const d = await withSegment(b.image.subarray(0, cut));
      try {
        const s = await open(d);
        expect(ids(s, 'q')).toEqual(intact.map((r) => r.id));
        expect(s.recoveryStats.truncatedBytes).toBe(cut < SEGMENT_HEADER_SIZE ? cut : cut - validEnd);
        expect(s.recoveryStats.droppedRecords).toBe(0);
        expect(await put(s, ['q'], 'after')).toBeGreaterThan(intact.at(-1)?.id ?? 0);
        await s.close();
      } finally {
        await removeDir(d);
      }
    }
  });

  for (const [what, at] of [
    ['a body byte', (r: Rec) => r.pos + r.len - 20],
    ['the length field (small change)', (r: Rec) => r.pos + 4],
    ['the length field (huge length)', (r: Rec) => r.pos + 7],
    ['the record magic', (r: Rec) => r.pos + 1],
    ['the id', (r: Rec) => r.pos + 13],
  ] as const) {
    it(`a flipped byte in ${what} in the middle drops only that record`, async () => {
      const b = await build(tmp.path, bodies(10, 200));
      const victim = b.records[4]!;
      const image = Buffer.from(b.image);
      image[at(victim)]! ^= 0x40;
      const d = await withSegment(image);
      try {
        const logger = captureLogger();
        const s = await open(d, { logger });
        expect(ids(s, 'q')).toEqual(b.ids.filter((id) => id !== victim.id));
        expect(s.recoveryStats.droppedRecords).toBe(1);
        expect(s.recoveryStats.truncatedBytes).toBe(0);
        expect(s.recoveryStats.records).toBe(9);
        expect(logger.lines.some((l) => l.level === 'error' && l.obj.droppedRecords === 1)).toBe(true);
        await expect(s.readBody(victim.id)).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
        expect((await s.readBody(b.ids[5]!)).toString()).toBe(bodies(10, 200)[5]);
        await s.close();
        // A second open sees the same picture (the corrupt bytes are skipped, never "repaired" into data).
        const again = await open(d);
        expect(ids(again, 'q')).toEqual(b.ids.filter((id) => id !== victim.id));
        await again.close();
      } finally {
        await removeDir(d);
      }
    });
  }

  it('a corrupt settlement record only brings its messages back (at-least-once)', async () => {
    const b = await build(tmp.path, bodies(5), async (s, written) => {
      s.settle('q', written[1]!);
      await s.idle();
      // Settled in one turn: one SETTLE_IDS record.
      s.settle('q', written[2]!);
      s.settle('q', written[3]!);
    });
    const settles = b.records.filter((r) => r.type === RecordType.SETTLE_IDS);
    expect(settles).toHaveLength(2);
    const image = Buffer.from(b.image);
    // The first one (not the tail: a bad last record is a torn tail, cut rather than dropped).
    image[settles[0]!.pos + settles[0]!.len - 1]! ^= 0x01;
    const d = await withSegment(image);
    try {
      const s = await open(d);
      expect(ids(s, 'q')).toEqual([b.ids[0], b.ids[1], b.ids[4]]);
      expect(s.recoveryStats.droppedRecords).toBe(1);
      await s.close();
    } finally {
      await removeDir(d);
    }
  });

  it('cuts a zero-filled tail (preallocation) and a garbage tail', async () => {
    const b = await build(tmp.path, bodies(6));
    for (const tail of [Buffer.alloc(4096), Buffer.from('not a record, just trailing junk bytes')]) {
      const d = await withSegment(Buffer.concat([b.image, tail]));
      try {
        const s = await open(d);
        expect(ids(s, 'q')).toEqual(b.ids);
        expect(s.recoveryStats.truncatedBytes).toBe(tail.length);
        expect(s.recoveryStats.droppedRecords).toBe(0);
        expect((await stat(join(d, 'messages', segmentFileName(1)))).size).toBe(b.image.length);
        await s.close();
      } finally {
        await removeDir(d);
      }
    }
  });

  it('reopening twice after a torn tail loses nothing that survived the first reopen', async () => {
    const b = await build(tmp.path, bodies(5));
    const last = b.records.at(-1)!;
    const d = await withSegment(Buffer.concat([b.image.subarray(0, last.pos + 7), Buffer.alloc(100)]));
    try {
      const s1 = await open(d);
      expect(ids(s1, 'q')).toEqual(b.ids.slice(0, 4));
      const added = [await put(s1, ['q'], 'n1'), await put(s1, ['q'], 'n2'), await put(s1, ['q'], 'n3')];
      s1.settle('q', b.ids[0]!);
      await s1.close();
      expect(await segmentFiles(d)).toHaveLength(2); // writes went to a fresh segment

      const s2 = await open(d);
      const expected = [...b.ids.slice(1, 4), ...added];
      expect(ids(s2, 'q')).toEqual(expected);
      expect(s2.recoveryStats.truncatedBytes).toBe(0);
      await s2.close();
      const s3 = await open(d);
      expect(ids(s3, 'q')).toEqual(expected);
      expect((await s3.readBody(added[2]!)).toString()).toBe('n3');
      expect((await s3.readBody(b.ids[3]!)).toString()).toBe(bodies(5)[3]);
      await s3.close();
    } finally {
      await removeDir(d);
    }
  });

  it('readBody after recovery verifies the checksum (bit rot after open is reported, not served)', async () => {
    const b = await build(tmp.path, bodies(3, 100));
    const s = await open(tmp.path);
    expect((await s.readBody(b.ids[0]!)).toString()).toBe(bodies(3, 100)[0]);
    const r = b.records[1]!;
    const fh = await openFile(b.path, 'r+');
    await fh.write(Buffer.from([b.image[r.pos + r.len - 3]! ^ 0xff]), 0, 1, r.pos + r.len - 3);
    await fh.close();
    await expect(s.readBody(b.ids[1]!)).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
    await s.close();
  });

  it('refuses a segment written by a newer format version', async () => {
    const b = await build(tmp.path, bodies(1));
    const image = Buffer.from(b.image);
    const { encodeSegmentHeader } = await import('../../src/storage/format.js');
    const header = encodeSegmentHeader(1, 1);
    header.writeUInt16LE(99, 4);
    const { crc32c } = await import('@node-rs/crc32');
    header.writeUInt32LE(crc32c(header.subarray(0, 28)), 28);
    header.copy(image, 0);
    const d = await withSegment(image);
    try {
      await expect(open(d)).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
    } finally {
      await removeDir(d);
    }
  });
});
