/**
 * Records of the kv log. They use the message log's framing (storage/format.ts:
 * u32 magic | u32 len | u32 crc32c | u8 type | u64 id | payload, little-endian),
 * so the same writer, segment files and torn-tail-tolerant scanner serve both;
 * the type bytes differ so that neither log can mistake the other's records.
 *
 * REVISION (PUT, DEL, PURGE, EXPIRED), id = revision:
 *   u8 bucketLen, bucket, u16 keyLen, key, f64 createdAt, f64 expiresAt (0 = never), value (to the end).
 * BUCKET, id = the bucket's last revision when written: u8 nameLen, name, msgpack config map.
 * BUCKET_DELETE, id 0: u8 nameLen, name.
 */
import { pack, unpack } from '@warren/protocol';
import { crc32c } from '@node-rs/crc32';
import { crc32cRange, finish, RECORD_HEADER_SIZE, RECORD_MAGIC, RECORD_PREFIX, recordId, recordType, writeU64, type EncodedRecord } from '../storage/format.js';
import type { SlabRecord } from '../storage/log-writer.js';
import type { KvOp } from './bucket.js';
import type { BucketConfig } from './options.js';

export const KvRecordType = {
  PUT: 0x41,
  DEL: 0x42,
  PURGE: 0x43,
  EXPIRED: 0x44,
  BUCKET: 0x48,
  BUCKET_DELETE: 0x49,
} as const;

const opType: Record<KvOp, number> = { put: KvRecordType.PUT, del: KvRecordType.DEL, purge: KvRecordType.PURGE, expired: KvRecordType.EXPIRED };
const typeOp = new Map<number, KvOp>(Object.entries(opType).map(([op, t]) => [t, op as KvOp]));

/** Values up to this size are copied next to the header (one iovec); larger ones are written as they are. */
const INLINE_VALUE_MAX = 4096;

function head(type: number, id: number, bucket: string, extra: number): { buf: Buffer; at: number } {
  const nameLen = Buffer.byteLength(bucket);
  const buf = Buffer.allocUnsafe(RECORD_HEADER_SIZE + 1 + nameLen + extra);
  buf.writeUInt8(type, 12);
  buf.writeUInt32LE(id % 0x1_0000_0000, 13);
  buf.writeUInt32LE(Math.floor(id / 0x1_0000_0000), 17);
  buf.writeUInt8(nameLen, RECORD_HEADER_SIZE);
  buf.write(bucket, RECORD_HEADER_SIZE + 1, 'latin1');
  return { buf, at: RECORD_HEADER_SIZE + 1 + nameLen };
}

export interface RevisionFields {
  op: KvOp;
  rev: number;
  key: string;
  createdAt: number;
  expiresAt: number;
  value: Buffer | null;
}

export function encodeRevision(bucket: string, r: RevisionFields): EncodedRecord {
  const value = r.value;
  const inline = value !== null && value.length <= INLINE_VALUE_MAX;
  const { buf, at } = head(opType[r.op], r.rev, bucket, 2 + r.key.length + 16 + (inline ? value.length : 0));
  buf.writeUInt16LE(r.key.length, at);
  buf.write(r.key, at + 2, 'latin1'); // keys are ASCII (keys.ts)
  let p = at + 2 + r.key.length;
  buf.writeDoubleLE(r.createdAt, p);
  buf.writeDoubleLE(r.expiresAt, p + 8);
  p += 16;
  if (inline) {
    value.copy(buf, p);
    return finish(buf, null);
  }
  return finish(buf, value);
}

/**
 * A revision's record, written straight into the log writer's slab (LogWriter.appendRecord):
 * the same bytes as encodeRevision without a buffer, a name encoding and a native CRC call
 * per record. One instance is reused: set() it, append it, and it is free again.
 */
export class RevisionRecord implements SlabRecord {
  length = 0;
  headLength = 0;
  tail: Buffer | null = null;
  private type = 0;
  private rev = 0;
  private name: Buffer = Buffer.alloc(0);
  private key = '';
  private createdAt = 0;
  private expiresAt = 0;
  private value: Buffer | null = null;

  /** `name`: the bucket name's bytes (Bucket.nameBytes; names are ASCII, keys.ts). */
  set(name: Buffer, r: RevisionFields): this {
    const value = r.value;
    const inline = value === null || value.length <= INLINE_VALUE_MAX;
    this.type = opType[r.op];
    this.rev = r.rev;
    this.name = name;
    this.key = r.key;
    this.createdAt = r.createdAt;
    this.expiresAt = r.expiresAt;
    this.value = value;
    this.tail = inline ? null : value;
    this.headLength = RECORD_HEADER_SIZE + 1 + name.length + 2 + r.key.length + 16 + (inline && value !== null ? value.length : 0);
    this.length = this.headLength + (inline || value === null ? 0 : value.length);
    return this;
  }

  write(buf: Buffer, at: number): void {
    const start = at;
    const end = at + this.headLength;
    buf[at + 12] = this.type;
    writeU64(buf, this.rev, at + 13);
    const name = this.name;
    at += RECORD_HEADER_SIZE;
    buf[at++] = name.length;
    for (let i = 0; i < name.length; i++) buf[at++] = name[i]!;
    const key = this.key;
    const n = key.length;
    buf[at] = n;
    buf[at + 1] = n >>> 8;
    at += 2;
    // Keys are ASCII (keys.ts): one byte per character.
    if (n <= 64) for (let i = 0; i < n; i++) buf[at + i] = key.charCodeAt(i);
    else buf.write(key, at, 'latin1');
    at += n;
    buf.writeDoubleLE(this.createdAt, at);
    buf.writeDoubleLE(this.expiresAt, at + 8);
    at += 16;
    const value = this.value;
    if (this.tail === null && value !== null) {
      if (value.length <= 32) for (let i = 0; i < value.length; i++) buf[at + i] = value[i]!;
      else buf.set(value, at);
    }
    buf.writeUInt32LE(RECORD_MAGIC, start);
    buf.writeUInt32LE(this.length - RECORD_PREFIX, start + 4);
    let crc = crc32cRange(buf, start + RECORD_PREFIX, end);
    if (this.tail !== null) crc = crc32c(this.tail, crc);
    buf.writeUInt32LE(crc, start + 8);
  }
}

export function encodeBucket(name: string, config: BucketConfig, lastRevision: number): EncodedRecord {
  const meta = pack(config);
  const { buf, at } = head(KvRecordType.BUCKET, lastRevision, name, meta.length);
  meta.copy(buf, at);
  return finish(buf, null);
}

export function encodeBucketDelete(name: string): EncodedRecord {
  return finish(head(KvRecordType.BUCKET_DELETE, 0, name, 0).buf, null);
}

export type DecodedRecord =
  | { kind: 'revision'; bucket: string; fields: RevisionFields }
  | { kind: 'bucket'; bucket: string; config: Record<string, unknown>; lastRevision: number }
  | { kind: 'bucket-delete'; bucket: string };

/** Decodes a record already validated by validRecordAt. The value is copied out of buf. Throws RangeError when malformed. */
export function decodeRecord(buf: Buffer, pos: number, length: number): DecodedRecord {
  const end = pos + length;
  const type = recordType(buf, pos);
  const id = recordId(buf, pos);
  let at = pos + RECORD_HEADER_SIZE;
  const nameLen = buf.readUInt8(at);
  if (at + 1 + nameLen > end) throw new RangeError('bucket name past record end');
  const bucket = buf.toString('latin1', at + 1, at + 1 + nameLen);
  at += 1 + nameLen;
  if (type === KvRecordType.BUCKET) {
    return { kind: 'bucket', bucket, config: unpack(buf.subarray(at, end)) as Record<string, unknown>, lastRevision: id };
  }
  if (type === KvRecordType.BUCKET_DELETE) return { kind: 'bucket-delete', bucket };
  const op = typeOp.get(type);
  if (!op) throw new RangeError(`unknown kv record type ${type}`);
  const keyLen = buf.readUInt16LE(at);
  const key = buf.toString('latin1', at + 2, at + 2 + keyLen);
  at += 2 + keyLen;
  if (at + 16 > end) throw new RangeError('revision fields past record end');
  const createdAt = buf.readDoubleLE(at);
  const expiresAt = buf.readDoubleLE(at + 8);
  at += 16;
  const value = op === 'put' ? Buffer.from(buf.subarray(at, end)) : null;
  return { kind: 'revision', bucket, fields: { op, rev: id, key, createdAt, expiresAt, value } };
}
