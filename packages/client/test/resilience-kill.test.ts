/**
 * kill -9: the broker runs as a child process; the client publishes
 * persistent messages to a durable queue with confirms, the broker is killed
 * with SIGKILL mid-stream and started again on the same port and data folder.
 * The client reconnects by itself, publishes that were in flight are re-sent,
 * and every confirmed message is delivered (at least once).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Connection, type StatusEvent } from '../src/index.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/broker-process.ts', import.meta.url));

interface Child {
  process: ChildProcess;
  port: number;
  exited: Promise<void>;
}

/** Starts the broker in a child process and resolves with the port it printed. */
function spawnBroker(port: number, dataDir: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(port), dataDir], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) resolve({ process: child, port: Number(line), exited });
    });
    child.once('exit', (code, signal) => reject(new Error(`broker process exited (${code ?? signal}) before listening: ${err}`)));
  });
}

describe('kill -9', () => {
  let dir: string;
  const children: Child[] = [];
  const conns: Connection[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-client-kill-'));
  });

  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close({ drainTimeoutMs: 1000 })));
    for (const c of children.splice(0)) {
      c.process.kill('SIGKILL');
      await c.exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('every confirmed message survives a SIGKILLed broker and is delivered after the client reconnects by itself', async () => {
    const first = await spawnBroker(0, dir);
    children.push(first);
    const conn = await connect({ port: first.port, timeoutMs: 5000, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    conns.push(conn);
    const statuses: string[] = [];
    conn.on('disconnected', (e) => statuses.push(e.type));
    conn.on('reconnecting', (e) => statuses.push(e.type));
    conn.on('connected', (e) => statuses.push(e.type));
    await conn.declareQueue('kill9', { durable: true });

    const confirmed = new Set<number>();
    const failed: unknown[] = [];
    const publish = (id: number): Promise<void> =>
      conn.publish('', 'kill9', String(id), { persistent: true }).then(
        () => void confirmed.add(id),
        (err: unknown) => void failed.push(err),
      );
    await Promise.all(Array.from({ length: 200 }, (_, i) => publish(i)));
    expect(confirmed.size).toBe(200);
    // More publishes in flight, then the broker dies under them.
    const inFlight = Array.from({ length: 200 }, (_, i) => publish(200 + i));
    first.process.kill('SIGKILL');
    await first.exited;

    const reconnected = new Promise<StatusEvent>((resolve) => conn.once('connected', resolve));
    const second = await spawnBroker(first.port, dir);
    children.push(second);
    expect(await reconnected).toMatchObject({ reconnected: true });
    await Promise.all(inFlight); // re-sent on the new connection: all settle
    expect(failed).toEqual([]);
    expect(confirmed.size).toBe(400);

    const seen = new Set<number>();
    const consumer = await conn.consume('kill9', { prefetch: 100 });
    for await (const m of consumer) {
      seen.add(Number(m.body.toString()));
      m.ack();
      if ([...confirmed].every((id) => seen.has(id))) break;
    }
    expect([...confirmed].filter((id) => !seen.has(id))).toEqual([]);
    expect(statuses.slice(0, 2)).toEqual(['disconnected', 'reconnecting']);
    expect(statuses.at(-1)).toBe('connected');
  });
});
