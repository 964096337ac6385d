/**
 * Shared helpers of the durability suite: child-process brokers (for SIGKILL),
 * numbered message bodies, and a pino log capture.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { connect, type Connection } from '@warren/client';
import { rng } from '../../../../test-support/prng.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../../..');
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

/** Starts broker-child.ts on dataDir and waits for its hello line. */
export async function spawnBroker(dataDir: string): Promise<ChildBroker> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir], {
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

const clients = new Set<Connection>();

/**
 * A client connection without automatic reconnect (a publish resent to a restarted broker
 * would blur what was confirmed before a crash), tracked for closeAllClients().
 */
export async function client(url: string): Promise<Connection> {
  const c = await connect({ url, heartbeatMs: 0, reconnect: false });
  clients.add(c);
  // A killed broker is reported through 'close' and rejected promises; nothing else to do.
  c.on('handlerError', () => {});
  c.on('serverError', () => {});
  return c;
}

export async function closeAllClients(): Promise<void> {
  const all = [...clients];
  clients.clear();
  await Promise.all(all.map((c) => c.close().catch(() => {})));
}

export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** The last line with this msg. */
  find(msg: string): Record<string, unknown> | undefined;
}

/** A pino logger (level info) whose JSON lines are kept in memory, for BrokerOptions.logger. */
export function captureLog(): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  return {
    logger,
    lines,
    find: (msg) => lines.filter((l) => l['msg'] === msg).at(-1),
  };
}

/** The body of message `id`: "msg-<id>|" then seeded bytes, `size` bytes in all. */
export function numberedBody(id: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  const head = `msg-${id}|`;
  b.write(head, 0, 'latin1');
  const r = rng(id + 1);
  for (let i = head.length; i < size; i++) b[i] = r.int(0, 255);
  return b;
}

/** The id a numberedBody carries; throws on anything else. */
export function idOfBody(body: Buffer): number {
  const m = /^msg-(\d+)\|/.exec(body.subarray(0, 20).toString('latin1'));
  if (m === null) throw new Error(`not one of our bodies: ${body.subarray(0, 20).toString('hex')}`);
  return Number(m[1]);
}
