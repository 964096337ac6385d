/**
 * One key-value bucket in memory: per key its kept revisions (at most `history`,
 * oldest first), the bucket's revision counter, compare-and-set, limits, expiry
 * by an injected clock, and the watch fan-out. Values live in memory (as in
 * Redis); a durable bucket also hands every change to its journal (the kv log),
 * and then answers and tells watchers only once the journal says it is on disk.
 */
import { ErrorCodes, WarrenError, errors } from '@warren/protocol';
import { MinHeap } from '../heap.js';
import { checkKey, keyMatcher, type KeyFilter, type KeyMatcher } from './keys.js';
import type { BucketConfig } from './options.js';

export type KvOp = 'put' | 'del' | 'purge' | 'expired';

/** One revision of one key. Markers (del, purge, expired) have no value. */
export interface Revision {
  readonly key: string;
  readonly rev: number;
  readonly op: KvOp;
  readonly value: Buffer | null;
  /** ms since the epoch (the bucket's clock). */
  readonly createdAt: number;
  /** When it ages out (ms since the epoch); 0 = never. */
  readonly expiresAt: number;
  /** Where its record is in the kv log (-1: not on disk). */
  seg: number;
  off: number;
  len: number;
  /** false once it has left the bucket (trimmed, purged, expired, bucket deleted). */
  live: boolean;
}

/** Where a durable bucket's changes go; the kv store implements it over its log. */
export interface BucketJournal {
  /** Appends r's record and sets r.seg/off/len; once it is synced (or failed) calls bucket.stored(r, err, done, tag). */
  write(bucket: Bucket, r: Revision, done: WriteDone | null, tag: number): void;
  /** r left the bucket: its record is garbage now. */
  release(r: Revision): void;
}

/**
 * How a write reports: the revision once stored, or the error (revision 0). `tag` is the
 * number the write was given (putAt; 0 otherwise): one callback serves many writes
 * (a connection's, with the request id as tag) without a closure per write.
 */
export type WriteDone = (err: Error | null, revision: number, tag: number) => void;

/** A promise over a callback-reporting write; a throw from `start` rejects it. */
function settle(start: (done: WriteDone) => void): Promise<number> {
  return new Promise<number>((resolve, reject) => start((err, revision) => (err ? reject(err) : resolve(revision))));
}

export interface WatchListener {
  change(r: Revision): void;
  /** The watch ended without being closed by its owner (the bucket was deleted). */
  end(err: WarrenError): void;
}

export interface WatchOptions {
  /** Start with the latest revision of every matching key. */
  includeCurrent?: boolean;
  /** Resume: start with the latest revision (markers included) of every matching key changed after this revision. */
  afterRevision?: number;
}

export interface Watch {
  /** Revisions to send before the live feed, oldest first. */
  readonly initial: Revision[];
  /** Live changes come after this revision. */
  readonly startRevision: number;
  close(): void;
}

export interface PutOptions {
  /** ms until this value expires; overrides the bucket's ttl; 0 = never. */
  ttl?: number;
  /** Compare-and-set: 0 = only if the key has no value (create), n = only if its latest revision is n (update). */
  expect?: number;
  /** A durable bucket calls this with the revision once the change is applied, before it is stored (spec 8.7, KV_APPLIED). */
  onApplied?: (revision: number) => void;
}

export interface DeleteOptions {
  /** Drop every kept revision of the key, not only add a delete marker. */
  purge?: boolean;
  expect?: number;
  /** As PutOptions.onApplied. */
  onApplied?: (revision: number) => void;
}

interface WatchEntry {
  match: KeyMatcher;
  listener: WatchListener;
  from: number;
}

export class Bucket {
  lastRevision = 0;
  /** Bytes of keys and values of every kept revision (what maxBytes limits). */
  bytes = 0;
  /** Location of the bucket's own record in the kv log (durable buckets). */
  configSeg = -1;
  configLen = 0;
  /** The name's bytes, as revision records carry them. */
  readonly nameBytes: Buffer;
  private readonly keys = new Map<string, Revision[]>();
  private readonly watches = new Set<WatchEntry>();
  private readonly expiry = new MinHeap<Revision>();
  /** Live revisions in `expiry` (the rest are stale entries, dropped lazily). */
  private expiring = 0;
  private closed = false;

  constructor(
    readonly name: string,
    readonly config: BucketConfig,
    private readonly clock: () => number,
    readonly journal: BucketJournal | null,
    /** The earliest expiry of this bucket moved to `at` (ms): the owner arms a timer. */
    private readonly onExpiryDue: (at: number) => void = () => undefined,
  ) {
    this.nameBytes = Buffer.from(name, 'latin1'); // ASCII (keys.ts)
  }

  /** Keys with a value (markers excluded). */
  get size(): number {
    let n = 0;
    for (const revs of this.keys.values()) if (revs[revs.length - 1]!.op === 'put') n++;
    return n;
  }

  put(key: string, value: Buffer, opts: PutOptions = {}): Promise<number> {
    return settle((done) => this.putWith(key, value, opts, done));
  }

  /**
   * put, reporting by callback (no promise per write): throws at once when the put is refused
   * (a bad key, a wrong revision, limits); else `done` gets the revision once it is stored (a
   * durable bucket: synced; an in-memory one: before this returns), or the storage error.
   */
  putWith(key: string, value: Buffer, opts: PutOptions, done: WriteDone): void {
    this.putAt(key, value, opts.ttl, opts.expect, opts.onApplied, done, 0);
  }

  /**
   * putWith without an options object, for the KV_PUT handler: returns the revision the put
   * was applied as (a durable bucket: not yet stored); `done` gets it with `tag` once stored.
   */
  putAt(key: string, value: Buffer, ttlOpt: number | undefined, expect: number | undefined, onApplied: ((revision: number) => void) | undefined, done: WriteDone, tag: number): number {
    this.open();
    checkKey(key);
    this.expireDue();
    const { maxValueSize, maxBytes, history } = this.config;
    if (value.length > maxValueSize) {
      throw new WarrenError(ErrorCodes.VALUE_TOO_LARGE, `value of ${value.length} bytes is larger than bucket '${this.name}' allows (${maxValueSize})`, {
        details: { size: value.length, maxValueSize },
      });
    }
    const revs = this.keys.get(key);
    this.checkExpected(key, revs, expect);
    if (maxBytes > 0) {
      const freed = revs && revs.length >= history ? sizeOf(revs[0]!) : 0;
      const need = key.length + value.length;
      if (this.bytes - freed + need > maxBytes) {
        throw new WarrenError(ErrorCodes.BUCKET_FULL, `bucket '${this.name}' is full (${this.bytes} of ${maxBytes} bytes used)`, {
          details: { bytes: this.bytes, maxBytes },
        });
      }
    }
    const ttl = ttlOpt ?? this.config.ttl;
    if (!Number.isSafeInteger(ttl) || ttl < 0) throw errors.invalidArgument('ttl must be a non-negative integer (ms)');
    // Copy: the caller's buffer may be a slice of a read arena that is reused.
    return this.commit(key, 'put', Buffer.from(value), ttl, undefined, onApplied, done, tag);
  }

  delete(key: string, opts: DeleteOptions = {}): Promise<number> {
    return settle((done) => {
      this.open();
      checkKey(key);
      this.expireDue();
      this.checkExpected(key, this.keys.get(key), opts.expect);
      this.commit(key, opts.purge ? 'purge' : 'del', null, 0, undefined, opts.onApplied, done, 0);
    });
  }

  /** The latest value of key (null when it has none), or the given revision of key if still kept (markers included). */
  get(key: string, revision?: number): Revision | null {
    this.open();
    checkKey(key);
    this.expireDue();
    const revs = this.keys.get(key);
    if (!revs) return null;
    if (revision === undefined || revision === 0) {
      const latest = revs[revs.length - 1]!;
      return latest.op === 'put' ? latest : null;
    }
    for (const r of revs) if (r.rev === revision) return r;
    return null;
  }

  /** Kept revisions of key, oldest first (markers included). */
  history(key: string): Revision[] {
    this.open();
    checkKey(key);
    this.expireDue();
    return [...(this.keys.get(key) ?? [])];
  }

  /** Keys that have a value, sorted, optionally filtered. */
  keyList(filter?: KeyFilter): string[] {
    this.open();
    const match = keyMatcher(filter);
    this.expireDue();
    const out: string[] = [];
    for (const [key, revs] of this.keys) if (revs[revs.length - 1]!.op === 'put' && match(key)) out.push(key);
    return out.sort();
  }

  /** Calls `fn` with the latest value of every key that has one and matches, in no particular order (management reads). */
  eachLatest(filter: KeyFilter | undefined, fn: (r: Revision) => void): void {
    this.open();
    const match = keyMatcher(filter);
    this.expireDue();
    for (const revs of this.keys.values()) {
      const r = revs[revs.length - 1]!;
      if (r.op === 'put' && match(r.key)) fn(r);
    }
  }

  watch(filter: KeyFilter | undefined, opts: WatchOptions, listener: WatchListener): Watch {
    this.open();
    const match = keyMatcher(filter);
    this.expireDue();
    const initial: Revision[] = [];
    const after = opts.afterRevision;
    if (opts.includeCurrent || after !== undefined) {
      for (const [key, revs] of this.keys) {
        const latest = revs[revs.length - 1]!;
        if (!match(key)) continue;
        if (after !== undefined ? latest.rev > after : latest.op === 'put') initial.push(latest);
      }
      initial.sort((a, b) => a.rev - b.rev);
    }
    const entry: WatchEntry = { match, listener, from: this.lastRevision };
    this.watches.add(entry);
    return { initial, startRevision: entry.from, close: () => this.watches.delete(entry) };
  }

  /** Expires everything due by the clock; returns how many revisions left. Called before every operation. */
  expireDue(): number {
    const now = this.clock();
    let n = 0;
    for (let at = this.expiry.peekKey(); at !== undefined && at <= now; at = this.expiry.peekKey()) {
      const r = this.expiry.pop()!;
      if (!r.live) continue;
      this.expiring--;
      n++;
      const revs = this.keys.get(r.key)!;
      const latest = revs[revs.length - 1]!;
      if (r !== latest) {
        revs.splice(revs.indexOf(r), 1);
        this.drop(r);
      } else if (r.op === 'put') {
        // The current value expired: that is a change, with a revision (no fsync wait: recovery redoes it).
        revs.pop();
        this.drop(r);
        this.commit(r.key, 'expired', null, 0, r.expiresAt, undefined, null, 0);
      } else {
        // A marker aged out: the key is gone for good.
        for (const o of revs) this.drop(o);
        this.keys.delete(r.key);
      }
    }
    this.shrinkExpiryHeap();
    const next = this.expiry.peekKey();
    if (next !== undefined) this.onExpiryDue(next);
    return n;
  }

  /** Earliest expiry time held, if any. */
  nextExpiry(): number | undefined {
    return this.expiry.peekKey();
  }

  /** Revisions to copy during compaction and recovery bookkeeping. */
  *revisions(): IterableIterator<Revision> {
    for (const revs of this.keys.values()) yield* revs;
  }

  /** The live revision `rev` of key, if kept. */
  find(key: string, rev: number): Revision | undefined {
    const revs = this.keys.get(key);
    if (!revs) return undefined;
    for (const r of revs) if (r.rev === rev) return r;
    return undefined;
  }

  /** Puts back a revision read from the log at open (no journal write, no events). */
  restore(r: Revision): void {
    if (r.rev > this.lastRevision) this.lastRevision = r.rev;
    let revs = this.keys.get(r.key);
    if (!revs) this.keys.set(r.key, (revs = []));
    let i = revs.length;
    while (i > 0 && revs[i - 1]!.rev >= r.rev) i--;
    if (i < revs.length && revs[i]!.rev === r.rev) {
      // The same revision twice (a compaction copy whose original survived): keep the later copy.
      const old = revs[i]!;
      revs[i] = r;
      this.drop(old);
      this.hold(r);
      return;
    }
    for (let k = i; k < revs.length; k++) {
      if (revs[k]!.op === 'purge') {
        // Older than a purge already kept: it was purged.
        r.live = false;
        this.journal?.release(r);
        return;
      }
    }
    if (r.op === 'purge') {
      for (const o of revs.splice(0, i)) this.drop(o);
      i = 0;
    }
    revs.splice(i, 0, r);
    this.hold(r);
    while (revs.length > this.config.history) this.drop(revs.shift()!);
  }

  /** Ends every watch and frees everything (bucket deleted or store closed). */
  destroy(reason: WarrenError): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.listener.end(reason);
    this.watches.clear();
    for (const revs of this.keys.values()) for (const r of revs) this.drop(r);
    this.keys.clear();
    this.expiry.clear();
    this.expiring = 0;
  }

  private open(): void {
    if (this.closed) throw errors.notFound(`bucket '${this.name}'`);
  }

  private checkExpected(key: string, revs: Revision[] | undefined, expect: number | undefined): void {
    if (expect === undefined) return;
    const latest = revs?.[revs.length - 1];
    const current = latest?.rev ?? 0;
    const ok = expect === 0 ? !latest || latest.op !== 'put' : current === expect && latest!.op === 'put';
    if (ok) return;
    const message =
      expect === 0
        ? `key '${key}' already has a value (revision ${current})`
        : latest && latest.op !== 'put' && current === expect
          ? `key '${key}' has no value (revision ${current} is a ${latest.op} marker)`
          : `key '${key}' is at revision ${current}, not ${expect}`;
    throw new WarrenError(ErrorCodes.WRONG_REVISION, message, { details: { key, expected: expect, current } });
  }

  /** Applies the change and returns its revision; `done` gets it (with `tag`) once stored (at once without a journal), or the storage error. */
  private commit(
    key: string,
    op: KvOp,
    value: Buffer | null,
    ttl: number,
    at: number | undefined,
    onApplied: ((revision: number) => void) | undefined,
    done: WriteDone | null,
    tag: number,
  ): number {
    const now = at ?? this.clock();
    const life = op === 'put' ? ttl : this.config.markerTtl;
    const r: Revision = {
      key,
      rev: ++this.lastRevision,
      op,
      value,
      createdAt: now,
      expiresAt: life > 0 ? now + life : 0,
      seg: -1,
      off: 0,
      len: 0,
      live: true,
    };
    // Arrays made as literals have exactly the room they need (push on [] reserves 17 slots):
    // with a million keys that is most of the memory per key.
    const revs = this.keys.get(key);
    if (!revs || op === 'purge') {
      if (revs) for (const o of revs) this.drop(o);
      this.keys.set(key, [r]);
    } else if (revs.length >= this.config.history && this.config.history === 1) {
      this.drop(revs[0]!);
      revs[0] = r;
    } else {
      revs.push(r);
      while (revs.length > this.config.history) this.drop(revs.shift()!);
    }
    this.hold(r);
    if (!this.journal) {
      this.notify(r);
      done?.(null, r.rev, tag);
      return r.rev;
    }
    // done null: nobody waits for an expiry marker; it rides along with the next sync.
    this.journal.write(this, r, done, tag);
    // After the journal write: a failure to encode or queue it throws before anyone is told.
    onApplied?.(r.rev);
    return r.rev;
  }

  /** The journal has stored r (err null; watchers are told) or failed to: `done` learns which, with its tag. */
  stored(r: Revision, err: Error | null, done: WriteDone | null, tag: number): void {
    if (err !== null) {
      done?.(err, 0, tag);
      return;
    }
    this.notify(r);
    done?.(null, r.rev, tag);
  }

  private notify(r: Revision): void {
    if (this.watches.size === 0) return; // no iterator per write without watchers
    for (const w of this.watches) {
      if (r.rev > w.from && w.match(r.key)) w.listener.change(r);
    }
  }

  private hold(r: Revision): void {
    this.bytes += sizeOf(r);
    if (r.expiresAt > 0) {
      this.expiry.push(r.expiresAt, r);
      this.expiring++;
      if (this.expiry.peekKey() === r.expiresAt) this.onExpiryDue(r.expiresAt);
    }
  }

  private drop(r: Revision): void {
    if (!r.live) return;
    r.live = false;
    this.bytes -= sizeOf(r);
    if (r.expiresAt > 0) this.expiring--;
    this.journal?.release(r);
  }

  /** Overwrites leave stale heap entries behind: rebuild once they outnumber the live ones. */
  private shrinkExpiryHeap(): void {
    if (this.expiry.size <= 2 * this.expiring + 1024) return;
    this.expiry.clear();
    for (const revs of this.keys.values()) for (const r of revs) if (r.expiresAt > 0) this.expiry.push(r.expiresAt, r);
  }
}

function sizeOf(r: Revision): number {
  return r.key.length + (r.value ? r.value.length : 0);
}
