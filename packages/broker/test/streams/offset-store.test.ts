import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OffsetStore } from '../../src/streams/offset-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warren-offsets-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('OffsetStore', () => {
  it('keeps the last committed offset per name across a reopen', async () => {
    let s = await OffsetStore.open(dir);
    await Promise.all([s.commit('billing', 3), s.commit('audit', 10), s.commit('billing', 7)]);
    expect(s.get('billing')).toBe(7);
    await s.close();
    s = await OffsetStore.open(dir);
    expect(s.get('billing')).toBe(7);
    expect(s.get('audit')).toBe(10);
    expect(s.get('nobody')).toBeUndefined();
    expect(Object.fromEntries(s.entries())).toEqual({ billing: 7, audit: 10 });
    await s.close();
  });

  it('ignores a torn last record and rewrites the file compactly', async () => {
    let s = await OffsetStore.open(dir);
    await s.commit('a', 1);
    await s.commit('a', 2);
    await s.close();
    const path = join(dir, 'offsets.log');
    const fh = await open(path, 'a');
    await fh.write(Buffer.from([0x57, 0x53, 0x54, 0x4f, 40, 0, 0, 0, 1, 2])); // a record cut short
    await fh.close();
    s = await OffsetStore.open(dir);
    expect(s.get('a')).toBe(2);
    await s.commit('a', 5);
    await s.close();
    s = await OffsetStore.open(dir);
    expect(s.get('a')).toBe(5);
    expect((await stat(path)).size).toBeLessThan(100);
    await s.close();
  });

  it('offsets beyond 2^32 survive', async () => {
    let s = await OffsetStore.open(dir);
    await s.commit('big', 2 ** 40 + 5);
    await s.close();
    s = await OffsetStore.open(dir);
    expect(s.get('big')).toBe(2 ** 40 + 5);
    await s.close();
  });
});
