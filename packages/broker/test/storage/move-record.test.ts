/**
 * MessageStore.move: a message changes queues with ONE record, so recovery
 * sees the old queue list or the new one, never both or neither, wherever a
 * crash cuts the log.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordType, RecordType, SEGMENT_HEADER_SIZE, segmentFileName, recordId } from '../../src/storage/format.js';
import { scanSegment } from '../../src/storage/recovery.js';
import { ids, open, put } from './helpers.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

const record = { exchange: 'ex', routingKey: 'rk', properties: { contentType: 'text/plain', headers: { n: 1 } }, body: Buffer.from('moved body') };

function move(s: Awaited<ReturnType<typeof open>>, id: number, from: string, to: string[]): Promise<string[] | null> {
  return new Promise((resolve, reject) => {
    const added = s.move(id, from, to, record, (err) => (err ? reject(err) : resolve(added)));
    if (added === null) resolve(null);
  });
}

describe('MessageStore.move', () => {
  it('moves one queue ref, keeps the other queues and their delivery counts, survives a reopen', async () => {
    const dir = await tempDir();
    try {
      const s = await open(dir);
      const id = await put(s, ['a', 'c'], 'moved body');
      s.delivered('c', id);
      s.delivered('c', id);
      s.delivered('a', id);
      expect(await move(s, id, 'a', ['b', 'c'])).toEqual(['b']);
      expect(await move(s, id, 'a', ['b'])).toBeNull(); // not on 'a' any more: nothing written
      expect((await s.readBody(id)).toString()).toBe('moved body');
      await s.close();
      const again = await open(dir);
      expect(ids(again, 'a')).toEqual([]);
      expect(again.recovered().get('b')).toEqual([expect.objectContaining({ id, deliveryCount: 0, routingKey: 'rk' })]);
      expect(again.recovered().get('c')).toEqual([expect.objectContaining({ id, deliveryCount: 2 })]);
      // Settling it in its new queues frees it.
      again.settle('b', id);
      again.settle('c', id);
      expect(again.size).toBe(0);
      await again.close();
    } finally {
      await removeDir(dir);
    }
  });

  it('a move to no queue at all is a settlement', async () => {
    const dir = await tempDir();
    try {
      const s = await open(dir);
      const id = await put(s, ['a'], 'x');
      expect(await move(s, id, 'a', [])).toEqual([]);
      expect(s.size).toBe(0);
      await s.close();
      const again = await open(dir);
      expect(again.size).toBe(0);
      await again.close();
    } finally {
      await removeDir(dir);
    }
  });

  it('a crash cutting the move record anywhere leaves the message in exactly one place', async () => {
    const dir = await tempDir();
    const s = await open(dir);
    const id = await put(s, ['a'], 'moved body');
    await move(s, id, 'a', ['b']);
    await s.close();
    const image = await readFile(join(dir, 'messages', segmentFileName(1)));
    await removeDir(dir);
    let copy: { pos: number; len: number } | undefined;
    scanSegment(image, SEGMENT_HEADER_SIZE, (pos, len) => {
      if (recordType(image, pos) === RecordType.COPY && recordId(image, pos) === id) copy = { pos, len };
    });
    expect(copy).toBeDefined();
    const cuts = [copy!.pos, copy!.pos + 1, copy!.pos + 12, copy!.pos + 21, copy!.pos + (copy!.len >> 1), copy!.pos + copy!.len - 1, copy!.pos + copy!.len];
    for (const cut of cuts) {
      const d = await tempDir();
      try {
        await mkdir(join(d, 'messages'));
        await writeFile(join(d, 'messages', segmentFileName(1)), image.subarray(0, cut));
        const r = await open(d);
        const where = [...ids(r, 'a').map(() => 'a'), ...ids(r, 'b').map(() => 'b')];
        expect(where, `cut at ${cut - copy!.pos} of ${copy!.len}`).toEqual([cut === copy!.pos + copy!.len ? 'b' : 'a']);
        await r.close();
      } finally {
        await removeDir(d);
      }
    }
  });
});
