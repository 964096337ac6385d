import { describe, expect, it } from 'vitest';
import { ErrorCodes, WarrenError } from '@warren/protocol';
import {
  DirectMatcher,
  FanoutMatcher,
  HeadersMatcher,
  TopicMatcher,
  canonicalArguments,
  createMatcher,
  isExchangeType,
  type BindingMatcher,
} from '../../src/routing/index.js';

type Q = { name: string };
const q = (name: string): Q => ({ name });
const routed = <D>(m: BindingMatcher<D>, key: string, headers?: Record<string, unknown>): Set<D> => {
  const out = new Set<D>();
  m.match(key, headers, out);
  return out;
};

describe('createMatcher / isExchangeType', () => {
  it('creates the matcher class for each type', () => {
    expect(createMatcher('direct')).toBeInstanceOf(DirectMatcher);
    expect(createMatcher('fanout')).toBeInstanceOf(FanoutMatcher);
    expect(createMatcher('topic')).toBeInstanceOf(TopicMatcher);
    expect(createMatcher('headers')).toBeInstanceOf(HeadersMatcher);
  });

  it('rejects an unknown type with INVALID_ARGUMENT', () => {
    const err = (() => {
      try {
        createMatcher('x-delayed' as never);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(WarrenError);
    expect((err as WarrenError).code).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it('recognises exactly the four types', () => {
    for (const t of ['direct', 'fanout', 'topic', 'headers']) expect(isExchangeType(t)).toBe(true);
    for (const t of ['Direct', 'x-consistent-hash', '', 42, null, undefined]) expect(isExchangeType(t)).toBe(false);
  });
});

describe('binding identity (shared by every type)', () => {
  for (const type of ['direct', 'fanout', 'topic', 'headers'] as const) {
    it(`${type}: duplicate add is false, args compare by value, remove/removeDestination count`, () => {
      const m = createMatcher<Q>(type);
      const a = q('a');
      const b = q('b');
      expect(m.add(a, 'k', null)).toBe(true);
      expect(m.add(a, 'k', null)).toBe(false);
      expect(m.add(a, 'k', {})).toBe(false); // {} and null are the same table
      expect(m.add(a, 'k', { y: 2, x: 1 })).toBe(true);
      expect(m.add(a, 'k', { x: 1, y: 2 })).toBe(false); // key order does not matter
      expect(m.add(a, 'k2', null)).toBe(true);
      expect(m.add(b, 'k', null)).toBe(true); // same key, other destination (identity, not name)
      expect(m.add(q('a'), 'k', null)).toBe(true);
      expect(m.size).toBe(5);

      expect(m.remove(a, 'k', { x: 2 })).toBe(false);
      expect(m.remove(a, 'k', { y: 2, x: 1 })).toBe(true);
      expect(m.remove(a, 'k', { y: 2, x: 1 })).toBe(false);
      expect(m.size).toBe(4);

      expect(m.removeDestination(a)).toBe(2);
      expect(m.removeDestination(a)).toBe(0);
      expect(m.size).toBe(2);
      expect([...m.bindings()].map((x) => x.destination)).not.toContain(a);
    });
  }

  it('bindings() reports destination, key and a frozen copy of the arguments', () => {
    const m = new DirectMatcher<Q>();
    const a = q('a');
    const args = { n: 1 };
    m.add(a, 'k', args);
    args.n = 2; // the caller's object is not the stored one
    const list = [...m.bindings()];
    expect(list).toEqual([{ destination: a, routingKey: 'k', arguments: { n: 1 } }]);
    expect(list[0]!.destination).toBe(a);
    expect(Object.isFrozen(list[0]!.arguments)).toBe(true);
    expect(m.remove(a, 'k', { n: 1 })).toBe(true);
  });

  it('canonical arguments: bytes by content, nested maps sorted, types kept apart', () => {
    expect(canonicalArguments({ b: Buffer.from([1, 2]) })).toBe(canonicalArguments({ b: new Uint8Array([1, 2]) }));
    expect(canonicalArguments({ b: Buffer.from([1, 2]) })).not.toBe(canonicalArguments({ b: Buffer.from([1, 3]) }));
    expect(canonicalArguments({ m: { a: 1, b: [1, 'x'] } })).toBe(canonicalArguments({ m: { b: [1, 'x'], a: 1 } }));
    expect(canonicalArguments({ v: '1' })).not.toBe(canonicalArguments({ v: 1 }));
    expect(canonicalArguments({ v: 'b"01"' })).not.toBe(canonicalArguments({ v: Buffer.from([1]) }));
    expect(canonicalArguments({ v: undefined })).toBe(canonicalArguments({ v: null }));
    expect(() => canonicalArguments({ v: new Map() })).toThrow(WarrenError);
  });
});

describe('direct', () => {
  it('routes on exact key equality only', () => {
    const m = new DirectMatcher<Q>();
    const a = q('a');
    const b = q('b');
    m.add(a, 'orders', null);
    m.add(b, 'orders', null);
    m.add(b, '', null);
    expect(routed(m, 'orders')).toEqual(new Set([a, b]));
    expect(routed(m, 'Orders').size).toBe(0);
    expect(routed(m, 'orders.x').size).toBe(0);
    expect(routed(m, '')).toEqual(new Set([b]));
  });

  it('adds to the caller set without clearing it', () => {
    const m = new DirectMatcher<Q>();
    const a = q('a');
    const other = q('other');
    m.add(a, 'k', null);
    const out = new Set<Q>([other]);
    m.match('k', undefined, out);
    expect(out).toEqual(new Set([other, a]));
  });

  it('keeps routing while another binding with other args remains; frees the key when the last goes', () => {
    const m = new DirectMatcher<Q>();
    const a = q('a');
    m.add(a, 'k', { v: 1 });
    m.add(a, 'k', { v: 2 });
    m.remove(a, 'k', { v: 1 });
    expect(routed(m, 'k')).toEqual(new Set([a]));
    m.remove(a, 'k', { v: 2 });
    expect(routed(m, 'k').size).toBe(0);
    expect(m.keyCount).toBe(0);
  });
});

describe('fanout', () => {
  it('routes to every destination whatever the key, and stops after removal', () => {
    const m = new FanoutMatcher<Q>();
    const qs = Array.from({ length: 50 }, (_, i) => q(`q${i}`));
    for (const x of qs) m.add(x, `key.${x.name}`, null);
    expect(routed(m, 'anything')).toEqual(new Set(qs));
    expect(routed(m, '')).toEqual(new Set(qs));
    for (const x of qs.slice(0, 25)) expect(m.removeDestination(x)).toBe(1);
    expect(routed(m, 'x')).toEqual(new Set(qs.slice(25)));
  });
});
