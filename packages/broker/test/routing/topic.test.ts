import { describe, expect, it } from 'vitest';
import { TopicMatcher, splitTopicKey } from '../../src/routing/index.js';

type Q = { name: string };

/** Binds one queue per pattern (named after it) and returns the patterns a key matches. */
function topic(patterns: string[]) {
  const m = new TopicMatcher<Q>();
  const qs = new Map<string, Q>();
  for (const p of patterns) {
    const dest = { name: p };
    qs.set(p, dest);
    m.add(dest, p, null);
  }
  const hits = (key: string): string[] => {
    const out = new Set<Q>();
    m.match(key, undefined, out);
    return [...out].map((x) => x.name).sort();
  };
  return { m, qs, hits };
}

const matches = (pattern: string, key: string): boolean => topic([pattern]).hits(key).length === 1;

describe('topic: splitting', () => {
  it('"" is zero words (RabbitMQ), every dot separates, empty words are kept', () => {
    expect(splitTopicKey('')).toEqual([]);
    expect(splitTopicKey('a')).toEqual(['a']);
    expect(splitTopicKey('a..b')).toEqual(['a', '', 'b']);
    expect(splitTopicKey('.')).toEqual(['', '']);
    expect(splitTopicKey('a.')).toEqual(['a', '']);
  });
});

describe('topic: wildcards', () => {
  it.each([
    // [pattern, key, expected]
    ['a.b', 'a.b', true],
    ['a.b', 'a.b.c', false],
    ['a.b', 'a', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a', false], // * never matches zero words
    ['a.*', 'a.b.c', false],
    ['*', 'a', true],
    ['*.*', 'a.b', true],
    ['*.*', 'a', false],
    ['*.*', 'a.b.c', false],
    ['a.#', 'a', true], // # matches zero words
    ['a.#', 'a.b', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'b.a', false],
    ['#.a', 'a', true],
    ['#.a', 'x.y.a', true],
    ['#.a', 'a.x', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.b.c', false],
    ['a.#.b', 'a.b.b', true],
    ['a.#.b', 'b.a.b', false],
    ['#', 'a', true],
    ['#', 'a.b.c', true],
    ['#.#', 'a', true],
    ['#.#', 'a.b.c', true],
    ['#.#', '', true],
    ['#.*', 'a', true],
    ['#.*', 'a.b.c', true],
    ['#.*', '', false],
    ['*.#', 'a', true],
    ['*.#', '', false],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    ['*.#.*', 'a.b.c.d', true],
    ['a.#.#.b', 'a.b', true],
    ['a.#.#.b', 'a.x.y.z.b', true],
    ['#.a.#', 'a', true],
    ['#.a.#', 'x.a.y', true],
    ['#.a.#', 'x.y', false],
    ['a*', 'ab', false], // wildcards only as whole words
    ['a*', 'a*', true],
    // In a routing key * and # are literal words.
    ['a.b', 'a.*', false],
    ['a.*', 'a.*', true],
    ['a.*', 'a.#', true],
  ] as const)('%j vs %j -> %s', (pattern, key, expected) => {
    expect(matches(pattern, key)).toBe(expected);
  });
});

describe('topic: empty words', () => {
  it.each([
    ['a..b', 'a..b', true],
    ['a.*.b', 'a..b', true], // * matches the empty middle word
    ['a..b', 'a.x.b', false],
    ['a.#.b', 'a..b', true],
    ['a.*', 'a.', true],
    ['a.#', 'a.', true],
    ['a', 'a.', false],
    ['*', '.', false], // "." is two empty words
    ['*.*', '.', true],
    ['.', '.', true],
    ['#', '.', true],
    // "" is zero words: matched by # and by the binding key "", never by *.
    ['#', '', true],
    ['*', '', false],
    ['', '', true],
    ['', 'a', false],
    ['', '.', false],
    ['#.', '', false],
  ] as const)('%j vs %j -> %s', (pattern, key, expected) => {
    expect(matches(pattern, key)).toBe(expected);
  });
});

describe('topic: many overlapping patterns', () => {
  it('collects every matching pattern once', () => {
    const { hits } = topic([
      'stock.usd.nyse', 'stock.*.nyse', 'stock.#', '#.nyse', '*.usd.*', '#', '*.*.*', '*.*',
      'stock.eur.#', '#.usd.#', 'stock.usd', 'stock.#.nyse', '#.#.nyse',
    ]);
    expect(hits('stock.usd.nyse')).toEqual(
      ['#', '#.#.nyse', '#.nyse', '#.usd.#', '*.*.*', '*.usd.*', 'stock.#', 'stock.#.nyse', 'stock.*.nyse', 'stock.usd.nyse'].sort(),
    );
    expect(hits('stock.usd')).toEqual(['#', '#.usd.#', '*.*', 'stock.#', 'stock.usd'].sort());
    expect(hits('nyse')).toEqual(['#', '#.#.nyse', '#.nyse'].sort());
    expect(hits('')).toEqual(['#']);
  });

  it('one destination bound through several patterns appears once', () => {
    const m = new TopicMatcher<Q>();
    const a = { name: 'a' };
    for (const p of ['#', 'x.#', 'x.*', '*.y', 'x.y']) m.add(a, p, null);
    const out = new Set<Q>();
    m.match('x.y', undefined, out);
    expect([...out]).toEqual([a]);
  });

  it('handles a routing key with 100,000 words (no recursion limit) through # patterns', () => {
    const { hits } = topic(['#.end', 'a.#.#.b.#.end', '#.*.#.*.#', 'a.*']);
    const key = Array.from({ length: 100_000 }, (_, i) => (i === 0 ? 'a' : i === 50_000 ? 'b' : 'w')).join('.') + '.end';
    expect(hits(key)).toEqual(['#.*.#.*.#', '#.end', 'a.#.#.b.#.end']);
  });
});

describe('topic: removal', () => {
  it('unbinding every pattern leaves no trie node behind', () => {
    const patterns = ['a.b.c', 'a.*.c', 'a.#', '#', '#.#', '*.*', 'a..b', '', 'x.#.y.#.z', 'a.b', '*'];
    const { m, qs, hits } = topic(patterns);
    expect(m.nodeCount).toBeGreaterThan(10);
    // Remove in an order that empties leaves before and after their ancestors.
    for (const p of ['a.b', '#', 'a.b.c', 'x.#.y.#.z']) expect(m.remove(qs.get(p)!, p, null)).toBe(true);
    expect(hits('a.b.c')).toEqual(['#.#', 'a.#', 'a.*.c']);
    for (const p of patterns) m.remove(qs.get(p)!, p, null);
    expect(m.size).toBe(0);
    expect(m.nodeCount).toBe(0);
    expect(hits('a.b.c')).toEqual([]);
  });

  it('removing a pattern keeps its prefix path alive for longer patterns', () => {
    const { m, qs, hits } = topic(['a', 'a.b.c']);
    m.remove(qs.get('a')!, 'a', null);
    expect(hits('a.b.c')).toEqual(['a.b.c']);
    expect(hits('a')).toEqual([]);
    expect(m.nodeCount).toBe(3);
  });

  it('removeDestination drops all of a queue\'s patterns and their nodes', () => {
    const m = new TopicMatcher<Q>();
    const a = { name: 'a' };
    const b = { name: 'b' };
    for (const p of ['x.*', 'x.#', 'y.z', '#.w']) m.add(a, p, null);
    m.add(b, 'x.*', null);
    const before = m.nodeCount;
    expect(m.removeDestination(a)).toBe(4);
    const out = new Set<Q>();
    m.match('x.1', undefined, out);
    m.match('y.z', undefined, out);
    m.match('q.w', undefined, out);
    expect([...out]).toEqual([b]);
    expect(m.nodeCount).toBe(2); // x and x.*
    expect(before).toBeGreaterThan(2);
    expect(m.removeDestination(b)).toBe(1);
    expect(m.nodeCount).toBe(0);
  });

  it('"#.#" and "#" share a trie path but are separate bindings', () => {
    const m = new TopicMatcher<Q>();
    const a = { name: 'a' };
    expect(m.add(a, '#.#', null)).toBe(true);
    expect(m.add(a, '#', null)).toBe(true);
    expect([...m.bindings()].map((b) => b.routingKey)).toEqual(['#.#', '#']);
    m.remove(a, '#', null);
    const out = new Set<Q>();
    m.match('k', undefined, out);
    expect([...out]).toEqual([a]);
    m.remove(a, '#.#', null);
    expect(m.nodeCount).toBe(0);
  });
});
