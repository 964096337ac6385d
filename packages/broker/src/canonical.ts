/**
 * Canonical text of plain data, for identity and equivalence checks: binding
 * arguments (two bindings that differ only in key order are one binding) and
 * declare arguments (a redeclare must match what exists). One definition, so
 * "the same arguments" means the same thing everywhere in the broker.
 */
import { errors } from './errors.js';

/**
 * Canonical text of binding arguments, for identity only: keys sorted, byte
 * arrays by content. null and {} are the same (AMQP has no "absent" table).
 */
export function canonicalArguments(args: Record<string, unknown> | null): string {
  if (args === null) return '';
  const keys = Object.keys(args);
  return keys.length === 0 ? '' : canonicalObject(args, keys);
}

function canonicalObject(obj: Record<string, unknown>, keys: string[]): string {
  keys.sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) s += ',';
    s += JSON.stringify(keys[i]) + ':' + canonical(obj[keys[i]!]);
  }
  return s + '}';
}

/**
 * Canonical text of one value: equal values give equal text whatever their key
 * order. Only plain data (what MessagePack carries) is accepted.
 */
export function canonical(v: unknown): string {
  if (v === null || v === undefined) return 'null'; // msgpack writes undefined as nil
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
    case 'boolean':
      return String(v);
    case 'bigint':
      return `${v}n`;
    case 'object': {
      // Tags cannot collide with strings (which start with '"').
      if (v instanceof Uint8Array) return `b"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`;
      if (v instanceof Date) return `d${v.getTime()}`;
      if (Array.isArray(v)) {
        let s = '[';
        for (let i = 0; i < v.length; i++) s += (i > 0 ? ',' : '') + canonical(v[i]);
        return s + ']';
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto === Object.prototype || proto === null) {
        return canonicalObject(v as Record<string, unknown>, Object.keys(v));
      }
    }
  }
  throw errors.invalidArgument('binding arguments must be plain data (strings, numbers, booleans, bytes, arrays, maps)');
}
