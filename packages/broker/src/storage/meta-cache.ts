/**
 * The msgpack of [exchange, routingKey, properties] stored with each message,
 * remembered for the last (exchange, routingKey, simple properties) seen: a
 * producer usually repeats them on every publish, and packing is ~1 µs. Only
 * properties whose values are booleans, safe integers, short strings or
 * undefined are remembered (their signature below says exactly what pack
 * writes); anything else (headers, floats, nested values) is packed every time.
 */
import type { MessageProperties } from '@warren/protocol';
import { pack } from '@warren/protocol';

const MAX_KEYS = 8;
const MAX_STRING = 256;

/**
 * A string equal for two property objects exactly when pack writes the same
 * bytes for them (same keys in the same order, same values and types), or null
 * when they are not simple enough to say.
 */
export function propertiesSignature(props: MessageProperties | null | undefined): string | null {
  if (props === null || props === undefined) return '';
  let sig = '';
  let n = 0;
  for (const k in props) {
    if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
    if (++n > MAX_KEYS || k.length > MAX_STRING) return null;
    const v = (props as Record<string, unknown>)[k];
    let s: string;
    if (v === true) s = 't';
    else if (v === false) s = 'f';
    else if (v === undefined) s = 'u';
    else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || Object.is(v, -0)) return null;
      s = `n${v}`;
    } else if (typeof v === 'string') {
      if (v.length > MAX_STRING) return null;
      s = `s${v.length}:${v}`;
    } else return null;
    // Length-prefixed key: no key or value can run into the next.
    sig += `${k.length}:${k}${s};`;
  }
  return sig;
}

export class MetaCache {
  private exchange = '';
  private routingKey = '';
  private signature = '';
  private packed: Buffer | null = null;

  /** The msgpack of [exchange, routingKey, properties ?? null]; the same bytes pack() writes. Do not mutate it. */
  get(exchange: string, routingKey: string, properties: MessageProperties | null | undefined): Buffer {
    const sig = propertiesSignature(properties);
    if (sig !== null && this.packed !== null && sig === this.signature && exchange === this.exchange && routingKey === this.routingKey) {
      return this.packed;
    }
    const meta = pack([exchange, routingKey, properties ?? null]);
    if (sig !== null) {
      this.exchange = exchange;
      this.routingKey = routingKey;
      this.signature = sig;
      this.packed = meta;
    }
    return meta;
  }
}
