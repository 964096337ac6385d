/**
 * Output of the end-to-end run: the comparison rows, a console table,
 * bench/RESULTS.md and a hand-written SVG bar chart of Warren's advantage.
 */
import type { Measurements, Metric } from './scenarios.js';

export interface ScenarioResult {
  id: string;
  alias: string;
  title: string;
  count: number;
  /** Runs per system; the numbers are medians when > 1. */
  repeat?: number;
  metrics: Metric[];
  warren?: Measurements;
  rabbitmq?: Measurements;
  /** Every run's numbers when repeat > 1. */
  repeats?: Partial<Record<'warren' | 'rabbitmq', Measurements[]>>;
  errors: Partial<Record<'warren' | 'rabbitmq', string>>;
  notes: string[];
}

export interface MachineFacts {
  date: string;
  cores: number;
  cpuModel: string;
  totalMemGB: number;
  node: string;
  os: string;
  rabbitmqVersion: string | null;
  /** 1-minute load average when the run started and ended: how busy the shared machine was. */
  loadAvgAtStart?: number;
  loadAvgAtEnd?: number;
  warrenVersion: string | null;
}

export interface RunResult {
  machine: MachineFacts;
  command: string;
  scenarios: ScenarioResult[];
}

export interface Row {
  scenario: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  target?: number;
  headline: boolean;
  warren?: number;
  rabbitmq?: number;
  /** How many times better Warren is (> 1: Warren wins), undefined without both numbers. */
  advantage?: number;
}

const finite = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

export function rows(results: ScenarioResult[]): Row[] {
  const out: Row[] = [];
  for (const s of results) {
    for (const m of s.metrics) {
      const w = s.warren?.[m.key];
      const r = s.rabbitmq?.[m.key];
      const row: Row = { scenario: s.id, label: m.label, unit: m.unit, better: m.better, headline: m.headline, ...(m.target ? { target: m.target } : {}) };
      if (finite(w)) row.warren = w;
      if (finite(r)) row.rabbitmq = r;
      if (finite(w) && finite(r) && w > 0 && r > 0) row.advantage = m.better === 'higher' ? w / r : r / w;
      out.push(row);
    }
  }
  return out;
}

/**
 * Scenario 4 also measures a relay with no broker logic (relay-child.mjs) with
 * the same workers: what three Node processes on this machine can do at best.
 */
export function floorNotes(results: ScenarioResult[]): string[] {
  const out: string[] = [];
  for (const s of results) {
    const w = s.warren;
    if (w === undefined || !finite(w.floorP99)) continue;
    const rabbitP99 = s.rabbitmq?.p99;
    const above = (p99: number | undefined) => (finite(p99) ? fmt(p99 - w.floorP99!, 'ms') : '-');
    out.push(
      `scenario ${s.id} floor: the same producer and consumer through a bare TCP relay (no broker, no client library) ` +
        `measured p50 ${fmt(w.floorP50, 'ms')} / p99 ${fmt(w.floorP99, 'ms')} / p99.9 ${fmt(w.floorP999, 'ms')} ms in this run` +
        (finite(rabbitP99)
          ? `; one fifth of RabbitMQ's p99 is ${fmt(rabbitP99 / 5, 'ms')} ms. Above the floor, Warren adds ${above(w.p99)} ms to the p99, RabbitMQ ${above(rabbitP99)} ms.`
          : '.'),
    );
  }
  return out;
}

export function fmt(v: number | undefined, unit = ''): string {
  if (!finite(v)) return '-';
  if (unit === 'ms' || unit === 's') return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

function verdict(r: Row): string {
  if (r.target === undefined) return '';
  if (r.advantage === undefined) return `>= ${r.target}x: ?`;
  return `>= ${r.target}x: ${r.advantage >= r.target ? 'met' : 'NOT met'}`;
}

function cells(r: Row): string[] {
  return [
    r.scenario,
    `${r.label} (${r.unit}${r.better === 'lower' ? ', lower is better' : ''})`,
    fmt(r.warren, r.unit),
    fmt(r.rabbitmq, r.unit),
    r.advantage === undefined ? '-' : `${r.advantage.toFixed(2)}x`,
    verdict(r),
  ];
}

const HEADER = ['#', 'metric', 'Warren', 'RabbitMQ', 'Warren advantage', 'target'];

export function consoleTable(all: Row[]): string {
  const data = [HEADER, ...all.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...data.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(data[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...data.slice(1).map(line)].join('\n');
}

export function markdownTable(all: Row[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, '|---|---|---:|---:|---:|---|'];
  for (const r of all) lines.push(`| ${cells(r).join(' | ')} |`);
  return lines.join('\n');
}

/** A scenario outside the main table (see Scenario.extra), with the run that measured it last. */
export interface ExtraSection {
  heading: string;
  note: string;
  run: RunResult;
}

export function resultsMarkdown(run: RunResult, extras: ExtraSection[]): string {
  const m = run.machine;
  const main = rows(run.scenarios);
  const titles = run.scenarios.map((s) => `${s.id}. ${s.title} — ${s.count.toLocaleString('en-US')} messages${(s.repeat ?? 1) > 1 ? `, median of ${s.repeat} alternating runs` : ''}${Object.keys(s.errors).length ? ` (errors: ${JSON.stringify(s.errors)})` : ''}`);
  let md = `# Warren vs RabbitMQ, end to end

Generated by \`${run.command}\` on ${m.date}; do not edit by hand
(regenerate with \`npm run bench -- all --write-results\`, add \`--repeat 3\` on a busy machine;
\`npm run bench -- report\` rebuilds this page and its plots from the saved results).
Every number comes from one run, Warren and RabbitMQ measured back to back; compare the ratios, not
absolute figures across runs (the machine is shared and noisy).

Machine: ${m.cores} cores (${m.cpuModel}), ${m.totalMemGB} GB RAM, ${m.os}, Node ${m.node};
1-minute load average ${m.loadAvgAtStart ?? '?'} at the start, ${m.loadAvgAtEnd ?? '?'} at the end (other work shares the machine).
Warren ${m.warrenVersion ?? '?'} (built packages, its own process, fresh data folder per scenario, sync=always).
RabbitMQ ${m.rabbitmqVersion ?? '(not reachable: Warren only)'} on 127.0.0.1:5672 through amqplib 0.10.

Scenarios:
${titles.map((t) => `- ${t}`).join('\n')}

${markdownTable(main)}
${[...run.scenarios.flatMap((s) => s.notes ?? []), ...floorNotes(run.scenarios)].map((n) => `\nNote: ${n}\n`).join('')}
![Warren advantage per metric](results/ratios.svg)

![Throughput and latency, side by side](results/side-by-side.svg)

"Warren advantage" is Warren/RabbitMQ for throughput and RabbitMQ/Warren for latency, CPU and memory:
above 1x Warren is ahead.
`;
  for (const x of extras) {
    const em = x.run.machine;
    md += `
## ${x.heading} (\`${x.run.command}\`, ${em.date})

${x.run.scenarios.map((s) => `${s.title}${(s.repeat ?? 1) > 1 ? ` (median of ${s.repeat} alternating runs)` : ''}. ${x.note}`).join('\n')}
1-minute load average ${em.loadAvgAtStart ?? '?'} at the start, ${em.loadAvgAtEnd ?? '?'} at the end.

${markdownTable(rows(x.run.scenarios))}
${x.run.scenarios.flatMap((s) => s.notes ?? []).map((n) => `\nNote: ${n}`).join('')}
`;
  }
  md += `
## Method

- Broker, producer and consumer run in separate processes (\`bench/e2e/run.ts\` forks \`broker-child.mjs\`
  and \`worker.ts\`); the clients are the built \`@warren/client\` and amqplib.
- Each scenario publishes a warm-up batch (10% of the count, at least 200; 5 s of traffic for the latency
  scenario, whose tail would otherwise measure the JIT compiler) through the same processes before the
  measured batch.
- With \`--repeat N\` Warren and RabbitMQ take turns N times per scenario and each number is the median.
- Throughput = messages delivered / (consumer's last delivery - producer's first publish).
- Warren publishes always wait for confirms (window of 1,000 in flight); RabbitMQ uses a plain channel
  (no confirms) except in scenario 2, where it uses a confirm channel with 1,000 in flight.
- Latency: the producer writes its clock into the body at publish time; the consumer subtracts it on
  delivery. The producer is paced by a 1 ms timer that publishes every message due so far. amqplib runs
  with Nagle's algorithm off here (\`noDelay\`, as Warren's client always does): with it on, RabbitMQ's
  tail gets 40 ms delayed-ACK stalls that are the client's setting, not the broker. Elsewhere amqplib keeps
  its default, which gave RabbitMQ the better throughput.
- The latency floor (note under the table): the same producer and consumer processes through
  \`relay-child.mjs\`, a bare TCP relay that forwards records and echoes acks, measured right after Warren.
- Broker CPU: Warren's process.cpuUsage() (reported by the broker child), RabbitMQ's beam.smp utime+stime
  from /proc, over the measured batch.
- Connection storm (\`logins\`): the latency producer and consumer run twice at 1,000 msg/s, persistent
  messages on a durable queue; in the second run a third process opens 1,000 connections (50 at a time,
  all as guest, as services reconnecting after a restart do), then closes them all at once. Connections/s
  counts from the first connect to the last login; the latency percentiles cover the whole second run.
`;
  return md;
}

/** A horizontal bar per row with both numbers: Warren's advantage, 1x line and the target marks. */
export function ratiosSvg(all: Row[], title: string): string {
  const data = all.filter((r) => r.advantage !== undefined && r.headline);
  const rowH = 26;
  const left = 330;
  const width = 860;
  const plotW = width - left - 70;
  const top = 48;
  const height = top + data.length * rowH + 40;
  const maxV = Math.max(2, ...data.map((r) => Math.max(r.advantage!, r.target ?? 0))) * 1.05;
  // Log scale so 0.2x and 5x are as far from 1x.
  const minV = Math.min(0.5, ...data.map((r) => r.advantage!)) / 1.05;
  const x = (v: number) => left + ((Math.log(v) - Math.log(minV)) / (Math.log(maxV) - Math.log(minV))) * plotW;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const tick of [0.25, 0.5, 1, 2, 3, 5, 10, 20, 50]) {
    if (tick < minV || tick > maxV) continue;
    const tx = x(tick).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${top + data.length * rowH}" stroke="${tick === 1 ? '#333' : '#ddd'}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`);
    parts.push(`<text x="${tx}" y="${top + data.length * rowH + 16}" text-anchor="middle" fill="#555">${tick}x</text>`);
  }
  data.forEach((r, i) => {
    const y = top + i * rowH;
    const a = r.advantage!;
    const x1 = x(Math.min(1, a));
    const x2 = x(Math.max(1, a));
    const ok = r.target === undefined ? a >= 1 : a >= r.target;
    const color = ok ? '#3a7d44' : a >= 1 ? '#d9a33b' : '#c0392b';
    parts.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(`${r.scenario}. ${r.label}`)}</text>`);
    parts.push(`<rect x="${x1.toFixed(1)}" y="${y + 5}" width="${Math.max(1, x2 - x1).toFixed(1)}" height="${rowH - 10}" fill="${color}"/>`);
    parts.push(`<text x="${(x2 + 4).toFixed(1)}" y="${y + 17}">${a.toFixed(2)}x</text>`);
    if (r.target !== undefined) {
      const tx = x(r.target).toFixed(1);
      parts.push(`<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + rowH - 2}" stroke="black" stroke-width="2" stroke-dasharray="3,2"/>`);
    }
  });
  parts.push(
    `<text x="${left}" y="${height - 6}" fill="#555">Warren advantage over RabbitMQ (log scale; dashed = target; green = target met or no target and ahead)</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** One bar group of the side-by-side plot: a label and a value per series (undefined = not measured). */
interface BarGroup {
  label: string;
  unit: string;
  values: (number | undefined)[];
}

const SERIES = [
  { name: 'Warren', color: '#3a7d44' },
  { name: 'RabbitMQ', color: '#e07b39' },
  { name: 'bare relay (floor)', color: '#9a9a9a' },
];

/**
 * The numbers themselves, side by side: throughput per scenario on the left (each
 * group scaled to its own largest bar, since the units differ), latency percentiles
 * of scenario 4 on the right (one linear scale, with the relay floor).
 */
export function sideBySideSvg(run: RunResult): string {
  const throughput: BarGroup[] = [];
  let latency: BarGroup[] = [];
  for (const s of run.scenarios) {
    const m = s.metrics.find((x) => x.headline && x.better === 'higher');
    if (m !== undefined && s.warren?.p99 === undefined) {
      throughput.push({ label: `${s.id}. ${s.alias}: ${m.label}`, unit: m.unit, values: [s.warren?.[m.key], s.rabbitmq?.[m.key]] });
    }
    if (s.warren?.p99 !== undefined) {
      latency = (
        [
          ['p50', 'floorP50'],
          ['p99', 'floorP99'],
          ['p999', 'floorP999'],
        ] as const
      ).map(([k, floor]) => ({
        label: `${s.id}. ${s.alias} ${k === 'p999' ? 'p99.9' : k}`,
        unit: 'ms',
        values: [s.warren?.[k], s.rabbitmq?.[k], s.warren?.[floor]],
      }));
    }
  }
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const barH = 14;
  const panelW = 430;
  const labelW = 150;
  const barMax = panelW - labelW - 95;
  const top = 70;
  const groupH = (n: number) => n * barH + 16;
  const panelHeight = (groups: BarGroup[]) => groups.reduce((h, g) => h + groupH(g.values.length), 0);
  const height = top + Math.max(panelHeight(throughput), panelHeight(latency)) + 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${panelW * 2}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${panelW}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(
      `Warren vs RabbitMQ ${run.machine.rabbitmqVersion ?? ''} (${run.machine.date.slice(0, 10)}, ${run.machine.cores} cores)`,
    )}</text>`,
  ];
  SERIES.forEach((s, i) => {
    const x = 20 + i * 150;
    parts.push(`<rect x="${x}" y="30" width="10" height="10" fill="${s.color}"/>`, `<text x="${x + 14}" y="39">${esc(s.name)}</text>`);
  });
  const panel = (groups: BarGroup[], x0: number, title: string, scaleOf: (g: BarGroup) => number) => {
    parts.push(`<text x="${x0 + 10}" y="${top - 10}" font-size="13" font-weight="bold">${esc(title)}</text>`);
    let y = top;
    for (const g of groups) {
      parts.push(`<text x="${x0 + labelW - 6}" y="${y + barH}" text-anchor="end">${esc(g.label)}</text>`);
      const scale = scaleOf(g);
      g.values.forEach((v, i) => {
        if (v === undefined || !Number.isFinite(v)) return;
        const w = scale > 0 ? (v / scale) * barMax : 0;
        const by = y + i * barH;
        parts.push(
          `<rect x="${x0 + labelW}" y="${by + 1}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${SERIES[i]!.color}" data-value="${v}"/>`,
          `<text x="${(x0 + labelW + w + 4).toFixed(1)}" y="${by + barH - 3}">${esc(`${fmt(v, g.unit)} ${g.unit}`)}</text>`,
        );
      });
      y += groupH(g.values.length);
    }
  };
  const finiteMax = (vals: (number | undefined)[]) => Math.max(0, ...vals.filter((v): v is number => finite(v)));
  panel(throughput, 0, 'Throughput (longer is better)', (g) => finiteMax(g.values));
  parts.push(`<text x="10" y="${height - 6}" fill="#555">Each scenario's bars to their own scale; latency on one scale.</text>`);
  const latencyMax = finiteMax(latency.flatMap((g) => g.values));
  panel(latency, panelW, 'Latency at 5,000 msg/s (shorter is better)', () => latencyMax);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
