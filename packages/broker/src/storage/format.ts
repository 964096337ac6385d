/**
 * On-disk layout of message segments (all integers little-endian).
 *
 * Segment header (32 B): magic "WSEG" | u16 version | u16 flags | u64 segment no |
 *   u64 next id at creation | u32 reserved | u32 crc32c(bytes 0..28).
 * Record: u32 RECORD_MAGIC | u32 len | u32 crc32c(next len bytes) | u8 type | u64 id | payload.
 *   The CRC covers everything after it (as Kafka's record batch does); the per-record
 *   magic lets recovery resynchronise after a corrupt length field.
 * MESSAGE / COPY payload: u16 nQueues, nQueues x (u16 nameLen, name, u32 deliveryCount),
 *   u32 metaLen, msgpack [exchange, routingKey, properties], body (raw, to the end).
 * SETTLE / DELIVERED / DROP_QUEUE payload: the queue name (utf8, to the end).
 * SETTLE_IDS / DELIVERED_IDS (format version 2; record id 0): u16 nameLen, name (utf8),
 *   then u64 message ids to the end: what n SETTLE / DELIVERED records of one queue say.
 */
import { crc32c } from '@node-rs/crc32';

export const SEGMENT_MAGIC = 0x47455357; // "WSEG" read little-endian
/** Segment format version of the KV logs (which share this layout and the log writer). */
export const FORMAT_VERSION = 1;
/**
 * Segment format version of the message log: 2 adds SETTLE_IDS and DELIVERED_IDS. A server
 * that reads only version 1 refuses such a segment instead of skipping those records (which
 * would bring acknowledged messages back). Recovery reads versions 1 and 2.
 */
export const MESSAGE_FORMAT_VERSION = 2;
export const SEGMENT_HEADER_SIZE = 32;
export const RECORD_MAGIC = 0x1e5257c7; // bytes c7 57 52 1e: not ASCII, not zero
/** magic + len + crc: the part of a record header the CRC does not cover. */
export const RECORD_PREFIX = 12;
/** prefix + type + id. */
export const RECORD_HEADER_SIZE = 21;
/** Upper bound for a sane length field (a corrupt one is usually huge). */
export const MAX_RECORD_LEN = 0x7fff_0000;

export const RecordType = {
  /** A newly published message. */
  MESSAGE: 1,
  /** A still-live message re-appended by compaction: replaces the earlier state of the id. */
  COPY: 2,
  SETTLE: 3,
  DELIVERED: 4,
  DROP_QUEUE: 5,
  /** Several SETTLEs of one queue in one record (format version 2). */
  SETTLE_IDS: 6,
  /** Several DELIVERED marks of one queue in one record (format version 2). */
  DELIVERED_IDS: 7,
} as const;
export type RecordTypeValue = (typeof RecordType)[keyof typeof RecordType];

const TWO_32 = 0x1_0000_0000;
const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(RECORD_MAGIC, 0);
export const RECORD_MAGIC_BYTES: Buffer = MAGIC_BYTES;

export function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % TWO_32, at);
  buf.writeUInt32LE(Math.floor(value / TWO_32), at + 4);
}
export function readU64(buf: Buffer, at: number): number {
  const lo = buf.readUInt32LE(at);
  const hi = buf.readUInt32LE(at + 4);
  // Keep small ids small integers (no float arithmetic): faster as Map keys.
  return hi === 0 ? lo : lo + hi * TWO_32;
}

export function segmentFileName(no: number): string {
  return `${String(no).padStart(16, '0')}.seg`;
}
const SEGMENT_NAME = /^(\d{16})\.seg$/;
export function parseSegmentFileName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

export function encodeSegmentHeader(no: number, nextId: number, version: number = FORMAT_VERSION): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_SIZE);
  buf.writeUInt32LE(SEGMENT_MAGIC, 0);
  buf.writeUInt16LE(version, 4);
  writeU64(buf, no, 8);
  writeU64(buf, nextId, 16);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 28)), 28);
  return buf;
}

export type SegmentHeader = { ok: true; version: number; no: number; nextId: number } | { ok: false; reason: string };

export function decodeSegmentHeader(buf: Buffer): SegmentHeader {
  if (buf.length < SEGMENT_HEADER_SIZE) return { ok: false, reason: 'short header' };
  if (buf.readUInt32LE(0) !== SEGMENT_MAGIC) return { ok: false, reason: 'bad magic' };
  if (buf.readUInt32LE(28) !== crc32c(buf.subarray(0, 28))) return { ok: false, reason: 'bad header checksum' };
  return { ok: true, version: buf.readUInt16LE(4), no: readU64(buf, 8), nextId: readU64(buf, 16) };
}

/** An encoded record: buffers to write in order (bodies are not copied when large). */
export interface EncodedRecord {
  bufs: Buffer[];
  length: number;
}

/** Bodies up to this size are copied next to the header: fewer iovecs per writev. */
const INLINE_BODY_MAX = 4096;

/** Seals a record: writes magic, length and the CRC of everything after it (body may be a separate buffer). */
export function finish(head: Buffer, body: Buffer | null): EncodedRecord {
  const len = head.length - RECORD_PREFIX + (body ? body.length : 0);
  head.writeUInt32LE(RECORD_MAGIC, 0);
  head.writeUInt32LE(len, 4);
  let crc = crc32c(head.subarray(RECORD_PREFIX));
  if (body) crc = crc32c(body, crc);
  head.writeUInt32LE(crc, 8);
  return { bufs: body ? [head, body] : [head], length: head.length + (body ? body.length : 0) };
}

/** MESSAGE or COPY. `meta` is the msgpack of [exchange, routingKey, properties], reused as is by compaction. */
export function encodeMessage(
  type: typeof RecordType.MESSAGE | typeof RecordType.COPY,
  id: number,
  queues: readonly string[],
  counts: readonly number[] | null,
  meta: Buffer,
  body: Buffer,
): EncodedRecord {
  let qBytes = 2;
  const names = queues.map((q) => Buffer.from(q, 'utf8'));
  for (const n of names) {
    if (n.length > 0xffff) throw new RangeError('queue name too long');
    qBytes += 2 + n.length + 4;
  }
  const inline = body.length <= INLINE_BODY_MAX;
  const head = Buffer.allocUnsafe(RECORD_HEADER_SIZE + qBytes + 4 + meta.length + (inline ? body.length : 0));
  head.writeUInt8(type, 12);
  writeU64(head, id, 13);
  let at = RECORD_HEADER_SIZE;
  head.writeUInt16LE(names.length, at);
  at += 2;
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    head.writeUInt16LE(n.length, at);
    n.copy(head, at + 2);
    at += 2 + n.length;
    head.writeUInt32LE(counts ? Math.min(counts[i]!, 0xffff_ffff) : 0, at);
    at += 4;
  }
  head.writeUInt32LE(meta.length, at);
  meta.copy(head, at + 4);
  at += 4 + meta.length;
  if (inline) {
    body.copy(head, at);
    return finish(head, null);
  }
  return finish(head, body);
}

/** SETTLE, DELIVERED or DROP_QUEUE (id 0). */
export function encodeQueueRecord(type: RecordTypeValue, id: number, queue: string): EncodedRecord {
  const nameLen = Buffer.byteLength(queue, 'utf8');
  const head = Buffer.allocUnsafe(RECORD_HEADER_SIZE + nameLen);
  head.writeUInt8(type, 12);
  writeU64(head, id, 13);
  head.write(queue, RECORD_HEADER_SIZE, 'utf8');
  return finish(head, null);
}

/**
 * Length of the valid record starting at `pos` (magic, sane length within `end`,
 * CRC matches), or -1. Never throws.
 */
export function validRecordAt(buf: Buffer, pos: number, end: number): number {
  if (end - pos < RECORD_HEADER_SIZE) return -1;
  if (buf.readUInt32LE(pos) !== RECORD_MAGIC) return -1;
  const len = buf.readUInt32LE(pos + 4);
  if (len < RECORD_HEADER_SIZE - RECORD_PREFIX || len > MAX_RECORD_LEN || len > end - pos - RECORD_PREFIX) return -1;
  const crc = crc32c(buf.subarray(pos + RECORD_PREFIX, pos + RECORD_PREFIX + len));
  if (crc !== buf.readUInt32LE(pos + 8)) return -1;
  return RECORD_PREFIX + len;
}

export function recordType(buf: Buffer, pos: number): number {
  return buf.readUInt8(pos + 12);
}
export function recordId(buf: Buffer, pos: number): number {
  return readU64(buf, pos + 13);
}

/** Parsed MESSAGE / COPY payload; offsets are absolute in the buffer given. */
export interface MessageLayout {
  queues: string[];
  counts: number[];
  metaStart: number;
  metaEnd: number;
  bodyStart: number;
  bodyEnd: number;
}

/** Parses a record already validated by validRecordAt. Throws RangeError on an inconsistent payload. */
export function messageLayout(buf: Buffer, pos: number, recordLength: number, intern?: (s: string) => string): MessageLayout {
  const end = pos + recordLength;
  let at = pos + RECORD_HEADER_SIZE;
  const n = buf.readUInt16LE(at);
  at += 2;
  const queues: string[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = buf.readUInt16LE(at);
    if (at + 2 + len + 4 > end) throw new RangeError('queue list past record end');
    const name = buf.toString('utf8', at + 2, at + 2 + len);
    queues.push(intern ? intern(name) : name);
    at += 2 + len;
    counts.push(buf.readUInt32LE(at));
    at += 4;
  }
  const metaLen = buf.readUInt32LE(at);
  const metaStart = at + 4;
  if (metaStart + metaLen > end) throw new RangeError('meta past record end');
  return { queues, counts, metaStart, metaEnd: metaStart + metaLen, bodyStart: metaStart + metaLen, bodyEnd: end };
}

export function queueRecordName(buf: Buffer, pos: number, recordLength: number): string {
  return buf.toString('utf8', pos + RECORD_HEADER_SIZE, pos + recordLength);
}

/** Parses a SETTLE_IDS / DELIVERED_IDS record already validated by validRecordAt; calls onId for each id. Throws RangeError on an inconsistent payload. */
export function idsRecord(buf: Buffer, pos: number, recordLength: number, onId: (queue: string, id: number) => void): void {
  const end = pos + recordLength;
  const at = pos + RECORD_HEADER_SIZE;
  if (at + 2 > end) throw new RangeError('ids record too short');
  const nameLen = buf.readUInt16LE(at);
  const first = at + 2 + nameLen;
  if (first > end || (end - first) % 8 !== 0) throw new RangeError('ids record of a bad length');
  const queue = buf.toString('utf8', at + 2, first);
  for (let p = first; p < end; p += 8) onId(queue, readU64(buf, p));
}

/** Bytes of a SETTLE_IDS / DELIVERED_IDS record holding n ids of a queue name of these utf8 bytes. */
export function idsRecordLength(name: Buffer, n: number): number {
  return RECORD_HEADER_SIZE + 2 + name.length + 8 * n;
}

/** Writes a SETTLE_IDS or DELIVERED_IDS record of ids[from, to) at buf[at..]; returns its end. */
export function writeIdsRecord(
  buf: Buffer,
  at: number,
  type: typeof RecordType.SETTLE_IDS | typeof RecordType.DELIVERED_IDS,
  name: Buffer,
  ids: readonly number[],
  from: number,
  to: number,
): number {
  const start = at;
  buf[at + 12] = type;
  putU64(buf, 0, at + 13);
  at += RECORD_HEADER_SIZE;
  buf[at] = name.length;
  buf[at + 1] = name.length >>> 8;
  putBytes(buf, name, at + 2);
  at += 2 + name.length;
  for (let i = from; i < to; i++) {
    putU64(buf, ids[i]!, at);
    at += 8;
  }
  putU32(buf, RECORD_MAGIC, start);
  putU32(buf, at - start - RECORD_PREFIX, start + 4);
  putU32(buf, crc32cRange(buf, start + RECORD_PREFIX, at), start + 8);
  return at;
}

// -- encoding straight into a caller's buffer (the log writer's slab) ------------------
//
// Same bytes as encodeMessage / encodeQueueRecord (test/storage/slab-encoding.test.ts
// checks it), without a buffer, a name copy and a native call per record.

/** Up to this many bytes the CRC is computed in JavaScript: the native call costs ~300-700 ns, more than it saves. */
const JS_CRC_MAX = 512;

const CRC_TABLE = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** CRC32C (Castagnoli) of buf[start, end), slicing-by-8: for short ranges, where the native call's overhead dominates. */
export function crc32cJs(buf: Uint8Array, start: number, end: number): number {
  const t = CRC_TABLE;
  let c = -1;
  let s = start;
  while (s + 8 <= end) {
    const a = c ^ (buf[s]! | (buf[s + 1]! << 8) | (buf[s + 2]! << 16) | (buf[s + 3]! << 24));
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + buf[s + 4]!]! ^
      t[512 + buf[s + 5]!]! ^
      t[256 + buf[s + 6]!]! ^
      t[buf[s + 7]!]!;
    s += 8;
  }
  while (s < end) c = t[(c ^ buf[s++]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC32C of buf[start, end), by whichever way is cheaper for the length. */
export function crc32cRange(buf: Buffer, start: number, end: number): number {
  return end - start <= JS_CRC_MAX ? crc32cJs(buf, start, end) : crc32c(buf.subarray(start, end));
}

const NAME_CACHE_MAX = 4096;
const nameBytesCache = new Map<string, Buffer>();

/** The utf8 bytes of a queue name, cached (names repeat on every record). Throws RangeError past 65535 bytes. */
export function queueNameBytes(name: string): Buffer {
  let b = nameBytesCache.get(name);
  if (b === undefined) {
    b = Buffer.from(name, 'utf8');
    if (b.length > 0xffff) throw new RangeError('queue name too long');
    if (nameBytesCache.size >= NAME_CACHE_MAX) nameBytesCache.clear();
    nameBytesCache.set(name, b);
  }
  return b;
}

/** Bytes of a MESSAGE / COPY record with these queues (their utf8 bytes), meta and body length. */
export function messageRecordLength(names: readonly Buffer[], metaLength: number, bodyLength: number): number {
  let n = RECORD_HEADER_SIZE + 2 + 4 + metaLength + bodyLength;
  for (const b of names) n += 2 + b.length + 4;
  return n;
}

/** Whether writeMessageRecord copies a body of this size (else the body is written as its own buffer). */
export function inlinesBody(bodyLength: number): boolean {
  return bodyLength <= INLINE_BODY_MAX;
}

function putU64(buf: Buffer, value: number, at: number): void {
  const lo = value % TWO_32;
  const hi = Math.floor(value / TWO_32);
  buf[at] = lo;
  buf[at + 1] = lo >>> 8;
  buf[at + 2] = lo >>> 16;
  buf[at + 3] = lo >>> 24;
  buf[at + 4] = hi;
  buf[at + 5] = hi >>> 8;
  buf[at + 6] = hi >>> 16;
  buf[at + 7] = hi >>> 24;
}
function putU32(buf: Buffer, value: number, at: number): void {
  buf[at] = value;
  buf[at + 1] = value >>> 8;
  buf[at + 2] = value >>> 16;
  buf[at + 3] = value >>> 24;
}
function putBytes(buf: Buffer, src: Uint8Array, at: number): void {
  const n = src.length;
  if (n <= 32) for (let i = 0; i < n; i++) buf[at + i] = src[i]!;
  else buf.set(src, at);
}

/**
 * Writes a MESSAGE or COPY record at buf[at..]: the whole record when the body is
 * inlined (inlinesBody), else everything but the body, which the caller writes
 * right after as its own buffer (the CRC covers it). Returns the end of what was written.
 */
export function writeMessageRecord(
  buf: Buffer,
  at: number,
  type: typeof RecordType.MESSAGE | typeof RecordType.COPY,
  id: number,
  names: readonly Buffer[],
  counts: readonly number[] | null,
  meta: Buffer,
  body: Buffer,
): number {
  const start = at;
  buf[at + 12] = type;
  putU64(buf, id, at + 13);
  at += RECORD_HEADER_SIZE;
  buf[at] = names.length;
  buf[at + 1] = names.length >>> 8;
  at += 2;
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    buf[at] = n.length;
    buf[at + 1] = n.length >>> 8;
    putBytes(buf, n, at + 2);
    at += 2 + n.length;
    putU32(buf, counts ? Math.min(counts[i]!, 0xffff_ffff) : 0, at);
    at += 4;
  }
  putU32(buf, meta.length, at);
  putBytes(buf, meta, at + 4);
  at += 4 + meta.length;
  const inline = inlinesBody(body.length);
  if (inline) {
    putBytes(buf, body, at);
    at += body.length;
  }
  putU32(buf, RECORD_MAGIC, start);
  putU32(buf, at - start - RECORD_PREFIX + (inline ? 0 : body.length), start + 4);
  let crc = crc32cRange(buf, start + RECORD_PREFIX, at);
  if (!inline) crc = crc32c(body, crc);
  putU32(buf, crc, start + 8);
  return at;
}

/** Bytes of a SETTLE / DELIVERED / DROP_QUEUE record for a queue name of these utf8 bytes. */
export function queueRecordLength(name: Buffer): number {
  return RECORD_HEADER_SIZE + name.length;
}

/** Writes a SETTLE, DELIVERED or DROP_QUEUE record at buf[at..]; returns its end. */
export function writeQueueRecord(buf: Buffer, at: number, type: RecordTypeValue, id: number, name: Buffer): number {
  const end = at + RECORD_HEADER_SIZE + name.length;
  putU32(buf, RECORD_MAGIC, at);
  putU32(buf, end - at - RECORD_PREFIX, at + 4);
  buf[at + 12] = type;
  putU64(buf, id, at + 13);
  putBytes(buf, name, at + RECORD_HEADER_SIZE);
  putU32(buf, crc32cRange(buf, at + RECORD_PREFIX, end), at + 8);
  return end;
}
