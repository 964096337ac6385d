/**
 * Key-value buckets in the SDK: `await conn.kv('results', options)` creates the
 * bucket (or checks it) and returns a KvBucket with put/get/delete/purge/keys/
 * history/create/update/watch. A watch is an async iterable of changes that
 * survives reconnects: the connection re-sends it with the last revision it
 * delivered, so no change is missed across a broker restart or network drop
 * (spec section 8.7).
 */
import { ErrorCodes, FrameType, WarrenError, type Frame, type FrameWriter, type KvBucketOptions, type KvEntryFrame } from '@warren/protocol';

export type { KvBucketOptions };
import { remoteError } from './errors.js';
import { ANY_REQUEST_ID, headerShapeError } from './request-checks.js';

export type KvOp = 'put' | 'del' | 'purge' | 'expired';

export interface KvBucketInfo extends Required<KvBucketOptions> {
  name: string;
  created?: boolean;
  keys: number;
  bytes: number;
  revision: number;
}

export type KvValue = string | Uint8Array;

export interface KvPutOptions {
  /** ms until this value expires; overrides the bucket's ttl; 0 = never. */
  ttl?: number;
  /**
   * Called once with the write's revision as soon as the broker has applied it (a get sees it),
   * before the returned promise resolves: in a durable bucket that is before the write is
   * fdatasync'ed, so the next step (a compare-and-set on that revision) can start while the
   * write is being synced; the write is kept only once the promise resolves. Not called if the
   * write fails. (The broker's `kv.applied` capability; without it, called as the promise resolves.)
   */
  applied?: (revision: number) => void;
  /**
   * 'stored' (default): resolve once the write is kept (fdatasync'ed in a durable bucket).
   * 'applied': resolve as soon as the broker has applied it, its sync still under way; it is
   * kept once any later write to the bucket has resolved 'stored' (the broker's log keeps
   * writes in order), or lost with a broker crash before that. (The broker's `kv.applied`
   * capability; without it, resolves once stored.)
   */
  wait?: 'applied' | 'stored';
}

/** How a write with KvPutOptions.applied maps its answers: KV_APPLIED early, the OK later (whichever first calls it). */
function appliedMapper(applied: (revision: number) => void): (reply: unknown) => number {
  let told = false;
  const tell = (revision: number): void => {
    if (told) return;
    told = true;
    applied(revision);
  };
  return Object.assign(
    (r: unknown): number => {
      const revision = revisionOf(r);
      tell(revision);
      return revision;
    },
    { early: (revision: unknown) => tell(revision as number) },
  );
}

export interface KvKeyFilter {
  prefix?: string;
  /** Dot-separated words; `*` matches one word, `#` any number. */
  pattern?: string;
}

export interface KvWatchOptions {
  /** Start with the current value of every matching key. */
  includeCurrent?: boolean;
}

/** One revision of a key: a value (op 'put') or a marker. */
export class KvEntry {
  constructor(
    readonly key: string,
    readonly revision: number,
    readonly op: KvOp,
    readonly value: Buffer,
    readonly createdAt: number,
    readonly expiresAt: number,
  ) {}

  text(): string {
    return this.value.toString('utf8');
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}

/** Sends a request on the connection; resolves with the mapped OK result. */
export type KvRequest = <T>(send: (w: FrameWriter, requestId: number) => void, map: (result: unknown) => T) => Promise<T>;

/** What KvBucket needs from the connection. */
export interface KvLink {
  request: KvRequest;
  /** Remembers a live watch (re-sent after reconnects) until it ends. */
  track(watch: KvWatch): void;
  untrack(watch: KvWatch): void;
}

/** A reply to KV_GET that came as KV_ENTRY (the connection wraps it so). */
export const KV_ENTRY_MARK = Symbol('kv-entry');
export interface KvEntryReply {
  [KV_ENTRY_MARK]: KvEntryFrame;
}

function toBuffer(v: KvValue): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function revisionOf(r: unknown): number {
  return (r as { revision: number }).revision;
}

function entryOfMap(m: Record<string, unknown>): KvEntry {
  const v = m.value;
  const value = v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.alloc(0);
  return new KvEntry(m.key as string, m.revision as number, m.op as KvOp, value, m.createdAt as number, m.expiresAt as number);
}

export class KvBucket {
  constructor(
    private readonly link: KvLink,
    readonly name: string,
    /** What the broker said when the bucket was opened. */
    readonly info: KvBucketInfo,
  ) {}

  /** Stores a value; resolves with its revision once the broker has it (fdatasync'ed in a durable bucket). */
  put(key: string, value: KvValue, options: KvPutOptions = {}): Promise<number> {
    return this.send(key, value, options, undefined);
  }

  /** Stores a value only if the key has none; WRONG_REVISION (details.current) otherwise. */
  create(key: string, value: KvValue, options: KvPutOptions = {}): Promise<number> {
    return this.send(key, value, options, 0);
  }

  /** Stores a value only if the key's latest revision is `revision`; WRONG_REVISION (details.current) otherwise. */
  update(key: string, value: KvValue, revision: number, options: KvPutOptions = {}): Promise<number> {
    return this.send(key, value, options, revision);
  }

  /** The latest value (null when none), or a given revision if the bucket still keeps it. */
  get(key: string, options: { revision?: number } = {}): Promise<KvEntry | null> {
    return this.link.request(
      (w, requestId) => w.kvGet(requestId, this.name, key, options.revision ?? 0),
      (r) => {
        if (r === null || r === undefined) return null;
        const e = (r as KvEntryReply)[KV_ENTRY_MARK];
        return new KvEntry(e.key, e.revision, e.op as KvOp, e.body, e.createdAt, e.expiresAt);
      },
    );
  }

  /** Adds a delete marker (history is kept); resolves with its revision. `expect`: compare-and-set. */
  delete(key: string, options: { expect?: number } = {}): Promise<number> {
    return this.remove(key, { expect: options.expect });
  }

  /** Drops every kept revision of the key, leaving a purge marker; resolves with its revision. */
  purge(key: string, options: { expect?: number } = {}): Promise<number> {
    return this.remove(key, { purge: true, expect: options.expect });
  }

  /** Keys that have a value, sorted; optionally by prefix or pattern. */
  keys(filter: KvKeyFilter = {}): Promise<string[]> {
    return this.link.request(
      (w, requestId) => w.kvKeys(requestId, this.name, cleanFilter(filter)),
      (r) => r as string[],
    );
  }

  /** Kept revisions of a key, oldest first, markers included. */
  history(key: string): Promise<KvEntry[]> {
    return this.link.request(
      (w, requestId) => w.kvHistory(requestId, this.name, key),
      (r) => (r as Array<Record<string, unknown>>).map(entryOfMap),
    );
  }

  /** A live feed of changes to the keys selected (all by default). Iterate it; close() it when done. */
  async watch(filter: KvKeyFilter = {}, options: KvWatchOptions = {}): Promise<KvWatch> {
    const w = new KvWatch(this.link, this.name, cleanFilter(filter));
    await w.start(options.includeCurrent === true ? { includeCurrent: true } : {});
    return w;
  }

  private send(key: string, value: KvValue, options: KvPutOptions, expect: number | undefined): Promise<number> {
    const body = toBuffer(value);
    // The KV_PUT options, only those given (this runs for every write: no generic clean-up).
    const o: Record<string, unknown> = {};
    if (options.ttl !== undefined) o.ttl = options.ttl;
    if (expect !== undefined) o.expect = expect;
    if (options.wait !== undefined) o.wait = options.wait;
    const applied = options.applied;
    if (applied !== undefined) o.applied = true;
    return this.link.request((w, requestId) => w.kvPut(requestId, this.name, key, o, body), applied === undefined ? revisionOf : appliedMapper(applied));
  }

  private remove(key: string, options: { purge?: boolean; expect?: number }): Promise<number> {
    return this.link.request((w, requestId) => w.kvDelete(requestId, this.name, key, clean(options) ?? {}), revisionOf);
  }
}

function clean(o: Record<string, unknown>): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined) {
      out[k] = v;
      any = true;
    }
  }
  return any ? out : null;
}

function cleanFilter(f: KvKeyFilter): Record<string, unknown> | null {
  return clean({ prefix: f.prefix, pattern: f.pattern });
}

/**
 * A watch: `for await (const e of watch)` yields each change (KvEntry; markers
 * have op 'del', 'purge' or 'expired' and an empty value). Ends when close() is
 * called, the bucket is deleted (the iterator throws NOT_FOUND) or the
 * connection closes.
 */
export class KvWatch implements AsyncIterable<KvEntry> {
  /** Server id of this watch on the current link (0 while not subscribed). */
  watchId = 0;
  /** The last revision delivered: a re-subscription resumes after it. */
  lastRevision = 0;
  private readonly queue: KvEntry[] = [];
  private waiting: { resolve: (r: IteratorResult<KvEntry>) => void; reject: (e: Error) => void } | null = null;
  private ended: Error | null | undefined = undefined;

  constructor(
    private readonly link: KvLink,
    readonly bucket: string,
    private readonly filter: Record<string, unknown> | null,
  ) {}

  /** Subscribes (again): the first time from now or with current values; after a reconnect from lastRevision. */
  async start(options: { includeCurrent?: boolean; afterRevision?: number }, request: KvRequest = this.link.request): Promise<void> {
    await request(
      (w, requestId) => w.kvWatch(requestId, this.bucket, this.filter, clean(options) ?? {}),
      (x) => {
        // Runs as the OK is read: KV_EVENTs right behind it must find this watch.
        const r = x as { watchId: number; revision: number };
        this.watchId = r.watchId;
        if (this.lastRevision === 0 && !options.includeCurrent) this.lastRevision = r.revision;
        this.link.track(this);
        return null;
      },
    );
  }

  /** Resumes on a new link after a reconnect (`request` sends on that link during recovery). */
  resume(request: KvRequest): Promise<void> {
    return this.start({ afterRevision: this.lastRevision }, request);
  }

  /** The connection got a KV_EVENT for this watch. */
  event(e: KvEntry): void {
    if (this.ended !== undefined) return;
    if (e.revision <= this.lastRevision && this.lastRevision > 0) return; // already delivered before a reconnect
    this.lastRevision = e.revision;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w.resolve({ value: e, done: false });
    } else this.queue.push(e);
  }

  /** The watch is over: err null for a normal end. */
  end(err: Error | null): void {
    if (this.ended !== undefined) return;
    this.ended = err;
    this.link.untrack(this);
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      if (err) w.reject(err);
      else w.resolve({ value: undefined, done: true });
    }
  }

  /** Stops the watch (tells the broker when connected). */
  async close(): Promise<void> {
    if (this.ended !== undefined) return;
    const id = this.watchId;
    this.end(null);
    if (id === 0) return;
    await this.link
      .request((w, requestId) => w.kvUnwatch(requestId, id), () => null)
      .catch((err: unknown) => {
        // The link may be gone already: the broker ended the watch with it.
        if (!(err instanceof WarrenError) || err.code !== ErrorCodes.NOT_FOUND) return;
      });
  }

  next(): Promise<IteratorResult<KvEntry>> {
    const e = this.queue.shift();
    if (e) return Promise.resolve({ value: e, done: false });
    if (this.ended !== undefined) return this.ended ? Promise.reject(this.ended) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<KvEntry> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}

/**
 * The connection's kv state: the buckets opened through it (re-opened after a
 * reconnect, so an in-memory bucket comes back after a broker restart) and the
 * live watches (resumed after a reconnect from the last revision each one
 * delivered). The connection hands it KV_EVENT and KV_WATCH_END frames.
 */
export class KvRegistry {
  private readonly buckets = new Map<string, Record<string, unknown>>();
  private readonly watches = new Set<KvWatch>();
  private readonly byId = new Map<number, KvWatch>();
  readonly link: KvLink;

  constructor(request: KvRequest) {
    this.link = {
      request,
      track: (w) => {
        this.watches.add(w);
        this.byId.set(w.watchId, w);
      },
      untrack: (w) => {
        this.watches.delete(w);
        if (this.byId.get(w.watchId) === w) this.byId.delete(w.watchId);
      },
    };
  }

  /** Creates (or opens) a bucket; options left out are not compared with an existing bucket's. */
  async open(name: string, options: KvBucketOptions & { passive?: boolean } = {}): Promise<KvBucket> {
    const o = clean(options as Record<string, unknown>) ?? {};
    const refused = headerShapeError({ type: FrameType.KV_BUCKET_CREATE, requestId: ANY_REQUEST_ID, bucket: name, options: o }, `kv('${name}')`);
    if (refused !== undefined) throw refused;
    const info = await this.link.request((w, requestId) => w.kvBucketCreate(requestId, name, o), (r) => r as KvBucketInfo);
    const { passive: _passive, ...kept } = o;
    this.buckets.set(name, kept);
    return new KvBucket(this.link, name, info);
  }

  list(): Promise<KvBucketInfo[]> {
    return this.link.request((w, requestId) => w.kvBucketList(requestId), (r) => r as KvBucketInfo[]);
  }

  async delete(name: string): Promise<void> {
    await this.link.request((w, requestId) => w.kvBucketDelete(requestId, name), () => null);
    this.buckets.delete(name);
  }

  /** KV_EVENT or KV_WATCH_END; false for any other frame. */
  frame(f: Frame): boolean {
    if (f.type === FrameType.KV_EVENT) {
      this.byId.get(f.watchId)?.event(new KvEntry(f.key, f.revision, f.op as KvOp, f.body, f.createdAt, f.expiresAt));
      return true;
    }
    if (f.type === FrameType.KV_WATCH_END) {
      this.byId.get(f.watchId)?.end(remoteError(f.code, f.name, f.message));
      return true;
    }
    return false;
  }

  /** The link dropped: watch ids were the old link's. */
  linkLost(): void {
    this.byId.clear();
    for (const w of this.watches) w.watchId = 0;
  }

  /** Re-opens the buckets on a new link (before the watches). */
  recoverBuckets(request: KvRequest, failed: (name: string) => (err: unknown) => void): Promise<unknown>[] {
    return [...this.buckets].map(([name, options]) =>
      request((w, requestId) => w.kvBucketCreate(requestId, name, options), () => null).catch(failed(name)),
    );
  }

  /** Resumes every watch on a new link from the last revision it delivered. */
  recoverWatches(request: KvRequest, failed: (w: KvWatch) => (err: unknown) => void): Promise<unknown>[] {
    return [...this.watches].map((w) => w.resume(request).catch(failed(w)));
  }

  /** The connection closed for good. */
  closed(err: Error | null): void {
    for (const w of [...this.watches]) w.end(err);
  }
}
