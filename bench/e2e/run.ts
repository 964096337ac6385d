/**
 * End-to-end benchmarks, Warren side by side with RabbitMQ.
 *
 *   npm run bench -- <all|resources|logins|1..6|alias>[,...] [options]      (from the repo root; run `npx tsc -b` first)
 *
 *   --count N         messages per scenario (overrides the defaults)
 *   --quick           a tenth of the default counts, 1 s of latency warm-up instead of 5
 *   --repeat N        alternate Warren and RabbitMQ N times per scenario; report medians (noisy machines)
 *   --no-rabbit       Warren only, even when RabbitMQ answers on 127.0.0.1:5672
 *   --out FILE        where to write the JSON (default bench/results/latest.json)
 *   --write-results   also regenerate bench/RESULTS.md and its plots (bench/results/*.svg)
 *
 *   npm run bench -- report      regenerates RESULTS.md and the plots from the saved results, running nothing
 *   --profile         run the Warren broker under --cpu-prof; summaries in bench/results/profile-<alias>.txt
 *
 * Scenarios: 1 transient, 2 durable, 3 fanout, 4 latency, 5 large, 6 topic; `all` = 1-6.
 * Extras run only when named and get their own section in RESULTS.md: `resources` (RSS with 1,000
 * idle connections and with 1M queued messages), `logins` (a connection storm under live traffic).
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RABBIT_URL, openDriver, type ComparedSystem } from './drivers.js';
import { SCENARIOS, findScenario, withSystem, type Measurements, type RunOptions, type Scenario } from './scenarios.js';
import { consoleTable, floorNotes, ratiosSvg, resultsMarkdown, rows, sideBySideSvg, type MachineFacts, type RunResult, type ScenarioResult } from './report.js';
import { summarise } from './profile-summary.js';

const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = join(benchDir, 'results');

interface Args {
  /** Only regenerate RESULTS.md and the plots from bench/results/*.json. */
  reportOnly: boolean;
  scenarios: Scenario[];
  count?: number;
  repeat: number;
  quick: boolean;
  rabbit: boolean;
  out: string;
  writeResults: boolean;
  profile: boolean;
}

function usage(msg?: string): never {
  if (msg) console.error(msg);
  console.error('usage: npm run bench -- <all|resources|logins|1..6|alias>[,...] [--count N] [--repeat N] [--quick] [--no-rabbit] [--out FILE] [--write-results] [--profile]');
  console.error('       npm run bench -- report     (RESULTS.md and plots from the saved results)');
  console.error(`scenarios: ${SCENARIOS.map((s) => `${s.id}/${s.alias}`).join(', ')}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { reportOnly: false, scenarios: [], repeat: 1, quick: false, rabbit: true, out: join(resultsDir, 'latest.json'), writeResults: false, profile: false };
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--count') {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n <= 0) usage('--count needs a positive integer');
      a.count = n;
    } else if (arg === '--repeat') {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n <= 0) usage('--repeat needs a positive integer');
      a.repeat = n;
    } else if (arg === '--quick') a.quick = true;
    else if (arg === '--no-rabbit') a.rabbit = false;
    else if (arg === '--write-results') a.writeResults = true;
    else if (arg === '--profile') a.profile = true;
    else if (arg === '--out') a.out = resolve(argv[++i] ?? usage('--out needs a file'));
    else if (arg === '--help' || arg === '-h') usage();
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else names.push(...arg.split(',').filter(Boolean));
  }
  if (names.length === 1 && names[0] === 'report') {
    a.reportOnly = true;
    return a;
  }
  if (names.length === 0) names.push('all');
  for (const n of names) {
    if (n === 'all') a.scenarios.push(...SCENARIOS.filter((s) => s.extra === undefined));
    else a.scenarios.push(findScenario(n) ?? usage(`unknown scenario ${n}`));
  }
  a.scenarios = [...new Set(a.scenarios)];
  return a;
}

function medians(list: Measurements[]): Measurements {
  const out: Measurements = {};
  for (const key of Object.keys(list[0] ?? {})) {
    const v = list.map((m) => m[key]!).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    out[key] = v.length === 0 ? NaN : v.length % 2 === 1 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  }
  return out;
}

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((res) => {
    const s = tcpConnect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      res(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function rabbitVersion(): Promise<string | null> {
  try {
    const d = await openDriver('rabbitmq', RABBIT_URL);
    const v = d.serverProperties.version;
    await d.close();
    return typeof v === 'string' ? v : String(v);
  } catch {
    return null;
  }
}

function machineFacts(rabbit: string | null): MachineFacts {
  let warren: string | null = null;
  try {
    warren = (JSON.parse(readFileSync(join(benchDir, '..', 'packages', 'broker', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // unknown
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? '?',
    totalMemGB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    os: `${osType()} ${release()}`,
    rabbitmqVersion: rabbit,
    loadAvgAtStart: Number(loadavg()[0]!.toFixed(2)),
    warrenVersion: warren,
  };
}

function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
}

function readRun(path: string): RunResult | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RunResult) : undefined;
}

/** RESULTS.md and its plots from the saved results (main.json and each extra's <alias>.json). */
function writeReport(log: (line: string) => void): void {
  const mainRun = readRun(join(resultsDir, 'main.json'));
  const extras = SCENARIOS.flatMap((s) => {
    const run = s.extra === undefined ? undefined : readRun(join(resultsDir, `${s.alias}.json`));
    return run === undefined ? [] : [{ run, heading: s.extra!.heading, note: s.extra!.note }];
  });
  if (mainRun === undefined) {
    log(`No ${join(resultsDir, 'main.json')} yet: run \`npm run bench -- all --write-results\` first.`);
    return;
  }
  writeFileSync(join(benchDir, 'RESULTS.md'), resultsMarkdown(mainRun, extras));
  const title = `Warren vs RabbitMQ ${mainRun.machine.rabbitmqVersion ?? ''} (${mainRun.machine.date.slice(0, 10)}, ${mainRun.machine.cores} cores)`;
  writeFileSync(join(resultsDir, 'ratios.svg'), ratiosSvg(rows(mainRun.scenarios), title));
  writeFileSync(join(resultsDir, 'side-by-side.svg'), sideBySideSvg(mainRun));
  log(`Wrote ${join(benchDir, 'RESULTS.md')}, ${join(resultsDir, 'ratios.svg')} and ${join(resultsDir, 'side-by-side.svg')}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string) => console.log(line);
  if (args.reportOnly) {
    writeReport(log);
    return;
  }
  let rabbit = args.rabbit && (await reachable('127.0.0.1', 5672));
  const version = rabbit ? await rabbitVersion() : null;
  if (rabbit && version === null) rabbit = false;
  if (args.rabbit && !rabbit) log('RabbitMQ does not answer on 127.0.0.1:5672 (guest/guest): Warren only.');
  const systems: ComparedSystem[] = rabbit ? ['warren', 'rabbitmq'] : ['warren'];
  const machine = machineFacts(version);
  log(`Node ${machine.node}, ${machine.cores} cores, RabbitMQ ${version ?? '-'}; systems: ${systems.join(', ')}`);

  if (args.profile) mkdirSync(resultsDir, { recursive: true });
  const opts: RunOptions = { quick: args.quick, log, ...(args.count ? { count: args.count } : {}), ...(args.profile ? { profileDir: resultsDir } : {}) };
  const results: ScenarioResult[] = [];
  for (const s of args.scenarios) {
    const count = args.count ?? (args.quick ? s.quickCount : s.defaultCount);
    log(`\n[${s.id}] ${s.title} (${count.toLocaleString('en-US')} messages)`);
    const r: ScenarioResult = { id: s.id, alias: s.alias, title: s.title, count, repeat: args.repeat, metrics: s.metrics, errors: {}, notes: [] };
    // With --repeat N the systems take turns N times and each number is the median of its N runs.
    const reps: Partial<Record<ComparedSystem, Measurements[]>> = {};
    for (let rep = 0; rep < args.repeat; rep++) {
      for (const system of systems) {
        if (r.errors[system] !== undefined) continue;
        try {
          const m = await withSystem(system, s, opts, async (ctx) => {
            const m = await s.run(ctx, count, opts);
            if (rep === 0) r.notes.push(...ctx.notes);
            return m;
          });
          (reps[system] ??= []).push(m);
        } catch (err) {
          r.errors[system] = String((err as Error)?.message ?? err);
          log(`    ${system}: FAILED: ${r.errors[system]}`);
        }
      }
    }
    for (const system of systems) {
      const list = reps[system];
      if (list === undefined || r.errors[system] !== undefined) continue;
      r[system] = medians(list);
      if (args.repeat > 1) (r.repeats ??= {})[system] = list;
    }
    results.push(r);
    if (args.profile) {
      const file = join(resultsDir, `warren-${s.alias}.cpuprofile`);
      if (existsSync(file)) {
        const text = summarise(file, 25);
        writeFileSync(join(resultsDir, `profile-${s.alias}.txt`), text);
        log(`\n    Warren broker profile (${file}):\n${text.replace(/^/gm, '    ')}`);
      }
    }
  }

  machine.loadAvgAtEnd = Number(loadavg()[0]!.toFixed(2));
  const run: RunResult = { machine, command: `npm run bench -- ${process.argv.slice(2).join(' ')}`, scenarios: results };
  log(`\n${consoleTable(rows(results))}`);
  for (const note of [...results.flatMap((r) => r.notes), ...floorNotes(results)]) log(`note: ${note}`);
  writeJson(args.out, run);
  log(`\nJSON: ${args.out}`);

  if (args.writeResults) {
    // The main table (scenarios 1-6) and each extra keep their own file, so that regenerating one
    // leaves the others' latest numbers in RESULTS.md.
    const main = results.filter((r) => findScenario(r.id)?.extra === undefined);
    if (main.length > 0) writeJson(join(resultsDir, 'main.json'), { ...run, scenarios: main });
    for (const r of results) if (findScenario(r.id)?.extra !== undefined) writeJson(join(resultsDir, `${r.alias}.json`), { ...run, scenarios: [r] });
    writeReport(log);
  }
  const failed = results.some((r) => Object.keys(r.errors).length > 0);
  process.exitCode = failed ? 1 : 0;
}

await main();
