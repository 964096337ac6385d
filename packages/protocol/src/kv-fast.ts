/**
 * Hand-written encoding and decoding of the frames of a bucket write, the way
 * writer.ts and decoder.ts do it for PUBLISH, DELIVER and ACK: KV_PUT (client to
 * broker) and its answers KV_APPLIED and OK with `{revision}` (broker to client).
 * A background job writes its record three times, each one of these round trips.
 *
 * Byte for byte what the general encoder writes (a test compares them), for the
 * usual shapes only: ASCII names, uints, options whose values are uints, booleans
 * or ASCII strings. Every other shape, valid or not, takes the general path, which
 * builds the same frame or refuses it as before. No wire change.
 */
import { FrameType, type Frame, type KvAppliedFrame, type KvPutFrame, type OkFrame } from './frames.js';
import { spanStart, strSpan, uintAt, uintEnd } from './decoder.js';
import { FrameWriter, asciiLength, isSafeUint, strSize, uintSize, writeStr, writeUint } from './writer.js';

export const KV_PUT = FrameType.KV_PUT;
export const KV_APPLIED = FrameType.KV_APPLIED;
export const OK = FrameType.OK;
const EMPTY = Buffer.alloc(0);
const MAX_REQUEST_ID = 0xffffffff;
const REVISION = Buffer.from('revision', 'latin1');

/**
 * The result of a bucket write (KV_PUT, KV_DELETE) as the broker answers it: OK's
 * `result` is the map `{revision}`. A handler that returns one of these has its OK
 * written by hand; it packs as any `{revision}` map would.
 */
export class KvRevision {
  constructor(readonly revision: number) {}
}

/** What the hand-written sends use of FrameWriter (its slab; writer.ts keeps them private). */
interface SlabWriter {
  slab: Buffer;
  beforeNextSend: (() => void) | undefined;
  runBeforeNextSend(): void;
  begin(type: number, headerLength: number, body: Buffer | undefined): number;
  finish(p: number, headerLength: number, body: Buffer | undefined): void;
}

const proto = FrameWriter.prototype;
const generatedKvPut = proto.kvPut;
const generatedKvApplied = proto.kvApplied;
const generatedOk = proto.ok;

/** Bytes of `options` as a MessagePack fixmap, or -1 when a key or value is not of the usual kinds. */
function optionsSize(o: Record<string, unknown>): number {
  let size = 1;
  let n = 0;
  for (const k in o) {
    const kl = asciiLength(k);
    if (kl < 0 || kl >= 0x20 || k === '__proto__') return -1;
    const v = o[k];
    if (typeof v === 'number') {
      if (!isSafeUint(v)) return -1;
      size += uintSize(v);
    } else if (typeof v === 'boolean') size += 1;
    else if (typeof v === 'string') {
      const vl = asciiLength(v);
      if (vl < 0) return -1;
      size += strSize(vl);
    } else return -1;
    size += 1 + kl;
    if (++n > 15) return -1;
  }
  return size;
}

function writeOptions(b: Buffer, p: number, o: Record<string, unknown>): number {
  const at = p++;
  let n = 0;
  for (const k in o) {
    p = writeStr(b, p, k, k.length);
    const v = o[k];
    if (typeof v === 'number') p = writeUint(b, p, v);
    else if (typeof v === 'boolean') b[p++] = v ? 0xc3 : 0xc2;
    else p = writeStr(b, p, v as string, (v as string).length);
    n++;
  }
  b[at] = 0x80 | n;
  return p;
}

/** Runs the writer's before-next-send hook, then begins the frame: where its header goes, or -1 past the frame limit. */
function start(w: SlabWriter, type: number, headerLength: number, body: Buffer | undefined): number {
  if (w.beforeNextSend !== undefined) w.runBeforeNextSend();
  return w.begin(type, headerLength, body);
}

function kvPut(this: FrameWriter, requestId: number, bucket: string, key: string, options: Record<string, unknown>, body: Buffer): boolean {
  const bl = asciiLength(bucket);
  const kl = asciiLength(key);
  // Plain objects only: for-in would also write inherited keys, and an array, Map or Buffer is no map to msgpackr.
  const os = options === null || typeof options !== 'object' || Object.getPrototypeOf(options) !== Object.prototype ? -1 : optionsSize(options);
  if ((bl | kl | os) < 0 || !isSafeUint(requestId)) return generatedKvPut.call(this, requestId, bucket, key, options, body);
  const w = this as unknown as SlabWriter;
  const headerLength = 1 + uintSize(requestId) + strSize(bl) + strSize(kl) + os;
  let p = start(w, KV_PUT, headerLength, body);
  if (p < 0) return false;
  const slab = w.slab;
  slab[p++] = 0x94;
  p = writeUint(slab, p, requestId);
  p = writeStr(slab, p, bucket, bl);
  p = writeStr(slab, p, key, kl);
  p = writeOptions(slab, p, options);
  w.finish(p, headerLength, body);
  return true;
}

/** [a, b], two uints, without a body (KV_APPLIED; OK with {revision} adds the map). */
function twoUints(w: SlabWriter, type: number, a: number, b: number, revisionMap: boolean): boolean {
  const headerLength = 1 + uintSize(a) + (revisionMap ? 10 : 0) + uintSize(b);
  let p = start(w, type, headerLength, undefined);
  if (p < 0) return false;
  const slab = w.slab;
  slab[p++] = 0x92;
  p = writeUint(slab, p, a);
  if (revisionMap) {
    slab[p++] = 0x81;
    p = writeStr(slab, p, 'revision', 8);
  }
  p = writeUint(slab, p, b);
  w.finish(p, headerLength, undefined);
  return true;
}

function kvApplied(this: FrameWriter, requestId: number, revision: number): boolean {
  if (!isSafeUint(requestId) || !isSafeUint(revision)) return generatedKvApplied.call(this, requestId, revision);
  return twoUints(this as unknown as SlabWriter, KV_APPLIED, requestId, revision, false);
}

function ok(this: FrameWriter, requestId: number, result: unknown): boolean {
  if (result instanceof KvRevision && isSafeUint(requestId) && isSafeUint(result.revision)) {
    return twoUints(this as unknown as SlabWriter, OK, requestId, result.revision, true);
  }
  return generatedOk.call(this, requestId, result);
}

Object.assign(proto, { kvPut, kvApplied, ok });

/**
 * KV_PUT, KV_APPLIED and OK `[requestId, {revision}]` in their usual shapes,
 * decoded without the general MessagePack reader; null for anything else (the
 * general path then checks the profile and builds the same frame, or refuses it).
 * A KV_PUT comes with an empty body: the decoder sets it, as it keeps bodies.
 */
export function fastKvFrame(type: number, b: Buffer, p: number, bodyStart: number, end: number): Frame | null {
  if (type === KV_PUT) return fastKvPut(b, p, bodyStart);
  if (bodyStart !== end || b[p] !== 0x92) return null;
  const requestId = uintAt(b, p + 1, bodyStart);
  if (requestId < 0) return null;
  p = uintEnd;
  if (type === KV_APPLIED) {
    const revision = uintAt(b, p, bodyStart);
    if (revision < 0 || uintEnd !== bodyStart) return null;
    return { type: KV_APPLIED, requestId, revision } satisfies KvAppliedFrame;
  }
  // OK: only [requestId, {revision: uint}].
  if (b[p] !== 0x81 || b[p + 1] !== 0xa8 || p + 10 > bodyStart) return null;
  for (let i = 0; i < 8; i++) if (b[p + 2 + i] !== REVISION[i]) return null;
  const revision = uintAt(b, p + 10, bodyStart);
  if (revision < 0 || uintEnd !== bodyStart) return null;
  return { type: OK, requestId, result: { revision } } satisfies OkFrame;
}

/**
 * Option names and string values a put usually carries, as interned strings: a string read
 * from the frame would be a new string per put, which V8 then looks up in its string table
 * to use as a property name. Anything else is read from the frame as before.
 */
const KNOWN = ['ttl', 'expect', 'wait', 'applied', 'stored', 'purge'].map((s) => ({ s, b: Buffer.from(s, 'latin1') }));

/** b[start, end) as a string: one of KNOWN when it is one, else read from the frame. */
function knownString(b: Buffer, start: number, end: number): string {
  const n = end - start;
  for (let k = 0; k < KNOWN.length; k++) {
    const kb = KNOWN[k]!.b;
    if (kb.length !== n || kb[0] !== b[start]) continue;
    let i = 1;
    while (i < n && kb[i] === b[start + i]) i++;
    if (i === n) return KNOWN[k]!.s;
  }
  return b.toString('latin1', start, end);
}

/** The last bucket name read, and its bytes: a connection usually puts to one bucket, so the name is not read anew per put. */
let lastBucket = '';
let lastBucketBytes: Buffer = Buffer.alloc(0);

function bucketName(b: Buffer, start: number, end: number): string {
  const n = end - start;
  const lb = lastBucketBytes;
  if (lb.length === n) {
    let i = 0;
    while (i < n && lb[i] === b[start + i]) i++;
    if (i === n) return lastBucket;
  }
  lastBucket = b.toString('latin1', start, end);
  lastBucketBytes = Buffer.from(b.subarray(start, end));
  return lastBucket;
}

function fastKvPut(b: Buffer, p: number, bodyStart: number): KvPutFrame | null {
  if (b[p] !== 0x94) return null;
  const requestId = uintAt(b, p + 1, bodyStart);
  if (requestId < 1 || requestId > MAX_REQUEST_ID) return null;
  let s = strSpan(b, uintEnd, bodyStart);
  if (s < 0) return null;
  const bucket = bucketName(b, spanStart, s);
  s = strSpan(b, s, bodyStart);
  if (s < 0) return null;
  const key = b.toString('latin1', spanStart, s);
  const t = b[s]!;
  if (t < 0x80 || t > 0x8f) return null;
  p = s + 1;
  const options: Record<string, unknown> = {};
  for (let n = t & 0x0f; n > 0; n--) {
    s = strSpan(b, p, bodyStart);
    if (s < 0) return null;
    const k = knownString(b, spanStart, s);
    if (k === '__proto__') return null;
    const v = b[s];
    if (v === 0xc2 || v === 0xc3) {
      options[k] = v === 0xc3;
      p = s + 1;
    } else if (v !== undefined && v >= 0xa0 && v <= 0xbf) {
      const e = strSpan(b, s, bodyStart);
      if (e < 0) return null;
      options[k] = knownString(b, spanStart, e);
      p = e;
    } else {
      const u = uintAt(b, s, bodyStart);
      if (u < 0) return null;
      options[k] = u;
      p = uintEnd;
    }
  }
  if (p !== bodyStart) return null;
  return { type: KV_PUT, requestId, bucket, key, options, body: EMPTY };
}
