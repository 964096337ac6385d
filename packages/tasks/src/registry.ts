/**
 * Task definitions and schedules, with no connection: a module (`tasks.js`)
 * builds one with defineTasks() and exports it; the API process uses it to
 * enqueue, `warren worker ./tasks.js` to run the handlers.
 */
import { NAME_RE, type TaskDefinition, type TaskHandler, type TaskOptions } from './types.js';

/** Every N ms (ticks at multiples of N since the epoch), or a cron expression in a time zone. */
export type ScheduleSpec = { everyMs: number } | { cron: string; timezone?: string };

export interface ScheduleDefinition {
  name: string;
  spec: ScheduleSpec;
  task: string;
  args: unknown;
}

export class TaskRegistry {
  private readonly defs = new Map<string, TaskDefinition>();
  private readonly scheds = new Map<string, ScheduleDefinition>();

  /** Defines a task: `define('resize', async (args, ctx) => ..., { retries: 3, timeoutMs: 60_000 })`. */
  define<A = any, R = unknown>(name: string, handler: TaskHandler<A, R>, options: TaskOptions = {}): this {
    if (!NAME_RE.test(name)) throw new TypeError(`task name ${JSON.stringify(name)}: use 1-100 of A-Z a-z 0-9 _ - :`);
    if (this.defs.has(name)) throw new TypeError(`task ${name} is defined twice`);
    checkOptions(name, options);
    this.defs.set(name, { name, handler: handler as TaskHandler, options });
    return this;
  }

  /** Enqueues `task` with `args` on every tick of `spec`, once per tick however many schedulers run. */
  schedule(name: string, spec: ScheduleSpec, task: string, args: unknown = null): this {
    if (!NAME_RE.test(name)) throw new TypeError(`schedule name ${JSON.stringify(name)}: use 1-100 of A-Z a-z 0-9 _ - :`);
    if ('everyMs' in spec && !(Number.isInteger(spec.everyMs) && spec.everyMs >= 1000)) throw new TypeError(`schedule ${name}: everyMs must be an integer >= 1000`);
    this.scheds.set(name, { name, spec, task, args });
    return this;
  }

  get(name: string): TaskDefinition | undefined {
    return this.defs.get(name);
  }

  get tasks(): TaskDefinition[] {
    return [...this.defs.values()];
  }

  get schedules(): ScheduleDefinition[] {
    return [...this.scheds.values()];
  }
}

export function defineTasks(): TaskRegistry {
  return new TaskRegistry();
}

function checkOptions(name: string, o: TaskOptions): void {
  const bad = (what: string): never => {
    throw new TypeError(`task ${name}: ${what}`);
  };
  if (o.retries !== undefined && !(Number.isInteger(o.retries) && o.retries >= 0)) bad('retries must be an integer >= 0');
  if (o.timeoutMs !== undefined && !(o.timeoutMs > 0)) bad('timeoutMs must be > 0');
  if (o.concurrency !== undefined && !(Number.isInteger(o.concurrency) && o.concurrency >= 1)) bad('concurrency must be an integer >= 1');
  if (o.priority !== undefined && !(Number.isInteger(o.priority) && o.priority >= 0 && o.priority <= 9)) bad('priority must be 0-9');
  for (const [k, r] of [['rateLimit', o.rateLimit], ['groupRateLimit', o.groupRateLimit]] as const) {
    if (r !== undefined && !(Number.isInteger(r.max) && r.max >= 1 && Number.isInteger(r.perMs) && r.perMs >= 1)) bad(`${k} needs integer max >= 1 and perMs >= 1`);
  }
}
