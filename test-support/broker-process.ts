/**
 * A broker in a child process, for tests that SIGKILL it (crash recovery, a
 * client reconnecting to a restarted broker). The child runs the TypeScript
 * sources (broker-child.ts), so a stale dist/ never hides a change.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..');
const CHILD = join(here, 'broker-child.ts');
const TSCONFIG = join(here, 'tsconfig.child.json');

export interface ChildHello {
  port: number;
  pid: number;
  /** Ready messages per queue right after recovery. */
  queues: Record<string, number>;
  recovery: { records: number; truncatedBytes: number; droppedRecords: number; messages: number } | null;
  kvRecovery: { records: number; truncatedBytes: number; droppedRecords: number; buckets: number };
}

export interface ChildBroker {
  readonly hello: ChildHello;
  readonly port: number;
  readonly url: string;
  readonly proc: ChildProcess;
  /** Resolves with the exit signal (or code) once the process is gone. */
  readonly exited: Promise<string>;
  /** SIGKILL now (idempotent); resolves once the process is gone. */
  kill9(): Promise<string>;
  /** SIGKILL without waiting: safe to call synchronously from any callback. */
  kill9Now(): void;
}

const live = new Set<ChildProcess>();

/** Starts broker-child.ts on dataDir (port 0 unless given) and waits for its hello line. */
export async function spawnBroker(dataDir: string, port = 0): Promise<ChildBroker> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, String(port)], {
    cwd: repoRoot,
    env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const exited = new Promise<string>((res) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      res(signal ?? `code ${code}`);
    });
  });
  const hello = await new Promise<ChildHello>((res, rej) => {
    let out = '';
    const onData = (s: string): void => {
      out += s;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      proc.stdout!.off('data', onData);
      try {
        res(JSON.parse(out.slice(0, nl)) as ChildHello);
      } catch (err) {
        rej(new Error(`bad hello from broker child: ${out} ${String(err)}`));
      }
    };
    proc.stdout!.setEncoding('utf8').on('data', onData);
    void exited.then((how) => rej(new Error(`broker child exited before listening (${how}): ${stderr}`)));
  });
  const kill9Now = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  return {
    hello,
    port: hello.port,
    url: `warren://guest:guest@127.0.0.1:${hello.port}`,
    proc,
    exited,
    kill9Now,
    async kill9() {
      kill9Now();
      return exited;
    },
  };
}

/** SIGKILLs every child broker still running (afterEach / afterAll). */
export async function killAllChildren(): Promise<void> {
  const procs = [...live];
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((res) => {
          if (p.exitCode !== null || p.signalCode !== null) return res();
          p.once('exit', () => res());
          p.kill('SIGKILL');
        }),
    ),
  );
}
