/**
 * Schedules: each tick enqueued exactly once however many schedulers run
 * (in one process, and in three child processes), on a ManualClock; cron
 * expressions in a time zone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { defineTasks, ManualClock, nextTick, Scheduler, TaskClient } from '@warren/tasks';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { WAIT_LIMIT_MS } from '../../../test-support/wait.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(here, '../../..');

let tb: TestBroker;
const conns: Connection[] = [];
beforeAll(async () => {
  tb = await startTestBroker();
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await tb.stop();
});

describe('nextTick', () => {
  it('every N ms ticks at multiples of N', () => {
    expect(nextTick({ everyMs: 10_000 }, 25_000)).toBe(30_000);
    expect(nextTick({ everyMs: 10_000 }, 30_000)).toBe(40_000);
  });

  it('cron in a time zone, across a daylight-saving change', () => {
    const at9Paris = { cron: '0 9 * * *', timezone: 'Europe/Paris' };
    expect(new Date(nextTick(at9Paris, Date.UTC(2026, 0, 15, 0, 0))).toISOString()).toBe('2026-01-15T08:00:00.000Z'); // CET, UTC+1
    expect(new Date(nextTick(at9Paris, Date.UTC(2026, 6, 15, 0, 0))).toISOString()).toBe('2026-07-15T07:00:00.000Z'); // CEST, UTC+2
    expect(new Date(nextTick({ cron: '30 2 * * 1', timezone: 'America/New_York' }, Date.UTC(2026, 2, 1))).toISOString()).toBe('2026-03-02T07:30:00.000Z');
    expect(() => nextTick({ cron: 'not a cron' }, 0)).toThrow();
  });
});

describe('three schedulers', () => {
  it('enqueue each tick exactly once', async () => {
    const clock = new ManualClock(1_000_000_000_000 + 3_000);
    const registry = defineTasks()
      .define('report', () => 'ok')
      .schedule('every-10s', { everyMs: 10_000 }, 'report', { kind: 'fast' })
      .schedule('hourly', { cron: '0 * * * *', timezone: 'Asia/Kolkata' }, 'report', { kind: 'hourly' });
    const clients: TaskClient[] = [];
    for (let i = 0; i < 3; i++) {
      const conn = await connect(tb.url);
      conns.push(conn);
      clients.push(await TaskClient.open(conn, { namespace: 'sched', registry, clock }));
    }
    const schedulers = await Promise.all(clients.map((c) => Scheduler.start(c)));
    const ids: string[] = [];
    // Two hours in 2.5 s steps; all three schedulers tick after every step (their own timers fire too).
    for (let t = 0; t < 7200_000; t += 2500) {
      clock.advance(2500);
      ids.push(...(await Promise.all(schedulers.map((s) => s.tick()))).flat());
    }
    for (const s of schedulers) s.stop();
    const records = await clients[0]!.list({ limit: 10_000 });
    const fast = records.filter((r) => (r.args as { kind: string }).kind === 'fast');
    const hourly = records.filter((r) => (r.args as { kind: string }).kind === 'hourly');
    expect(fast).toHaveLength(720);
    // Kolkata is UTC+5:30: its hours start at :30 UTC. Two such instants in two hours.
    expect(hourly).toHaveLength(2);
    expect(hourly.map((r) => new Date(Number(r.id.split('-').at(-1))).getUTCMinutes())).toEqual([30, 30]);
    const ticks = fast.map((r) => Number(r.id.split('-').at(-1))).sort((a, b) => a - b);
    expect(new Set(ticks).size).toBe(720);
    expect(ticks.every((t, i) => i === 0 || t - ticks[i - 1]! === 10_000)).toBe(true);
    // One message per tick on the queue, not one per scheduler.
    expect((await clients[0]!.conn.declareQueue(clients[0]!.queueName('report'), { passive: true })).messageCount).toBe(722);
    // Every tick was reported by exactly one tick() call... or by several (same id): never two different ids for one tick.
    expect(new Set(ids).size).toBe(722);
  });
});

describe('a missed tick', () => {
  it('ticks missed while no scheduler ran are enqueued once, late (the latest one), then ticking goes on', async () => {
    const clock = new ManualClock(2_000_000_000_000 + 3_000);
    const registry = defineTasks()
      .define('report', () => 'ok')
      .schedule('every-10s', { everyMs: 10_000 }, 'report', { kind: 'missed' });
    const conn = await connect(tb.url);
    conns.push(conn);
    const client = await TaskClient.open(conn, { namespace: 'missed', registry, clock });
    const first = await Scheduler.start(client);
    clock.advance(7_000); // the tick at ...010_000
    expect(await first.tick()).toEqual(['every-10s-2000000010000']);
    first.stop();
    // Nothing runs for 5 ticks (...020_000 to ...060_000), then a scheduler starts at ...065_000.
    clock.set(2_000_000_065_000);
    const second = await Scheduler.start(client);
    second.stop();
    expect(await second.tick()).toEqual([]); // start() already enqueued the missed one
    const ids = (await client.list({ limit: 100 })).map((r) => r.id).sort();
    expect(ids).toEqual(['every-10s-2000000010000', 'every-10s-2000000060000']);
    expect((await client.get('every-10s-2000000060000'))!.enqueuedAt).toBe(2_000_000_065_000); // late
    // And the next tick is the usual one.
    clock.set(2_000_000_070_000);
    expect(await second.tick()).toEqual(['every-10s-2000000070000']);
    expect(await conn.declareQueue(client.queueName('report'), { passive: true })).toMatchObject({ messageCount: 3 });
  });
});

/** A scheduler-child.ts process, driven line by line over its stdin. */
class SchedulerChild {
  readonly proc: ChildProcess;
  private out = '';
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;

  constructor(url: string, namespace: string, start: number) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'scheduler-child.ts'), url, namespace, String(start)], {
      cwd: repoRoot,
      env: { ...process.env, TSX_TSCONFIG_PATH: join(repoRoot, 'test-support/tsconfig.child.json') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let partial = '';
    this.proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.out += s;
      partial += s;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      this.waiter?.();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (s: string) => (this.out += s));
    this.proc.once('exit', () => this.waiter?.());
  }

  /** The next line it prints (rejects, with its output, if it exits or says nothing for WAIT_LIMIT_MS). */
  async line(): Promise<string> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (this.lines.length === 0) {
      if (this.proc.exitCode !== null || Date.now() > deadline) throw new Error(`scheduler child ${this.proc.pid}: no answer; its output: ${this.out}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 100);
      });
    }
    return this.lines.shift()!;
  }

  async send(command: string): Promise<string> {
    this.proc.stdin!.write(`${command}\n`);
    return this.line();
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

describe('three scheduler processes', () => {
  it('enqueue each tick exactly once: each child on its own clock, moved on together over stdin', async () => {
    const start = 1_100_000_000_000 + 3_000;
    const ns = 'sched-procs';
    const children = [0, 1, 2].map(() => new SchedulerChild(tb.url, ns, start));
    try {
      for (const c of children) expect(await c.line()).toBe('ready');
      // Ten minutes in 2.5 s steps. At each step all three move their clocks and tick at the same time
      // (their own timers fire in the same advance): three processes race for every tick.
      const reported: string[] = [];
      for (let t = 0; t < 600_000; t += 2500) {
        const answers = await Promise.all(children.map((c) => c.send('advance 2500')));
        for (const a of answers) {
          expect(a).toMatch(/^ticked /);
          reported.push(...(JSON.parse(a.slice('ticked '.length)) as string[]));
        }
      }
      for (const c of children) expect(await c.send('stop')).toBe('stopped');
      const conn = await connect(tb.url);
      conns.push(conn);
      const client = await TaskClient.open(conn, { namespace: ns });
      const records = await client.list({ limit: 10_000 });
      const tickOf = (id: string) => Number(id.split('-').at(-1));
      const fast = records.filter((r) => (r.args as { kind: string }).kind === 'fast').map((r) => tickOf(r.id)).sort((a, b) => a - b);
      const minutely = records.filter((r) => (r.args as { kind: string }).kind === 'minutely').map((r) => tickOf(r.id)).sort((a, b) => a - b);
      // Every 10 s from start+7 s to start+597 s: 60 ticks; every minute: 10 ticks; nothing else.
      expect(fast).toEqual(Array.from({ length: 60 }, (_, i) => 1_100_000_010_000 + i * 10_000));
      expect(minutely).toEqual(Array.from({ length: 10 }, (_, i) => 1_100_000_040_000 + i * 60_000));
      expect(records).toHaveLength(70);
      // One message per tick on the queue, not one per process.
      expect((await conn.declareQueue(client.queueName('report'), { passive: true })).messageCount).toBe(70);
      expect(new Set(reported).size).toBe(70);
    } finally {
      for (const c of children) c.kill();
    }
  }, 60_000);
});
