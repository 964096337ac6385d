/**
 * Child processes of the runner (broker, producers, consumers), driven over
 * IPC: one outstanding request at a time, answered by the child's next
 * message (other than a progress report, kept in `progress`). A child that
 * reports an error or exits fails what is pending.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The node flags that `npm start` runs the broker under (the root package.json's start script;
 * the Dockerfile uses the same): the benchmarks' broker runs under them too.
 */
export const BROKER_NODE_FLAGS: readonly string[] = nodeFlagsOf(
  (JSON.parse(readFileSync(join(here, '../../package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start,
);

/**
 * The node flags a benchmark forks broker-child.mjs with: BROKER_NODE_FLAGS (those of `npm start`),
 * then WARREN_BENCH_BROKER_ARGS (e.g. "--trace-gc", "--max-semi-space-size=16": a later flag wins),
 * then the caller's (e.g. --cpu-prof).
 */
export function brokerExecArgv(extra: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): string[] {
  return [...BROKER_NODE_FLAGS, ...(env.WARREN_BENCH_BROKER_ARGS ?? '').split(' ').filter(Boolean), ...extra];
}

/** The flags between `node` and the script of a `node --flag ... script args` command line. */
export function nodeFlagsOf(command: string): string[] {
  const words = command.trim().split(/\s+/);
  if (words[0] !== 'node') throw new Error(`not a node command line: ${command}`);
  const flags: string[] = [];
  for (const w of words.slice(1)) {
    if (!w.startsWith('-')) break;
    flags.push(w);
  }
  return flags;
}

/**
 * The node flags of every producer and consumer process (worker.ts), for every system alike, the
 * relay's included, so that what separates the systems' latency tails is the systems:
 *  - `--no-memory-reducer`: at 5,000 msg/s V8 takes a worker for idle and its memory reducer runs
 *    up to three mark-compacts in a row (2-9 ms pauses) at a moment of its choosing, inside or outside
 *    the measured 10 s (in 10 runs of each system on main's flags, 0-29% of the samples over
 *    0.5 ms, typically 10-20%, fell in a worker's mark-compact).
 *  - `--initial-old-space-size=64`, as the broker runs (see BROKER_NODE_FLAGS): a process that
 *    allocates a few MB/s keeps a 16 MB young generation, and with a small live heap V8 then starts
 *    incremental marking every 3-4 s to collect it with a mark-compact (3-9 ms pauses, marking steps
 *    up to 7 ms). Warren's client processes at 5,000 msg/s did (the relay's, allocating less, shrink
 *    their young generation and did not); the README tells latency-sensitive clients to do the same.
 * See bench/results/latency-2026-12-03.md. WARREN_BENCH_WORKER_ARGS comes after these (and wins).
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--no-memory-reducer', '--initial-old-space-size=64'];

/** The node flags Child.start forks bench/e2e/<file> with. */
export function childExecArgv(file: string, extra: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    ...(file.endsWith('.ts') ? ['--import', 'tsx'] : []),
    // WARREN_BENCH_WORKER_ARGS: extra node flags for producers and consumers (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
    ...(file === 'worker.ts' ? [...WORKER_NODE_FLAGS, ...(env.WARREN_BENCH_WORKER_ARGS ?? '').split(' ').filter(Boolean)] : []),
    ...extra,
  ];
}

interface Waiter {
  resolve: (m: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** What a producer says about itself about once a second during a phase (not an answer to a request). */
export interface ProgressReport {
  type: 'progress';
  /** Messages published so far in the phase. */
  published: number;
  /** Why the broker blocks its connection, if it does (see Driver.blocked). */
  blocked?: string;
}

export class Child {
  /** The child's latest progress report, if it sends any (producers do during a phase). */
  progress: ProgressReport | undefined;
  private waiter: Waiter | undefined;
  private exited = false;
  private exitError: Error | undefined;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (m: Record<string, unknown>) => {
      if (m.type === 'error') {
        this.fail(new Error(`${name}: ${String(m.message)}`));
        return;
      }
      if (m.type === 'progress') {
        this.progress = m as unknown as ProgressReport;
        return;
      }
      // The relay's readiness notice (relay-child.mjs): for tests, not an answer to a request.
      if (m.type === 'connected') return;
      const w = this.waiter;
      if (w === undefined) return;
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.resolve(m);
    });
    this.exitPromise = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exited = true;
        this.fail(new Error(`${name} exited (code ${code}, signal ${signal})`));
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Forks bench/e2e/<file> (a .ts file under tsx) and waits for its first message (ready / listening). */
  static async start(name: string, file: string, args: string[], opts: { execArgv?: string[]; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ child: Child; hello: Record<string, unknown> }> {
    const proc = fork(join(here, file), args, {
      execArgv: childExecArgv(file, opts.execArgv),
      ...(opts.env !== undefined ? { env: opts.env } : {}),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const child = new Child(name, proc);
    const hello = await child.next(opts.timeoutMs ?? 60_000);
    return { child, hello };
  }

  private next(timeoutMs: number): Promise<Record<string, unknown>> {
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter?.timer === timer) this.waiter = undefined;
        reject(new Error(`${this.name}: no answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  request(msg: Record<string, unknown>, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const p = this.next(timeoutMs);
    if (!this.exited) this.proc.send(msg);
    return p;
  }

  private fail(err: Error): void {
    this.exitError ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    if (w !== undefined) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    try {
      this.proc.send({ type: 'stop' });
    } catch {
      // IPC already closed
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}
