/** --side-by-side's statistics: per-slice p99s by publish time, and Warren's paired with the relay's. */
import { describe, expect, it } from 'vitest';
import { pairSlices, sliceP99s } from '../e2e/common.js';

describe('sliceP99s', () => {
  it('cuts the samples by publish time at multiples of the slice length and takes each slice p99', () => {
    // 100 samples in [1000, 1100) with latencies 1..100, 50 in [1100, 1200) all 7.
    const sent = Float64Array.from([...Array.from({ length: 100 }, (_, i) => 1000 + i), ...Array.from({ length: 50 }, (_, i) => 1100 + i)]);
    const lat = Float64Array.from([...Array.from({ length: 100 }, (_, i) => 100 - i), ...Array.from({ length: 50 }, () => 7)]);
    expect(sliceP99s(sent, lat, sent.length, 100)).toEqual([
      { at: 1000, p99: 99, samples: 100 },
      { at: 1100, p99: 7, samples: 50 },
    ]);
    // Only the first n samples count.
    expect(sliceP99s(sent, lat, 1, 100)).toEqual([{ at: 1000, p99: 100, samples: 1 }]);
  });
});

describe('pairSlices', () => {
  it('pairs slices by start, leaves out partial slices and those of one side only, and summarises the differences', () => {
    const full = (at: number, p99: number) => ({ at, p99, samples: 100 });
    const warren = [{ at: 0, p99: 9, samples: 10 }, full(100, 1.0), full(200, 1.5), full(300, 0.9), full(400, 2)];
    const relay = [full(100, 0.8), full(200, 1.0), full(300, 1.0), { at: 400, p99: 0.1, samples: 40 }, full(500, 3)];
    const p = pairSlices(warren, relay, 0.3);
    expect(p.diffs.map((d) => Math.round(d * 100) / 100)).toEqual([0.2, 0.5, -0.1]);
    expect(p.median).toBeCloseTo(0.2);
    expect(p.min).toBeCloseTo(-0.1);
    expect(p.max).toBeCloseTo(0.5);
    expect(p.within).toBeCloseTo(2 / 3);
  });

  it('gives NaN when no slice pairs', () => {
    expect(pairSlices([], [{ at: 0, p99: 1, samples: 1 }], 0.3).median).toBeNaN();
  });
});
