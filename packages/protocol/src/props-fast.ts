/**
 * Message properties in their usual shape, encoded and decoded without msgpackr:
 * a plain object of at most 15 keys (a MessagePack fixmap) whose keys are ASCII
 * strings of up to 255 bytes and whose values are booleans, nil (null or
 * undefined), safe integers, or ASCII strings of up to 255 bytes. That covers
 * `{ persistent: true }` and what the task layer publishes (persistent,
 * contentType, messageId, priority). Byte for byte what the general path
 * (packScratch, then integralFloatsToInts) writes, and deep-equal, key order
 * included, to what it builds (unpackRange, then parseFrame's properties check):
 * the tests compare both. Every other shape (nested headers, floats, integers
 * beyond 2^53, binary, non-ASCII strings, 16 keys or more, a `__proto__` key,
 * a nil value whose key also has a value) is left to the general path: the
 * encoder reports -1, the decoder undefined.
 *
 * No wire change: this is the encoding protocol-spec 3 already describes.
 */
import type { MessageProperties } from './frames.js';
import { INVALID_PROPERTY, propertyChecks } from './properties.js';
import { writeUint } from './writer.js';

const TWO_32 = 2 ** 32;

/**
 * Shared properties (sharedProperties): a PUBLISH whose properties field is byte for byte the
 * previous one's gets the same object, frozen, and that object carries its encoding under this
 * non-enumerable symbol (the bytes propsSize/writeProps would write for it, which are not always
 * the frame's: see sharedProperties), so deliver writes those bytes instead of encoding it again. Frozen,
 * so neither the object nor its encoding can change; for-in, spread and JSON do not see the symbol.
 */
const ENCODED: unique symbol = Symbol('warren.encodedProperties');
/** Properties fields longer than this are decoded per frame (the usual shapes are 10-60 bytes). */
const SHARE_MAX = 128;
/**
 * After this many PUBLISH frames in a row whose properties did not repeat (a publisher that sets a
 * new messageId on every message), stop comparing and copying: decode as without sharing, and try
 * again (two frames) once every SHARE_RETRY_EVERY frames, so a publisher that starts repeating
 * is shared again soon.
 */
const SHARE_GIVE_UP = 16;
const SHARE_RETRY_EVERY = 64;

/** The last properties decoded, per decoder (sharedProperties' state). */
export interface SharedProperties {
  /** Its properties field (the first `length` bytes; room for SHARE_MAX). */
  bytes: Buffer;
  length: number;
  /** The object decoded from them; null when there is nothing to share. */
  props: MessageProperties | null;
  /** Whether props is frozen and carries ENCODED (it was repeated at least once). */
  shared: boolean;
  /** Frames in a row whose properties did not repeat (see SHARE_GIVE_UP); counts on while skipping. */
  misses: number;
}

/** A decoder's sharedProperties state, empty. */
export function newSharedProperties(): SharedProperties {
  return { bytes: Buffer.allocUnsafe(SHARE_MAX), length: 0, props: null, shared: false, misses: 0 };
}

/**
 * fastProperties, except that when b[p, end) equals the bytes last decoded through `state`, the
 * object decoded then is returned again (frozen; see ENCODED). For the broker's PUBLISH frames:
 * every receiver there copies properties before changing them (dead-lettering), never mutates them.
 * A properties field seen once costs only the copy of its bytes into `state` (no allocation): the
 * object is frozen and given its encoding when the same bytes come again, so publishers that set a
 * new messageId on every message do not pay for sharing they never get.
 */
export function sharedProperties(state: SharedProperties, b: Buffer, p: number, end: number): MessageProperties | null | undefined {
  if (state.misses >= SHARE_GIVE_UP) {
    if (++state.misses < SHARE_GIVE_UP + SHARE_RETRY_EVERY) return fastProperties(b, p, end);
    state.misses = SHARE_GIVE_UP - 2; // two frames compared: one kept, the next matched against it
  }
  const n = end - p;
  const last = state.props;
  if (last !== null && n === state.length) {
    const kept = state.bytes;
    let i = 0;
    while (i < n && b[p + i] === kept[i]) i++;
    if (i === n) {
      state.misses = 0;
      if (state.shared) return last;
      // The broker's own encoding of the decoded object, not the frame's bytes: a publisher may
      // write the same map otherwise (str8, wider integers, nil-valued or repeated keys), and what
      // is delivered must not depend on sharing (a restart, a spill or dead-lettering encode again).
      const len = encode(last);
      encoded = null; // scratch no longer holds what propsSize measured
      if (len >= 0) {
        Object.defineProperty(last, ENCODED, { value: Buffer.from(scratch.subarray(0, len)), enumerable: false });
        Object.freeze(last);
        state.shared = true;
        return last;
      }
    }
  }
  const props = fastProperties(b, p, end);
  state.props = null;
  state.misses++;
  state.shared = false;
  if (props === null || props === undefined || n > SHARE_MAX || n <= 1) return props;
  if ((props as { [INVALID_PROPERTY]?: string })[INVALID_PROPERTY] !== undefined) return props;
  const kept = state.bytes;
  for (let i = 0; i < n; i++) kept[i] = b[p + i]!;
  state.length = n;
  state.props = props;
  return props;
}

/** propsSize encodes into this (15 keys and values of at most 2 + 255 bytes each fit); writeProps copies it out. */
const scratch = Buffer.allocUnsafeSlow(8 * 1024);
/** The properties whose encoding scratch holds, and its length. */
let encoded: object | null = null;
let encodedLength = 0;

/**
 * Bytes the properties take as a MessagePack value (1 for null: nil), or -1
 * when their shape is not one this module writes (the caller takes the general path).
 * Encodes them on the way (one pass), for writeProps.
 */
export function propsSize(props: MessageProperties | null): number {
  if (props === null) return 1;
  const shared = (props as { [ENCODED]?: Buffer })[ENCODED];
  if (shared !== undefined) {
    encoded = props;
    encodedLength = shared.length;
    return shared.length;
  }
  const n = encode(props);
  encoded = n < 0 ? null : props;
  encodedLength = n;
  return n;
}

/**
 * Writes the properties (nil for null) at b[p]; returns the position after them.
 * Only for properties propsSize accepted; b must have propsSize(props) bytes free at p.
 */
export function writeProps(b: Buffer, p: number, props: MessageProperties | null): number {
  if (props === null) {
    b[p] = 0xc0;
    return p + 1;
  }
  const shared = (props as { [ENCODED]?: Buffer })[ENCODED];
  // Encoded again when another frame's properties were measured in between.
  const n = shared !== undefined ? shared.length : props === encoded ? encodedLength : encode(props);
  encoded = null; // keep no message's properties alive
  const src = shared ?? scratch;
  if (n <= 32) {
    for (let i = 0; i < n; i++) b[p + i] = src[i]!;
  } else {
    src.copy(b, p, 0, n);
  }
  return p + n;
}

/** Encodes props into scratch; returns the length, or -1 for a shape left to the general path. */
function encode(props: object): number {
  if (props.constructor !== Object) return -1;
  // for-in over own keys (Object.keys' order) instead of Object.keys: no array per call.
  const b = scratch;
  let n = 0;
  let p = 1;
  for (const key in props) {
    if (!Object.hasOwn(props, key)) continue;
    if (++n > 15) return -1;
    p = writeAscii(b, p, key);
    if (p < 0) return -1;
    const v = (props as Record<string, unknown>)[key];
    if (typeof v === 'string') {
      p = writeAscii(b, p, v);
      if (p < 0) return -1;
    } else if (typeof v === 'number') {
      // Beyond 32 bits msgpackr writes a float64 that integralFloatsToInts turns into a uint64/int64.
      if (!Number.isSafeInteger(v)) return -1;
      p = writeInt(b, p, v);
    } else if (v === true) b[p++] = 0xc3;
    else if (v === false) b[p++] = 0xc2;
    else if (v === undefined || v === null) b[p++] = 0xc0;
    else return -1;
  }
  b[0] = 0x80 | n;
  return p;
}

/** An ASCII string of at most 255 characters as fixstr or str8 (as msgpackr writes it), or -1 for any other string. */
function writeAscii(b: Buffer, p: number, s: string): number {
  const n = s.length;
  if (n < 0x20) b[p++] = 0xa0 | n;
  else if (n <= 0xff) {
    b[p++] = 0xd9;
    b[p++] = n;
  } else return -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    b[p + i] = c;
  }
  return p + n;
}

/** A safe integer as msgpackr (and integralFloatsToInts beyond 32 bits) writes it: the smallest int or uint. */
function writeInt(b: Buffer, p: number, v: number): number {
  if (v >= 0) return writeUint(b, p, v); // -0 included, as msgpackr writes it: 0
  if (v >> 0 === v) {
    if (v >= -0x20) {
      b[p] = 0x100 + v;
      return p + 1;
    }
    if (v >= -0x80) {
      b[p] = 0xd0;
      b[p + 1] = v + 0x100;
      return p + 2;
    }
    if (v >= -0x8000) {
      b[p] = 0xd1;
      b.writeInt16BE(v, p + 1);
      return p + 3;
    }
    b[p] = 0xd2;
    b.writeInt32BE(v, p + 1);
    return p + 5;
  }
  const hi = Math.floor(v / TWO_32);
  b[p] = 0xd3;
  b.writeInt32BE(hi, p + 1);
  b.writeUInt32BE(v - hi * TWO_32, p + 5);
  return p + 9;
}

/** Keys of nil values in the map being decoded (they are left out, as the general path deletes them). */
const nilKeys: string[] = [];

/**
 * The properties field at b[p, end), which must end exactly at `end` (the end of
 * the frame header): null for nil, the properties object for a map of the shape
 * above, or undefined for anything else (the general path decodes it, and
 * throws its typed errors for what is malformed).
 */
export function fastProperties(b: Buffer, p: number, end: number): MessageProperties | null | undefined {
  if (p >= end) return undefined;
  const t = b[p]!;
  if (t === 0xc0) return p + 1 === end ? null : undefined;
  if (t >> 4 !== 0x8) return undefined;
  const n = t & 0x0f;
  p++;
  const obj: Record<string, unknown> = {};
  let nils = 0;
  for (let i = 0; i < n; i++) {
    const key = readAscii(b, p, end);
    if (key === undefined || key === '__proto__') return undefined;
    p = strEnd;
    if (p >= end) return undefined;
    const c = b[p++]!;
    let v: unknown;
    if (c <= 0x7f) v = c;
    else if (c >= 0xe0) v = c - 0x100;
    else if (c === 0xc3) v = true;
    else if (c === 0xc2) v = false;
    else if (c === 0xc0) {
      // Dropped, as the general path's `delete`; a key with both a nil and a value keeps the general path's order.
      if (Object.prototype.hasOwnProperty.call(obj, key)) return undefined;
      nilKeys[nils++] = key;
      continue;
    } else if ((c >= 0xa0 && c <= 0xbf) || c === 0xd9) {
      v = readAscii(b, p - 1, end);
      if (v === undefined) return undefined;
      p = strEnd;
    } else {
      v = intAt(b, c, p, end);
      if (v === undefined) return undefined;
      p = intEnd;
    }
    if (nils > 0 && nilKeys.lastIndexOf(key, nils - 1) >= 0) return undefined;
    obj[key] = v;
  }
  if (p !== end) return undefined;
  // As parseFrame's properties check: the first known key with a wrongly typed value is marked.
  for (const key in obj) {
    const check = propertyChecks[key];
    if (check !== undefined && !check(obj[key]) && (obj as { [INVALID_PROPERTY]?: string })[INVALID_PROPERTY] === undefined) {
      (obj as { [INVALID_PROPERTY]?: string })[INVALID_PROPERTY] = key;
    }
  }
  return obj as MessageProperties;
}

/** Where the integer read by intAt ends. */
let intEnd = 0;

/** The integer of type byte c whose payload starts at p (number only: within ±(2^53 - 1)), or undefined. */
function intAt(b: Buffer, c: number, p: number, end: number): number | undefined {
  switch (c) {
    case 0xcc:
      if (p + 1 > end) return undefined;
      intEnd = p + 1;
      return b[p]!;
    case 0xcd:
      if (p + 2 > end) return undefined;
      intEnd = p + 2;
      return (b[p]! << 8) | b[p + 1]!;
    case 0xce:
      if (p + 4 > end) return undefined;
      intEnd = p + 4;
      return b.readUInt32BE(p);
    case 0xd0:
      if (p + 1 > end) return undefined;
      intEnd = p + 1;
      return b.readInt8(p);
    case 0xd1:
      if (p + 2 > end) return undefined;
      intEnd = p + 2;
      return b.readInt16BE(p);
    case 0xd2:
      if (p + 4 > end) return undefined;
      intEnd = p + 4;
      return b.readInt32BE(p);
    case 0xcf:
    case 0xd3: {
      if (p + 8 > end) return undefined;
      const hi = c === 0xcf ? b.readUInt32BE(p) : b.readInt32BE(p);
      const v = hi * TWO_32 + b.readUInt32BE(p + 4);
      // Beyond 2^53 the general path may give a BigInt: leave those to it.
      if (!Number.isSafeInteger(v)) return undefined;
      intEnd = p + 8;
      return v;
    }
    default:
      return undefined;
  }
}

/** Where the string read by readAscii ends. */
let strEnd = 0;
/** Decoded short strings, by a hash of their bytes: keys and common values repeat message after message. */
const cache: string[] = new Array<string>(256).fill('\u0000');

/** The ASCII fixstr or str8 at p, or undefined (non-ASCII, other types, or past `end`). */
function readAscii(b: Buffer, p: number, end: number): string | undefined {
  if (p >= end) return undefined;
  const t = b[p]!;
  let n: number;
  if (t >= 0xa0 && t <= 0xbf) {
    n = t & 0x1f;
    p++;
  } else if (t === 0xd9 && p + 1 < end) {
    n = b[p + 1]!;
    p += 2;
  } else return undefined;
  const e = p + n;
  if (e > end) return undefined;
  let h = n;
  for (let i = p; i < e; i++) {
    const c = b[i]!;
    if (c >= 0x80) return undefined;
    h = (h * 31 + c) | 0;
  }
  strEnd = e;
  if (n === 0) return '';
  if (n > 64) return b.toString('latin1', p, e);
  const slot = h & 0xff;
  const hit = cache[slot]!;
  if (hit.length === n) {
    let i = 0;
    while (i < n && hit.charCodeAt(i) === b[p + i]) i++;
    if (i === n) return hit;
  }
  const s = b.toString('latin1', p, e);
  cache[slot] = s;
  return s;
}
