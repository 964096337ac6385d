/**
 * One MessagePack configuration for the whole protocol: plain maps and arrays
 * that any standard msgpack library reads (no msgpackr records or bundled
 * strings), `undefined` written as nil, 64-bit integers read without loss
 * (BigInt beyond 2^53),
 * binary values copied out of the received bytes, and every integral number
 * written as a MessagePack int (int64/uint64 beyond 32 bits, never float64).
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
  const out = packr.pack(value, RESET_BUFFER_MODE) as Buffer;
  if (out.indexOf(0xcb) !== -1) integralFloatsToInts(out);
  return out;
}

/** Encodes into a buffer the caller may keep. */
export function pack(value: unknown): Buffer {
  const out = Buffer.from(packr.pack(value));
  if (out.indexOf(0xcb) !== -1) integralFloatsToInts(out);
  return out;
}

const TWO_32 = 2 ** 32;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;

/**
 * msgpackr writes every number outside the int32/uint32 range as float64
 * (`cb`), integers included. JavaScript cannot tell 2^40 from 2^40.0, so the
 * protocol's rule (spec 3, "Integers") is: an integral number is an integer.
 * This pass rewrites, in place, each float64 whose value is an integer within
 * the 64-bit range as uint64 (`cf`) or, when negative, int64 (`d3`): the same
 * 9 bytes, so nothing moves. Such a value never fits 32 bits (msgpackr wrote
 * it as float64 because it did not), so 64 bits is also the smallest width.
 * Other floats (1.5, 2^64, NaN) stay float64. Callers skip the pass when the
 * bytes hold no 0xcb at all, the usual case.
 */
export function integralFloatsToInts(b: Buffer): void {
  const end = b.length;
  let p = 0;
  // Values still to read: the top-level one plus every element and map entry announced so far.
  let pending = 1;
  while (pending > 0 && p < end) {
    pending--;
    const t = b[p++]!;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue;
    if (t <= 0x8f) {
      pending += 2 * (t & 0x0f);
      continue;
    }
    if (t <= 0x9f) {
      pending += t & 0x0f;
      continue;
    }
    if (t <= 0xbf) {
      p += t & 0x1f;
      continue;
    }
    switch (t) {
      case 0xcb: {
        const v = b.readDoubleBE(p);
        if (Number.isInteger(v) && v < TWO_64 && v >= -TWO_63) {
          // Both halves are exact: dividing an integral float64 by 2^32 only moves its exponent.
          const hi = Math.floor(v / TWO_32);
          b[p - 1] = v >= 0 ? 0xcf : 0xd3;
          if (v >= 0) b.writeUInt32BE(hi, p);
          else b.writeInt32BE(hi, p);
          b.writeUInt32BE(v - hi * TWO_32, p + 4);
        }
        p += 8;
        break;
      }
      case 0xc4:
      case 0xd9:
        p += 1 + b[p]!;
        break;
      case 0xc5:
      case 0xda:
        p += 2 + b.readUInt16BE(p);
        break;
      case 0xc6:
      case 0xdb:
        p += 4 + b.readUInt32BE(p);
        break;
      case 0xcc:
      case 0xd0:
        p += 1;
        break;
      case 0xcd:
      case 0xd1:
        p += 2;
        break;
      case 0xca:
      case 0xce:
      case 0xd2:
        p += 4;
        break;
      case 0xcf:
      case 0xd3:
        p += 8;
        break;
      case 0xdc:
        pending += b.readUInt16BE(p);
        p += 2;
        break;
      case 0xdd:
        pending += b.readUInt32BE(p);
        p += 4;
        break;
      case 0xde:
        pending += 2 * b.readUInt16BE(p);
        p += 2;
        break;
      case 0xdf:
        pending += 2 * b.readUInt32BE(p);
        p += 4;
        break;
      default:
        // Extension types are never written (useRecords: false, moreTypes: false); stop rather than guess.
        return;
    }
  }
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
