/**
 * One connection's side of the key-value buckets: turns kv request frames into
 * KvStore calls and results into wire shapes (section 8.7 of the spec), and
 * owns the connection's watches, whose changes go out as KV_EVENT frames
 * through a FrameOut the connection provides. The connection closes it when
 * it closes, which ends the watches.
 */
import { ErrorCodes, KvRevision, WarrenError, errors, type FrameSends } from '@warren/protocol';
import { ANSWERED } from '../dispatch.js';
import type { Revision, Watch, WriteDone } from './bucket.js';
import type { KeyFilter } from './keys.js';
import type { BucketInfo, KvStore } from './kv-store.js';

/**
 * How kv frames leave the connection: the typed sends of its frame writer, and a request's
 * answer as the connection gives it (ok: OK, or ERROR RESOURCE_LIMIT when it does not fit;
 * failed: ERROR for a WarrenError, INTERNAL_ERROR logged for anything else). Each sends
 * nothing once the connection is no longer open.
 */
export type FrameOut = Pick<FrameSends, 'kvEntry' | 'kvEvent' | 'kvWatchEnd' | 'kvApplied' | 'error'> & {
  ok(requestId: number, result: unknown): void;
  failed(requestId: number, err: unknown): void;
};

/** The connection's write side, as watches need it to bound what a slow reader leaves queued. */
export interface KvFlow {
  /** More than the socket's high-water mark is waiting to be written. */
  backlogged(): boolean;
  /** Calls `cb` once the socket's write buffer drains (or it closes). */
  onceDrained(cb: () => void): void;
}

/** Default per-watch backlog limit (BrokerOptions.kvWatchBacklogBytes). */
export const DEFAULT_KV_WATCH_BACKLOG_BYTES = 16 * 1024 * 1024;
/** What a KV_EVENT costs besides its key and value (prelude and the other header fields), for the backlog count. */
const EVENT_OVERHEAD = 48;

/** A KV_GET answer that is a value: the connection sends it as KV_ENTRY. */
export class KvEntryReply {
  constructor(readonly entry: Revision) {}
}

/** A KV_WATCH answer: OK first, then `initial` as KV_EVENT frames. */
export class KvWatchReply {
  constructor(
    readonly result: { watchId: number; revision: number },
    readonly sendInitial: () => void,
  ) {}
}

const EMPTY = Buffer.alloc(0);
const NO_OPTIONS: Record<string, unknown> = Object.freeze({});
/** A put answered once applied: nobody waits for its sync (a failure stops the broker). */
const ignoreStored: WriteDone = () => undefined;

export function bucketInfoResult(info: BucketInfo, created?: boolean): Record<string, unknown> {
  const r: Record<string, unknown> = { name: info.name };
  if (created !== undefined) r.created = created;
  return { ...r, ...info.config, keys: info.keys, bytes: info.bytes, revision: info.revision };
}

export function entryResult(r: Revision): Record<string, unknown> {
  return { key: r.key, revision: r.rev, op: r.op, createdAt: r.createdAt, expiresAt: r.expiresAt, value: r.value };
}


function filterOf(filter: Record<string, unknown> | null | undefined): KeyFilter | undefined {
  if (!filter) return undefined;
  const { prefix, pattern } = filter;
  if (prefix !== undefined && prefix !== null && typeof prefix !== 'string') throw errors.invalidArgument('filter prefix must be a string');
  if (pattern !== undefined && pattern !== null && typeof pattern !== 'string') throw errors.invalidArgument('filter pattern must be a string');
  return { prefix: prefix ?? undefined, pattern: pattern ?? undefined };
}

function optUint(o: Record<string, unknown>, name: string): number | undefined {
  const v = o[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw errors.invalidArgument(`option ${name} must be a non-negative integer`);
  return v;
}

/** KV_PUT option `wait`: "stored" (default) answers once the change is synced, "applied" as soon as it is applied. */
function waitApplied(o: Record<string, unknown>): boolean {
  const v = o.wait;
  if (v === undefined || v === null || v === 'stored') return false;
  if (v === 'applied') return true;
  throw errors.invalidArgument('option wait must be "applied" or "stored"');
}

function optBool(o: Record<string, unknown>, name: string): boolean | undefined {
  const v = o[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw errors.invalidArgument(`option ${name} must be a boolean`);
  return v;
}

export class KvSession {
  private readonly watches = new Map<number, Watch>();
  /**
   * Bytes of events each watch queued while the connection was backlogged (over its
   * high-water mark), since the socket last drained. Past `backlogLimit` the watch ends
   * with RESOURCE_LIMIT (spec 8.7, "Watches"): a watcher that reads too slowly cannot
   * make the broker hold an unbounded queue of changes for it.
   */
  private readonly backlog = new Map<number, number>();
  /** The last revision each watch sent (where a new watch resumes after a RESOURCE_LIMIT end). */
  private readonly lastSent = new Map<number, number>();
  private waitingForDrain = false;
  private nextWatchId = 1;
  private closed = false;

  constructor(
    private readonly store: KvStore,
    private readonly out: FrameOut,
    private readonly flow: KvFlow | null = null,
    private readonly backlogLimit = DEFAULT_KV_WATCH_BACKLOG_BYTES,
  ) {}

  async createBucket(bucket: string, options: Record<string, unknown> | null): Promise<Record<string, unknown>> {
    const { created, bucket: b } = await this.store.create(bucket, options);
    return bucketInfoResult(this.store.info(b), created);
  }

  async deleteBucket(bucket: string): Promise<null> {
    await this.store.delete(bucket);
    return null;
  }

  listBuckets(): Array<Record<string, unknown>> {
    return this.store.list().map((i) => bucketInfoResult(i));
  }

  /** A put as a promise (tests and embedders; the KV_PUT handler uses putFrame). `requestId`: where a KV_APPLIED goes (option applied). */
  put(bucket: string, key: string, options: Record<string, unknown> | null, value: Buffer, requestId = 0): Promise<{ revision: number }> {
    return new Promise((resolve, reject) => {
      const now = this.putOrLater(bucket, key, options, value, requestId, (err, revision) => (err ? reject(err) : resolve(new KvRevision(revision))));
      if (now !== null) resolve(now);
    });
  }

  /**
   * KV_PUT as the connection answers it: throws when the put is refused; the answer itself
   * when it is known at once (wait "applied": a durable bucket has applied it, an in-memory
   * one stored it), else ANSWERED: the session sends the OK (or ERROR) itself through `out`
   * once the change is synced (an in-memory bucket: before this returns). No promise, closure
   * or options object per put of its own: one callback for all, the request id as its tag.
   */
  putFrame(bucket: string, key: string, options: Record<string, unknown> | null, value: Buffer, requestId: number): KvRevision | typeof ANSWERED {
    return this.putOrLater(bucket, key, options, value, requestId, this.storedReply) ?? ANSWERED;
  }

  /** The answer when known at once (wait "applied"), else null and `done` gets the revision (tagged with requestId) once stored. */
  private putOrLater(bucket: string, key: string, options: Record<string, unknown> | null, value: Buffer, requestId: number, done: WriteDone): KvRevision | null {
    const o = options ?? NO_OPTIONS;
    const early = waitApplied(o);
    const b = this.store.bucket(bucket);
    const ttl = optUint(o, 'ttl');
    const expect = optUint(o, 'expect');
    if (early) {
      // Answered once applied (spec 8.7, option wait): the sync goes on; should it fail, the broker stops.
      // An in-memory bucket has stored it (it cannot fail) before putAt returns.
      return new KvRevision(b.putAt(key, value, ttl, expect, undefined, ignoreStored, 0));
    }
    const applied = optBool(o, 'applied') === true && requestId !== 0;
    const revision = b.putAt(key, value, ttl, expect, undefined, done, requestId);
    // KV_APPLIED goes before the OK: a durable bucket's waits for the sync (an in-memory bucket sends none).
    if (applied && b.journal !== null && !this.closed) this.out.kvApplied(requestId, revision);
    return null;
  }

  /** A put's record is synced (or failed): its OK (or ERROR) goes out; the tag is the request id. */
  private readonly storedReply: WriteDone = (err, revision, requestId) => {
    if (err !== null) this.out.failed(requestId, err);
    else this.out.ok(requestId, new KvRevision(revision));
  };

  get(bucket: string, key: string, revision: number): KvEntryReply | null {
    const r = this.store.bucket(bucket).get(key, revision);
    return r ? new KvEntryReply(r) : null;
  }

  async delete(bucket: string, key: string, options: Record<string, unknown> | null, requestId = 0): Promise<{ revision: number }> {
    const o = options ?? {};
    const revision = await this.store.bucket(bucket).delete(key, { purge: optBool(o, 'purge'), expect: optUint(o, 'expect'), onApplied: this.appliedSender(o, requestId) });
    return new KvRevision(revision);
  }

  private appliedSender(o: Record<string, unknown>, requestId: number): ((revision: number) => void) | undefined {
    if (optBool(o, 'applied') !== true || requestId === 0) return undefined;
    return (revision) => {
      if (!this.closed) this.out.kvApplied(requestId, revision);
    };
  }

  keys(bucket: string, filter: Record<string, unknown> | null): string[] {
    return this.store.bucket(bucket).keyList(filterOf(filter));
  }

  history(bucket: string, key: string): Array<Record<string, unknown>> {
    return this.store.bucket(bucket).history(key).map(entryResult);
  }

  watch(bucket: string, filter: Record<string, unknown> | null, options: Record<string, unknown> | null): KvWatchReply {
    if (this.closed) throw errors.commandInvalid('connection is closing');
    const o = options ?? {};
    const watchId = this.nextWatchId++;
    const w = this.store.bucket(bucket).watch(
      filterOf(filter),
      { includeCurrent: optBool(o, 'includeCurrent'), afterRevision: optUint(o, 'afterRevision') },
      {
        change: (r) => this.event(watchId, r),
        end: (err) => this.ended(watchId, err),
      },
    );
    this.watches.set(watchId, w);
    return new KvWatchReply({ watchId, revision: w.startRevision }, () => {
      for (const r of w.initial) this.event(watchId, r);
    });
  }

  unwatch(watchId: number): null {
    const w = this.watches.get(watchId);
    if (!w) throw errors.notFound(`watch ${watchId}`);
    w.close();
    this.watches.delete(watchId);
    this.backlog.delete(watchId);
    this.lastSent.delete(watchId);
    return null;
  }

  /** Sends a KV_GET answer that is a value. */
  sendEntry(requestId: number, reply: KvEntryReply): void {
    const r = reply.entry;
    if (this.out.kvEntry(requestId, r.key, r.rev, r.op, r.createdAt, r.expiresAt, r.value ?? EMPTY)) return;
    // Longer than the connection's frameMax (or the connection is closing): a reply that does not fit is RESOURCE_LIMIT (spec 2, rule 8).
    const size = r.value?.length ?? 0;
    this.out.error(requestId, new WarrenError(ErrorCodes.RESOURCE_LIMIT, `the value of '${r.key}' (${size} bytes) does not fit the negotiated frameMax`));
  }

  /** The connection closed: its watches end. */
  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
  }

  get watchCount(): number {
    return this.watches.size;
  }

  private event(watchId: number, r: Revision): void {
    if (this.closed || !this.watches.has(watchId)) return;
    if (this.flow !== null && this.flow.backlogged() && !this.withinBacklog(watchId, r)) return;
    if (this.out.kvEvent(watchId, r.key, r.rev, r.op, r.createdAt, r.expiresAt, r.value ?? EMPTY)) {
      this.lastSent.set(watchId, r.rev);
      return;
    }
    // Never skipped silently: a change too large for the frameMax ends the watch (spec 8.7, "Watches").
    this.watches.get(watchId)!.close();
    this.ended(
      watchId,
      new WarrenError(
        ErrorCodes.FRAME_TOO_LARGE,
        `revision ${r.rev} of '${r.key}' (${r.value?.length ?? 0} bytes) does not fit this connection's frameMax; watch again with afterRevision ${r.rev} to go past it`,
      ),
    );
  }

  /**
   * Counts an event queued behind a congested socket against its watch's backlog; false
   * (and the watch ended with RESOURCE_LIMIT) when it would go past the limit.
   */
  private withinBacklog(watchId: number, r: Revision): boolean {
    const bytes = (this.backlog.get(watchId) ?? 0) + Buffer.byteLength(r.key) + (r.value?.length ?? 0) + EVENT_OVERHEAD;
    if (bytes <= this.backlogLimit) {
      this.backlog.set(watchId, bytes);
      if (!this.waitingForDrain) {
        this.waitingForDrain = true;
        this.flow!.onceDrained(() => {
          this.waitingForDrain = false;
          this.backlog.clear();
        });
      }
      return true;
    }
    const resume = this.lastSent.get(watchId) ?? r.rev - 1;
    this.watches.get(watchId)!.close();
    this.ended(
      watchId,
      new WarrenError(
        ErrorCodes.RESOURCE_LIMIT,
        `watch ${watchId} fell more than ${this.backlogLimit} bytes of changes behind (the client reads too slowly); watch again with afterRevision ${resume} to continue`,
      ),
    );
    return false;
  }

  private ended(watchId: number, err: WarrenError): void {
    this.backlog.delete(watchId);
    this.lastSent.delete(watchId);
    if (!this.watches.delete(watchId) || this.closed) return;
    this.out.kvWatchEnd(watchId, err);
  }
}
