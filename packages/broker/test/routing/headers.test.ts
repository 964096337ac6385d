import { describe, expect, it } from 'vitest';
import { ErrorCodes, WarrenError } from '@warren/protocol';
import { HeadersMatcher, sameValue } from '../../src/routing/index.js';

type Q = { name: string };

function bound(args: Record<string, unknown> | null) {
  const m = new HeadersMatcher<Q>();
  const dest = { name: 'q' };
  m.add(dest, 'ignored', args);
  return (headers: Record<string, unknown> | undefined, key = 'any.key'): boolean => {
    const out = new Set<Q>();
    m.match(key, headers, out);
    return out.has(dest);
  };
}

describe('headers: x-match all (the default)', () => {
  it('requires every non-x- binding key present and equal; extra headers are fine', () => {
    for (const args of [{ format: 'pdf', type: 'report' }, { 'x-match': 'all', format: 'pdf', type: 'report' }]) {
      const hit = bound(args);
      expect(hit({ format: 'pdf', type: 'report' })).toBe(true);
      expect(hit({ format: 'pdf', type: 'report', extra: 1 })).toBe(true);
      expect(hit({ format: 'pdf' })).toBe(false);
      expect(hit({ format: 'pdf', type: 'log' })).toBe(false);
      expect(hit(undefined)).toBe(false);
    }
  });

  it('ignores x- binding keys', () => {
    const hit = bound({ 'x-match': 'all', 'x-priority': 5, format: 'pdf' });
    expect(hit({ format: 'pdf' })).toBe(true);
    expect(hit({ format: 'pdf', 'x-priority': 1 })).toBe(true);
  });

  it('with no comparable keys matches every message, even without headers (RabbitMQ)', () => {
    expect(bound(null)(undefined)).toBe(true);
    expect(bound({ 'x-match': 'all', 'x-foo': 1 })({})).toBe(true);
  });

  it('ignores the routing key', () => {
    const hit = bound({ a: 1 });
    expect(hit({ a: 1 }, '')).toBe(true);
    expect(hit({ a: 1 }, 'whatever.#')).toBe(true);
  });
});

describe('headers: x-match any', () => {
  it('needs at least one non-x- binding key present and equal', () => {
    const hit = bound({ 'x-match': 'any', format: 'pdf', type: 'report' });
    expect(hit({ format: 'pdf' })).toBe(true);
    expect(hit({ type: 'report', format: 'zip' })).toBe(true);
    expect(hit({ format: 'zip', type: 'log' })).toBe(false);
    expect(hit({})).toBe(false);
    expect(hit(undefined)).toBe(false);
  });

  it('ignores x- binding keys, so x- keys alone never match', () => {
    const hit = bound({ 'x-match': 'any', 'x-tag': 't' });
    expect(hit({ 'x-tag': 't' })).toBe(false);
    expect(bound({ 'x-match': 'any' })({ a: 1 })).toBe(false);
  });
});

describe('headers: all-with-x / any-with-x', () => {
  it('all-with-x compares x- keys too, but never x-match itself', () => {
    const hit = bound({ 'x-match': 'all-with-x', 'x-tag': 't', a: 1 });
    expect(hit({ 'x-tag': 't', a: 1 })).toBe(true);
    expect(hit({ a: 1 })).toBe(false);
    expect(hit({ 'x-tag': 'u', a: 1 })).toBe(false);
    // The message does not need an x-match header.
    expect(bound({ 'x-match': 'all-with-x' })({})).toBe(true);
  });

  it('any-with-x accepts a single matching x- key', () => {
    const hit = bound({ 'x-match': 'any-with-x', 'x-tag': 't', a: 1 });
    expect(hit({ 'x-tag': 't' })).toBe(true);
    expect(hit({ a: 1 })).toBe(true);
    expect(hit({ 'x-tag': 'u', a: 2 })).toBe(false);
    expect(hit({ 'x-match': 'any-with-x' })).toBe(false);
  });
});

describe('headers: values', () => {
  it('a null binding value only requires presence', () => {
    const all = bound({ flag: null, a: 1 });
    expect(all({ flag: 'anything', a: 1 })).toBe(true);
    expect(all({ flag: null, a: 1 })).toBe(true);
    expect(all({ a: 1 })).toBe(false);
    const any = bound({ 'x-match': 'any', flag: null });
    expect(any({ flag: 0 })).toBe(true);
    expect(any({ other: 0 })).toBe(false);
  });

  it('compares primitives strictly, bytes by content, arrays and maps deeply', () => {
    expect(bound({ n: 1 })({ n: '1' })).toBe(false);
    expect(bound({ n: 1 })({ n: 1.0 })).toBe(true);
    expect(bound({ n: 1n })({ n: 1 })).toBe(true);
    expect(bound({ b: true })({ b: 1 })).toBe(false);
    expect(bound({ b: Buffer.from('hi') })({ b: new Uint8Array([104, 105]) })).toBe(true);
    expect(bound({ b: Buffer.from('hi') })({ b: Buffer.from('ho') })).toBe(false);
    expect(bound({ b: Buffer.from('hi') })({ b: 'hi' })).toBe(false);
    expect(bound({ l: [1, { x: 'y' }] })({ l: [1, { x: 'y' }] })).toBe(true);
    expect(bound({ l: [1, 2] })({ l: [2, 1] })).toBe(false);
    expect(bound({ m: { a: 1, b: 2 } })({ m: { b: 2, a: 1 } })).toBe(true);
    expect(bound({ m: { a: 1 } })({ m: { a: 1, b: 2 } })).toBe(false);
    expect(bound({ m: {} })({ m: [] })).toBe(false);
    expect(sameValue(new Date(5), new Date(5))).toBe(true);
  });

  it('does not find header names on the object prototype', () => {
    expect(bound({ constructor: null })({})).toBe(false);
    expect(bound({ 'x-match': 'any', toString: null })({})).toBe(false);
  });
});

describe('headers: bindings', () => {
  it('rejects an invalid x-match with INVALID_ARGUMENT and records nothing', () => {
    const m = new HeadersMatcher<Q>();
    for (const bad of ['some', 'ALL', 1, true]) {
      let err: unknown;
      try {
        m.add({ name: 'q' }, '', { 'x-match': bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WarrenError);
      expect((err as WarrenError).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
    expect(m.size).toBe(0);
    expect([...m.bindings()]).toEqual([]);
  });

  it('a destination with several bindings routes once, and unbinding one keeps the others', () => {
    const m = new HeadersMatcher<Q>();
    const a = { name: 'a' };
    const b = { name: 'b' };
    m.add(a, '', { x: 1 });
    m.add(a, '', { y: 1 });
    m.add(b, '', { 'x-match': 'any', x: 1, y: 2 });
    const route = (h: Record<string, unknown>) => {
      const out = new Set<Q>();
      m.match('', h, out);
      return [...out].map((d) => d.name).sort();
    };
    expect(route({ x: 1, y: 1 })).toEqual(['a', 'b']);
    expect(m.remove(a, '', { x: 1 })).toBe(true);
    expect(route({ x: 1 })).toEqual(['b']);
    expect(route({ y: 1 })).toEqual(['a']);
    expect(m.removeDestination(a)).toBe(1);
    expect(route({ y: 1 })).toEqual([]);
    expect(route({ y: 2 })).toEqual(['b']);
  });
});
