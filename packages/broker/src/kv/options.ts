/**
 * Bucket options: the wire/SDK map, its defaults and checks, and the comparison
 * that makes a repeated create idempotent (same options: fine; others: refused).
 */
import { errors, type KvBucketOptions } from '@warren/protocol';

export type BucketOptions = KvBucketOptions;

export type BucketConfig = Required<BucketOptions>;

/** Create options: the bucket options plus `passive` (only check that it exists). */
export interface CreateOptions extends BucketOptions {
  passive?: boolean;
}

export const MAX_HISTORY = 64;
export const DEFAULT_MAX_VALUE_SIZE = 1024 * 1024;
export const DEFAULT_MARKER_TTL = 15 * 60 * 1000;

const KNOWN: ReadonlyArray<keyof BucketOptions> = ['history', 'ttl', 'maxValueSize', 'maxBytes', 'durable', 'markerTtl'];

function uintOption(o: Record<string, unknown>, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw errors.invalidArgument(`bucket option ${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

/** Validates an options map (unknown keys are ignored, section 11) and fills in defaults. */
export function bucketConfig(options: BucketOptions | Record<string, unknown> | null | undefined): BucketConfig {
  const o = (options ?? {}) as Record<string, unknown>;
  const durable = o.durable ?? true;
  if (typeof durable !== 'boolean') throw errors.invalidArgument('bucket option durable must be a boolean');
  return {
    history: uintOption(o, 'history', 1, 1, MAX_HISTORY),
    ttl: uintOption(o, 'ttl', 0),
    maxValueSize: uintOption(o, 'maxValueSize', DEFAULT_MAX_VALUE_SIZE, 1),
    maxBytes: uintOption(o, 'maxBytes', 0),
    durable,
    markerTtl: uintOption(o, 'markerTtl', DEFAULT_MARKER_TTL),
  };
}

/**
 * The first option given in `options` whose value differs from the bucket's, or null.
 * Options left out are not compared, so `kv('name')` opens a bucket whatever its options.
 */
export function configDifference(options: Record<string, unknown> | null | undefined, current: BucketConfig): { field: string; received: unknown; current: unknown } | null {
  const received = bucketConfig(options);
  for (const k of KNOWN) {
    if (options?.[k] === undefined || options[k] === null) continue;
    if (received[k] !== current[k]) return { field: k, received: received[k], current: current[k] };
  }
  return null;
}
