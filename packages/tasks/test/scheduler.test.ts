/**
 * Schedules: each tick enqueued exactly once however many schedulers run,
 * on a ManualClock; cron expressions in a time zone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { defineTasks, ManualClock, nextTick, Scheduler, TaskClient } from '@warren/tasks';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

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
