import { describe, it, expect } from 'vitest';
import { SettledPrefix } from '@warren/protocol';
import { rng } from '../../../test-support/prng.js';

describe('SettledPrefix', () => {
  it('in order: the prefix grows, nothing waits above it', () => {
    const s = new SettledPrefix();
    for (let n = 1; n <= 5; n++) s.settle(n);
    expect(s.next).toBe(6);
    expect(s.aheadCount).toBe(0);
  });

  it('out of order: numbers above the gap wait, and join the prefix when the gap closes', () => {
    const s = new SettledPrefix();
    s.settle(3);
    s.settle(2);
    expect(s.next).toBe(1);
    expect(s.aheadCount).toBe(2);
    expect(s.has(2)).toBe(true);
    expect(s.has(1)).toBe(false);
    s.settle(1);
    expect(s.next).toBe(4);
    expect(s.aheadCount).toBe(0);
  });

  it('settleUpTo covers everything below and joins what waits right above', () => {
    const s = new SettledPrefix();
    s.settle(3);
    s.settle(6);
    s.settle(7);
    s.settleUpTo(5);
    expect(s.next).toBe(8);
    expect(s.aheadCount).toBe(0);
    s.settleUpTo(2); // already covered
    expect(s.next).toBe(8);
  });

  it('numbers already in the prefix are ignored; forgetAhead keeps the prefix', () => {
    const s = new SettledPrefix();
    s.settle(1);
    s.settle(1);
    s.settle(4);
    expect(s.next).toBe(2);
    s.forgetAhead();
    expect(s.aheadCount).toBe(0);
    s.settle(2);
    s.settle(3);
    expect(s.next).toBe(4); // 4 was forgotten
  });

  it('any settle order ends with the full prefix (seeded shuffles)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const order = Array.from({ length: 200 }, (_, i) => i + 1);
      for (let i = order.length - 1; i > 0; i--) {
        const j = r.int(0, i);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const s = new SettledPrefix();
      const settled = new Set<number>();
      for (const n of order) {
        s.settle(n);
        settled.add(n);
        let next = 1;
        while (settled.has(next)) next++;
        expect(s.next).toBe(next);
        expect(s.aheadCount).toBe(settled.size - (next - 1));
      }
      expect(s.next).toBe(201);
    }
  });
});
