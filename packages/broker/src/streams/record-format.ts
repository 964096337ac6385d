/**
 * On-disk layout of a stream's segment files (all integers little-endian).
 *
 * A stream is a folder of segments named by their first offset. Records carry their
 * own offset and broker timestamp, so a segment can be read, checked and indexed
 * without any other file; the CRC covers everything after it, and the per-record
 * magic plus consecutive offsets tell recovery where a torn tail starts.
 *
 * Segment header (32 B): magic "WSTM" | u16 version | u16 flags | u64 base offset |
 *   u64 created at (ms) | u32 reserved | u32 crc32c(bytes 0..28).
 * Record: u32 RECORD_MAGIC | u32 len | u32 crc32c(next len bytes) | u64 offset |
 *   u64 timestamp (ms) | u32 metaLen | msgpack [exchange, routingKey, properties] | body.
 *
 * The tail of a record (msgpack meta, then body) is the tail of its STREAM_DELIVER frame:
 * replay sends it as stored behind a per-delivery prelude, tag, offset and timestamp
 * (FrameWriter.sendSpliced). Recovery checks the CRC of every record it scans; replay
 * checks only the structure (see StreamReader.fill for why that is enough).
 */
import { crc32c } from '@node-rs/crc32';
import { readU64, writeU64 } from '../storage/format.js';

export const STREAM_SEGMENT_MAGIC = 0x4d545357; // "WSTM" read little-endian
export const STREAM_FORMAT_VERSION = 1;
export const STREAM_SEGMENT_HEADER_SIZE = 32;
export const STREAM_RECORD_MAGIC = 0x5a3e17b3;
/** magic + len + crc: the part of a record the CRC does not cover. */
export const RECORD_PREFIX = 12;
/** prefix + offset + timestamp + metaLen. */
export const RECORD_HEADER_SIZE = 32;
const MAX_RECORD_LEN = 0x7fff_0000;
/** Bodies up to this size are copied next to the header: one buffer per record. */
const INLINE_BODY_MAX = 4096;

export { readU64, writeU64 };

export function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}
export function indexName(base: number): string {
  return `${String(base).padStart(20, '0')}.idx`;
}
const SEGMENT_NAME = /^(\d{20})\.seg$/;
export function parseSegmentName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

export function encodeSegmentHeader(base: number, createdAt: number): Buffer {
  const buf = Buffer.alloc(STREAM_SEGMENT_HEADER_SIZE);
  buf.writeUInt32LE(STREAM_SEGMENT_MAGIC, 0);
  buf.writeUInt16LE(STREAM_FORMAT_VERSION, 4);
  writeU64(buf, base, 8);
  writeU64(buf, createdAt, 16);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 28)), 28);
  return buf;
}

/** The base offset in a valid segment header, or null. */
export function decodeSegmentHeader(buf: Buffer): number | null {
  if (buf.length < STREAM_SEGMENT_HEADER_SIZE) return null;
  if (buf.readUInt32LE(0) !== STREAM_SEGMENT_MAGIC) return null;
  if (buf.readUInt32LE(28) !== crc32c(buf.subarray(0, 28))) return null;
  return readU64(buf, 8);
}

/** One record ready to write: one buffer for small bodies, two for large ones (the body is not copied). */
export interface EncodedStreamRecord {
  bufs: Buffer[];
  length: number;
}

/**
 * Encodes a record. `meta` is the msgpack of [exchange, routingKey, properties].
 * `alloc` gives the bytes of its head (the log carves them from one slab, so that
 * consecutive records are contiguous and go out in few iovecs).
 */
export function encodeRecord(offset: number, timestamp: number, meta: Buffer, body: Buffer, alloc: (n: number) => Buffer = Buffer.allocUnsafe): EncodedStreamRecord {
  const inline = body.length <= INLINE_BODY_MAX;
  const head = alloc(RECORD_HEADER_SIZE + meta.length + (inline ? body.length : 0));
  const len = RECORD_HEADER_SIZE - RECORD_PREFIX + meta.length + body.length;
  head.writeUInt32LE(STREAM_RECORD_MAGIC, 0);
  head.writeUInt32LE(len, 4);
  writeU64(head, offset, 12);
  writeU64(head, timestamp, 20);
  head.writeUInt32LE(meta.length, 28);
  meta.copy(head, RECORD_HEADER_SIZE);
  if (inline) body.copy(head, RECORD_HEADER_SIZE + meta.length);
  let crc = crc32c(head.subarray(RECORD_PREFIX));
  if (!inline) crc = crc32c(body, crc);
  head.writeUInt32LE(crc, 8);
  return inline ? { bufs: [head], length: head.length } : { bufs: [head, body], length: head.length + body.length };
}

/**
 * Total length of the record at `pos` if the bytes up to `end` hold all of it, or:
 * -1 when the bytes there are not a valid record (bad magic, length or CRC),
 * -(needed) - 2 when the record looks valid so far but needs `needed` bytes in all.
 * With `verifyCrc` false only the structure is checked (magic, lengths): replay reads
 * only bytes that recovery or the writer already vouched for (see StreamReader).
 */
export function recordLengthAt(buf: Buffer, pos: number, end: number, verifyCrc = true): number {
  if (end - pos < RECORD_PREFIX) return -(RECORD_HEADER_SIZE) - 2;
  if (buf.readUInt32LE(pos) !== STREAM_RECORD_MAGIC) return -1;
  const len = buf.readUInt32LE(pos + 4);
  if (len < RECORD_HEADER_SIZE - RECORD_PREFIX || len > MAX_RECORD_LEN) return -1;
  const total = RECORD_PREFIX + len;
  if (end - pos < total) return -total - 2;
  if (verifyCrc && crc32c(buf.subarray(pos + RECORD_PREFIX, pos + total)) !== buf.readUInt32LE(pos + 8)) return -1;
  const metaLen = buf.readUInt32LE(pos + 28);
  if (RECORD_HEADER_SIZE + metaLen > total) return -1;
  return total;
}

export function recordOffset(buf: Buffer, pos: number): number {
  return readU64(buf, pos + 12);
}
export function recordTimestamp(buf: Buffer, pos: number): number {
  return readU64(buf, pos + 20);
}

/** A record read back from disk; meta and body are views into the read buffer. */
export interface StoredRecord {
  offset: number;
  timestamp: number;
  meta: Buffer;
  body: Buffer;
}

/** Views of a record already checked by recordLengthAt. */
export function recordAt(buf: Buffer, pos: number, length: number): StoredRecord {
  const metaLen = buf.readUInt32LE(pos + 28);
  const metaStart = pos + RECORD_HEADER_SIZE;
  return {
    offset: readU64(buf, pos + 12),
    timestamp: readU64(buf, pos + 20),
    meta: buf.subarray(metaStart, metaStart + metaLen),
    body: buf.subarray(metaStart + metaLen, pos + length),
  };
}
