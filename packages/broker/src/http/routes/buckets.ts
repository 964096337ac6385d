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
 * recently written first (by revision): the task view's "newest first"; it
 * keeps `limit` entries in a heap and never sorts the whole bucket, so the
 * console's poll of a bucket with a million keys costs one pass over its map.
 * `order=key` (the default) sorts the matching keys.
 */
import { encodePayload, type PayloadEncoding } from '../../browse.js';
import { errors } from '../../errors.js';
import { MinHeap } from '../../heap.js';
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
    return vhosts.flatMap((v) =>
      v.kv
        .list()
        .filter((b) => req.user.may(v.name, 'read', b.name))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((b) => ({ vhost: v.name, ...b })),
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
    return { items: items.map((r) => entryItem(r, encoding)), total, truncated: items.length < total };
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
function select(bucket: Bucket, prefix: string | undefined, order: 'key' | 'recent', limit: number): { items: Revision[]; total: number } {
  let total = 0;
  if (order === 'recent') {
    // Keeps the `limit` highest revisions seen so far; the heap's top is the lowest of them.
    const heap = new MinHeap<Revision>();
    for (const r of bucket.latest(prefix === undefined ? undefined : { prefix })) {
      total++;
      if (limit === 0) continue;
      if (heap.size < limit) heap.push(r.rev, r);
      else if (r.rev > heap.peekKey()!) {
        heap.pop();
        heap.push(r.rev, r);
      }
    }
    const items: Revision[] = [];
    for (let r = heap.pop(); r !== undefined; r = heap.pop()) items.push(r);
    return { items: items.reverse(), total };
  }
  const all: Revision[] = [];
  for (const r of bucket.latest(prefix === undefined ? undefined : { prefix })) all.push(r);
  total = all.length;
  all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { items: all.slice(0, limit), total };
}

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
