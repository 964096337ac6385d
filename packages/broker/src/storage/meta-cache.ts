/**
 * The msgpack of [exchange, routingKey, properties] stored with each message,
 * remembered for the last (exchange, routingKey, simple properties) seen: a
 * producer usually repeats them on every publish, and packing is ~1 µs. Only
 * properties whose values are booleans, safe integers, short strings or
 * undefined are remembered (compared key by key, in order: pack writes them
 * one way only); anything else (headers, floats, nested values) is packed every time.
 */
import type { MessageProperties } from '@warren/protocol';
import { pack } from '@warren/protocol';

const MAX_KEYS = 8;
const MAX_STRING = 256;

/** A property value pack() writes one way only, and === tells apart (no -0, NaN, floats, objects). */
function simpleValue(v: unknown): boolean {
  if (v === true || v === false || v === undefined) return true;
  if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0);
  return typeof v === 'string' && v.length <= MAX_STRING;
}

export class MetaCache {
  private exchange = '';
  private routingKey = '';
  /** The remembered properties: null/undefined (keys null), or their own keys and simple values in order. */
  private keys: string[] | null = null;
  private values: unknown[] = [];
  private packed: Buffer | null = null;

  /** The msgpack of [exchange, routingKey, properties ?? null]; the same bytes pack() writes. Do not mutate it. */
  get(exchange: string, routingKey: string, properties: MessageProperties | null | undefined): Buffer {
    if (this.packed !== null && exchange === this.exchange && routingKey === this.routingKey && this.same(properties)) return this.packed;
    const meta = pack([exchange, routingKey, properties ?? null]);
    this.remember(exchange, routingKey, properties, meta);
    return meta;
  }

  /** Whether props has exactly the remembered keys, in order, with the same values. */
  private same(props: MessageProperties | null | undefined): boolean {
    const keys = this.keys;
    if (props === null || props === undefined) return keys === null;
    if (keys === null) return false;
    const values = this.values;
    let i = 0;
    for (const k in props) {
      if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
      if (i >= keys.length || k !== keys[i] || !Object.is((props as Record<string, unknown>)[k], values[i])) return false;
      i++;
    }
    return i === keys.length;
  }

  private remember(exchange: string, routingKey: string, props: MessageProperties | null | undefined, meta: Buffer): void {
    this.packed = null;
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
