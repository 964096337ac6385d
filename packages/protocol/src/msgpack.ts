/**
 * One MessagePack configuration for the whole protocol: plain maps and arrays
 * that any standard msgpack library reads (no msgpackr records or bundled
 * strings), `undefined` written as nil, 64-bit integers read without loss
 * (BigInt beyond 2^53),
 * binary values copied out of the received bytes.
 */
import { Packr, Unpackr, RESET_BUFFER_MODE } from 'msgpackr';

const options = {
  useRecords: false,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  variableMapSize: true,
  // int64/uint64 within ±2^53 read as numbers, beyond as BigInt: never rounded (spec 3, "Integers").
  // ('auto' is supported by msgpackr 2.x but missing from its type declarations.)
  int64AsType: 'auto' as 'number',
  moreTypes: false,
  // Binary header values get their own bytes: a view would keep the whole read buffer alive.
  copyBuffers: true,
} as const;

export const packr = new Packr(options);
export const unpackr = new Unpackr(options);

/**
 * Encodes into msgpackr's shared scratch buffer. The result is only valid
 * until the next call: copy it out at once.
 */
export function packScratch(value: unknown): Buffer {
  return packr.pack(value, RESET_BUFFER_MODE) as Buffer;
}

/** Encodes into a buffer the caller may keep. */
export function pack(value: unknown): Buffer {
  return Buffer.from(packr.pack(value));
}

export function unpack(buffer: Buffer): unknown {
  return unpackr.unpack(buffer);
}

/**
 * Decodes the one value in buffer[start, end). Cheaper than unpack(subarray):
 * msgpackr caches a DataView on the buffer it is given, so a received chunk
 * gets one DataView instead of one Buffer view and one DataView per frame.
 */
export function unpackRange(buffer: Buffer, start: number, end: number): unknown {
  return unpackr.unpack(buffer, { start, end });
}
