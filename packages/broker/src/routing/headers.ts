/**
 * Headers exchange, as rabbit_exchange_type_headers implements it:
 * - `x-match` in the binding arguments is `all` (the default), `any`,
 *   `all-with-x` or `any-with-x`; anything else is rejected at bind time.
 * - `x-match` itself never takes part in matching. Other arguments starting
 *   with `x-` are ignored by all/any and compared by the *-with-x modes.
 * - A binding argument whose value is null (AMQP "void") only requires the
 *   header to be present; any other value must be equal: primitives by value,
 *   byte arrays by content, arrays and maps deeply.
 * - all: every compared argument matches (so a binding with none matches
 *   every message); any: at least one does (so with none it matches nothing).
 * The routing key is ignored. Each message is checked against each binding,
 * as in RabbitMQ; a destination already in `out` is not checked again.
 */
import { errors } from '../errors.js';
import { BaseMatcher, type Binding, type BindingArguments } from './matcher.js';

const X_MATCH_MODES = ['all', 'any', 'all-with-x', 'any-with-x'] as const;
export type XMatch = (typeof X_MATCH_MODES)[number];

interface HeadersBinding<D> {
  readonly dest: D;
  readonly all: boolean;
  readonly keys: string[];
  readonly values: unknown[];
  /** Position in `entries`, for O(1) swap-removal. */
  slot: number;
}

/** The x-match mode of a headers binding; throws INVALID_ARGUMENT for anything else. */
export function parseXMatch(args: BindingArguments | null): XMatch {
  const mode = args === null ? undefined : args['x-match'];
  if (mode === undefined || mode === null) return 'all';
  if (typeof mode === 'string' && (X_MATCH_MODES as readonly string[]).includes(mode)) return mode as XMatch;
  throw errors.invalidArgument(
    `invalid x-match ${JSON.stringify(String(mode))}; expected all, any, all-with-x or any-with-x`,
  );
}

export class HeadersMatcher<D> extends BaseMatcher<D> {
  private readonly entries: HeadersBinding<D>[] = [];
  private readonly byBinding = new Map<Binding<D>, HeadersBinding<D>>();

  protected insert(binding: Binding<D>): void {
    const args = binding.arguments;
    const mode = parseXMatch(args);
    const withX = mode === 'all-with-x' || mode === 'any-with-x';
    const keys: string[] = [];
    const values: unknown[] = [];
    if (args !== null) {
      for (const key of Object.keys(args)) {
        if (key === 'x-match' || (!withX && key.startsWith('x-'))) continue;
        keys.push(key);
        values.push(args[key] ?? null);
      }
    }
    const entry: HeadersBinding<D> = {
      dest: binding.destination,
      all: mode === 'all' || mode === 'all-with-x',
      keys,
      values,
      slot: this.entries.length,
    };
    this.entries.push(entry);
    this.byBinding.set(binding, entry);
  }

  protected delete(binding: Binding<D>): void {
    const entry = this.byBinding.get(binding);
    if (entry === undefined) return;
    this.byBinding.delete(binding);
    const last = this.entries.pop()!;
    if (last !== entry) {
      this.entries[entry.slot] = last;
      last.slot = entry.slot;
    }
  }

  match(_routingKey: string, headers: Record<string, unknown> | undefined, out: Set<D>): void {
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!out.has(e.dest) && (e.all ? matchAll(e, headers) : matchAny(e, headers))) out.add(e.dest);
    }
  }
}

function matchAll(e: HeadersBinding<unknown>, headers: Record<string, unknown> | undefined): boolean {
  const keys = e.keys;
  if (headers === undefined) return keys.length === 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    // hasOwn, not `in`: a header named "constructor" must not be found on the prototype.
    if (!Object.hasOwn(headers, key)) return false;
    const want = e.values[i];
    if (want !== null && !sameValue(want, headers[key])) return false;
  }
  return true;
}

function matchAny(e: HeadersBinding<unknown>, headers: Record<string, unknown> | undefined): boolean {
  if (headers === undefined) return false;
  const keys = e.keys;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (!Object.hasOwn(headers, key)) continue;
    const want = e.values[i];
    if (want === null || sameValue(want, headers[key])) return true;
  }
  return false;
}

/** Equality of header values (a binding value, then what the message carries). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    // 64-bit integers may arrive as bigint on one side and number on the other.
    return (typeof a === 'bigint' && typeof b === 'number') || (typeof a === 'number' && typeof b === 'bigint')
      ? a == b
      : false;
  }
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.byteLength !== b.byteLength) return false;
    for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || b instanceof Uint8Array || b instanceof Date) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  if (keys.length !== Object.keys(bo).length) return false;
  for (const k of keys) if (!Object.hasOwn(bo, k) || !sameValue(ao[k], bo[k])) return false;
  return true;
}
