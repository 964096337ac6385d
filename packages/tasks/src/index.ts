/**
 * @warren/tasks: background jobs on Warren alone.
 *
 * @example
 * // tasks.ts: definitions, shared by the API and the workers
 * import { defineTasks } from '@warren/tasks';
 * export const tasks = defineTasks()
 *   .define('resize', async ({ url }: { url: string }, ctx) => { await ctx.progress(50); return { ok: true }; }, { retries: 3, timeoutMs: 60_000 });
 *
 * // api.ts
 * const client = await TaskClient.open(conn, { registry: tasks });
 * const id = await client.enqueue('resize', { url });
 * const done = await client.wait(id, { timeoutMs: 30_000 }); // done.status === 'SUCCESS', done.result
 *
 * // worker: `warren worker ./tasks.js --concurrency 8`, or in code:
 * const worker = await Worker.start(client, { concurrency: 8 });
 */
export { defineTasks, TaskRegistry, type ScheduleSpec, type ScheduleDefinition } from './registry.js';
export { TaskClient, TaskWatch, DEFAULT_RESULT_TTL_MS, MAX_PRIORITY, type TaskClientOptions, type EnqueueOptions, type ListFilter } from './client.js';
export { Worker, TaskAbort, type WorkerOptions, type WorkerEvent, type LeaseRecord } from './worker.js';
export { Scheduler, nextTick } from './scheduler.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export {
  isTerminal,
  type TaskStatus,
  type TaskRecord,
  type TaskMessage,
  type TaskError,
  type TaskOptions,
  type TaskContext,
  type TaskHandler,
  type TaskDefinition,
  type RateLimit,
} from './types.js';
