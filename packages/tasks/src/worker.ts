/**
 * The worker: takes tasks from their queues, runs the handlers, and records
 * every state change in the bucket.
 *
 * Delivery and leases. Warren keeps a delivery unacknowledged for as long as
 * the worker's connection lives, so a task is never handed out again because
 * it ran long (no visibility timeout), and a worker that dies (SIGKILL, OOM,
 * lost host) has its connection dropped and its tasks requeued at once: the
 * next worker sees `redelivered` and takes the task over. For a worker that
 * stays connected but stops making progress (a starved event loop, a
 * stopped process, before the broker's heartbeat check drops it), each
 * running task also has a lease in the `<ns>-leases` bucket (memory only: it
 * is about live processes), written leaseMs/3 after the task started and
 * renewed as often while the handler runs. Every worker's reaper looks for leases past their
 * time and re-issues those tasks; the stuck worker finds out on its next
 * renewal (its handler's signal aborts) and its outcome is discarded.
 *
 * Fencing. Each record carries `run`, the generation of the task's message.
 * A worker accepts a delivery only for the record's current run (or a newer
 * one), and writes every state change with compare-and-set on the revision
 * it last wrote: whoever lost the task (revoked, taken over) fails that write
 * and drops its outcome. So a task's result is recorded once.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ErrorCodes, WarrenError, type Consumer, type KvBucket, type KvWatch, type Message } from '@warren/client';
import { backoffDelay } from './backoff.js';
import { isWrongRevision, leaseKey, revokeKey, taskKey, type TaskClient } from './client.js';
import { isTerminal, recordWith, RUNNING, type TaskContext, type TaskDefinition, type TaskError, type TaskMessage, type TaskRecord } from './types.js';

export interface WorkerOptions {
  /** Most handlers running at once in this worker (default 1). */
  concurrency?: number;
  /** Task names to run (default: every task in the registry). */
  tasks?: string[];
  /**
   * Lease length, ms (default 30000). A running task's lease is written leaseMs/3 after it started
   * and renewed as often; a task whose worker stops renewing for leaseMs is taken over.
   */
  leaseMs?: number;
  /**
   * This worker's name in records, leases and its consumer tags (`<id>/<task>`), as the console
   * and `warren task workers` show it (default host-pid-random). Give each worker its own.
   */
  id?: string;
  /**
   * Write a task's STARTED record only once its attempt has been running this many ms (as Celery,
   * whose default is not to record STARTED at all). Default undefined: STARTED is written as each
   * attempt starts, before its handler runs. With it, an attempt that ends sooner goes straight
   * from PENDING to its outcome (one bucket write less per task, a read instead: the handler runs only
   * while the record is still the PENDING one its message was sent for): SUCCESS (or RETRY, FAILURE) is
   * written by compare-and-set on the PENDING record's revision, so a revoke meanwhile still
   * discards the outcome and a result is still recorded once. What differs while such a task runs:
   * it reads PENDING, and retry() on it re-sends it (the running attempt's outcome is then discarded
   * and the task runs again), where a STARTED task refuses. Capped at leaseMs/3 (a lease is never
   * written before the STARTED record). Applies to a task's first delivery, whose record is still
   * the PENDING one its enqueue wrote; a redelivered or re-issued task is claimed at once as before.
   */
  startedAfterMs?: number;
}

export interface LeaseRecord {
  owner: string;
  run: number;
  /** The owner's claim count of the attempt (the record's `claim`): with `owner` and `run`, names the attempt the lease is for. */
  claim?: number;
  until: number;
}

/** Why a handler's signal aborted. */
export class TaskAbort extends Error {
  constructor(
    readonly kind: 'revoked' | 'timeout' | 'lease-lost' | 'shutdown',
    message: string,
  ) {
    super(message);
    this.name = kind === 'timeout' ? 'TimeoutError' : 'AbortError';
  }
}

interface Running {
  id: string;
  msg: Message;
  m: TaskMessage;
  record: TaskRecord;
  revision: number;
  ctl: AttemptAbort;
  /** Serialises this task's record writes. */
  writes: Promise<unknown>;
  leaseRevision: number;
  leaseTimer: unknown;
  lost: boolean;
  handedBack: boolean;
  /** startedAfterMs: the STARTED record (r.record) is not written yet; its timer. */
  startPending: boolean;
  startTimer: unknown;
}

export type WorkerEvent =
  | { type: 'started' | 'succeeded' | 'retrying' | 'failed' | 'revoked' | 'lost' | 'handed-back'; id: string; name: string; attempt: number; error?: TaskError }
  | { type: 'taken-over'; id: string; name: string; from: string };

function errorOf(err: unknown): TaskError {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack !== undefined ? { stack: err.stack } : {}) };
  return { name: 'Error', message: String(err) };
}

/**
 * A task attempt's abort state, as an AbortController's (the first reason wins); the AbortSignal
 * itself is made only when the handler asks for it (most never do: it costs a few µs per task).
 */
class AttemptAbort {
  aborted = false;
  reason: unknown = undefined;
  /** Called once, on abort, after the signal's listeners: ends the attempt's wait for the handler. */
  onAbort: ((reason: unknown) => void) | undefined = undefined;
  private ctl: AbortController | undefined = undefined;

  get signal(): AbortSignal {
    if (this.ctl === undefined) {
      this.ctl = new AbortController();
      if (this.aborted) this.ctl.abort(this.reason);
    }
    return this.ctl.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.ctl?.abort(reason);
    this.onAbort?.(reason);
  }
}

/** What a handler gets as `ctx` (a class: its signal is a getter, made on first use). */
class AttemptContext implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly attempt: number;
  /** An own function, so that `const { progress } = ctx` works. */
  readonly progress: (value: unknown) => Promise<void>;

  constructor(
    worker: Worker,
    private readonly r: Running,
  ) {
    this.id = r.m.id;
    this.name = r.m.name;
    this.attempt = r.m.attempt;
    this.progress = (value) => worker.progress(r, value);
  }

  get signal(): AbortSignal {
    return this.r.ctl.signal;
  }
}

function withoutProgress(rec: TaskRecord): TaskRecord {
  const { progress: _progress, nextAttemptAt: _next, ...kept } = rec;
  return kept;
}

function withoutError(rec: TaskRecord): TaskRecord {
  const { error: _error, ...kept } = rec;
  return kept;
}

/** A counting semaphore for the worker's concurrency. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(n: number) {
    this.free = n;
  }
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

export class Worker extends EventEmitter<{ task: [WorkerEvent]; error: [Error] }> {
  readonly id: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  /** See WorkerOptions.startedAfterMs (undefined: STARTED written at once). */
  readonly startedAfterMs: number | undefined;
  private readonly slots: Slots;
  private readonly consumers: Consumer[] = [];
  private readonly running = new Map<string, Running>();
  private revokes: KvWatch | undefined;
  /**
   * Revocations seen for tasks this worker was not running (id -> the run revoked), the latest
   * REVOKES_KEPT: one that arrives while the worker is between reading a task's record and
   * running its handler (startedAfterMs, whose claim is a read) still stops it.
   */
  private readonly revokedSeen = new Map<string, number>();
  private reaperTimer: unknown;
  private stopping = false;
  private idle: (() => void) | undefined;
  private readonly bucket: KvBucket;
  /** Counts this worker's claims: with its id, makes each STARTED record unique (see TaskRecord.claim). */
  private claims = 0;

  private constructor(
    readonly client: TaskClient,
    readonly leases: KvBucket,
    private readonly defs: TaskDefinition[],
    options: WorkerOptions,
  ) {
    super();
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.concurrency = options.concurrency ?? 1;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.startedAfterMs = options.startedAfterMs === undefined ? undefined : Math.min(options.startedAfterMs, Math.max(0, Math.floor(this.leaseMs / 3) - 1));
    this.slots = new Slots(this.concurrency);
    this.bucket = client.bucket;
  }

  /** Starts a worker for the client's registry (see WorkerOptions). */
  static async start(client: TaskClient, options: WorkerOptions = {}): Promise<Worker> {
    const registry = client.registry;
    if (registry === undefined) throw new TypeError('a worker needs the client opened with a registry');
    const names = options.tasks ?? registry.tasks.map((d) => d.name);
    const defs = names.map((n) => {
      const d = registry.get(n);
      if (d === undefined) throw new TypeError(`no task named ${n} in the registry`);
      return d;
    });
    if (options.concurrency !== undefined && !(Number.isInteger(options.concurrency) && options.concurrency >= 1)) throw new TypeError('concurrency must be an integer >= 1');
    if (options.startedAfterMs !== undefined && !(Number.isFinite(options.startedAfterMs) && options.startedAfterMs >= 0)) throw new TypeError('startedAfterMs must be a number >= 0');
    const w = new Worker(client, client.leases, defs, options);
    await w.begin();
    return w;
  }

  /** An 'error' event when someone listens, else stderr: a worker never throws from a timer. */
  private report(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err as Error);
    else console.error(`warren worker ${this.id}:`, err);
  }

  /** Tasks running now (ids). */
  get active(): string[] {
    return [...this.running.keys()];
  }

  private async begin(): Promise<void> {
    try {
      this.revokes = await this.leases.watch({ prefix: 'r.' });
      void this.watchRevokes(this.revokes);
      for (const def of this.defs) {
        await this.client.ensureQueue(def.name);
        this.consumers.push(await this.consume(def));
      }
    } catch (err) {
      // Nothing keeps running for a worker that did not start.
      this.stopping = true;
      await Promise.all(this.consumers.splice(0).map((c) => c.cancel().catch(() => undefined)));
      await this.revokes?.close().catch(() => undefined);
      throw err;
    }
    this.scheduleReaper();
  }

  /**
   * The consumer tag names the worker (`<worker id>/<task>`), so the console and the management
   * API's consumer list can tell workers apart. The broker picks the tag when that one is too long
   * or already taken on this connection (two workers given the same id).
   */
  private async consume(def: TaskDefinition): Promise<Consumer> {
    const queue = this.client.queueName(def.name);
    const handler = (msg: Message) => this.onMessage(def, msg);
    const prefetch = Math.min(def.options.concurrency ?? this.concurrency, this.concurrency);
    const tag = `${this.id}/${def.name}`;
    if (Buffer.byteLength(tag) <= 255) {
      try {
        return await this.client.conn.consume(queue, handler, { prefetch, consumerTag: tag });
      } catch (err) {
        if (!(err instanceof WarrenError && err.code === ErrorCodes.PRECONDITION_FAILED)) throw err;
      }
    }
    return this.client.conn.consume(queue, handler, { prefetch });
  }

  private async watchRevokes(watch: KvWatch): Promise<void> {
    try {
      for await (const e of watch) {
        if (e.op !== 'put') continue;
        const id = e.key.slice(2);
        // The marker holds the run that was revoked. A revocation of an earlier run is stale: the task
        // was retried (client.retry()) since, and this run must go on. One that cannot be read applies.
        const text = Number(e.text());
        const revoked = Number.isInteger(text) ? text : Number.MAX_SAFE_INTEGER;
        const r = this.running.get(id);
        if (r === undefined) {
          this.revokedSeen.delete(id);
          this.revokedSeen.set(id, revoked);
          if (this.revokedSeen.size > REVOKES_KEPT) this.revokedSeen.delete(this.revokedSeen.keys().next().value!);
          continue;
        }
        if (r.ctl.aborted || revoked < r.m.run) continue;
        r.ctl.abort(new TaskAbort('revoked', `task ${r.id} was revoked`));
      }
    } catch (err) {
      if (!this.stopping) this.report(err);
    }
  }

  private async onMessage(def: TaskDefinition, msg: Message): Promise<void> {
    let m: TaskMessage;
    try {
      m = msg.json<TaskMessage>();
      if (typeof m.id !== 'string' || typeof m.run !== 'number') throw new Error('not a task message');
    } catch {
      msg.reject({ requeue: false }); // not ours: dead-lettered if the queue says so, else dropped
      return;
    }
    await this.slots.acquire();
    try {
      if (this.stopping) {
        msg.nack({ requeue: true });
        return;
      }
      await this.process(def, m, msg);
    } catch (err) {
      // A broker error on the way (the link dropped, storage failed): the message goes back and is tried again.
      if (!msg.settled) msg.nack({ requeue: true });
      if (!this.stopping) this.report(err);
    } finally {
      this.slots.release();
      if (this.running.size === 0) this.idle?.();
    }
  }

  /** Claims the task (STARTED) unless it is stale, finished or revoked; then runs it. */
  private async process(def: TaskDefinition, m: TaskMessage, msg: Message): Promise<void> {
    const clock = this.client.clock;
    const wait = await this.rateWait(def, m);
    if (wait > 0) {
      await this.client.publish(m, clock.now() + wait);
      msg.ack();
      return;
    }
    if (m.rev !== undefined && !msg.redelivered) {
      // The usual case: the record is still the PENDING one its enqueue wrote. One write claims it;
      // once the broker has applied it (wait 'applied'), the handler runs while the write is being
      // synced (the outcome's write follows it in the bucket's log and is awaited until stored, and
      // the message is acked only after that).
      if (this.startedAfterMs !== undefined) {
        // Deferred: the handler runs now; STARTED is written only if it is still running after
        // startedAfterMs, and the outcome's write compares against the PENDING record's revision.
        // Only while the record is still that PENDING one: a task revoked, re-sent by retry() or
        // finished since this message was sent must not run (the claim's compare-and-set, which
        // would refuse it, is what is deferred). A read, not a write; anything else is looked at below.
        const e = await this.bucket.get(taskKey(m.id));
        const held = this.running.get(m.id);
        if (held !== undefined && held.m.run === m.run && held.m.nonce === m.nonce) {
          // A second copy of the run this worker is running unrecorded (a publish re-sent after a
          // reconnect): the record does not say so yet, the claim's compare-and-set would have.
          msg.ack();
          return;
        }
        if (e !== null && e.op === 'put' && e.revision === m.rev) {
          await this.run(def, m, msg, this.startedRecord(recordOf(m, clock.now()), m), m.rev, true);
          return;
        }
      } else {
        const started = this.startedRecord(recordOf(m, clock.now()), m);
        let revision: number | undefined;
        try {
          revision = await this.bucket.update(taskKey(m.id), JSON.stringify(started), m.rev, { ttl: 0, wait: 'applied' });
        } catch (err) {
          if (!isWrongRevision(err)) throw err; // else: the record changed since; look at it below
        }
        if (revision !== undefined) {
          await this.run(def, m, msg, started, revision);
          return;
        }
      }
    }
    for (;;) {
      let cur = await this.client.entry(m.id);
      if (cur === null) {
        if (m.run !== 1) {
          msg.ack(); // its record expired or was deleted: nothing to run for
          return;
        }
        // A message without its record (not written by this version's enqueue): make it.
        const rec = recordOf(m, clock.now());
        try {
          cur = { record: rec, revision: await this.bucket.create(taskKey(m.id), JSON.stringify(rec), { ttl: 0 }) };
        } catch (err) {
          if (isWrongRevision(err)) continue;
          throw err;
        }
      }
      const rec = cur.record;
      if (isTerminal(rec.status) || m.run < rec.run || (m.run === rec.run && m.nonce !== rec.nonce)) {
        msg.ack(); // finished, revoked, superseded, or a duplicate enqueue
        return;
      }
      if (m.run === rec.run && RUNNING.has(rec.status) && !msg.redelivered) {
        msg.ack(); // a second copy of a run another worker holds
        return;
      }
      // A retry of the attempt still recorded as running is not a take-over: that attempt has ended, its
      // worker published this retry and has not written its RETRY record yet (a short back-off).
      if (RUNNING.has(rec.status) && rec.worker !== undefined && rec.worker !== this.id && !isRetryOf(m, rec)) {
        this.emit('task', { type: 'taken-over', id: m.id, name: m.name, from: rec.worker });
      }
      const started = this.startedRecord(rec, m);
      let revision: number;
      try {
        revision = await this.bucket.update(taskKey(m.id), JSON.stringify(started), cur.revision, { ttl: 0 });
      } catch (err) {
        if (isWrongRevision(err)) continue;
        throw err;
      }
      await this.run(def, m, msg, started, revision);
      return;
    }
  }

  private startedRecord(rec: TaskRecord, m: TaskMessage): TaskRecord {
    const now = this.client.clock.now();
    // Without `delete` (it would turn the object into a slow dictionary): rest properties leave them out,
    // only when there is something to leave out (a rest pattern is a slow runtime call; a spread is not).
    let kept = rec.progress === undefined && rec.nextAttemptAt === undefined ? rec : withoutProgress(rec);
    // A retry claimed before the RETRY record of the attempt before it, sent by a worker that does not carry
    // that attempt's error: the record's error is of an attempt earlier still, not the previous one's.
    if (m.previousError === undefined && kept.error !== undefined && isRetryOf(m, rec)) kept = withoutError(kept);
    const started = recordWith(kept, { status: 'STARTED', run: m.run, attempt: m.attempt, maxAttempts: m.maxAttempts, worker: this.id, claim: ++this.claims, startedAt: now, updatedAt: now });
    // A retry keeps the error of the attempt before it, also when it is claimed before that attempt's RETRY record was written.
    if (m.previousError !== undefined) started.error = m.previousError;
    return started;
  }

  private async run(def: TaskDefinition, m: TaskMessage, msg: Message, record: TaskRecord, revision: number, deferStart = false): Promise<void> {
    const clock = this.client.clock;
    const ctl = new AttemptAbort();
    const r: Running = {
      id: m.id,
      msg,
      m,
      record,
      revision,
      ctl,
      writes: Promise.resolve(),
      leaseRevision: 0,
      leaseTimer: undefined,
      lost: false,
      handedBack: false,
      startPending: deferStart,
      startTimer: undefined,
    };
    this.running.set(m.id, r);
    if (this.revokedSeen.size > 0 && (this.revokedSeen.get(m.id) ?? 0) >= m.run) ctl.abort(new TaskAbort('revoked', `task ${m.id} was revoked`));
    this.emit('task', { type: 'started', id: m.id, name: m.name, attempt: m.attempt });
    if (deferStart) r.startTimer = clock.setTimeout(() => void this.writeStarted(r), Math.max(1, this.startedAfterMs!));
    this.renewLater(r);
    const timeoutMs = def.options.timeoutMs;
    const timedOut = (): TaskAbort => new TaskAbort('timeout', `attempt ${m.attempt} of task ${m.id} timed out after ${timeoutMs} ms`);
    // The attempt's deadline, on the client's clock. The timer aborts the handler then; an outcome
    // reached at or past it while the timer had not fired (late: a handler that blocked the event
    // loop, a clock that jumped) is a timeout all the same.
    const deadline = timeoutMs === undefined ? Infinity : clock.now() + timeoutMs;
    const timeout = timeoutMs === undefined ? undefined : clock.setTimeout(() => ctl.abort(timedOut()), timeoutMs);
    const ctx = new AttemptContext(this, r);
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      // Revoked before it began (a revocation seen before this run was registered): the handler is not called.
      const ret: unknown = ctl.aborted ? Promise.reject(ctl.reason) : def.handler(m.args, ctx);
      if (ret === null || (typeof ret !== 'object' && typeof ret !== 'function') || typeof (ret as PromiseLike<unknown>).then !== 'function') {
        outcome = { ok: true, value: ret }; // a synchronous handler: it has finished
      } else {
        // The attempt ends when the handler settles or its signal aborts, whichever comes first.
        outcome = {
          ok: true,
          value: await new Promise<unknown>((resolve, reject) => {
            if (ctl.aborted) reject(ctl.reason);
            ctl.onAbort = reject;
            (ret as PromiseLike<unknown>).then(resolve, reject);
          }),
        };
      }
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      if (timeout !== undefined) clock.clearTimeout(timeout);
      clock.clearTimeout(r.leaseTimer);
      if (r.startPending) {
        r.startPending = false;
        clock.clearTimeout(r.startTimer);
      }
      this.running.delete(m.id);
    }
    if (!ctl.aborted && deadline !== Infinity && clock.now() >= deadline) outcome = { ok: false, error: timedOut() };
    await r.writes.catch(() => undefined);
    if (r.handedBack) return; // shutdown: the message went back to the queue
    const reason = ctl.aborted ? ctl.reason : undefined;
    if (r.lost || (reason instanceof TaskAbort && reason.kind === 'lease-lost')) {
      this.emit('task', { type: 'lost', id: m.id, name: m.name, attempt: m.attempt });
      msg.ack();
      return;
    }
    if (reason instanceof TaskAbort && reason.kind === 'revoked') {
      // The handler was told it is revoked: the record says so too. It does already when the revoke
      // wrote it (this write then fails, the record having moved on); if it is still this attempt's,
      // it is made REVOKED here, never left STARTED with nothing running it.
      await this.write(r, recordWith(r.record, { status: 'REVOKED', reason: 'revoked', updatedAt: clock.now(), finishedAt: clock.now() }), this.client.ttlFor(m.name));
      this.emit('task', { type: 'revoked', id: m.id, name: m.name, attempt: m.attempt });
      await this.dropLease(r);
      msg.ack();
      return;
    }
    const now = clock.now();
    if (outcome.ok) {
      // Without `delete` (it would turn the object into a slow dictionary): rest properties leave it out.
      const kept = r.record.error === undefined ? r.record : withoutError(r.record);
      const done = recordWith(kept, { status: 'SUCCESS', result: outcome.value ?? null, updatedAt: now, finishedAt: now });
      const ok = await this.write(r, done, this.client.ttlFor(m.name));
      await this.dropLease(r);
      msg.ack();
      this.emit('task', { type: ok ? 'succeeded' : 'lost', id: m.id, name: m.name, attempt: m.attempt });
      return;
    }
    const error = errorOf(outcome.error);
    if (m.attempt < m.maxAttempts) {
      const nextAttemptAt = now + backoffDelay(m.attempt, def.options.backoff, this.client.random);
      // The retry's message first: if the record write below is lost with this process, the message still runs.
      // It carries this attempt's error: with a short back-off the next attempt may be claimed before the
      // RETRY record below is written (that write then fails), and its STARTED record keeps the error.
      const next: TaskMessage = { ...m, run: m.run + 1, attempt: m.attempt + 1, eta: nextAttemptAt, previousError: error };
      delete next.rev; // the record will have moved on: the next worker reads it
      await this.client.publish(next);
      const retry = recordWith(r.record, { status: 'RETRY', run: next.run, error, nextAttemptAt, updatedAt: now });
      let ok = await this.write(r, retry, 0);
      if (!ok) {
        // Lost to the next attempt's claim (the retry ran already), or to a revoke or a take-over.
        const cur = await this.client.get(m.id);
        ok = cur !== null && cur.nonce === m.nonce && cur.run === next.run && cur.attempt === next.attempt;
      }
      await this.dropLease(r);
      msg.ack();
      this.emit('task', ok ? { type: 'retrying', id: m.id, name: m.name, attempt: m.attempt, error } : { type: 'lost', id: m.id, name: m.name, attempt: m.attempt });
      return;
    }
    const failed = recordWith(r.record, { status: 'FAILURE', error, updatedAt: now, finishedAt: now });
    const ok = await this.write(r, failed, this.client.ttlFor(m.name));
    if (ok) {
      await this.client.conn.publish('', this.client.deadLetterQueue, Buffer.from(JSON.stringify(m)), {
        persistent: true,
        contentType: 'application/json',
        messageId: m.id,
        headers: { 'x-task-error': error.message.slice(0, 1000) },
      });
    }
    await this.dropLease(r);
    msg.ack();
    this.emit('task', ok ? { type: 'failed', id: m.id, name: m.name, attempt: m.attempt, error } : { type: 'lost', id: m.id, name: m.name, attempt: m.attempt });
  }

  /** Compare-and-set of the task's record; false when the task was revoked or taken over meanwhile. */
  private write(r: Running, rec: TaskRecord, ttl: number): Promise<boolean> {
    const p = r.writes.then(async () => {
      if (r.lost) return false;
      try {
        r.revision = await this.bucket.update(taskKey(r.id), JSON.stringify(rec), r.revision, { ttl });
        r.record = rec;
        return true;
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
        r.lost = true;
        if (!r.ctl.aborted) {
          const now = await this.client.get(r.id);
          r.ctl.abort(now?.status === 'REVOKED' ? new TaskAbort('revoked', `task ${r.id} was revoked`) : new TaskAbort('lease-lost', `task ${r.id} was taken over`));
        }
        return false;
      }
    });
    r.writes = p.catch(() => undefined);
    return p;
  }

  /** startedAfterMs: the attempt is still running, its STARTED record goes in now (unless a later state went first). */
  private async writeStarted(r: Running): Promise<void> {
    if (!r.startPending) return;
    r.startPending = false;
    this.client.clock.clearTimeout(r.startTimer);
    try {
      await this.write(r, r.record, 0);
    } catch (err) {
      // The link dropped or storage failed: the outcome's write will fail the same way and the message goes back.
      if (!this.stopping) this.report(err);
    }
  }

  /** @internal ctx.progress() of a running task. */
  async progress(r: Running, value: unknown): Promise<void> {
    if (r.ctl.aborted) throw r.ctl.reason;
    if (r.startPending) {
      // The PROGRESS record says the attempt started: no STARTED record after it.
      r.startPending = false;
      this.client.clock.clearTimeout(r.startTimer);
    }
    const now = this.client.clock.now();
    const ok = await this.write(r, recordWith(r.record, { status: 'PROGRESS', progress: value ?? null, updatedAt: now }), 0);
    if (!ok) throw r.ctl.reason;
  }

  private renewLater(r: Running): void {
    r.leaseTimer = this.client.clock.setTimeout(() => void this.renew(r), Math.max(1, Math.floor(this.leaseMs / 3)));
  }

  private async renew(r: Running): Promise<void> {
    if (!this.running.has(r.id) || this.running.get(r.id) !== r) return;
    if (r.startPending) void this.writeStarted(r); // the record says STARTED before any lease is written
    const lease: LeaseRecord = { owner: this.id, run: r.m.run, ...(r.record.claim !== undefined ? { claim: r.record.claim } : {}), until: this.client.clock.now() + this.leaseMs };
    try {
      // The first renewal writes the lease (a task shorter than leaseMs/3 never needs one: its
      // worker's connection and heartbeats cover it); later ones move it on by compare-and-set.
      r.leaseRevision =
        r.leaseRevision === 0 ? await this.leases.put(leaseKey(r.id), JSON.stringify(lease)) : await this.leases.update(leaseKey(r.id), JSON.stringify(lease), r.leaseRevision);
    } catch (err) {
      if (isWrongRevision(err)) {
        // Someone took the task over (our lease ran out): stop, and drop the outcome.
        r.lost = true;
        r.ctl.abort(new TaskAbort('lease-lost', `the lease of task ${r.id} was taken over`));
        return;
      }
      this.report(err);
    }
    if (this.running.get(r.id) === r) this.renewLater(r);
  }

  private async dropLease(r: Running): Promise<void> {
    if (r.leaseRevision === 0) return;
    await this.leases.delete(leaseKey(r.id), { expect: r.leaseRevision }).catch(() => undefined);
  }

  /** Ms to wait before this task may start under its rate limits (0: start now; a start is counted). */
  private async rateWait(def: TaskDefinition, m: TaskMessage): Promise<number> {
    const limits: Array<[string, { max: number; perMs: number }]> = [];
    if (def.options.rateLimit) limits.push([`w.${m.name}`, def.options.rateLimit]);
    if (def.options.groupRateLimit && m.group !== undefined) limits.push([`g.${m.name}.${encodeKeyWord(m.group)}`, def.options.groupRateLimit]);
    for (const [prefix, limit] of limits) {
      const wait = await this.take(prefix, limit);
      if (wait > 0) return wait;
    }
    return 0;
  }

  /** Counts a start in the current fixed window of `limit`; the ms until the next window when it is full. */
  private async take(prefix: string, limit: { max: number; perMs: number }): Promise<number> {
    for (;;) {
      const now = this.client.clock.now();
      const window = Math.floor(now / limit.perMs) * limit.perMs;
      const key = `${prefix}.${window}`;
      const e = await this.leases.get(key);
      const n = e === null || e.op !== 'put' ? 0 : Number(e.text());
      if (n >= limit.max) return window + limit.perMs - now;
      try {
        if (e === null || e.op !== 'put') await this.leases.create(key, '1', { ttl: limit.perMs * 2 });
        else await this.leases.update(key, String(n + 1), e.revision, { ttl: limit.perMs * 2 });
        return 0;
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
      }
    }
  }

  private scheduleReaper(): void {
    if (this.stopping) return;
    this.reaperTimer = this.client.clock.setTimeout(() => {
      void this.reap()
        .catch((err: unknown) => {
          if (!this.stopping) this.report(err);
        })
        .finally(() => this.scheduleReaper());
    }, Math.max(1, Math.floor(this.leaseMs / 2)));
  }

  /**
   * Re-issues the tasks whose lease ran out (their worker is stuck): a new
   * message of the next run, and the record back to PENDING. One reaper wins
   * each lease (compare-and-set), so each task is re-issued once.
   */
  async reap(): Promise<string[]> {
    const now = this.client.clock.now();
    const taken: string[] = [];
    for (const key of await this.leases.keys({ prefix: 'l.' })) {
      const e = await this.leases.get(key);
      if (e === null || e.op !== 'put') continue;
      const lease = e.json<LeaseRecord>();
      if (lease.until >= now || lease.owner === this.id) continue; // valid through `until`
      const id = key.slice(2);
      const cur = await this.client.entry(id);
      if (cur === null || !RUNNING.has(cur.record.status) || !leaseIsFor(lease, cur.record)) {
        // Finished, revoked, already re-issued, or running another attempt than the lease's (a worker
        // took it over when the lease's owner died: the redelivery keeps the run): a leftover.
        await this.leases.delete(key, { expect: e.revision }).catch(() => undefined);
        continue;
      }
      const claim: LeaseRecord = { owner: `reaper:${this.id}`, run: lease.run + 1, until: now + this.leaseMs };
      try {
        await this.leases.update(key, JSON.stringify(claim), e.revision);
      } catch (err) {
        if (isWrongRevision(err)) continue; // another reaper, or the owner renewed
        throw err;
      }
      const rec = cur.record;
      const next: TaskMessage = {
        id: rec.id,
        name: rec.name,
        args: rec.args,
        run: rec.run + 1,
        attempt: rec.attempt,
        maxAttempts: rec.maxAttempts,
        nonce: rec.nonce,
        priority: rec.priority,
        enqueuedAt: rec.enqueuedAt,
        ...(rec.group !== undefined ? { group: rec.group } : {}),
      };
      await this.client.publish(next);
      const pending = recordWith(rec, { status: 'PENDING', run: next.run, updatedAt: now, reason: `lease of ${lease.owner} expired` });
      delete pending.worker;
      await this.bucket.update(taskKey(id), JSON.stringify(pending), cur.revision, { ttl: 0 }).catch((err: unknown) => {
        if (!isWrongRevision(err)) throw err;
      });
      taken.push(id);
    }
    return taken;
  }

  /**
   * Stops taking tasks and waits up to `graceMs` (on the client's clock) for
   * running ones to finish; the rest are handed back: their signals abort and
   * their messages return to the queue for another worker (their outcome is
   * discarded). Leaves the connection open.
   */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.client.clock.clearTimeout(this.reaperTimer);
    await Promise.all(this.consumers.map((c) => c.cancel().catch(() => undefined)));
    if (this.running.size > 0 && (options.graceMs ?? 30_000) > 0) {
      let timer: unknown;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = this.client.clock.setTimeout(resolve, options.graceMs ?? 30_000);
      });
      this.client.clock.clearTimeout(timer);
    }
    for (const r of [...this.running.values()]) {
      r.handedBack = true;
      r.ctl.abort(new TaskAbort('shutdown', `worker ${this.id} is shutting down`));
      r.msg.nack({ requeue: true });
      await this.dropLease(r);
      this.emit('task', { type: 'handed-back', id: r.id, name: r.m.name, attempt: r.m.attempt });
    }
    await this.revokes?.close();
  }
}

/**
 * Whether `lease` is the lease of the attempt `rec` records: same run, same worker, same claim. A
 * worker that dies leaves its lease behind; the broker redelivers its task at once, and the worker
 * that takes it over runs the same run (its lease is written only leaseMs/3 later). Judged by the
 * run alone, the dead worker's lease, once out of date, would have the task re-issued and run a
 * second time while it still runs on the new worker.
 */
export function leaseIsFor(lease: LeaseRecord, rec: TaskRecord): boolean {
  if (lease.run !== rec.run || lease.owner !== rec.worker) return false;
  return lease.claim === undefined || rec.claim === undefined || lease.claim === rec.claim;
}

/**
 * Whether `m` is the retry of the attempt `rec` records (the next run and the next attempt): the
 * message a worker publishes for a failed attempt before it writes the RETRY record. A reaper's
 * re-issue of a stuck attempt has the next run but the same attempt.
 */
function isRetryOf(m: TaskMessage, rec: TaskRecord): boolean {
  return m.run === rec.run + 1 && m.attempt === rec.attempt + 1 && m.nonce === rec.nonce;
}

/** How many revocations of tasks it is not running a worker remembers (see Worker.revokedSeen). */
const REVOKES_KEPT = 10_000;

/** A record for a message whose enqueuer's record has not arrived. */
function recordOf(m: TaskMessage, now: number): TaskRecord {
  return {
    id: m.id,
    name: m.name,
    args: m.args,
    status: 'PENDING',
    attempt: 0,
    maxAttempts: m.maxAttempts,
    run: m.run,
    nonce: m.nonce,
    priority: m.priority,
    enqueuedAt: m.enqueuedAt,
    updatedAt: now,
    ...(m.group !== undefined ? { group: m.group } : {}),
    ...(m.eta !== undefined ? { eta: m.eta } : {}),
  };
}

/** A group key as one key word: percent-encoded, dots too. */
function encodeKeyWord(s: string): string {
  return encodeURIComponent(s).replace(/\./g, '%2E').replace(/[*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) || '%00';
}

export { revokeKey };
