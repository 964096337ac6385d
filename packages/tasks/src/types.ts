/** What a task is: its record in the state bucket, its message on the queue, its definition. */
import type { BackoffOptions } from './backoff.js';

export type TaskStatus = 'PENDING' | 'STARTED' | 'PROGRESS' | 'RETRY' | 'SUCCESS' | 'FAILURE' | 'REVOKED';

export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);
export const RUNNING: ReadonlySet<TaskStatus> = new Set(['STARTED', 'PROGRESS']);

export function isTerminal(s: TaskStatus): boolean {
  return TERMINAL.has(s);
}

/**
 * A copy of `rec` with `changes` over it: `{ ...rec, ...changes }`, without the spread. In Node 20
 * a spread of a record followed by properties it already has takes a slow path (~5 us, and the
 * copy comes out as a dictionary that JSON.stringify is as slow on); Object.assign takes ~0.4 us.
 */
export function recordWith(rec: TaskRecord, changes: Partial<TaskRecord>): TaskRecord {
  return Object.assign({}, rec, changes);
}

export interface TaskError {
  name: string;
  message: string;
  stack?: string;
}

/** A task's state, as kept in the bucket (key `t.<id>`), JSON. */
export interface TaskRecord {
  id: string;
  name: string;
  args: unknown;
  status: TaskStatus;
  /** The attempt running or last run (1-based); 0 before the first starts. */
  attempt: number;
  /** Attempts allowed in all (1 + retries). */
  maxAttempts: number;
  /** Generation of the task's message: a delivery of an older generation is stale and dropped. */
  run: number;
  /** Ties a record to the enqueue that made it (a second enqueue of the same id is a duplicate). */
  nonce: string;
  priority: number;
  group?: string;
  enqueuedAt: number;
  updatedAt: number;
  /** Not before (delay or ETA). */
  eta?: number;
  startedAt?: number;
  finishedAt?: number;
  /** The worker running (or that last ran) the task. */
  worker?: string;
  /** That worker's count of its claims when it started this attempt (with `worker`, unique to the attempt). */
  claim?: number;
  progress?: unknown;
  result?: unknown;
  error?: TaskError;
  /** RETRY: when the next attempt may start. */
  nextAttemptAt?: number;
  /** REVOKED: why. */
  reason?: string;
}

/** A task's message on its queue. */
export interface TaskMessage {
  id: string;
  name: string;
  args: unknown;
  run: number;
  attempt: number;
  maxAttempts: number;
  nonce: string;
  priority: number;
  group?: string;
  enqueuedAt: number;
  eta?: number;
  /** The revision of the PENDING record the enqueue wrote: a worker that finds it unchanged claims the task in one write. */
  rev?: number;
  /**
   * A retry's message: the error of the attempt before it (`attempt - 1`), as its RETRY record holds
   * it. The worker publishes the retry before it writes that record, so the next attempt can be
   * claimed first (a short back-off); its STARTED record then still carries this error. Optional:
   * a worker that does not know it ignores it. (The retry's `eta` is the RETRY record's `nextAttemptAt`.)
   */
  previousError?: TaskError;
}

export interface RateLimit {
  /** At most this many starts ... */
  max: number;
  /** ... per this many ms (fixed windows, shared by every worker). */
  perMs: number;
}

export interface TaskOptions {
  /** Retries after a failed attempt (default 0: one attempt). */
  retries?: number;
  backoff?: BackoffOptions;
  /**
   * Each attempt is aborted (its signal fires) and fails with TimeoutError after this many ms. An attempt
   * that ends at or past that time before the timer fired (it fired late: a handler that blocked the
   * event loop) fails with TimeoutError too: its outcome is not kept.
   */
  timeoutMs?: number;
  /**
   * Most attempts of this task one worker runs at once (default, and at most: the worker's concurrency),
   * counted from the claim to the handler's return; the outcome's write and the ack come after the
   * slot is freed. Its queue's prefetch at a worker is 4 x this by default (WorkerOptions.prefetch): the
   * tasks delivered beyond the running ones wait for a slot, unstarted, at most WorkerOptions.slotWaitMs.
   */
  concurrency?: number;
  /** Most starts of this task across all workers per window. */
  rateLimit?: RateLimit;
  /** Most starts per window for each `group` given at enqueue. */
  groupRateLimit?: RateLimit;
  /** Default priority 0-9 (9 first). */
  priority?: number;
  /** How long a finished task's state and result are kept (default: the client's resultTtlMs). */
  resultTtlMs?: number;
}

export interface TaskContext {
  id: string;
  name: string;
  /** 1-based. */
  attempt: number;
  /** Fires when the task is revoked, times out, loses its lease, or the worker hands it back on shutdown. */
  signal: AbortSignal;
  /** Records a PROGRESS state with this value (JSON). */
  progress(value: unknown): Promise<void>;
}

export type TaskHandler<A = any, R = unknown> = (args: A, ctx: TaskContext) => R | Promise<R>;

export interface TaskDefinition {
  name: string;
  handler: TaskHandler;
  options: TaskOptions;
}

/** Names: task names and caller ids are used in keys and queue names. */
export const NAME_RE = /^[A-Za-z0-9_\-:]{1,100}$/;
export const ID_RE = /^[A-Za-z0-9_\-:=@+~]{1,200}$/;
