/**
 * A private `redis-server` for one benchmark row: started on a free loopback port
 * with a fresh temporary folder and an append-only file, stopped and its folder
 * removed afterwards (also when this process exits or is interrupted).
 *
 * Used by the task bench (e2e/tasks.ts) to run BullMQ on a Redis that makes the
 * promise Warren makes: `appendfsync always` (every write in the AOF and
 * fsync'ed before Redis answers it; Redis groups the writes of one event-loop
 * turn into one fdatasync), or `everysec` (Redis's recommended default: the AOF
 * fsync'ed once a second, so up to a second of acknowledged writes can be lost).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export type AppendFsync = 'always' | 'everysec';

export interface RedisChild {
  readonly port: number;
  readonly pid: number;
  /** The temporary folder (the AOF is under it); gone after stop(). */
  readonly dir: string;
  /** What it persists, as CONFIG GET reports it (e.g. `appendonly yes (appendfsync always), save ""`). */
  persistence(): Promise<string>;
  /** Its CPU time so far, ms (user + system, every thread: INFO cpu). */
  cpuMs(): Promise<number>;
  /** Stops it (SHUTDOWN NOSAVE, SIGKILL after 10 s), removes its folder; with `strace`, returns the fsync counts. */
  stop(): Promise<{ fdatasync: number; fsync: number } | undefined>;
}

/** The `redis-server` binary: $REDIS_SERVER, else the one on PATH. */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

/** A loopback port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Children still running: killed (and their folders removed) when this process exits. */
const live = new Map<ChildProcess, string>();
let hooked = false;
/** Kills every redis-server started here and still running, and removes their folders (synchronous: for exit and signal handlers). */
export function killAllRedisSync(): void {
  for (const [proc, dir] of live) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAllRedisSync);
}

/**
 * Starts `redis-server` with an AOF fsync'ed per `appendfsync`, no RDB saves, on 127.0.0.1.
 * `strace`: run it under `strace -c -f -e trace=fdatasync,fsync` (slows it down: for counting
 * syncs, not for its speed); stop() then returns the counts over its whole life (start-up and
 * shutdown write a few: about 4 fdatasyncs and 1-2 fsyncs).
 */
export async function startRedis(appendfsync: AppendFsync, opts: { strace?: boolean } = {}): Promise<RedisChild> {
  hookExit();
  const dir = await mkdtemp(join(tmpdir(), 'warren-bench-redis-'));
  const straceOut = join(dir, 'strace.txt');
  let lastError: Error | undefined;
  // The free port can be taken between the check and redis-server's bind: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', join(dir), '--save', '', '--appendonly', 'yes', '--appendfsync', appendfsync, '--daemonize', 'no', '--logfile', '', '--loglevel', 'warning'];
    const [cmd, argv] = opts.strace === true ? ['strace', ['-c', '-f', '-e', 'trace=fdatasync,fsync', '-o', straceOut, REDIS_SERVER, ...args]] : [REDIS_SERVER, args];
    const proc = spawn(cmd, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.set(proc, dir);
    let output = '';
    proc.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
    proc.once('error', (e) => (lastError = e));
    const ready = await waitReady(port, exited);
    if (!ready) {
      live.delete(proc);
      proc.kill('SIGKILL');
      await exited;
      lastError ??= new Error(`redis-server did not start on port ${port}: ${output.trim().slice(-500)}`);
      continue;
    }
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    await client.connect();
    return {
      port,
      pid: proc.pid!,
      dir,
      persistence: async () => {
        const get = async (key: string): Promise<string> => {
          const r = (await client.call('CONFIG', 'GET', key)) as unknown;
          return r instanceof Map ? String(r.get(key)) : Array.isArray(r) ? String(r[1]) : String((r as Record<string, unknown>)[key]);
        };
        return `appendonly ${await get('appendonly')} (appendfsync ${await get('appendfsync')}), save "${await get('save')}"`;
      },
      cpuMs: async () => {
        const info = await client.info('cpu');
        const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
        return (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
      },
      stop: async () => {
        // SHUTDOWN rather than a signal: under strace the signal would reach strace, not Redis.
        void client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        client.disconnect();
        live.delete(proc);
        let counts: { fdatasync: number; fsync: number } | undefined;
        if (opts.strace === true) {
          const text = await readFile(straceOut, 'utf8').catch(() => '');
          const calls = (name: string): number => Number(new RegExp(`^\\s*[0-9.]+\\s+[0-9.]+\\s+\\d+\\s+(\\d+)\\s+(?:\\d+\\s+)?${name}$`, 'm').exec(text)?.[1] ?? 0);
          counts = { fdatasync: calls('fdatasync'), fsync: calls('fsync') };
        }
        rmSync(dir, { recursive: true, force: true });
        return counts;
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error('redis-server did not start');
}

/** PINGs 127.0.0.1:port until it answers (true) or the process exits / 10 s pass (false). */
async function waitReady(port: number, exited: Promise<number | null>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (!gone && Date.now() < deadline) {
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    c.on('error', () => undefined);
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return true;
    } catch {
      // not listening yet
    } finally {
      c.disconnect();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
