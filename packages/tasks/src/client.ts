/**
 * The task client: enqueue tasks, read their state and result, wait for or
 * watch them, revoke, retry and redrive them, list them. Everything lives on
 * the broker: a durable priority queue per task name (`<ns>.q.<task>`), a
 * dead-letter queue (`<ns>.dead`) and one bucket (`<ns>`) holding each task's
 * record under `t.<id>` (leases `l.<id>`, revocations `r.<id>`, schedules
 * `s.<name>`, rate windows `w.<...>`).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, TimeoutError, WarrenError, type Connection, type KvBucket, type KvEntry, type KvWatch } from '@warren/client';
import { systemClock, type Clock } from './clock.js';
import type { TaskRegistry } from './registry.js';
import { ID_RE, NAME_RE, isTerminal, recordWith, type TaskMessage, type TaskRecord, type TaskStatus } from './types.js';

export interface TaskClientOptions {
  /** Prefix of every queue and the bucket's name (default 'tasks'). */
  namespace?: string;
  /** Definitions: default priority, retries and result TTL per task name. */
  registry?: TaskRegistry;
  clock?: Clock;
  /** Source of jitter in [0, 1) (default Math.random). */
  random?: () => number;
  /** How long finished tasks' states and results are kept, ms (default 24 h). */
  resultTtlMs?: number;
  /**
   * wait() calls that hold a watch at once (default 1024); more wait their turn, in order,
   * their timeoutMs running meanwhile. Each watch is one of the connection's subscriptions,
   * which the broker caps (--max-consumers-per-connection, default 4096).
   */
  maxWaitWatches?: number;
}

export interface EnqueueOptions {
  /**
   * Your id for the task (1-200 of A-Z a-z 0-9 _ - : = @ + ~). Enqueuing an id
   * that is already known (until its result expires) runs nothing more and
   * resolves with the same id.
   */
  id?: string;
  /** Start no sooner than this many ms from now. */
  delayMs?: number;
  /** Start no sooner than this time (ms since the epoch, or a Date). */
  eta?: number | Date;
  /** 0-9, 9 first (default: the task's, else 0). */
  priority?: number;
  /** Group key for `groupRateLimit`. */
  group?: string;
  /** Overrides the task's `retries`. */
  retries?: number;
}

export interface ListFilter {
  status?: TaskStatus;
  name?: string;
  /** Most records returned (default 1000). */
  limit?: number;
}

export const MAX_PRIORITY = 9;
export const DEFAULT_RESULT_TTL_MS = 24 * 3600_000;
/** TaskClientOptions.maxWaitWatches: a quarter of the broker's default per-connection cap, leaving room for consumers. */
export const DEFAULT_MAX_WAIT_WATCHES = 1024;
/** A revocation marker is kept this long for workers that may still hold the task. */
const REVOKE_MARK_TTL_MS = 3600_000;

export const taskKey = (id: string): string => `t.${id}`;
export const leaseKey = (id: string): string => `l.${id}`;
export const revokeKey = (id: string): string => `r.${id}`;

export function isWrongRevision(err: unknown): boolean {
  return err instanceof WarrenError && err.code === ErrorCodes.WRONG_REVISION;
}

function checkId(id: string): void {
  if (!ID_RE.test(id)) throw new WarrenError(ErrorCodes.INVALID_ARGUMENT, `task id ${JSON.stringify(id)}: use 1-200 of A-Z a-z 0-9 _ - : = @ + ~`);
}

export class TaskClient {
  readonly namespace: string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly resultTtlMs: number;
  private readonly declared = new Map<string, Promise<unknown>>();
  /** Places for wait()'s watches (maxWaitWatches). */
  private readonly waitPlaces: Places;

  private constructor(
    readonly conn: Connection,
    readonly bucket: KvBucket,
    /** `<ns>-leases`: memory-only bucket for leases, revocation marks and rate windows (about live processes). */
    readonly leases: KvBucket,
    readonly registry: TaskRegistry | undefined,
    options: TaskClientOptions,
  ) {
    this.namespace = options.namespace ?? 'tasks';
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.resultTtlMs = options.resultTtlMs ?? DEFAULT_RESULT_TTL_MS;
    const maxWaitWatches = options.maxWaitWatches ?? DEFAULT_MAX_WAIT_WATCHES;
    if (!(Number.isSafeInteger(maxWaitWatches) && maxWaitWatches > 0)) throw new TypeError(`maxWaitWatches must be a positive integer, got ${maxWaitWatches}`);
    this.waitPlaces = new Places(maxWaitWatches);
  }

  /** Opens (creating if needed) the namespace's bucket and dead-letter queue on `conn`. */
  static async open(conn: Connection, options: TaskClientOptions = {}): Promise<TaskClient> {
    const ns = options.namespace ?? 'tasks';
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(ns)) throw new TypeError(`namespace ${JSON.stringify(ns)}: use 1-100 of A-Z a-z 0-9 _ -`);
    const bucket = await conn.kv(ns, { history: 1 });
    const leases = await conn.kv(`${ns}-leases`, { history: 1, durable: false });
    const client = new TaskClient(conn, bucket, leases, options.registry, options);
    await conn.declareQueue(client.deadLetterQueue, { durable: true });
    return client;
  }

  queueName(task: string): string {
    return `${this.namespace}.q.${task}`;
  }

  get deadLetterQueue(): string {
    return `${this.namespace}.dead`;
  }

  /** Declares a task's queue once per client. */
  ensureQueue(task: string): Promise<unknown> {
    let p = this.declared.get(task);
    if (p === undefined) {
      p = this.conn.declareQueue(this.queueName(task), { durable: true, arguments: { 'x-max-priority': MAX_PRIORITY } });
      p.catch(() => this.declared.delete(task));
      this.declared.set(task, p);
    }
    return p;
  }

  /** How long a finished task's record is kept. */
  ttlFor(name: string): number {
    return this.registry?.get(name)?.options.resultTtlMs ?? this.resultTtlMs;
  }

  /**
   * Queues a task; resolves with its id once the task is stored on the broker
   * (it will run even if this process dies now). The state starts PENDING.
   */
  async enqueue(name: string, args: unknown = null, options: EnqueueOptions = {}): Promise<string> {
    if (!NAME_RE.test(name)) throw new WarrenError(ErrorCodes.INVALID_ARGUMENT, `task name ${JSON.stringify(name)}: use 1-100 of A-Z a-z 0-9 _ - :`);
    const def = this.registry?.get(name);
    const chosen = options.id !== undefined;
    const id = options.id ?? randomUUID();
    if (chosen) checkId(id);
    const priority = options.priority ?? def?.options.priority ?? 0;
    if (!(Number.isInteger(priority) && priority >= 0 && priority <= MAX_PRIORITY)) throw new WarrenError(ErrorCodes.INVALID_ARGUMENT, 'priority must be 0-9');
    const now = this.clock.now();
    let eta: number | undefined;
    if (options.eta !== undefined) eta = typeof options.eta === 'number' ? options.eta : options.eta.getTime();
    else if (options.delayMs !== undefined && options.delayMs > 0) eta = now + options.delayMs;
    const retries = options.retries ?? def?.options.retries ?? 0;
    const msg: TaskMessage = {
      id,
      name,
      args,
      run: 1,
      attempt: 1,
      maxAttempts: retries + 1,
      nonce: randomUUID(),
      priority,
      enqueuedAt: now,
      ...(options.group !== undefined ? { group: options.group } : {}),
      ...(eta !== undefined ? { eta } : {}),
    };
    const record: TaskRecord = {
      id,
      name,
      args,
      status: 'PENDING',
      attempt: 0,
      maxAttempts: msg.maxAttempts,
      run: 1,
      nonce: msg.nonce,
      priority,
      enqueuedAt: now,
      updatedAt: now,
      ...(options.group !== undefined ? { group: options.group } : {}),
      ...(eta !== undefined ? { eta } : {}),
    };
    await this.ensureQueue(name);
    // The record first (a caller-chosen id that is already known stops here: a duplicate, it runs
    // once), then the message, which carries the record's revision.
    const { applied, done } = earlyWrite((early) => this.bucket.create(taskKey(id), JSON.stringify(record), { ttl: 0, applied: early }));
    try {
      // The create went through: publish now, while the record is being synced.
      msg.rev = await applied;
    } catch (err) {
      if (isWrongRevision(err)) {
        if (chosen) return id;
        throw err; // a random UUID taken: not to be expected
      }
      throw err;
    }
    // Resolves once both are durable.
    await Promise.all([done, this.publish(msg)]);
    return id;
  }

  /** Publishes a task message (persistent; delayed until its eta). */
  async publish(msg: TaskMessage, notBefore = msg.eta): Promise<void> {
    await this.ensureQueue(msg.name);
    const delay = notBefore === undefined ? 0 : Math.max(0, Math.ceil(notBefore - this.clock.now()));
    await this.conn.publish('', this.queueName(msg.name), Buffer.from(JSON.stringify(msg)), {
      persistent: true,
      contentType: 'application/json',
      messageId: msg.id,
      priority: msg.priority,
      ...(delay > 0 ? { headers: { 'x-delay': delay } } : {}),
    });
  }

  /** The task's record with its revision, or null (unknown, or expired). */
  async entry(id: string): Promise<{ record: TaskRecord; revision: number } | null> {
    const e = await this.bucket.get(taskKey(id));
    return e === null || e.op !== 'put' ? null : { record: e.json<TaskRecord>(), revision: e.revision };
  }

  /** The task's state (status, progress, result or error...), or null when unknown or expired. */
  async get(id: string): Promise<TaskRecord | null> {
    return (await this.entry(id))?.record ?? null;
  }

  /** Same as get(): the record holds the result once SUCCESS. */
  result(id: string): Promise<TaskRecord | null> {
    return this.get(id);
  }

  /** A live feed of the task's states, starting with the current one. close() it when done. */
  async watch(id: string): Promise<TaskWatch> {
    checkId(id);
    return new TaskWatch(await this.bucket.watch({ pattern: taskKey(id) }, { includeCurrent: true }));
  }

  /**
   * Resolves with the task's record once it is SUCCESS, FAILURE or REVOKED;
   * rejects with TimeoutError after `timeoutMs` (on the client's clock), and
   * with NOT_FOUND if the task is unknown or its record expires meanwhile.
   */
  async wait(id: string, options: { timeoutMs?: number } = {}): Promise<TaskRecord> {
    checkId(id);
    // One watch per wait: past maxWaitWatches the wait takes its turn rather than have the
    // broker refuse the watch (RESOURCE_LIMIT) when a burst of tasks is waited for at once.
    const place = this.waitPlaces.take();
    let watch: TaskWatch | undefined;
    let over = false;
    let timer: unknown;
    try {
      const done = (async () => {
        await place.ready;
        if (over) throw new TimeoutError(`task ${id}: wait over`);
        watch = await this.watch(id);
        if (over) {
          await watch.close();
          throw new TimeoutError(`task ${id}: wait over`);
        }
        let seen = false;
        const first = await this.get(id);
        if (first === null) throw new WarrenError(ErrorCodes.NOT_FOUND, `task ${id} not found`);
        if (isTerminal(first.status)) return this.synced(first);
        let n = 0;
        for await (const r of watch) {
          n++;
          if (r === null) {
            if (seen) throw new WarrenError(ErrorCodes.NOT_FOUND, `task ${id} expired`);
            continue;
          }
          seen = true;
          // Changes reach a watch once synced; the first entry is the state when the watch began.
          if (isTerminal(r.status)) return n === 1 ? this.synced(r) : r;
        }
        throw new WarrenError(ErrorCodes.NOT_FOUND, `task ${id}: watch ended`);
      })();
      if (options.timeoutMs === undefined) return await done;
      const timeout = new Promise<never>((_, reject) => {
        timer = this.clock.setTimeout(() => reject(new TimeoutError(`task ${id} not finished after ${options.timeoutMs} ms`)), options.timeoutMs!);
      });
      done.catch(() => undefined);
      return await Promise.race([done, timeout]);
    } finally {
      over = true;
      if (timer !== undefined) this.clock.clearTimeout(timer);
      await watch?.close();
      place.free();
    }
  }

  /**
   * Resolves with `rec` once everything written to the bucket before now is on disk. A read
   * answers with the latest value at once, even one whose write is still being synced: a write
   * to the bucket behind it (key `sync`), once confirmed, means the bucket's log is synced
   * through it. So wait() never resolves with a result that a broker crash could still lose.
   */
  private async synced(rec: TaskRecord): Promise<TaskRecord> {
    await this.bucket.put('sync', '1', { ttl: 0 });
    return rec;
  }

  /**
   * Revokes a task: a queued one will not run, a running one's handler sees
   * its signal abort (and its outcome is discarded). Resolves with the
   * record (unchanged if the task had already finished), or null if unknown.
   */
  async revoke(id: string, reason = 'revoked'): Promise<TaskRecord | null> {
    checkId(id);
    for (;;) {
      const cur = await this.entry(id);
      if (cur === null) return null;
      if (isTerminal(cur.record.status)) return cur.record;
      const now = this.clock.now();
      const rec = recordWith(cur.record, { status: 'REVOKED', reason, updatedAt: now, finishedAt: now });
      try {
        await this.bucket.update(taskKey(id), JSON.stringify(rec), cur.revision, { ttl: this.ttlFor(rec.name) });
      } catch (err) {
        if (isWrongRevision(err)) continue;
        throw err;
      }
      // Workers watch `r.`: one running the task aborts it.
      await this.leases.put(revokeKey(id), String(rec.run), { ttl: REVOKE_MARK_TTL_MS });
      return rec;
    }
  }

  /**
   * Runs a FAILURE or REVOKED task again from its first attempt (same id and
   * arguments), or re-sends a PENDING one (the older message, if any, is then
   * dropped: for a task whose enqueuer died between writing its record and
   * publishing it). Resolves with the new PENDING record, or null if the task
   * is unknown; PRECONDITION_FAILED if it is running or succeeded.
   */
  async retry(id: string): Promise<TaskRecord | null> {
    checkId(id);
    return this.retryIf(id, (old) => {
      if (old.status !== 'FAILURE' && old.status !== 'REVOKED' && old.status !== 'PENDING') {
        throw new WarrenError(ErrorCodes.PRECONDITION_FAILED, `task ${id} is ${old.status}: only FAILURE, REVOKED or PENDING tasks can be retried`);
      }
      return true;
    });
  }

  /**
   * retry() of the task while `may(record)` holds, judged on the record that the retry's
   * compare-and-set replaces (re-read and judged again when the record changed meanwhile).
   * Null when the task is unknown or `may` says no.
   */
  private async retryIf(id: string, may: (rec: TaskRecord) => boolean): Promise<TaskRecord | null> {
    for (;;) {
      const cur = await this.entry(id);
      if (cur === null) return null;
      const old = cur.record;
      if (!may(old)) return null;
      const now = this.clock.now();
      const rec: TaskRecord = {
        id: old.id,
        name: old.name,
        args: old.args,
        status: 'PENDING',
        attempt: 0,
        maxAttempts: old.maxAttempts,
        run: old.run + 1,
        nonce: old.nonce,
        priority: old.priority,
        enqueuedAt: now,
        updatedAt: now,
        ...(old.group !== undefined ? { group: old.group } : {}),
      };
      try {
        await this.bucket.update(taskKey(id), JSON.stringify(rec), cur.revision, { ttl: 0 });
      } catch (err) {
        if (isWrongRevision(err)) continue;
        throw err;
      }
      await this.publish(messageOf(rec));
      return rec;
    }
  }

  /**
   * Moves every task in the dead-letter queue (up to `limit`) back to work:
   * each FAILURE task there is retried; entries of tasks retried since, or
   * expired, are dropped. Resolves with the ids retried.
   *
   * A dead letter is the failure of one run of one enqueue (its `run` and `nonce`). It retries the
   * task only while the record still shows that failure: a task retried since (running, succeeded,
   * revoked, or failed again: that later failure has its own dead letter) is left as it is, and
   * the letter dropped. The check and the retry are one compare-and-set, so two copies of a dead
   * letter, or two redrives at once, run the task again once.
   */
  async redrive(options: { limit?: number } = {}): Promise<string[]> {
    // Only the dead letters there now: a redriven task that fails again lands behind them.
    const present = (await this.conn.declareQueue(this.deadLetterQueue, { passive: true })).messageCount;
    const limit = Math.min(options.limit ?? Infinity, present);
    const done: string[] = [];
    for (let n = 0; n < limit; n++) {
      const msg = await this.conn.get(this.deadLetterQueue);
      if (msg === null) break;
      let m: TaskMessage | undefined;
      try {
        m = msg.json<TaskMessage>();
      } catch {
        m = undefined;
      }
      if (m !== undefined && typeof m.id === 'string' && ID_RE.test(m.id)) {
        // Only the dead letter of the task's latest failure: older ones (retried since) are dropped.
        const dead = m;
        const again = await this.retryIf(m.id, (rec) => rec.status === 'FAILURE' && rec.run === dead.run && rec.nonce === dead.nonce);
        if (again !== null) done.push(m.id);
      }
      msg.ack();
    }
    return done;
  }

  /** Task records, newest first, optionally by status and name. */
  async list(filter: ListFilter = {}): Promise<TaskRecord[]> {
    const keys = await this.bucket.keys({ prefix: 't.' });
    const out: TaskRecord[] = [];
    const BATCH = 64;
    for (let i = 0; i < keys.length; i += BATCH) {
      const entries = await Promise.all(keys.slice(i, i + BATCH).map((k) => this.bucket.get(k)));
      for (const e of entries) {
        if (e === null || e.op !== 'put') continue;
        const r = e.json<TaskRecord>();
        if (filter.status !== undefined && r.status !== filter.status) continue;
        if (filter.name !== undefined && r.name !== filter.name) continue;
        out.push(r);
      }
    }
    out.sort((a, b) => b.enqueuedAt - a.enqueuedAt || (a.id < b.id ? -1 : 1));
    return out.slice(0, filter.limit ?? 1000);
  }
}

/**
 * A bucket write whose revision is wanted before it is synced: `applied` resolves with the
 * revision once the broker has applied the write (KvPutOptions.applied: the broker says so
 * before the fdatasync), or rejects as the write fails; `done` resolves once it is durable. So
 * the next step (publishing, running the handler) starts while the write is being synced; the
 * caller still awaits `done` (or a later write in the same bucket) before reporting anything done.
 */
export function earlyWrite(write: (applied: (revision: number) => void) => Promise<number>): { applied: Promise<number>; done: Promise<number> } {
  let done!: Promise<number>;
  const applied = new Promise<number>((resolve, reject) => {
    done = write(resolve);
    done.catch(reject);
  });
  applied.catch(() => undefined);
  done.catch(() => undefined);
  return { applied, done };
}

/** The message that runs `rec` (its current run and attempt). */
export function messageOf(rec: TaskRecord, attempt = 1): TaskMessage {
  return {
    id: rec.id,
    name: rec.name,
    args: rec.args,
    run: rec.run,
    attempt,
    maxAttempts: rec.maxAttempts,
    nonce: rec.nonce,
    priority: rec.priority,
    enqueuedAt: rec.enqueuedAt,
    ...(rec.group !== undefined ? { group: rec.group } : {}),
  };
}

/** A task's states as they change; null when its record is deleted or expires. */
/**
 * At most `max` places held at once; takers past it wait in line, first come first served.
 * A freed place passes straight to the next in line.
 */
class Places {
  private used = 0;
  private readonly line = new Set<() => void>();

  constructor(private readonly max: number) {}

  /** `ready` resolves once the place is ours; free() exactly once: gives it back, or leaves the line. */
  take(): { ready: Promise<void>; free: () => void } {
    if (this.used < this.max) {
      this.used++;
      return { ready: Promise.resolve(), free: () => this.pass() };
    }
    let ours = false;
    let give!: () => void;
    const ready = new Promise<void>((resolve) => {
      give = () => {
        ours = true;
        resolve();
      };
    });
    this.line.add(give);
    return { ready, free: () => (ours ? this.pass() : void this.line.delete(give)) };
  }

  private pass(): void {
    const next = this.line.values().next();
    if (next.done === true) {
      this.used--;
      return;
    }
    this.line.delete(next.value);
    next.value();
  }
}

export class TaskWatch implements AsyncIterable<TaskRecord | null> {
  constructor(private readonly watch: KvWatch) {}

  close(): Promise<void> {
    return this.watch.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TaskRecord | null> {
    for await (const e of this.watch as AsyncIterable<KvEntry>) yield e.op === 'put' ? e.json<TaskRecord>() : null;
  }
}
