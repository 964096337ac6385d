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
  /**
   * Most handlers running at once in this worker (default 1); a task's own `concurrency` caps that
   * task's below it. A slot is taken before the task is claimed (rate limit, STARTED record) and
   * freed when its handler returns: the outcome's durable write and the ack follow outside it.
   */
  concurrency?: number;
  /**
   * Deliveries each task's consumer may hold unacknowledged (default 4 x the handlers it may run,
   * i.e. 4 x the task's concurrency in this worker, as Celery's prefetch multiplier). Those beyond
   * the running handlers are tasks whose outcome is being written (stored, then acked) and tasks
   * delivered ahead that wait here for a slot: a slot freed by a quick task is taken again at once,
   * without waiting for the outcome's sync and a delivery round trip, and the outcomes in flight
   * share the bucket log's syncs. A task waiting for a slot has not started (its record stays
   * PENDING: no STARTED record, no rate-limit count, no lease); the waiting ones start highest
   * priority first, the earliest delivered first among equals; a revoke drops one at once; close()
   * hands them back at once; if this worker dies they are redelivered with the rest. See slotWaitMs
   * for the fairness rule. Priority is kept among the tasks held here, not against the queue: a
   * higher-priority task enqueued once the prefetch is full of lower ones runs after them. Set
   * prefetch to the concurrency to never hold a task that is not running, and for strict priority
   * order (each slot then also waits for its outcome's write and the next delivery, as before
   * 2026-12-04).
   */
  prefetch?: number;
  /**
   * The fairness rule for tasks delivered ahead (see prefetch): one that has waited this long (ms,
   * on the client's clock) for a slot is handed back to the queue so that an idle worker can run it
   * (default 1000): published again, to the back of its priority level, then acked (a nack would
   * mark it redelivered, which reads as a dead worker's task: see handBack). The broker gives it to
   * the next worker in its round-robin that has room, which may be this one again when no other
   * has; it then waits once more.
   */
  slotWaitMs?: number;
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
  /** The attempt's delivery is settled (its outcome written and acked, or given back); who waits for that (made on first use). */
  ended: boolean;
  onEnded: Array<() => void> | undefined;
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

/** A delivery waiting in the worker for a handler slot (see Gate). */
interface Parked {
  id: string;
  task: string;
  run: number;
  priority: number;
  /** 'slot': it has its slot; 'back': to be handed back (waited too long, or closing); 'revoked': its run was revoked. */
  resolve: (outcome: ParkedOutcome) => void;
  timer: unknown;
}

type ParkedOutcome = 'slot' | 'back' | 'revoked';

/**
 * The worker's handler slots: at most `concurrency` handlers at once in the worker, and at most a
 * task's own `concurrency` of that task. A delivery that finds no free slot waits here (it was
 * prefetched: see WorkerOptions.prefetch); a freed slot goes to the waiting delivery of highest
 * priority that can take it, the earliest delivered first among equals.
 */
class Gate {
  private free: number;
  private readonly taskFree = new Map<string, number>();
  readonly parked: Parked[] = [];

  constructor(n: number, taskLimits: Map<string, number>) {
    this.free = n;
    for (const [task, limit] of taskLimits) this.taskFree.set(task, limit);
  }

  /**
   * Takes a slot for `task` if one is free now. (A waiting delivery never could take a free one:
   * release() hands slots out at once, so no waiting delivery is passed over.)
   */
  tryTake(task: string): boolean {
    if (this.free === 0) return false;
    const t = this.taskFree.get(task);
    if (t === 0) return false;
    this.free--;
    if (t !== undefined) this.taskFree.set(task, t - 1);
    return true;
  }

  /** Waits for a slot, in priority order. */
  park(p: Parked): void {
    let i = this.parked.length;
    while (i > 0 && this.parked[i - 1]!.priority < p.priority) i--;
    this.parked.splice(i, 0, p);
  }

  /** Stops waiting (timed out, closing, revoked): the waiter gets `outcome`. */
  unpark(p: Parked, outcome: Exclude<ParkedOutcome, 'slot'>): boolean {
    const i = this.parked.indexOf(p);
    if (i < 0) return false;
    this.parked.splice(i, 1);
    p.resolve(outcome);
    return true;
  }

  release(task: string): void {
    this.free++;
    const t = this.taskFree.get(task);
    if (t !== undefined) this.taskFree.set(task, t + 1);
    this.grant();
  }

  /** Hands free slots to waiting deliveries that can take them. */
  private grant(): void {
    for (let i = 0; i < this.parked.length && this.free > 0; ) {
      const p = this.parked[i]!;
      const t = this.taskFree.get(p.task);
      if (t === 0) {
        i++;
        continue;
      }
      this.parked.splice(i, 1);
      this.free--;
      if (t !== undefined) this.taskFree.set(p.task, t - 1);
      p.resolve('slot');
    }
  }
}

/** One delivery's hold on a slot: released once (when its handler returns, or when it ends without running). */
class Slot {
  private held = true;
  /** The attempt this delivery ran, once claimed. */
  attempt: Running | undefined = undefined;
  constructor(
    private readonly gate: Gate,
    private readonly task: string,
  ) {}
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.gate.release(this.task);
  }
}

export class Worker extends EventEmitter<{ task: [WorkerEvent]; error: [Error] }> {
  readonly id: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  /** See WorkerOptions.startedAfterMs (undefined: STARTED written at once). */
  readonly startedAfterMs: number | undefined;
  /** See WorkerOptions.prefetch (undefined: 4 x each task's concurrency). */
  readonly prefetch: number | undefined;
  readonly slotWaitMs: number;
  private readonly gate: Gate;
  /** Deliveries holding a slot or past their handler, not yet settled (close() waits for them). */
  private inHand = 0;
  private readonly consumers: Consumer[] = [];
  private readonly running = new Map<string, Running>();
  /**
   * Attempts whose handler has returned and whose outcome is being written (then acked): no longer
   * running, their slot freed, but this worker still holds their run. A second copy of that run
   * delivered meanwhile is a duplicate (see holds()).
   */
  private readonly settling = new Map<string, Running>();
  private revokes: KvWatch | undefined;
  /**
   * Revocations seen for tasks this worker was not running (id -> the run revoked), the latest
   * REVOKES_KEPT: one that arrives while the worker is between reading a task's record and
   * running its handler (startedAfterMs, whose claim is a read) still stops it.
   */
  private readonly revokedSeen = new Map<string, number>();
  private reaperTimer: unknown;
  private stopping = false;
  /** close() is handing back the running tasks: one whose claim completes now is handed back too. */
  private handingBack = false;
  /** Hand-backs of deliveries not started here in progress (see handBack): close() waits for them. */
  private readonly handingOff = new Set<Promise<void>>();
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
    this.prefetch = options.prefetch;
    this.slotWaitMs = options.slotWaitMs ?? 1000;
    const taskLimits = new Map<string, number>();
    for (const d of defs) if (d.options.concurrency !== undefined && d.options.concurrency < this.concurrency) taskLimits.set(d.name, d.options.concurrency);
    this.gate = new Gate(this.concurrency, taskLimits);
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
    if (options.prefetch !== undefined && !(Number.isInteger(options.prefetch) && options.prefetch >= 1)) throw new TypeError('prefetch must be an integer >= 1');
    if (options.slotWaitMs !== undefined && !(Number.isFinite(options.slotWaitMs) && options.slotWaitMs >= 0)) throw new TypeError('slotWaitMs must be a number >= 0');
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

  /** Tasks delivered to this worker and waiting for a slot, not started (ids; see WorkerOptions.prefetch). */
  get waiting(): string[] {
    return this.gate.parked.map((p) => p.id);
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
    const prefetch = this.prefetch ?? PREFETCH_PER_SLOT * Math.min(def.options.concurrency ?? this.concurrency, this.concurrency);
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
          // Delivered here and waiting for a slot: the revoke wrote the record first, so that run is over.
          for (const p of [...this.gate.parked]) if (p.id === id && p.run <= revoked) this.gate.unpark(p, 'revoked');
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
    if (this.stopping) {
      await this.handBack(m, msg);
      return;
    }
    if (!this.gate.tryTake(def.name)) {
      const got = await this.waitForSlot(def, m);
      if (got === 'revoked') {
        msg.ack(); // its run was revoked (the record says REVOKED already): nothing to run
        return;
      }
      if (got === 'back') {
        // Waited slotWaitMs, or closing: back to the queue, for whichever worker has room (never started here).
        await this.handBack(m, msg);
        if (this.stopping) this.emit('task', { type: 'handed-back', id: m.id, name: m.name, attempt: m.attempt });
        return;
      }
    }
    this.inHand++;
    const slot = new Slot(this.gate, def.name);
    try {
      if (this.stopping) {
        await this.handBack(m, msg);
        return;
      }
      await this.process(def, m, msg, slot);
    } catch (err) {
      // A broker error on the way (the link dropped, storage failed): the message goes back and is tried again.
      if (!msg.settled) msg.nack({ requeue: true });
      if (!this.stopping) this.report(err);
    } finally {
      slot.release();
      const r = slot.attempt;
      if (r !== undefined) {
        if (this.settling.get(m.id) === r) this.settling.delete(m.id);
        r.ended = true;
        if (r.onEnded !== undefined) for (const f of r.onEnded) f();
      }
      if (--this.inHand === 0) this.idle?.();
    }
  }

  /**
   * Gives back a delivery that never started here (it waited slotWaitMs for a slot, or the worker is
   * closing). A first delivery is published again as a new message and then acked, not nacked: a
   * nack would mark it redelivered, and the claim reads a redelivered message of the run the record
   * says is running as "its worker died" and takes it over. For a second copy of a run (a publish
   * re-sent after a reconnect) that another worker, or this one, is running, that is the same run
   * twice at once (or again after its handler returned, while its outcome is written); a copy that
   * is not redelivered is dropped by the claim instead. The new message goes to the back of its
   * priority level. A redelivery goes back as it came (nack): it may be a take-over to keep. A
   * delivery of a link that dropped is not sent again: the broker has requeued it already. (If the
   * link drops during the publish, both copies are out, the requeued one redelivered: the window
   * the rate limit's re-publish and every publish-then-ack step here also have.)
   */
  private async handBack(m: TaskMessage, msg: Message): Promise<void> {
    if (msg.redelivered || msg.settled) {
      msg.nack({ requeue: true });
      return;
    }
    const p = (async () => {
      try {
        await this.client.publish(m, 0);
        msg.ack();
      } catch (err) {
        // The link dropped: the broker requeues the delivery (a copy may also have gone out, which the claim drops).
        if (!msg.settled) msg.nack({ requeue: true });
        if (!this.stopping) this.report(err);
      }
    })();
    this.handingOff.add(p);
    try {
      await p;
    } finally {
      this.handingOff.delete(p);
    }
  }

  /** Whether this worker is running `m`'s run of its task, or writing that run's outcome. */
  private holds(m: TaskMessage): boolean {
    return this.heldAttempt(m) !== undefined;
  }

  /** This worker's attempt at `m`'s run of its task, running or writing its outcome. */
  private heldAttempt(m: TaskMessage): Running | undefined {
    const r = this.running.get(m.id) ?? this.settling.get(m.id);
    return r !== undefined && r.m.run === m.run && r.m.nonce === m.nonce ? r : undefined;
  }

  /** A delivery that found no free slot waits for one, at most slotWaitMs. */
  private waitForSlot(def: TaskDefinition, m: TaskMessage): Promise<ParkedOutcome> {
    const clock = this.client.clock;
    return new Promise<ParkedOutcome>((resolve) => {
      const p: Parked = {
        id: m.id,
        task: def.name,
        run: m.run,
        priority: typeof m.priority === 'number' ? m.priority : 0,
        resolve: (outcome) => {
          clock.clearTimeout(p.timer);
          resolve(outcome);
        },
        timer: undefined,
      };
      p.timer = clock.setTimeout(() => this.gate.unpark(p, 'back'), this.slotWaitMs);
      this.gate.park(p);
    });
  }

  /** Claims the task (STARTED) unless it is stale, finished or revoked; then runs it. */
  private async process(def: TaskDefinition, m: TaskMessage, msg: Message, slot: Slot): Promise<void> {
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
        if (this.holds(m)) {
          // A second copy of the run this worker is running unrecorded (a publish re-sent after a
          // reconnect), or whose outcome it is writing: the record does not say so yet, the claim's
          // compare-and-set would have.
          msg.ack();
          return;
        }
        if (e !== null && e.op === 'put' && e.revision === m.rev) {
          await this.run(def, m, msg, slot, this.startedRecord(recordOf(m, clock.now()), m), m.rev, true);
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
          await this.run(def, m, msg, slot, started, revision);
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
      if (m.run === rec.run && RUNNING.has(rec.status)) {
        // Redelivered to the worker that still holds that run: its link dropped (the broker requeued
        // the delivery) while the handler ran or its outcome was being written. Not a take-over while
        // that attempt lives: wait for it to end, then look again (its outcome stored: dropped; its
        // write failed: taken over, as a dead worker's).
        const held = this.heldAttempt(m);
        if (held !== undefined) {
          await new Promise<void>((resolve) => (held.ended ? resolve() : (held.onEnded ??= []).push(resolve)));
          continue;
        }
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
      await this.run(def, m, msg, slot, started, revision);
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

  private async run(def: TaskDefinition, m: TaskMessage, msg: Message, slot: Slot, record: TaskRecord, revision: number, deferStart = false): Promise<void> {
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
      ended: false,
      onEnded: undefined,
    };
    slot.attempt = r;
    this.running.set(m.id, r);
    if (this.handingBack) {
      // Claimed while close() was handing back the running tasks: not started, handed back with them.
      r.handedBack = true;
      ctl.abort(new TaskAbort('shutdown', `worker ${this.id} is shutting down`));
      msg.nack({ requeue: true });
      this.emit('task', { type: 'handed-back', id: m.id, name: m.name, attempt: m.attempt });
    }
    if (this.revokedSeen.size > 0 && (this.revokedSeen.get(m.id) ?? 0) >= m.run) ctl.abort(new TaskAbort('revoked', `task ${m.id} was revoked`));
    if (!r.handedBack) this.emit('task', { type: 'started', id: m.id, name: m.name, attempt: m.attempt });
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
      this.settling.set(m.id, r);
      // The handler has returned: its slot goes to the next task now, while the outcome below is
      // written (and synced) and the message acked, which the prefetch lets overlap.
      slot.release();
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
   * Stops taking tasks, hands back at once the ones delivered but not started
   * (waiting for a slot), and waits up to `graceMs` (on the client's clock) for
   * running ones to finish and their outcomes to be stored; the rest are
   * handed back: their signals abort and their messages return to the queue
   * for another worker (their outcome is discarded). Leaves the connection open.
   */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.client.clock.clearTimeout(this.reaperTimer);
    for (const p of [...this.gate.parked]) this.gate.unpark(p, 'back');
    await Promise.all(this.consumers.map((c) => c.cancel().catch(() => undefined)));
    await Promise.all(this.handingOff);
    if (this.inHand > 0 && (options.graceMs ?? 30_000) > 0) {
      let timer: unknown;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = this.client.clock.setTimeout(resolve, options.graceMs ?? 30_000);
      });
      this.client.clock.clearTimeout(timer);
    }
    this.handingBack = true;
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

/**
 * The default prefetch per handler slot (WorkerOptions.prefetch). 4, as Celery's: on 2026-12-04 a
 * 1-worker bench of instant tasks ran 5,600-7,000 jobs/s at 2 x concurrency and 7,300-8,900 at 4 x
 * (3 of 3 alternated pairs), with fewer fdatasyncs per job (0.07 against 0.10): the outcome writes in
 * flight share the bucket log's syncs.
 */
const PREFETCH_PER_SLOT = 4;

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
