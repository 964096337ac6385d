/**
 * Review of store2: MessageIndex keeps a one-entry cache of a segment's live counts. Whatever the
 * order of adds, moves (place), settlements (one queue or one of several) and queue drops, every
 * segment's live count and bytes (what segment deletion and compaction read) must equal a
 * recount from the entries themselves.
 */
import { describe, expect, it } from 'vitest';
import { MessageIndex } from '../../src/storage/message-index.js';

function recount(index: MessageIndex): Map<number, { count: number; bytes: number }> {
  const m = new Map<number, { count: number; bytes: number }>();
  for (const [, e] of index) {
    const s = m.get(e.seg) ?? { count: 0, bytes: 0 };
    s.count++;
    s.bytes += e.len;
    m.set(e.seg, s);
  }
  return m;
}

describe('MessageIndex segment live counts (one-entry cache)', () => {
  it('equal a recount after any sequence of operations', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const index = new MessageIndex();
    const queues = ['a', 'b', 'c'];
    let nextId = 1;
    let seg = 1;
    for (let step = 0; step < 20000; step++) {
      const op = rnd(10);
      const ids = [...index].map(([id]) => id);
      if (op < 3 || ids.length === 0) {
        const qs = rnd(3) === 0 ? ['a', 'b'] : [queues[rnd(3)]!];
        index.add(nextId++, seg - rnd(Math.min(seg, 3)), rnd(1000), 1 + rnd(100), qs, null);
      } else if (op < 4) {
        const id = ids[rnd(ids.length)]!;
        index.place(id, seg - rnd(Math.min(seg, 3)), rnd(1000), 1 + rnd(100), [queues[rnd(3)]!], null);
      } else if (op < 8) {
        const id = ids[rnd(ids.length)]!;
        index.removeQueue(id, queues[rnd(3)]!);
      } else if (op < 9) {
        if (rnd(20) === 0) index.dropQueue(queues[rnd(3)]!);
        else index.remove(ids[rnd(ids.length)]!);
      } else if (rnd(50) === 0) seg++;
      if (step % 97 === 0 || step > 19900) {
        const want = recount(index);
        for (let s = 0; s <= seg + 1; s++) expect(index.live(s), `segment ${s} at step ${step}`).toEqual(want.get(s) ?? { count: 0, bytes: 0 });
        let bytes = 0;
        for (const v of want.values()) bytes += v.bytes;
        expect(index.liveBytes).toBe(bytes);
      }
    }
  });
});
