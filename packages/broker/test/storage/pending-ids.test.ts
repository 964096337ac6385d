import { describe, expect, it } from 'vitest';
import { KEPT_IDS, PendingIds } from '../../src/storage/message-store.js';

function fill(p: PendingIds, count: number): void {
  for (let i = 0; i < count; i++) p.ids[p.n++] = i;
}

describe('a queue deferred id list', () => {
  it('keeps its array from batch to batch while it stays within KEPT_IDS', () => {
    const p = new PendingIds();
    fill(p, KEPT_IDS);
    const first = p.take();
    expect(p.taken).toBe(KEPT_IDS);
    expect(p.ids).toBe(first);
    expect(p.n).toBe(0);
  });

  it('drops an array grown past KEPT_IDS after its batch, so a burst does not stay allocated', () => {
    const p = new PendingIds();
    fill(p, KEPT_IDS + 1);
    const burst = p.take();
    expect(burst.length).toBe(KEPT_IDS + 1);
    expect(p.taken).toBe(KEPT_IDS + 1);
    expect(p.ids).not.toBe(burst);
    expect(p.ids.length).toBe(0);
    // the handed-out ids are intact for the batch that writes them
    expect(burst[KEPT_IDS]).toBe(KEPT_IDS);
  });
});
