/**
 * The msgpack of [exchange, routingKey, properties] stored with each message,
 * remembered for the last (exchange, routingKey, simple properties) seen: a
 * producer usually repeats them on every publish, and packing is ~1 µs. Only
 * properties whose values are booleans, safe integers, short strings or
 * undefined are remembered (compared key by key, in order: pack writes them
 * one way only); anything else (headers, floats, nested values) is packed every time.
 *
 * Many publishers set a new string on every message (a messageId) and repeat the
 * rest. When exactly one remembered string value differs and the new value is a
 * short string too, the bytes are spliced: the remembered bytes before that value,
 * the new string as pack() writes it (smallest str header for its UTF-8 length),
 * the remembered bytes after it. The result is written into a scratch buffer this
 * cache reuses, so what get() returns is valid only until its next call (callers
 * copy it into the record at once).
 */
import type { MessageProperties } from '@warren/protocol';
import { pack, strSize, writeStr, writeStrHeader } from '@warren/protocol';

const MAX_KEYS = 8;
const MAX_STRING = 256;

/** A property value pack() writes one way only, and === tells apart (no -0, NaN, floats, objects). */
function simpleValue(v: unknown): boolean {
  if (v === true || v === false || v === undefined) return true;
  if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0);
  return typeof v === 'string' && v.length <= MAX_STRING;
}

/** Where the msgpack value at p ends (only the types pack() writes for simple values and strings); -1 for any other type. */
function skip(b: Buffer, p: number): number {
  const t = b[p]!;
  if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return p + 1;
  if (t >= 0xa0 && t <= 0xbf) return p + 1 + (t & 0x1f);
  switch (t) {
    case 0xd9:
      return p + 2 + b[p + 1]!;
    case 0xda:
      return p + 3 + b.readUInt16BE(p + 1);
    case 0xdb:
      return p + 5 + b.readUInt32BE(p + 1);
    case 0xcc:
    case 0xd0:
      return p + 2;
    case 0xcd:
    case 0xd1:
      return p + 3;
    case 0xce:
    case 0xd2:
      return p + 5;
    case 0xcf:
    case 0xd3:
    case 0xcb:
      return p + 9;
    default:
      return -1;
  }
}

/** Whether every character of s is ASCII (one UTF-8 byte each). */
function asciiOnly(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Copies src into dst at p (by hand when short: cheaper than a call into Buffer.copy); returns the position after it. */
function copyInto(src: Buffer, dst: Buffer, p: number): number {
  const n = src.length;
  if (n > 64) return p + src.copy(dst, p);
  for (let i = 0; i < n; i++) dst[p + i] = src[i]!;
  return p + n;
}

/** Whether s holds a lone surrogate (msgpackr and Buffer would encode it differently: such a string is packed in full). */
function loneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return true;
    const d = s.charCodeAt(i + 1);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
    i++;
  }
  return false;
}

/** props when it is a frozen object (it can never change), else null. */
function frozenOrNull(props: MessageProperties | null | undefined): object | null {
  return props !== null && props !== undefined && Object.isFrozen(props) ? props : null;
}

export class MetaCache {
  private exchange = '';
  private routingKey = '';
  /** The remembered properties: null/undefined (keys null), or their own keys and simple values in order. */
  private keys: string[] | null = null;
  private values: unknown[] = [];
  /** The bytes for the remembered exchange, routingKey, keys and values (possibly a view of scratch). */
  private packed: Buffer | null = null;
  /** The key index whose string value splice() replaces, and the bytes around that value; -1 when not split yet. */
  private slot = -1;
  private prefix: Buffer = Buffer.alloc(0);
  private suffix: Buffer = Buffer.alloc(0);
  private scratch: Buffer = Buffer.allocUnsafe(512);
  /**
   * A frozen properties object packed's properties were last checked against (the decoder shares one
   * for repeated publish properties): the same object again cannot differ, so differs() is skipped.
   * Null when packed was last made or checked for any other object. Sound because properties reaching
   * the store are plain data (decoder, recovery, spread copies): a frozen object with a getter could
   * change what it reads and would need the comparison.
   */
  private same: object | null = null;

  /**
   * The msgpack of [exchange, routingKey, properties ?? null]; the same bytes pack() writes.
   * Do not mutate it, and copy it before the next call (it may be this cache's scratch buffer).
   */
  get(exchange: string, routingKey: string, properties: MessageProperties | null | undefined): Buffer {
    if (this.packed !== null && exchange === this.exchange && routingKey === this.routingKey) {
      if (properties === this.same && properties !== null) return this.packed;
      const d = this.differs(properties);
      if (d === -1) {
        this.same = frozenOrNull(properties);
        return this.packed;
      }
      if (d >= 0) {
        const out = this.splice(d, (properties as Record<string, unknown>)[this.keys![d]!] as string);
        if (out !== null) {
          this.same = frozenOrNull(properties);
          return out;
        }
      }
    }
    const meta = pack([exchange, routingKey, properties ?? null]);
    this.remember(exchange, routingKey, properties, meta);
    this.same = this.packed === null ? null : frozenOrNull(properties);
    return meta;
  }

  /**
   * -1 when props has exactly the remembered keys, in order, with the same values; i when
   * only the value of key i differs and both it and the remembered one are short strings; else -2.
   */
  private differs(props: MessageProperties | null | undefined): number {
    const keys = this.keys;
    if (props === null || props === undefined) return keys === null ? -1 : -2;
    if (keys === null) return -2;
    const values = this.values;
    let i = 0;
    let d = -1;
    for (const k in props) {
      if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
      if (i >= keys.length || k !== keys[i]) return -2;
      const v = (props as Record<string, unknown>)[k];
      if (!Object.is(v, values[i])) {
        if (d !== -1 || typeof v !== 'string' || typeof values[i] !== 'string' || v.length > MAX_STRING) return -2;
        d = i;
      }
      i++;
    }
    return i === keys.length ? d : -2;
  }

  /** The remembered bytes with the value of key i replaced by s (written into scratch), or null when s must be packed in full. */
  private splice(i: number, s: string): Buffer | null {
    const ascii = asciiOnly(s);
    const n = ascii ? s.length : Buffer.byteLength(s, 'utf8');
    if (!ascii && loneSurrogate(s)) return null;
    if (this.slot !== i && !this.split(i)) return null;
    const pre = this.prefix;
    const suf = this.suffix;
    const size = pre.length + strSize(n) + suf.length;
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, 2 * this.scratch.length));
    const b = this.scratch;
    let p = copyInto(pre, b, 0);
    if (ascii) p = writeStr(b, p, s, n);
    else {
      p = writeStrHeader(b, p, n);
      p += b.write(s, p, n, 'utf8');
    }
    copyInto(suf, b, p);
    this.values[i] = s;
    this.packed = b.subarray(0, size);
    return this.packed;
  }

  /** Finds the bytes of key i's value in packed and copies out what lies before and after it. False when they cannot be found. */
  private split(i: number): boolean {
    const b = this.packed!;
    // [exchange, routingKey, map]: a fixarray of 3, two strings, then a fixmap (at most MAX_KEYS entries).
    if (b[0] !== 0x93) return false;
    let p = skip(b, 1);
    if (p < 0) return false;
    p = skip(b, p);
    if (p < 0 || p >= b.length || (b[p]! & 0xf0) !== 0x80 || (b[p]! & 0x0f) !== this.keys!.length) return false;
    p++;
    for (let j = 0; j < i; j++) {
      p = skip(b, p);
      if (p < 0) return false;
      p = skip(b, p);
      if (p < 0) return false;
    }
    p = skip(b, p);
    if (p < 0) return false;
    const t = b[p]!;
    if (!((t >= 0xa0 && t <= 0xbf) || t === 0xd9 || t === 0xda || t === 0xdb)) return false;
    const end = skip(b, p);
    if (end < 0 || end > b.length) return false;
    this.prefix = Buffer.from(b.subarray(0, p));
    this.suffix = Buffer.from(b.subarray(end));
    this.slot = i;
    return true;
  }

  private remember(exchange: string, routingKey: string, props: MessageProperties | null | undefined, meta: Buffer): void {
    this.packed = null;
    this.slot = -1;
    let keys: string[] | null = null;
    const values: unknown[] = [];
    if (props !== null && props !== undefined) {
      keys = [];
      for (const k in props) {
        if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
        const v = (props as Record<string, unknown>)[k];
        if (keys.length >= MAX_KEYS || k.length > MAX_STRING || !simpleValue(v)) return;
        keys.push(k);
        values.push(v);
      }
    }
    this.exchange = exchange;
    this.routingKey = routingKey;
    this.keys = keys;
    this.values = values;
    this.packed = meta;
  }
}
