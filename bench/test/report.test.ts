/**
 * The side-by-side plot draws the measured numbers: bar lengths in proportion
 * to the values (throughput per scenario, latency on one shared scale).
 */
import { describe, expect, it } from 'vitest';
import { sideBySideSvg, type RunResult } from '../e2e/report.js';

const run: RunResult = {
  machine: { date: '2026-12-02T00:00:00Z', cores: 2, cpuModel: 'test', totalMemGB: 1, node: 'v20', os: 'Linux', rabbitmqVersion: '3.10.8', warrenVersion: '0.1.0' },
  command: 'npm run bench -- all',
  scenarios: [
    {
      id: '1',
      alias: 'transient',
      title: 't',
      count: 1,
      metrics: [{ key: 'deliveredPerSec', label: 'delivered', unit: 'msg/s', better: 'higher', headline: true }],
      warren: { deliveredPerSec: 150_000 },
      rabbitmq: { deliveredPerSec: 30_000 },
      errors: {},
      notes: [],
    },
    {
      id: '5',
      alias: 'large',
      title: 'l',
      count: 1,
      metrics: [{ key: 'mbPerSec', label: 'throughput', unit: 'MB/s', better: 'higher', headline: true }],
      warren: { mbPerSec: 400 },
      rabbitmq: { mbPerSec: 800 },
      errors: {},
      notes: [],
    },
    {
      id: '4',
      alias: 'latency',
      title: 'lat',
      count: 1,
      metrics: [{ key: 'p99', label: 'latency p99', unit: 'ms', better: 'lower', headline: true }],
      warren: { p50: 0.1, p99: 0.5, p999: 2, floorP50: 0.1, floorP99: 0.4, floorP999: 4 },
      rabbitmq: { p50: 0.3, p99: 1, p999: 3 },
      errors: {},
      notes: [],
    },
  ],
};

/** [value, width] of every bar, in drawing order. */
function bars(svg: string): [number, number][] {
  return [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="\d+" fill="#[0-9a-f]+" data-value="([\d.e+-]+)"\/>/g)].map((m) => [
    Number(m[2]),
    Number(m[1]),
  ]);
}

describe('sideBySideSvg', () => {
  const svg = sideBySideSvg(run);
  const drawn = bars(svg);

  it('draws one bar per measured value: 2 per throughput scenario, 3 (with the floor) per latency percentile', () => {
    expect(drawn.map(([v]) => v)).toEqual([150_000, 30_000, 400, 800, 0.1, 0.3, 0.1, 0.5, 1, 0.4, 2, 3, 4]);
    expect(svg).toContain('150,000 msg/s');
    expect(svg).toContain('800.0 MB/s');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });

  it('scales each throughput scenario to its own largest bar', () => {
    const [[, w1], [, r1], [, w5], [, r5]] = drawn as [number, number][];
    expect(w1 / r1).toBeCloseTo(5, 2);
    expect(r5 / w5).toBeCloseTo(2, 2);
    // The largest bar of each scenario has the same (full) length.
    expect(w1).toBeCloseTo(r5, 1);
  });

  it('puts every latency bar on one scale', () => {
    const latency = drawn.slice(4);
    const perMs = latency.map(([v, w]) => w / v);
    // Widths are written to 0.1 px: a 0.1 ms bar is only a few pixels long.
    for (const r of perMs) expect(Math.abs(r / perMs.at(-1)! - 1)).toBeLessThan(0.05);
  });
});
