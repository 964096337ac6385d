/**
 * Runs the built `warren` binary as a child process, against a broker the
 * test starts in-process on port 0 (test-support/broker.ts).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** Builds the CLI (and what it depends on) and the web console when their dist/ is missing. */
export function ensureBuilt(): void {
  if (!existsSync(BIN)) execFileSync('npx', ['tsc', '-b', 'packages/cli'], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(`${ROOT}packages/console/dist/index.html`)) execFileSync(process.execPath, ['packages/console/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** A child environment without the caller's WARREN_* settings. */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WARREN_')) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

export interface Running {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches. */
  waitForStdout(re: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<RunResult>;
}

/** Starts `warren ...args`; the caller waits for `exited`. Killed after 20 s so a hang fails the test instead of stalling it. */
export function start(args: string[], o: RunOptions = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(o.env), cwd: o.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const watchers: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of [...watchers]) {
      const m = out.match(w.re);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  if (o.input !== undefined) child.stdin!.end(o.input);
  else child.stdin!.end();
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForStdout: (re) => {
      const m = out.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        watchers.push({ re, resolve });
        void exited.then((r) => reject(new Error(`exited (${r.code}) before stdout matched ${re}: ${r.stdout}\n${r.stderr}`)));
      });
    },
    exited,
  };
}

/** Runs `warren ...args` to completion. */
export function run(args: string[], o: RunOptions = {}): Promise<RunResult> {
  return start(args, o).exited;
}

/** No stack trace lines ("    at fn (file:1:2)") in CLI output. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[:(]/m.test(text);
}
