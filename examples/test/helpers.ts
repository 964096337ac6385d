/**
 * Test helpers for the examples: an in-process broker on a free port with a
 * temporary data folder, and the examples run as child processes (exactly as
 * a user runs them: `node --import tsx examples/...`) with WARREN_URL set.
 * Children still running at the end of the test file are killed. Every wait
 * gives up after WAIT_LIMIT_MS, well before vitest's test timeout, and fails
 * with the child's output so far.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import type { Broker } from '@warren/broker';
import type { TestBroker as FullTestBroker } from '../../test-support/broker.js';
import { WAIT_LIMIT_MS } from '../../test-support/wait.js';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export interface TestBroker {
  broker: Broker;
  url: string;
}

const running = new Set<Example>();
const brokers: FullTestBroker[] = [];

// Children and brokers live until the end of the test file, not of the test:
// tests may run concurrently, so one test's end must not kill another's children.
afterAll(async () => {
  await Promise.all([...running].map((p) => p.kill('SIGKILL')));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

/**
 * Starts a broker (port 0, a temporary data folder), closed at the end of the
 * test file. Call it once per file and share it, or once per test to isolate
 * tests that use the same queue names and run concurrently.
 */
export async function newBroker(): Promise<TestBroker> {
  // Imported here, so test files that need no broker do not load it.
  const { startTestBroker } = await import('../../test-support/broker.js');
  const started = await startTestBroker();
  brokers.push(started);
  return { broker: started.broker, url: started.url };
}

/** One example process, with its output collected line by line. */
export class Example {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly proc: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private partial = '';
  private closed = false;

  /** `nodeArgs` is everything after `node`, e.g. ['--import', 'tsx', 'examples/rpc/rpc-server.ts']. */
  constructor(
    readonly nodeArgs: string[],
    env: Record<string, string>,
  ) {
    this.proc = spawn(process.execPath, nodeArgs, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      for (const w of this.waiters) w();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      for (const w of this.waiters) w();
    });
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': it comes after the last of the output.
      this.proc.on('close', (code, signal) => {
        this.closed = true;
        running.delete(this);
        if (this.partial !== '') this.lines.push(this.partial);
        this.partial = '';
        resolve({ code, signal });
        for (const w of this.waiters) w();
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get output(): string {
    return this.lines.join('\n');
  }

  /** Resolves with the first line matching `pattern` (past or future); rejects if the process exits first. */
  waitFor(pattern: RegExp | string): Promise<string> {
    const match = (line: string) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
    return this.waitUntil(() => this.lines.find(match), `a line matching ${String(pattern)}`);
  }

  /** Resolves once stderr contains `text`. */
  waitForStderr(text: string): Promise<true> {
    return this.waitUntil(() => (this.stderr.includes(text) ? true : undefined), `${JSON.stringify(text)} on stderr`);
  }

  /** Resolves once `count` lines match `pattern`. */
  waitForCount(pattern: RegExp, count: number): Promise<string[]> {
    return this.waitUntil(() => {
      const found = this.lines.filter((l) => pattern.test(l));
      return found.length >= count ? found : undefined;
    }, `${count} lines matching ${String(pattern)}`);
  }

  private waitUntil<T>(check: () => T | undefined, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        const found = check();
        if (found !== undefined) finish(() => resolve(found));
        else if (this.closed) {
          finish(() => reject(new Error(`${this.name} exited before printing ${what}\n${this.describe()}`)));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.name}: no ${what} within ${WAIT_LIMIT_MS / 1000} s\n${this.describe()}`))),
        WAIT_LIMIT_MS,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        settle();
      };
      this.waiters.add(done);
      done();
    });
  }

  /** Sends a signal and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.closed && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }

  get name(): string {
    return this.nodeArgs.filter((a) => a !== '--import' && a !== 'tsx').join(' ');
  }

  describe(): string {
    return `--- stdout of ${this.name}\n${this.output}${this.partial}\n--- stderr\n${this.stderr}`;
  }
}

/** Starts an example that keeps running (a worker, a server, a subscriber). */
export function start(script: string, args: string[] = [], env: Record<string, string> = {}): Example {
  return new Example(['--import', 'tsx', join('examples', script), ...args], env);
}

/** Starts `node <nodeArgs>` from the repository root (for commands taken from docker-compose.yml). */
export function startNode(nodeArgs: string[], env: Record<string, string> = {}): Example {
  return new Example(nodeArgs, env);
}

export interface RunResult {
  code: number | null;
  lines: string[];
  output: string;
  stderr: string;
  describe: () => string;
}

/** Runs an example to completion and returns its exit code and output. */
export function run(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<RunResult> {
  return finish(start(script, args, env));
}

/** Runs `node <nodeArgs>` from the repository root to completion. */
export function runNode(nodeArgs: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return finish(startNode(nodeArgs, env));
}

async function finish(p: Example): Promise<RunResult> {
  const timer = setTimeout(() => void p.kill('SIGKILL'), WAIT_LIMIT_MS);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, lines: p.lines, output: p.output, stderr: p.stderr, describe: () => p.describe() };
}
