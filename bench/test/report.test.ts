/**
 * The side-by-side plot draws the measured numbers: bar lengths in proportion
 * to the values (throughput per scenario, latency on one shared scale).
 */
import { describe, expect, it } from 'vitest';
import { floodAppendix, markdownTable, rows, scaleSvg, sideBySideSvg, type RunResult } from '../e2e/report.js';

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
      systems: { warren: { deliveredPerSec: 150_000 }, rabbitmq: { deliveredPerSec: 30_000 }, nats: { deliveredPerSec: 75_000 }, floor: { deliveredPerSec: 200_000 } },
      errors: {},
      notes: [],
    },
    {
      id: '5',
      alias: 'large',
      title: 'l',
      count: 1,
      metrics: [{ key: 'mbPerSec', label: 'throughput', unit: 'MB/s', better: 'higher', headline: true }],
      systems: { warren: { mbPerSec: 400 }, rabbitmq: { mbPerSec: 800 } },
      errors: {},
      notes: [],
    },
    {
      id: '4',
      alias: 'latency',
      title: 'lat',
      count: 1,
      metrics: [{ key: 'p99', label: 'latency p99', unit: 'ms', better: 'lower', headline: true }],
      systems: { warren: { p50: 0.1, p99: 0.5, p999: 2 }, rabbitmq: { p50: 0.3, p99: 1, p999: 3 }, floor: { p50: 0.1, p99: 0.4, p999: 4 } },
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

  it('draws one bar per measured value, in series order (Warren, RabbitMQ, NATS, ..., floor)', () => {
    expect(drawn.map(([v]) => v)).toEqual([150_000, 30_000, 75_000, 200_000, 400, 800, 0.1, 0.3, 0.1, 0.5, 1, 0.4, 2, 3, 4]);
    expect(svg).toContain('150,000 msg/s');
    expect(svg).toContain('800.0 MB/s');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });

  it('scales each throughput scenario to its own largest bar', () => {
    const [[, w1], [, r1], [, n1], [, f1], [, w5], [, r5]] = drawn as [number, number][];
    expect(w1 / r1).toBeCloseTo(5, 1);
    expect(w1 / n1).toBeCloseTo(2, 2);
    expect(r5 / w5).toBeCloseTo(2, 2);
    // The largest bar of each scenario has the same (full) length.
    expect(f1).toBeCloseTo(r5, 1);
  });

  it("puts a latency scenario's bars on one scale", () => {
    const latency = drawn.slice(6);
    const perMs = latency.map(([v, w]) => w / v);
    // Widths are written to 0.1 px: a 0.1 ms bar is only a few pixels long.
    for (const r of perMs) expect(Math.abs(r / perMs.at(-1)! - 1)).toBeLessThan(0.05);
  });
});

describe('rows', () => {
  const [transient, , p99] = rows(run.scenarios);

  it('compares Warren with RabbitMQ, with the closest peer and with the floor', () => {
    expect(transient!.advantage).toBeCloseTo(5, 5);
    expect(transient!.vsBest).toEqual({ system: 'nats', ratio: 2 });
    expect(transient!.ofFloor).toBeCloseTo(0.75, 5);
  });

  it("gives a latency's distance from the floor in ms", () => {
    expect(p99!.label).toBe('latency p99');
    expect(p99!.ofFloor).toBeCloseTo(0.1, 5);
    expect(markdownTable([p99!])).toContain('+0.10 ms');
  });
});

describe('scaleSvg', () => {
  it('draws a point per measured step and system, higher values higher up', () => {
    const svg = scaleSvg('t', [1, 100, 10_000], 'queues', [
      { title: 'delivered', unit: 'msg/s', series: [{ key: 'warren', values: [100, 50, 10] }, { key: 'rabbitmq', values: [20, undefined, 5] }] },
    ]);
    const points = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="3" fill="#[0-9a-f]+" data-value="([\d.]+)"\/>/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
    expect(points.map((p) => p[2])).toEqual([100, 50, 10, 20, 5]);
    // Log x axis: 100 is halfway between 1 and 10,000.
    expect(points[1]![0]! - points[0]![0]!).toBeCloseTo(points[2]![0]! - points[1]![0]!, 1);
    expect(points[0]![1]!).toBeLessThan(points[1]![1]!);
  });
});

describe('floodAppendix', () => {
  it('adds the queued row and a note per timed flood, with peak RSS as a fraction of the limit', () => {
    const MiB = 1024 * 1024;
    const a = floodAppendix(
      { date: 'd1', queued: { count: 10_000_000, rssBeforeBytes: 91e6, rssBytes: 188e6, seconds: 87, limitBytes: 256 * MiB } },
      {
        date: 'd2',
        command: 'npm run -w bench flood -- --seconds 600',
        flood: [
          { case: '16B-none', seconds: 600, limitBytes: 256 * MiB, peakRssBytes: 235 * MiB, queueLength: 10_466_133, blockedSeconds: 0, blockedEvents: 0 },
          { case: '1KiB-stalled', seconds: 600, limitBytes: 256 * MiB, peakRssBytes: 219 * MiB, queueLength: 6_066_695, blockedSeconds: 1.5, blockedEvents: 2 },
        ],
      },
    );
    expect(a.rows).toEqual([{ id: 'resources', metric: 'RSS with 10M queued 16 B msgs, limit 256 MiB (MB, lower is better)', warren: '188' }]);
    expect(a.notes).toHaveLength(2);
    expect(a.notes[1]).toContain('for 600 s each');
    expect(a.notes[1]).toContain('16B-none: peak RSS 235 MiB (0.92x the 256 MiB limit), queue 10.5M messages, publishers blocked 0 s (0 FLOW)');
    expect(a.notes[1]).toContain('1KiB-stalled: peak RSS 219 MiB (0.86x the 256 MiB limit), queue 6.1M messages, publishers blocked 1.5 s (2 FLOW)');
  });

  it('adds nothing without results', () => {
    expect(floodAppendix(undefined, undefined)).toEqual({ rows: [], notes: [] });
  });
});

describe('targets against the floor', () => {
  const withTargets: RunResult = {
    ...run,
    scenarios: [
      { ...run.scenarios[0]!, metrics: [{ ...run.scenarios[0]!.metrics[0]!, target: 3, floorTarget: 0.6 }] },
      { ...run.scenarios[2]!, metrics: [{ ...run.scenarios[2]!.metrics[0]!, floorTarget: 0.3 }] },
    ],
  };
  const table = markdownTable(rows(withTargets.scenarios));

  it('judges throughput as a share of the floor and latency as ms above it', () => {
    // 150,000 / 200,000 = 75% of the floor (>= 60%); 5x RabbitMQ (>= 3x).
    expect(table).toContain('| >= 3x: met; >= 60% of floor: met |');
    // p99 0.5 ms against the floor's 0.4 ms: +0.1 ms (<= +0.3 ms).
    expect(table).toContain('| <= floor + 0.3 ms: met |');
  });

  it('says NOT met when Warren falls short of the floor target', () => {
    const short = rows([{ ...withTargets.scenarios[0]!, systems: { ...withTargets.scenarios[0]!.systems, warren: { deliveredPerSec: 100_000 } } }]);
    expect(markdownTable(short)).toContain('>= 60% of floor: NOT met');
    const slow = rows([{ ...withTargets.scenarios[1]!, systems: { ...withTargets.scenarios[1]!.systems, warren: { p99: 0.8 } } }]);
    expect(markdownTable(slow)).toContain('<= floor + 0.3 ms: NOT met');
  });
});
