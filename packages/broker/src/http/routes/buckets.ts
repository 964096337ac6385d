/**
 * Key-value buckets, read only (the console's bucket and task views):
 *
 *   GET /api/buckets[/:vhost]                      -> [{vhost, name, keys, bytes, revision, config}]
 *   GET /api/buckets/:vhost/:bucket                -> one
 *   GET /api/buckets/:vhost/:bucket/entries?prefix=&order=key|recent&limit=&encoding=auto|base64
 *        -> {items: [{key, revision, createdAt, expiresAt, value, valueEncoding, valueBytes}], total, truncated}
 *   GET /api/buckets/:vhost/:bucket/entries/:key   -> one item (404 when the key has no value)
 *
 * Read permission on the bucket, as KV_GET and KV_KEYS need on the wire; the
 * list shows only buckets the caller may read. `order=recent` is the most
 * recently written first (by revision): the task view's "newest first".
 * Neither order sorts the whole bucket (a bounded heap by key; two counting
 * passes by revision), and an answer carries at
 * most 8 MiB of values. A request still walks the bucket's keys on the broker's
 * event loop (~50-100 ms at a million keys here): the console polls these pages
 * only while they are open, less often for large buckets.
 */
import { encodePayload, type PayloadEncoding } from '../../browse.js';
import { errors } from '../../errors.js';
import type { Bucket, Revision } from '../../kv/bucket.js';
import type { VirtualHost } from '../../vhost.js';
import type { HttpContext } from '../context.js';
import { vhostOf } from '../fields.js';
import type { ApiRequest, Router } from '../router.js';

/** Most entries one request returns. */
export const ENTRIES_MAX = 5000;
const ENTRIES_DEFAULT = 500;

export function register(router: Router, ctx: HttpContext): void {
  const list = (req: ApiRequest): unknown => {
    const name = req.params['vhost'];
    if (name !== undefined) req.user.requireSee(name);
    const vhosts = name !== undefined ? [vhostOf(ctx.vhosts, name)] : [...ctx.vhosts].filter((v) => req.user.canSee(v.name));
    // Permission first: info() counts a bucket's keys (a pass over them), so only for buckets shown.
    return vhosts.flatMap((v) =>
      v.kv
        .names()
        .filter((name) => req.user.may(v.name, 'read', name))
        .sort()
        .map((name) => ({ vhost: v.name, ...v.kv.info(v.kv.bucket(name)) })),
    );
  };
  router.get('/api/buckets', list);
  router.get('/api/buckets/:vhost', list);
  router.get('/api/buckets/:vhost/:bucket', (req) => {
    const { vhost, bucket } = readableBucket(ctx, req);
    return { vhost: vhost.name, ...vhost.kv.info(bucket) };
  });
  router.get('/api/buckets/:vhost/:bucket/entries', (req) => {
    const { bucket } = readableBucket(ctx, req);
    const prefix = req.query.get('prefix') ?? undefined;
    const order = req.query.get('order') ?? 'key';
    if (order !== 'key' && order !== 'recent') throw errors.invalidArgument(`order must be 'key' or 'recent'`);
    const limit = intParam(req, 'limit', ENTRIES_DEFAULT, 0, ENTRIES_MAX);
    const encoding = encodingOf(req);
    const { items, total } = select(bucket, prefix, order, limit);
    const out: Array<Record<string, unknown>> = [];
    let bytes = 0;
    for (const r of items) {
      bytes += r.value?.length ?? 0;
      if (bytes > ENTRIES_MAX_BYTES && out.length > 0) break;
      out.push(entryItem(r, encoding));
    }
    return { items: out, total, truncated: out.length < total };
  });
  router.get('/api/buckets/:vhost/:bucket/entries/:key', (req) => {
    const { bucket } = readableBucket(ctx, req);
    const key = req.params['key']!;
    const r = bucket.get(key);
    if (r === null) throw errors.notFound(`key '${key}' in bucket '${bucket.name}'`);
    return entryItem(r, encodingOf(req));
  });
}

/** The :vhost and :bucket of the path once the caller may read the bucket (checked first: a refusal does not tell whether it exists). */
function readableBucket(ctx: HttpContext, req: ApiRequest): { vhost: VirtualHost; bucket: Bucket } {
  const vname = req.params['vhost']!;
  const bname = req.params['bucket']!;
  req.user.require(vname, 'read', 'bucket', bname, 'read');
  const vhost = vhostOf(ctx.vhosts, vname);
  return { vhost, bucket: vhost.kv.bucket(bname) };
}

/** The newest `limit` (order 'recent') or the first `limit` by key of the matching entries, and how many match. */
export function select(bucket: Pick<Bucket, 'lastRevision' | 'eachLatest'>, prefix: string | undefined, order: 'key' | 'recent', limit: number): { items: Revision[]; total: number } {
  const filter = prefix === undefined ? undefined : { prefix };
  if (order === 'recent') return newest(bucket, filter, limit);
  const kept = new Bounded<Revision>(limit, (a, b) => a.key < b.key);
  let total = 0;
  bucket.eachLatest(filter, (r) => {
    total++;
    kept.offer(r);
  });
  return { items: kept.sorted(), total };
}

/** Revision bins of the first pass of newest(). */
const BINS = 4096;

/**
 * The `limit` highest revisions in two passes without a heap: revisions are integers up to the
 * bucket's last one, so the first pass counts them in bins and finds the lowest bin still needed,
 * the second picks what is in or above it (at most `limit` plus one bin) and sorts only that.
 * (A heap would re-sift on nearly every key: keys written later usually sit later in the map.)
 */
function newest(bucket: Pick<Bucket, 'lastRevision' | 'eachLatest'>, filter: { prefix: string } | undefined, limit: number): { items: Revision[]; total: number } {
  const width = Math.max(1, Math.ceil(bucket.lastRevision / BINS));
  const counts = new Uint32Array(BINS + 1);
  let total = 0;
  bucket.eachLatest(filter, (r) => {
    total++;
    counts[Math.floor(r.rev / width)]!++;
  });
  if (limit === 0 || total === 0) return { items: [], total };
  let bin = BINS;
  for (let need = limit; bin > 0; bin--) {
    need -= counts[bin]!;
    if (need <= 0) break;
  }
  const min = bin * width;
  const picked: Revision[] = [];
  bucket.eachLatest(filter, (r) => {
    if (r.rev >= min) picked.push(r);
  });
  picked.sort((a, b) => b.rev - a.rev);
  if (picked.length > limit) picked.length = limit;
  return { items: picked, total };
}

/**
 * The `limit` items that rank first (`before(a, b)`: a ranks before b) of those offered, in a
 * heap whose root is the last of them: one pass and O(n log limit), whatever n is.
 */
class Bounded<T> {
  private readonly heap: T[] = [];
  constructor(
    private readonly limit: number,
    private readonly before: (a: T, b: T) => boolean,
  ) {}

  offer(x: T): void {
    const h = this.heap;
    if (h.length < this.limit) {
      h.push(x);
      this.up(h.length - 1);
    } else if (this.limit > 0 && this.before(x, h[0]!)) {
      h[0] = x;
      this.down(0);
    }
  }

  sorted(): T[] {
    return [...this.heap].sort((a, b) => (this.before(a, b) ? -1 : this.before(b, a) ? 1 : 0));
  }

  // Root = the item that ranks last: a parent never ranks before its children.
  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[p]!, h[i]!)) return;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let last = i;
      if (l < h.length && this.before(h[last]!, h[l]!)) last = l;
      if (r < h.length && this.before(h[last]!, h[r]!)) last = r;
      if (last === i) return;
      [h[last], h[i]] = [h[i]!, h[last]!];
      i = last;
    }
  }
}

/** Values in one answer add up to at most this; the rest is left out (`truncated`) and read one by one. */
export const ENTRIES_MAX_BYTES = 8 * 1024 * 1024;

function entryItem(r: Revision, encoding: PayloadEncoding): Record<string, unknown> {
  const value = r.value ?? Buffer.alloc(0);
  const { payload, payloadEncoding } = encodePayload(value, encoding);
  return {
    key: r.key,
    revision: r.rev,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt === 0 ? null : r.expiresAt,
    value: payload,
    valueEncoding: payloadEncoding,
    valueBytes: value.length,
  };
}

function encodingOf(req: ApiRequest): PayloadEncoding {
  const e = req.query.get('encoding') ?? 'auto';
  if (e !== 'auto' && e !== 'base64') throw errors.invalidArgument(`encoding must be 'auto' or 'base64'`);
  return e;
}

function intParam(req: ApiRequest, name: string, fallback: number, min: number, max: number): number {
  const raw = req.query.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw errors.invalidArgument(`${name} must be an integer ${min}..${max}`);
  return n;
}
