/**
 * Schedules: enqueue a task on every tick of an interval or a cron expression
 * (croner, in the schedule's time zone). Run a scheduler in as many processes
 * as you like: each tick is enqueued once, under the id `<schedule>-<tick ms>`
 * (the enqueue's compare-and-set create decides), and the schedule's
 * high-water mark `s.<name>` in the bucket moves on by compare-and-set.
 * A tick missed while no scheduler ran is enqueued once, late (only the
 * latest missed tick, not every one).
 */
import { Cron } from 'croner';
import { isWrongRevision, type TaskClient } from './client.js';
import type { ScheduleDefinition, ScheduleSpec } from './registry.js';

/** The first tick strictly after `t`. */
export function nextTick(spec: ScheduleSpec, t: number): number {
  if ('everyMs' in spec) return (Math.floor(t / spec.everyMs) + 1) * spec.everyMs;
  const cron = new Cron(spec.cron, { timezone: spec.timezone, paused: true });
  const next = cron.nextRun(new Date(t));
  if (next === null) return Infinity;
  return next.getTime();
}

interface ScheduleState {
  last: number;
}

export class Scheduler {
  private timer: unknown;
  private stopped = false;

  private constructor(
    readonly client: TaskClient,
    readonly schedules: ScheduleDefinition[],
  ) {}

  /** Starts ticking the registry's schedules (or those given) on the client's clock. */
  static async start(client: TaskClient, schedules = client.registry?.schedules ?? []): Promise<Scheduler> {
    for (const s of schedules) nextTick(s.spec, 0); // a bad cron expression throws here
    const sch = new Scheduler(client, schedules);
    await sch.tick();
    sch.arm();
    return sch;
  }

  /** Creates (at now) or checks each schedule, and enqueues every tick that is due. Resolves with the ids enqueued. */
  async tick(): Promise<string[]> {
    const ids: string[] = [];
    for (const s of this.schedules) {
      const id = await this.tickOne(s);
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  private async tickOne(s: ScheduleDefinition): Promise<string | undefined> {
    const key = `s.${s.name}`;
    const bucket = this.client.bucket;
    for (;;) {
      const now = this.client.clock.now();
      const e = await bucket.get(key);
      if (e === null || e.op !== 'put') {
        try {
          await bucket.create(key, JSON.stringify({ last: now } satisfies ScheduleState), { ttl: 0 });
          return undefined; // the first tick is the next one after now
        } catch (err) {
          if (isWrongRevision(err)) continue;
          throw err;
        }
      }
      const state = e.json<ScheduleState>();
      let due = nextTick(s.spec, state.last);
      if (due > now) return undefined;
      for (let i = 0; i < 100_000; i++) {
        const after = nextTick(s.spec, due);
        if (after > now) break;
        due = after;
      }
      const id = `${s.name}-${due}`;
      // Every scheduler that sees this tick enqueues the same id: the first create wins, the others are duplicates.
      await this.client.enqueue(s.task, s.args, { id });
      try {
        await bucket.update(key, JSON.stringify({ last: due } satisfies ScheduleState), e.revision, { ttl: 0 });
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
      }
      return id;
    }
  }

  private arm(): void {
    if (this.stopped || this.schedules.length === 0) return;
    const now = this.client.clock.now();
    const next = Math.min(...this.schedules.map((s) => nextTick(s.spec, now)));
    // Re-check at least every minute (a clock jump, a schedule changed by another process).
    const wait = Math.min(60_000, Math.max(0, next - now));
    this.timer = this.client.clock.setTimeout(() => {
      void this.tick()
        .catch(() => undefined)
        .finally(() => this.arm());
    }, wait);
  }

  stop(): void {
    this.stopped = true;
    this.client.clock.clearTimeout(this.timer);
  }
}
