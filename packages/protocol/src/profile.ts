/**
 * The MessagePack profile rules (protocol-spec 3) that msgpackr does not
 * enforce on its own: map keys are strings (msgpackr would turn `{1: true}`
 * into `{"1": true}`), strings are valid UTF-8 (msgpackr would put U+FFFD in
 * place of bad bytes, so `ff fe` and `ff fd` would name the same queue), and
 * no extension types. One pass over the header bytes before they are decoded;
 * ASCII strings, the usual case, cost one byte test per byte.
 */
import { isUtf8 } from 'node:buffer';

/**
 * Deepest nesting of maps and arrays the broker accepts in a received header,
 * the header array itself counting as 1 (protocol-spec 3, "Nesting"). Deeper
 * values could be decoded but not encoded again for delivery (msgpackr
 * recurses), so a message with them would be confirmed and then break every
 * consumer it is offered to. Clients do not apply it: a list the server sends
 * nests a declared queue's arguments a level or two deeper than its declare did.
 */
export const MAX_NESTING = 64;

/**
 * Values (map entries and array elements, at every depth) the broker accepts in
 * one received header (protocol-spec 3, "Size"). Each costs a JavaScript value
 * once decoded, tens of bytes for one byte of nil: without a bound, a 15 MB
 * PUBLISH of nils held 700 MB of heap for as long as the message was queued.
 */
export const MAX_HEADER_VALUES = 65536;

/** Values still allowed in the header being checked, and the bounds of that check. */
let valuesLeft = Infinity;
let valuesMax = Infinity;
let nestingMax = Infinity;

/** What checkProfile bounds besides the profile rules; a receiver of untrusted frames (the broker) sets both. */
export interface HeaderLimits {
  /** Most map entries and array elements in all (MAX_HEADER_VALUES). */
  maxValues?: number;
  /** Deepest nesting of maps and arrays, the header array being 1 (MAX_NESTING). */
  maxNesting?: number;
}

/**
 * Throws an Error naming the first rule the MessagePack value in b[start, end)
 * breaks, or the first of `limits` it exceeds. Without a nesting limit a very
 * deep value ends in a stack overflow, which the caller reports as well.
 */
export function checkProfile(b: Buffer, start: number, end: number, limits: HeaderLimits = {}): void {
  valuesLeft = valuesMax = limits.maxValues ?? Infinity;
  nestingMax = limits.maxNesting ?? Infinity;
  if (skipValue(b, start, end, false, 0) > end) throw new Error('value runs past the end of the header');
}

function count(n: number): void {
  valuesLeft -= n;
  if (valuesLeft < 0) throw new Error(`more than ${valuesMax} values (map entries and array elements) in one header`);
}

function u16(b: Buffer, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function u32(b: Buffer, p: number): number {
  return b.readUInt32BE(p);
}

/** Returns the position after the value at p. */
function skipValue(b: Buffer, p: number, end: number, isKey: boolean, depth: number): number {
  if (p >= end) throw new Error('value runs past the end of the header');
  const t = b[p++]!;
  if (t >= 0xa0 && t <= 0xbf) return skipString(b, p, t & 0x1f, end);
  if (t === 0xd9) return skipString(b, p + 1, b[p]!, end);
  if (t === 0xda) return skipString(b, p + 2, u16(b, p), end);
  if (t === 0xdb) return skipString(b, p + 4, u32(b, p), end);
  if (isKey) throw new Error('map key is not a string');
  if (t <= 0x7f || t >= 0xe0) return p;
  if (t <= 0x8f) return skipMap(b, p, t & 0x0f, end, depth);
  if (t <= 0x9f) return skipArray(b, p, t & 0x0f, end, depth);
  switch (t) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return p;
    case 0xc4:
      return p + 1 + b[p]!;
    case 0xc5:
      return p + 2 + u16(b, p);
    case 0xc6:
      return p + 4 + u32(b, p);
    case 0xcc:
    case 0xd0:
      return p + 1;
    case 0xcd:
    case 0xd1:
      return p + 2;
    case 0xca:
    case 0xce:
    case 0xd2:
      return p + 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return p + 8;
    case 0xdc:
      return skipArray(b, p + 2, u16(b, p), end, depth);
    case 0xdd:
      return skipArray(b, p + 4, u32(b, p), end, depth);
    case 0xde:
      return skipMap(b, p + 2, u16(b, p), end, depth);
    case 0xdf:
      return skipMap(b, p + 4, u32(b, p), end, depth);
    default:
      throw new Error(`MessagePack type 0x${t.toString(16)} is not in the profile (extension types are not allowed)`);
  }
}

function skipString(b: Buffer, p: number, length: number, end: number): number {
  const stop = p + length;
  if (stop > end) throw new Error('string runs past the end of the header');
  for (let i = p; i < stop; i++) {
    if (b[i]! >= 0x80) {
      if (!isUtf8(b.subarray(p, stop))) throw new Error('string is not valid UTF-8');
      break;
    }
  }
  return stop;
}

function tooDeep(depth: number): void {
  if (depth > nestingMax) throw new Error(`maps and arrays nested more than ${nestingMax} levels deep`);
}

function skipArray(b: Buffer, p: number, n: number, end: number, depth: number): number {
  tooDeep(++depth);
  count(n);
  for (let i = 0; i < n; i++) p = skipValue(b, p, end, false, depth);
  return p;
}

function skipMap(b: Buffer, p: number, n: number, end: number, depth: number): number {
  tooDeep(++depth);
  count(n);
  for (let i = 0; i < n; i++) {
    p = skipValue(b, p, end, true, depth);
    p = skipValue(b, p, end, false, depth);
  }
  return p;
}
