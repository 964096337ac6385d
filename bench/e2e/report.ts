/**
 * Output of the end-to-end run: the comparison rows (Warren, RabbitMQ, NATS,
 * JetStream, Redis, and the floor measured in the same run), a console table,
 * bench/RESULTS.md and hand-written SVG plots.
 */
import { COMPARED, type ComparedSystem } from './drivers.js';
import { PEER_NOTES } from './peers.js';
import type { Measurements, Metric } from './scenarios.js';

/** A column of the tables: a compared system, or the floor (bare relay / raw append+fdatasync). */
export type SystemKey = ComparedSystem | 'floor';
export const COLUMNS: readonly SystemKey[] = [...COMPARED, 'floor'];
export const SYSTEM_LABEL: Record<SystemKey, string> = {
  warren: 'Warren',
  rabbitmq: 'RabbitMQ',
  nats: 'NATS core',
  jetstream: 'NATS JetStream',
  redis: 'Redis lists',
  'redis-streams': 'Redis streams',
  floor: 'floor',
};

export interface ScenarioResult {
  id: string;
  alias: string;
  title: string;
  count: number;
  /** Runs per system; the numbers are medians when > 1. */
  repeat?: number;
  metrics: Metric[];
  /** What the floor column is, when the scenario measures one. */
  floor?: string;
  /** Medians per system. */
  systems: Partial<Record<SystemKey, Measurements>>;
  /** Every run's numbers when repeat > 1. */
  repeats?: Partial<Record<SystemKey, Measurements[]>>;
  /** Errors per system; `sideBySide` when --side-by-side failed. */
  errors: Partial<Record<SystemKey | 'sideBySide', string>>;
  notes: string[];
  /** --side-by-side: Warren and the relay measured at the same time (scenarios.ts sideBySide); medians over the repeats, and each run. */
  sideBySide?: Measurements;
  sideBySideRepeats?: Measurements[];
}

export interface MachineFacts {
  date: string;
  cores: number;
  cpuModel: string;
  totalMemGB: number;
  node: string;
  os: string;
  rabbitmqVersion: string | null;
  /** Versions of the other peers that answered (nats-server, redis-server). */
  peerVersions?: Partial<Record<ComparedSystem, string>>;
  /** 1-minute load average when the run started and ended: how busy the shared machine was. */
  loadAvgAtStart?: number;
  loadAvgAtEnd?: number;
  warrenVersion: string | null;
}

export interface RunResult {
  machine: MachineFacts;
  command: string;
  /** Saved while the run was still going (or it was stopped): only the scenarios listed were measured. */
  partial?: boolean;
  scenarios: ScenarioResult[];
}

export interface Row {
  scenario: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  target?: number;
  /** See Metric.floorTarget: least share of the floor (throughput), most ms above it (latency). */
  floorTarget?: number;
  headline: boolean;
  values: Partial<Record<SystemKey, number>>;
  /** How many times better Warren is than RabbitMQ (> 1: Warren wins), undefined without both numbers. */
  advantage?: number;
  /** How many times better Warren is than the best peer measured. */
  vsBest?: { system: ComparedSystem; ratio: number };
  /** Throughput: Warren / floor. Latency: Warren - floor (ms). */
  ofFloor?: number;
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const finite = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

export function rows(results: ScenarioResult[]): Row[] {
  const out: Row[] = [];
  for (const s of results) {
    for (const m of s.metrics) {
      const values: Partial<Record<SystemKey, number>> = {};
      for (const k of COLUMNS) {
        const v = s.systems[k]?.[m.key];
        if (finite(v)) values[k] = v;
      }
      const row: Row = { scenario: s.id, label: m.label, unit: m.unit, better: m.better, headline: m.headline, values, ...(m.target ? { target: m.target } : {}), ...(m.floorTarget ? { floorTarget: m.floorTarget } : {}) };
      const w = values.warren;
      const times = (peer: number) => (m.better === 'higher' ? w! / peer : peer / w!);
      if (finite(w) && w > 0) {
        if (finite(values.rabbitmq) && values.rabbitmq > 0) row.advantage = times(values.rabbitmq);
        for (const p of COMPARED.slice(1)) {
          const v = values[p];
          if (!finite(v) || v <= 0) continue;
          if (row.vsBest === undefined || times(v) < row.vsBest.ratio) row.vsBest = { system: p, ratio: times(v) };
        }
        if (finite(values.floor) && values.floor > 0) row.ofFloor = m.better === 'higher' ? w / values.floor : w - values.floor;
      }
      out.push(row);
    }
  }
  return out;
}

/** A sentence per scenario with a floor: what it is, and Warren against it. */
export function floorNotes(results: ScenarioResult[]): string[] {
  const out: string[] = [];
  for (const s of results) {
    if (s.floor === undefined || s.systems.floor === undefined) continue;
    const parts = rows([s])
      .filter((r) => r.ofFloor !== undefined && r.headline)
      .map((r) => (r.unit === 'ms' ? `${r.label} ${fmt(r.ofFloor, 'ms')} ms above it` : `${r.label} ${(r.ofFloor! * 100).toFixed(0)}% of it`));
    out.push(`scenario ${s.id} floor: ${s.floor}. Warren: ${parts.join(', ') || '-'}.`);
  }
  return out;
}

export function fmt(v: number | undefined, unit = ''): string {
  if (!finite(v)) return '-';
  if (unit === 'ms' || unit === 's') return Math.abs(v) < 10 ? v.toFixed(2) : Math.abs(v) < 100 ? v.toFixed(1) : v.toFixed(0);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(1);
}

function verdict(r: Row): string {
  const parts: string[] = [];
  if (r.target !== undefined) parts.push(`>= ${r.target}x: ${r.advantage === undefined ? '?' : r.advantage >= r.target ? 'met' : 'NOT met'}`);
  if (r.floorTarget !== undefined) {
    const latency = r.unit === 'ms';
    const goal = latency ? `<= floor + ${r.floorTarget} ms` : `>= ${(r.floorTarget * 100).toFixed(0)}% of floor`;
    const met = r.ofFloor === undefined ? undefined : latency ? r.ofFloor <= r.floorTarget : r.ofFloor >= r.floorTarget;
    parts.push(`${goal}: ${met === undefined ? '?' : met ? 'met' : 'NOT met'}`);
  }
  return parts.join('; ');
}

/** The columns that hold at least one number in these rows. */
function usedColumns(all: Row[]): SystemKey[] {
  return COLUMNS.filter((k) => all.some((r) => r.values[k] !== undefined));
}

function header(cols: SystemKey[]): string[] {
  return ['#', 'metric', ...cols.map((k) => SYSTEM_LABEL[k]), 'Warren vs RabbitMQ', 'Warren vs best peer', ...(cols.includes('floor') ? ['Warren vs floor'] : []), 'target'];
}

function cells(r: Row, cols: SystemKey[]): string[] {
  const floorCell = r.ofFloor === undefined ? '-' : r.unit === 'ms' ? `+${fmt(r.ofFloor, 'ms')} ms` : `${(r.ofFloor * 100).toFixed(0)}%`;
  return [
    r.scenario,
    `${r.label} (${r.unit}${r.better === 'lower' ? ', lower is better' : ''})`,
    ...cols.map((k) => fmt(r.values[k], r.unit)),
    r.advantage === undefined ? '-' : `${r.advantage.toFixed(2)}x`,
    r.vsBest === undefined ? '-' : `${r.vsBest.ratio.toFixed(2)}x (${SYSTEM_LABEL[r.vsBest.system]})`,
    ...(cols.includes('floor') ? [floorCell] : []),
    verdict(r),
  ];
}

export function consoleTable(all: Row[]): string {
  const cols = usedColumns(all);
  const head = header(cols);
  const data = [head, ...all.map((r) => cells(r, cols))];
  const widths = head.map((_, i) => Math.max(...data.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i >= 2 && i < head.length - 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(data[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...data.slice(1).map(line)].join('\n');
}

export function markdownTable(all: Row[]): string {
  const cols = usedColumns(all);
  const head = header(cols);
  const lines = [`| ${head.join(' | ')} |`, `|---|---|${head.slice(2, -1).map(() => '---:|').join('')}---|`];
  for (const r of all) lines.push(`| ${cells(r, cols).join(' | ')} |`);
  return lines.join('\n');
}

/** A scenario outside the main table (see Scenario.extra), with the run that measured it last. */
export interface ExtraSection {
  heading: string;
  note: string;
  run: RunResult;
  /** Plots of this section (file names under results/). */
  plots?: string[];
  /** Rows added to the section's table (Warren's column only), and notes under it, from other benches. */
  appendix?: Appendix;
}

/** What `flood.ts --queued N --write-results` saves (results/flood-queued.json). */
export interface FloodQueuedRun {
  date: string;
  command?: string;
  queued: { count: number; rssBeforeBytes: number; rssBytes: number; seconds: number; limitBytes?: number };
}
/** What `flood.ts --write-results` saves (results/flood.json): the timed floods against a memory limit. */
export interface FloodRun {
  date: string;
  command?: string;
  flood: {
    case: string;
    seconds: number;
    limitBytes: number;
    peakRssBytes: number;
    queueLength: number;
    blockedSeconds: number;
    blockedEvents: number;
  }[];
}
/** The Resources table's row from the flood bench (Warren only: the peers are not flooded). */
export interface Appendix {
  rows: { id: string; metric: string; warren: string }[];
  notes: string[];
}

/** A table with the appendix rows added: Warren's value, the other columns empty. */
function withAppendix(table: string, appendix: Appendix | undefined): string {
  if (appendix === undefined || appendix.rows.length === 0) return table;
  const columns = table.split('\n')[0]!.split('|').length - 2;
  return [table, ...appendix.rows.map((r) => `| ${[r.id, r.metric, r.warren, ...Array<string>(columns - 3).fill('')].join(' | ')} |`)].join('\n');
}

export function floodAppendix(queued: FloodQueuedRun | undefined, floods?: FloodRun): Appendix {
  const MB = 1e6;
  const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });
  const rows: Appendix['rows'] = [];
  const notes: string[] = [];
  if (queued !== undefined) {
    const q = queued.queued;
    const limit = q.limitBytes === undefined ? '' : `, limit ${q.limitBytes / 1024 / 1024} MiB`;
    rows.push({ id: 'resources', metric: `RSS with ${fmt(q.count / 1e6)}M queued 16 B msgs${limit} (MB, lower is better)`, warren: fmt(q.rssBytes / MB) });
    notes.push(
      `the ${fmt(q.count / 1e6)}M-message row${q.limitBytes === undefined ? '' : ` with the ${q.limitBytes / 1024 / 1024} MiB limit`} comes from \`${queued.command ?? 'npm run -w bench flood -- --queued ' + q.count}\` (${queued.date}), Warren only: ` +
        `one queue, no consumer, paged to disk beyond its window; RSS ${fmt(q.rssBeforeBytes / MB)} MB before the first message, filled in ${fmt(q.seconds)} s.`,
    );
  }
  if (floods !== undefined && floods.flood.length > 0) {
    const MiB = 1024 * 1024;
    const cases = floods.flood.map(
      (f) =>
        `${f.case}: peak RSS ${fmt(f.peakRssBytes / MiB)} MiB (${(f.peakRssBytes / f.limitBytes).toFixed(2)}x the ${fmt(f.limitBytes / MiB)} MiB limit), ` +
        `queue ${fmt(f.queueLength / 1e6)}M messages, publishers blocked ${fmt(f.blockedSeconds)} s (${f.blockedEvents} FLOW)`,
    );
    notes.push(
      `floods of transient messages for ${fmt(floods.flood[0]!.seconds)} s each with a memory limit (\`${floods.command ?? 'npm run -w bench flood'}\`, ${floods.date}), ` +
        `"none" without a consumer, "stalled" with a consumer that stops reading: ${cases.join('; ')}.`,
    );
  }
  return { rows, notes };
}

function versions(m: MachineFacts): string {
  const v = m.peerVersions ?? {};
  return (
    [
      `RabbitMQ ${m.rabbitmqVersion ?? '(not reachable)'}`,
      `nats-server ${v.nats ?? v.jetstream ?? '(not reachable)'}`,
      `Redis ${v.redis ?? v['redis-streams'] ?? '(not reachable)'}`,
    ].join(', ') + ' on 127.0.0.1 (ports 5672, 4222, 6379)'
  );
}

export function resultsMarkdown(run: RunResult, extras: ExtraSection[]): string {
  const m = run.machine;
  const main = rows(run.scenarios);
  const titles = run.scenarios.map(
    (s) =>
      `${s.id}. ${s.title} — ${s.count.toLocaleString('en-US')} messages${(s.repeat ?? 1) > 1 ? `, median of ${s.repeat} alternating runs` : ''}` +
      `${s.floor ? `; floor: ${s.floor}` : ''}` +
      (Object.keys(s.errors).length ? ` (failed: ${Object.entries(s.errors).map(([k, e]) => `${k}: ${String(e).split('\n')[0]}`).join('; ')})` : ''),
  );
  let md = `# Warren beside RabbitMQ, NATS and Redis, end to end

Generated by \`${run.command}\` on ${m.date}; do not edit by hand
(regenerate with \`npm run bench -- all --write-results\`, add \`--repeat 3\` on a busy machine;
\`npm run bench -- report\` rebuilds this page and its plots from the saved results).
Every number comes from one run, the systems measured back to back; compare the ratios, not
absolute figures across runs (the machine is shared and noisy).${run.partial ? '\n\n**This run was stopped before it finished: only the scenarios listed below were measured.**' : ''}

Machine: ${m.cores} cores (${m.cpuModel}), ${m.totalMemGB} GB RAM, ${m.os}, Node ${m.node};
1-minute load average ${m.loadAvgAtStart ?? '?'} at the start, ${m.loadAvgAtEnd ?? '?'} at the end (other work shares the machine).
Warren ${m.warrenVersion ?? '?'} (built packages, its own process, fresh data folder per scenario, sync=always:
a confirm of a persistent message means it was fdatasync'ed). Peers: ${versions(m)}.

Scenarios (a peer is left out where the scenario does not apply to it: no fanout on Redis lists, no AMQP topic
matching outside RabbitMQ):
${titles.map((t) => `- ${t}`).join('\n')}

${markdownTable(main)}
${[...run.scenarios.flatMap((s) => s.notes ?? []), ...floorNotes(run.scenarios)].map((n) => `\nNote: ${n}\n`).join('')}
![Warren advantage per metric](results/ratios.svg)

![Throughput and latency, side by side](results/side-by-side.svg)

"Warren vs RabbitMQ" and "vs best peer" are Warren/peer for throughput and peer/Warren for latency, CPU and
memory: above 1x Warren is ahead. "Warren vs floor" is Warren's share of the floor's throughput, or what Warren
adds to the floor's latency.

## How each system is used

- Warren: \`@warren/client\`, every publish confirmed (1,000 in flight), manual acks, prefetch 1,000; the client
  turns Nagle off; confirms of persistent messages on durable queues wait for fdatasync.
${(Object.keys(PEER_NOTES) as (keyof typeof PEER_NOTES)[]).map((k) => `- ${SYSTEM_LABEL[k]}: ${PEER_NOTES[k]}`).join('\n')}
`;
  for (const x of extras) {
    const em = x.run.machine;
    md += `
## ${x.heading} (\`${x.run.command}\`, ${em.date})

${x.run.scenarios.map((s) => `${s.title}${(s.repeat ?? 1) > 1 ? ` (median of ${s.repeat} alternating runs)` : ''}. ${x.note}`).join('\n')}
1-minute load average ${em.loadAvgAtStart ?? '?'} at the start, ${em.loadAvgAtEnd ?? '?'} at the end.

${withAppendix(markdownTable(rows(x.run.scenarios)), x.appendix)}
${[...x.run.scenarios.flatMap((s) => s.notes ?? []), ...(x.appendix?.notes ?? [])].map((n) => `\nNote: ${n}`).join('')}
${(x.plots ?? []).map((p) => `\n![${x.heading}](results/${p})\n`).join('')}`;
  }
  md += `
## Method

- Broker, producer and consumer run in separate processes (\`bench/e2e/run.ts\` forks \`broker-child.mjs\`
  and \`worker.ts\`); RabbitMQ, NATS and Redis are the servers already running on this machine.
- Each scenario publishes a warm-up batch (10% of the count, at least 200; 5 s of traffic for the latency
  scenarios, whose tail would otherwise measure the JIT compiler) through the same processes before the
  measured batch. In the unpaced one-queue scenarios (1, 2, 5 and the scale steps) the warm-up batch repeats
  until at least 1 s has passed (at most 100 batches; not with \`--quick\`), so a fast system is past its
  JIT compiler's first steps too: 10,000 messages last 25 ms at 400,000 msg/s.
- With \`--repeat N\` the systems take turns N times per scenario and each number is the median.
- Throughput = messages delivered / (consumer's last delivery - producer's first publish).
- Latency: the producer writes its clock into the body at publish time; the consumer subtracts it on
  delivery. The producer is paced by a 1 ms timer that publishes every message due so far. amqplib runs
  with Nagle's algorithm off there (\`noDelay\`, as Warren's client, nats.js and ioredis always do).
- Producers and consumers (all systems, the relay's too) run under \`node --no-memory-reducer --initial-old-space-size=64\`
  (\`WORKER_NODE_FLAGS\`, bench/e2e/children.ts): without them V8's idle-time and small-heap mark-compacts in these
  processes (2-9 ms pauses) held up 0-29% of either system's samples over 0.5 ms at 5,000 msg/s, at random.
  The runner (\`npm run bench\` starts \`node --no-memory-reducer --import tsx e2e/run.ts\` in bench/, no npm
  process in between) runs without the memory reducer too: idle while a scenario runs, it and its npm parent
  otherwise made mark-compacts ~8 s after start, inside the first system's (Warren's) measured phase.
- Floors, measured in the same run right after the systems: the bare relay (\`relay-child.mjs\`) is a Node process
  that forwards length-prefixed records from the producer's socket to the consumer's and the consumer's 4-byte
  acks back, which the producer counts as confirms (same workers, same window of 1,000, no routing, no
  storage, no client library); the durable floor (\`append-floor.ts\`) appends the same bytes per batch that
  Warren's message store wrote in that run (its average group-commit batch) to a file with one write and one
  fdatasync per batch.
- Broker CPU: Warren's process.cpuUsage() (reported by the broker child), the peers' utime+stime from /proc
  (beam.smp, nats-server, redis-server), over the measured batch. Event-loop utilisation: Warren's
  \`performance.eventLoopUtilization()\` over the measured batch (1.0 = the one loop never idle).
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
  /** Groups with the same scale key share one scale (latency of one scenario). */
  scaleKey: string;
}

export const SERIES: { key: SystemKey; name: string; color: string }[] = [
  { key: 'warren', name: 'Warren', color: '#3a7d44' },
  { key: 'rabbitmq', name: 'RabbitMQ', color: '#e07b39' },
  { key: 'nats', name: 'NATS core', color: '#7aa6d6' },
  { key: 'jetstream', name: 'NATS JetStream', color: '#2a5d9f' },
  { key: 'redis', name: 'Redis lists', color: '#e8a0a0' },
  { key: 'redis-streams', name: 'Redis streams', color: '#b03030' },
  { key: 'floor', name: 'floor (relay / raw append)', color: '#9a9a9a' },
];

/**
 * The numbers themselves, side by side: throughput per scenario on the left (each
 * group scaled to its own largest bar, since the units differ), latency percentiles
 * of the latency scenarios on the right (one linear scale per scenario, with the relay floor).
 * Only measured bars are drawn.
 */
export function sideBySideSvg(run: RunResult): string {
  const throughput: BarGroup[] = [];
  const latency: BarGroup[] = [];
  const series = (s: ScenarioResult, key: string) => SERIES.map((x) => s.systems[x.key]?.[key]);
  for (const s of run.scenarios) {
    if (s.systems.warren?.p99 !== undefined) {
      for (const k of ['p50', 'p99', 'p999'] as const) {
        latency.push({ label: `${s.id}. ${s.alias} ${k === 'p999' ? 'p99.9' : k}`, unit: 'ms', values: series(s, k), scaleKey: s.id });
      }
      continue;
    }
    const m = s.metrics.find((x) => x.headline && x.better === 'higher');
    if (m !== undefined) throughput.push({ label: `${s.id}. ${s.alias}: ${m.label}`, unit: m.unit, values: series(s, m.key), scaleKey: `${s.id}` });
  }
  const barH = 13;
  const panelW = 480;
  const labelW = 150;
  const barMax = panelW - labelW - 95;
  const top = 84;
  const drawn = (g: BarGroup) => g.values.filter((v) => finite(v)).length;
  const groupH = (g: BarGroup) => drawn(g) * barH + 14;
  const panelHeight = (groups: BarGroup[]) => groups.reduce((h, g) => h + groupH(g), 0);
  const height = top + Math.max(panelHeight(throughput), panelHeight(latency)) + 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${panelW * 2}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${panelW}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(
      `Warren beside RabbitMQ, NATS and Redis (${run.machine.date.slice(0, 10)}, ${run.machine.cores} cores)`,
    )}</text>`,
  ];
  SERIES.forEach((s, i) => {
    const x = 20 + (i % 4) * 200;
    const y = 30 + Math.floor(i / 4) * 16;
    parts.push(`<rect x="${x}" y="${y}" width="10" height="10" fill="${s.color}"/>`, `<text x="${x + 14}" y="${y + 9}">${esc(s.name)}</text>`);
  });
  const finiteMax = (vals: (number | undefined)[]) => Math.max(0, ...vals.filter((v): v is number => finite(v)));
  const panel = (groups: BarGroup[], x0: number, title: string) => {
    parts.push(`<text x="${x0 + 10}" y="${top - 10}" font-size="13" font-weight="bold">${esc(title)}</text>`);
    let y = top;
    for (const g of groups) {
      parts.push(`<text x="${x0 + labelW - 6}" y="${y + barH}" text-anchor="end">${esc(g.label)}</text>`);
      const scale = finiteMax(groups.filter((o) => o.scaleKey === g.scaleKey).flatMap((o) => o.values));
      let row = 0;
      g.values.forEach((v, i) => {
        if (v === undefined || !Number.isFinite(v)) return;
        const w = scale > 0 ? (v / scale) * barMax : 0;
        const by = y + row++ * barH;
        parts.push(
          `<rect x="${x0 + labelW}" y="${by + 1}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${SERIES[i]!.color}" data-value="${v}"/>`,
          `<text x="${(x0 + labelW + w + 4).toFixed(1)}" y="${by + barH - 3}">${esc(`${fmt(v, g.unit)} ${g.unit}`)}</text>`,
        );
      });
      y += groupH(g);
    }
  };
  panel(throughput, 0, 'Throughput (longer is better)');
  panel(latency, panelW, 'Latency at a fixed rate (shorter is better)');
  parts.push(`<text x="10" y="${height - 6}" fill="#555">Each scenario's bars to their own scale (one scale per latency scenario).</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** One line of a scale plot: a system's values at each step. */
export interface ScaleSeries {
  key: SystemKey;
  values: (number | undefined)[];
}

/**
 * Cost as work grows: one small line chart per measured quantity (steps on a
 * log x axis, values on a linear y axis from 0), one line per system.
 */
export function scaleSvg(title: string, steps: number[], stepLabel: string, charts: { title: string; unit: string; series: ScaleSeries[] }[]): string {
  const chartW = 420;
  const chartH = 220;
  const pad = { left: 70, right: 20, top: 50, bottom: 40 };
  const width = charts.length * chartW;
  const height = chartH + pad.top + pad.bottom + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  const used = SERIES.filter((s) => charts.some((c) => c.series.some((x) => x.key === s.key && x.values.some((v) => finite(v)))));
  used.forEach((s, i) => {
    const x = 20 + i * 150;
    parts.push(`<rect x="${x}" y="26" width="10" height="10" fill="${s.color}"/>`, `<text x="${x + 14}" y="35">${esc(s.name)}</text>`);
  });
  charts.forEach((c, ci) => {
    const x0 = ci * chartW + pad.left;
    const y0 = pad.top + 10;
    const w = chartW - pad.left - pad.right;
    const h = chartH;
    const max = Math.max(1e-9, ...c.series.flatMap((s) => s.values.filter((v): v is number => finite(v)))) * 1.1;
    const lx = (i: number) => x0 + (steps.length === 1 ? w / 2 : (Math.log(steps[i]!) - Math.log(steps[0]!)) / (Math.log(steps.at(-1)!) - Math.log(steps[0]!)) * w);
    const ly = (v: number) => y0 + h - (v / max) * h;
    parts.push(`<text x="${x0 + w / 2}" y="${y0 - 6}" text-anchor="middle" font-weight="bold">${esc(`${c.title} (${c.unit})`)}</text>`);
    parts.push(`<line x1="${x0}" y1="${y0 + h}" x2="${x0 + w}" y2="${y0 + h}" stroke="#333"/>`, `<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + h}" stroke="#333"/>`);
    for (let t = 0; t <= 4; t++) {
      const v = (max / 1.1) * (t / 4);
      parts.push(`<text x="${x0 - 4}" y="${ly(v) + 4}" text-anchor="end" fill="#555">${esc(fmt(v, c.unit))}</text>`);
      parts.push(`<line x1="${x0}" y1="${ly(v)}" x2="${x0 + w}" y2="${ly(v)}" stroke="#eee"/>`);
    }
    steps.forEach((st, i) => parts.push(`<text x="${lx(i)}" y="${y0 + h + 14}" text-anchor="middle" fill="#555">${st.toLocaleString('en-US')}</text>`));
    parts.push(`<text x="${x0 + w / 2}" y="${y0 + h + 30}" text-anchor="middle" fill="#555">${esc(stepLabel)}</text>`);
    for (const s of c.series) {
      const color = SERIES.find((x) => x.key === s.key)!.color;
      const pts = s.values.flatMap((v, i) => (finite(v) ? [[lx(i), ly(v), v] as const] : []));
      if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`);
      for (const [x, y, v] of pts) parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${color}" data-value="${v}"/>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
