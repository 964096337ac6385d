/** The selection behind GET /api/buckets/.../entries: the same answer as sorting everything, without sorting everything. */
import { describe, expect, it } from 'vitest';
import { select } from '../../src/http/routes/buckets.js';
import type { Revision } from '../../src/kv/bucket.js';

/** A bucket-like source: `n` keys in map order, with revisions from a seeded shuffle up to `top`. */
function source(n: number, seed: number) {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const revs = Array.from({ length: n }, (_, i) => i + 1 + Math.floor(rand() * 3 * n));
  const unique = [...new Set(revs)];
  const items: Revision[] = unique.map((rev, i) => ({ key: `k${Math.floor(rand() * 1e9)}-${i}`, rev, op: 'put', value: null, createdAt: 0, expiresAt: 0, seg: -1, off: 0, len: 0, live: true }));
  return {
    items,
    bucket: {
      lastRevision: Math.max(...unique),
      eachLatest: (filter: { prefix?: string } | undefined, fn: (r: Revision) => void) => {
        for (const r of items) if (filter?.prefix === undefined || r.key.startsWith(filter.prefix)) fn(r);
      },
    },
  };
}

describe('bucket entries selection', () => {
  it.each([
    [50_000, 1000],
    [50_000, 1],
    [3000, 5000],
    [20_000, 0],
  ])('%i keys, limit %i: newest first and first by key match a full sort', (n, limit) => {
    const { items, bucket } = source(n, n + limit);
    const recent = select(bucket, undefined, 'recent', limit);
    expect(recent.total).toBe(items.length);
    expect(recent.items.map((r) => r.rev)).toEqual([...items].sort((a, b) => b.rev - a.rev).slice(0, limit).map((r) => r.rev));
    const byKey = select(bucket, 'k1', 'key', limit);
    const matching = items.filter((r) => r.key.startsWith('k1'));
    expect(byKey.total).toBe(matching.length);
    expect(byKey.items.map((r) => r.key)).toEqual(matching.map((r) => r.key).sort().slice(0, limit));
  });
});
