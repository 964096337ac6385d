/**
 * End-to-end benchmarks, Warren side by side with RabbitMQ, NATS (core and
 * JetStream) and Redis (lists and streams), with the floors (bare relay, raw
 * append+fdatasync) measured in the same run.
 *
 *   npm run bench -- <all|resources|logins|queues|connections|1..7|alias>[,...] [options]   (from the repo root; run `npx tsc -b` first)
 *
 *   --count N         messages per scenario (overrides the defaults)
 *   --quick           a tenth of the default counts; latency warm-up 1 s instead of 5, at most the measured batch
 *   --repeat N        the systems take turns N times per scenario; report medians (noisy machines)
 *   --peers LIST      the peers to run beside Warren, of rabbitmq,nats,jetstream,redis,redis-streams
 *                     (default: all; a peer whose server does not answer is skipped)
 *   --no-rabbit       without RabbitMQ
 *   --no-peers        Warren and the floors only
 *   --out FILE        where to write the JSON (default bench/results/latest.json)
 *   --write-results   also regenerate bench/RESULTS.md and its plots (bench/results/*.svg)
 *
 *   npm run bench -- report      regenerates RESULTS.md and the plots from the saved results, running nothing
 *
 * Ctrl-C deletes the queues, streams and keys the run declared on the peers before it exits.
 *   --profile         run the Warren broker under --cpu-prof; summaries in bench/results/profile-<alias>.txt
 *   --profile-broker DIR
 *                     the Warren broker profiles itself (node:inspector) over the measured phase of
 *                     the one-producer flows only (no start-up or warm-up, unlike --profile):
 *                     DIR/broker-warren-<flow>.cpuprofile, summaries in .txt beside them
 *   --profile-workers DIR
 *                     run the producer and consumer processes of the one-producer flows (every system,
 *                     the relay's too) under the V8 CPU profiler, measured phase only:
 *                     DIR/worker-<system>-<role>-<flow>.cpuprofile, summaries in .txt beside them. (Every run reports their CPU per 100k messages in the JSON:
 *                     producerCpuSecPer100k, consumerCpuSecPer100k, workersCpuSecPer100k; the relay's own
 *                     relayCpuSecPer100k.)
 *   --restricted-user Warren's producers and consumers log in as a user with regex permissions
 *                     (not an administrator), to measure the cost of permission checks
 *   --side-by-side    latency scenarios (4, 7): after the usual rows, also run Warren and the relay floor
 *                     at the same time (each its own producer and consumer, same rate), so that the
 *                     machine's stalls hit both alike, and pair their p99s per slice (1/20 of the
 *                     measured phase): JSON `sideBySide` of the scenario (sliceDiffMedian = median of
 *                     Warren p99 - relay p99 over the slices, sliceWithin = share of slices <= 0.3 ms,
 *                     brokerUsPerMsg / relayUsPerMsg = CPU per message of each)
 *
 * Scenarios: 1 transient, 2 durable, 3 fanout, 4 latency (5,000 msg/s), 5 large, 6 topic,
 * 7 latency-50k (50,000 msg/s); `all` = 1-7. Extras run only when named and get their own section in
 * RESULTS.md: `resources` (RSS with 1,000 idle connections and with 1M queued messages), `logins` (a
 * connection storm under live traffic), `queues` and `connections` (cost as queues and publishing
 * connections grow, plotted).
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync, readdirSync, statSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInterruptCleanups } from './cleanup.js';
import { COMPARED, openDriver, type ComparedSystem, type Peer } from './drivers.js';
import { CONNECTION_STEPS, PEER_URL, QUEUE_STEPS, SCENARIOS, findScenario, withSystem, type Measurements, type RunOptions, type Scenario } from './scenarios.js';
import {
  COLUMNS,
  consoleTable,
  floodAppendix,
  floorNotes,
  ratiosSvg,
  resultsMarkdown,
  rows,
  scaleSvg,
  sideBySideSvg,
  type ExtraSection,
  type MachineFacts,
  type RunResult,
  type ScenarioResult,
  type SystemKey,
} from './report.js';
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
  peers: Peer[];
  out: string;
  writeResults: boolean;
  profile: boolean;
  /** --profile-workers DIR: CPU profiles of the producer and consumer processes go there. */
  profileWorkers?: string;
  /** --profile-broker DIR: CPU profiles of the Warren broker over the measured phase go there. */
  profileBroker?: string;
  restrictedUser: boolean;
  sideBySide: boolean;
}

function usage(msg?: string): never {
  if (msg) console.error(msg);
  console.error(
    'usage: npm run bench -- <all|resources|logins|queues|connections|1..7|alias>[,...] [--count N] [--repeat N] [--quick] [--peers LIST] [--no-rabbit] [--no-peers] [--out FILE] [--write-results] [--profile] [--profile-workers DIR] [--profile-broker DIR] [--restricted-user] [--side-by-side]',
  );
  console.error('       npm run bench -- report     (RESULTS.md and plots from the saved results)');
  console.error(`scenarios: ${SCENARIOS.map((s) => `${s.id}/${s.alias}`).join(', ')}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { reportOnly: false, scenarios: [], repeat: 1, quick: false, peers: [...PEERS], out: join(resultsDir, 'latest.json'), writeResults: false, profile: false, restrictedUser: false, sideBySide: false };
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
    else if (arg === '--no-rabbit') a.peers = a.peers.filter((p) => p !== 'rabbitmq');
    else if (arg === '--no-peers') a.peers = [];
    else if (arg === '--peers') {
      const list = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const p of list) if (!(PEERS as string[]).includes(p)) usage(`--peers: unknown peer ${p} (of ${PEERS.join(',')})`);
      a.peers = list as Peer[];
    }
    else if (arg === '--write-results') a.writeResults = true;
    else if (arg === '--profile') a.profile = true;
    else if (arg === '--profile-broker') a.profileBroker = resolve(argv[++i] ?? usage('--profile-broker needs a directory'));
    else if (arg === '--profile-workers') a.profileWorkers = resolve(argv[++i] ?? usage('--profile-workers needs a directory'));
    else if (arg === '--restricted-user') a.restrictedUser = true;
    else if (arg === '--side-by-side') a.sideBySide = true;
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

const PEERS: Peer[] = COMPARED.filter((s): s is Peer => s !== 'warren');
const PORT: Record<Peer, number> = { rabbitmq: 5672, nats: 4222, jetstream: 4222, redis: 6379, 'redis-streams': 6379 };

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

/** The server's version, or null when it does not answer (then the peer is skipped). */
async function peerVersion(peer: Peer): Promise<string | null> {
  if (!(await reachable('127.0.0.1', PORT[peer]))) return null;
  try {
    const d = await openDriver(peer, PEER_URL[peer]);
    const v = d.serverProperties.version;
    await d.close();
    return typeof v === 'string' ? v : String(v);
  } catch {
    return null;
  }
}

function machineFacts(versions: Partial<Record<Peer, string>>): MachineFacts {
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
    rabbitmqVersion: versions.rabbitmq ?? null,
    peerVersions: versions,
    loadAvgAtStart: Number(loadavg()[0]!.toFixed(2)),
    warrenVersion: warren,
  };
}

function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
}

function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

function readRun(path: string): RunResult | undefined {
  if (!existsSync(path)) return undefined;
  const run = JSON.parse(readFileSync(path, 'utf8')) as RunResult;
  // Results saved before the peers came (Warren and RabbitMQ as fields of their own) read the same way.
  for (const s of run.scenarios as (ScenarioResult & { warren?: Measurements; rabbitmq?: Measurements })[]) {
    s.systems ??= { ...(s.warren ? { warren: s.warren } : {}), ...(s.rabbitmq ? { rabbitmq: s.rabbitmq } : {}) };
    // Targets are the current definitions' (they follow the issues), not those saved with the numbers.
    const current = findScenario(s.id)?.metrics;
    if (current !== undefined) {
      s.metrics = s.metrics.map((m) => {
        const { target: _t, floorTarget: _f, ...rest } = m;
        const now = current.find((c) => c.key === m.key);
        return { ...rest, ...(now?.target ? { target: now.target } : {}), ...(now?.floorTarget ? { floorTarget: now.floorTarget } : {}) };
      });
    }
  }
  return run;
}

/** The plots of the `queues` and `connections` extras: throughput and RSS per step, one line per system. */
function scalePlots(run: RunResult): [string, string][] {
  const out: [string, string][] = [];
  for (const s of run.scenarios) {
    const shape = s.alias === 'queues' ? { prefix: 'q', steps: QUEUE_STEPS, what: 'queues' } : s.alias === 'connections' ? { prefix: 'c', steps: CONNECTION_STEPS, what: 'publishing connections' } : undefined;
    if (shape === undefined) continue;
    const series = (suffix: string) =>
      (Object.keys(s.systems) as SystemKey[]).map((key) => ({ key, values: shape.steps.map((n) => s.systems[key]?.[`${shape.prefix}${n}${suffix}`]) }));
    const title = `Cost as ${shape.what} grow (${run.machine.date.slice(0, 10)}, ${run.machine.cores} cores)`;
    out.push([
      `scale-${s.alias}.svg`,
      scaleSvg(title, shape.steps, shape.what, [
        { title: 'delivered', unit: 'msg/s', series: series('PerSec') },
        { title: 'broker RSS', unit: 'MB', series: series('RssMB') },
      ]),
    ]);
  }
  return out;
}

/** RESULTS.md and its plots from the saved results (main.json and each extra's <alias>.json). */
function writeReport(log: (line: string) => void): void {
  const mainRun = readRun(join(resultsDir, 'main.json'));
  const extras = SCENARIOS.flatMap((s): ExtraSection[] => {
    const run = s.extra === undefined ? undefined : readRun(join(resultsDir, `${s.alias}.json`));
    if (run === undefined) return [];
    const plots = scalePlots(run);
    for (const [file, svg] of plots) writeFileSync(join(resultsDir, file), svg);
    // The flood bench (flood.ts) adds its Warren-only rows to the Resources table.
    const appendix = s.alias === 'resources' ? floodAppendix(readJson(join(resultsDir, 'flood-queued.json')), readJson(join(resultsDir, 'flood.json'))) : undefined;
    return [{ run, heading: s.extra!.heading, note: s.extra!.note, plots: plots.map(([file]) => file), ...(appendix !== undefined ? { appendix } : {}) }];
  });
  if (mainRun === undefined) {
    log(`No ${join(resultsDir, 'main.json')} yet: run \`npm run bench -- all --write-results\` first.`);
    return;
  }
  writeFileSync(join(benchDir, 'RESULTS.md'), resultsMarkdown(mainRun, extras));
  const title = `Warren advantage over RabbitMQ ${mainRun.machine.rabbitmqVersion ?? ''} (${mainRun.machine.date.slice(0, 10)}, ${mainRun.machine.cores} cores)`;
  writeFileSync(join(resultsDir, 'ratios.svg'), ratiosSvg(rows(mainRun.scenarios), title));
  writeFileSync(join(resultsDir, 'side-by-side.svg'), sideBySideSvg(mainRun));
  log(`Wrote ${join(benchDir, 'RESULTS.md')}, ${join(resultsDir, 'ratios.svg')} and ${join(resultsDir, 'side-by-side.svg')}`);
}

/** Writes the run's JSON (--out) and, with --write-results, the saved results RESULTS.md is made from. */
function save(args: Args, machine: MachineFacts, results: ScenarioResult[], partial = true): RunResult {
  machine.loadAvgAtEnd = Number(loadavg()[0]!.toFixed(2));
  const run: RunResult = { machine, command: `npm run bench -- ${process.argv.slice(2).join(' ')}`, ...(partial ? { partial } : {}), scenarios: results };
  writeJson(args.out, run);
  if (args.writeResults) {
    // The main table (scenarios 1-7) and each extra keep their own file, so that regenerating one
    // leaves the others' latest numbers in RESULTS.md.
    const main = results.filter((r) => findScenario(r.id)?.extra === undefined);
    if (main.length > 0) writeJson(join(resultsDir, 'main.json'), { ...run, scenarios: main });
    for (const r of results) if (findScenario(r.id)?.extra !== undefined) writeJson(join(resultsDir, `${r.alias}.json`), { ...run, scenarios: [r] });
  }
  return run;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string) => console.log(line);
  if (args.reportOnly) {
    writeReport(log);
    return;
  }
  const versions: Partial<Record<Peer, string>> = {};
  for (const peer of args.peers) {
    const v = await peerVersion(peer);
    if (v === null) log(`${peer} does not answer on 127.0.0.1:${PORT[peer]}: skipped.`);
    else versions[peer] = v;
  }
  const available = (Object.keys(versions) as Peer[]).filter((p) => args.peers.includes(p));
  const machine = machineFacts(versions);
  log(`Node ${machine.node}, ${machine.cores} cores; systems: warren, ${available.join(', ') || '(no peers)'}; ${JSON.stringify(versions)}`);

  // Ctrl-C (or SIGTERM) mid-run: no finally block gets to run, so delete what the run declared on the
  // peers and stop the Warren broker here (cleanup.ts), then leave. A second Ctrl-C leaves at once.
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`\n${signal}: deleting the queues, streams and keys the run declared and stopping the broker (again to leave at once)`);
    void runInterruptCleanups(30_000).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);

  if (args.profile) mkdirSync(resultsDir, { recursive: true });
  const opts: RunOptions = { quick: args.quick, log, ...(args.count ? { count: args.count } : {}), ...(args.profile ? { profileDir: resultsDir } : {}), ...(args.restrictedUser ? { restrictedUser: true } : {}), ...(args.profileWorkers !== undefined ? { workerProfileDir: args.profileWorkers } : {}), ...(args.profileBroker !== undefined ? { brokerProfileDir: args.profileBroker } : {}) };
  if (args.profileWorkers !== undefined) mkdirSync(args.profileWorkers, { recursive: true });
  if (args.profileBroker !== undefined) mkdirSync(args.profileBroker, { recursive: true });
  const results: ScenarioResult[] = [];
  for (const s of args.scenarios) {
    const count = args.count ?? (args.quick ? s.quickCount : s.defaultCount);
    const scenarioStart = Date.now();
    log(`\n[${s.id}] ${s.title} (${count.toLocaleString('en-US')} messages)`);
    const r: ScenarioResult = {
      id: s.id,
      alias: s.alias,
      title: s.title,
      count,
      repeat: args.repeat,
      metrics: s.metrics,
      ...(s.floor ? { floor: s.floor.describe } : {}),
      systems: {},
      errors: {},
      notes: [],
    };
    const systems: ComparedSystem[] = ['warren', ...s.peers.filter((p) => available.includes(p))];
    // With --repeat N the systems take turns N times and each number is the median of its N runs;
    // the floor runs last in each turn (the append floor repeats Warren's batch sizes of that turn).
    const reps: Partial<Record<SystemKey, Measurements[]>> = {};
    const attempt = async (key: SystemKey, rep: number, fn: () => Promise<Measurements>): Promise<Measurements | undefined> => {
      if (r.errors[key] !== undefined) return undefined;
      try {
        const m = await fn();
        (reps[key] ??= []).push(m);
        return m;
      } catch (err) {
        r.errors[key] = String((err as Error)?.message ?? err);
        log(`    ${key}: FAILED (run ${rep + 1}): ${r.errors[key]}`);
        return undefined;
      }
    };
    for (let rep = 0; rep < args.repeat; rep++) {
      let warren: Measurements | undefined;
      for (const system of systems) {
        const m = await attempt(system, rep, () =>
          withSystem(system, s, opts, async (ctx) => {
            const m = await s.run(ctx, count, opts);
            if (rep === 0) r.notes.push(...ctx.notes);
            return m;
          }),
        );
        if (system === 'warren') warren = m;
      }
      if (s.floor !== undefined) await attempt('floor', rep, () => s.floor!.run(count, opts, warren));
      if (args.sideBySide && s.sideBySide !== undefined) {
        try {
          (r.sideBySideRepeats ??= []).push(await s.sideBySide(s, count, opts));
        } catch (err) {
          r.errors.sideBySide = String((err as Error)?.message ?? err);
          log(`    side by side: FAILED (run ${rep + 1}): ${r.errors.sideBySide}`);
        }
      }
    }
    if (r.sideBySideRepeats !== undefined) r.sideBySide = medians(r.sideBySideRepeats);
    for (const key of COLUMNS) {
      const list = reps[key];
      if (list === undefined || r.errors[key] !== undefined) continue;
      r.systems[key] = medians(list);
      if (args.repeat > 1) (r.repeats ??= {})[key] = list;
    }
    results.push(r);
    // Saved after every scenario: a long run cut short keeps what it measured (`npm run bench -- report` shows it).
    save(args, machine, results);
    if (args.profile) {
      const file = join(resultsDir, `warren-${s.alias}.cpuprofile`);
      if (existsSync(file)) {
        const text = summarise(file, 25);
        writeFileSync(join(resultsDir, `profile-${s.alias}.txt`), text);
        log(`\n    Warren broker profile (${file}):\n${text.replace(/^/gm, '    ')}`);
      }
    }
    for (const [dir, kind] of [[args.profileWorkers, 'worker'], [args.profileBroker, 'broker']] as const) {
      if (dir === undefined) continue;
      // This scenario's worker / broker profiles (of the measured phase), summarised next to them.
      for (const f of readdirSync(dir).sort()) {
        const file = join(dir, f);
        if (!f.startsWith(`${kind}-`) || !f.endsWith('.cpuprofile') || statSync(file).mtimeMs < scenarioStart) continue;
        const text = summarise(file, 25);
        writeFileSync(file.replace(/\.cpuprofile$/, '.txt'), text);
        log(`\n    ${kind} profile (${file}):\n${text.replace(/^/gm, '    ')}`);
      }
    }
  }

  const run = save(args, machine, results, false);
  log(`\n${consoleTable(rows(results))}`);
  for (const note of [...results.flatMap((r) => r.notes), ...floorNotes(results)]) log(`note: ${note}`);
  log(`\nJSON: ${args.out}`);
  if (args.writeResults) writeReport(log);
  const failed = results.some((r) => Object.keys(r.errors).length > 0);
  process.exitCode = failed ? 1 : 0;
}

await main();
