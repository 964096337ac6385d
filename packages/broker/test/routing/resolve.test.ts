import { describe, expect, it } from 'vitest';
import { createMatcher, route, type ExchangeType, type RoutableExchange } from '../../src/routing/index.js';

type Q = { queue: string };
type X = RoutableExchange<Q>;

const isExchange = (d: unknown): d is X => typeof d === 'object' && d !== null && 'matcher' in d;
const exchange = (name: string, type: ExchangeType = 'direct', alternate: X | null = null): X => ({
  name,
  matcher: createMatcher<X | Q>(type),
  alternate,
});
const queue = (name: string): Q => ({ queue: name });

function routed(start: X, key: string, headers?: Record<string, unknown>): string[] {
  const out = new Set<Q>();
  route(start, key, headers, isExchange, out);
  return [...out].map((q) => q.queue).sort();
}

describe('route', () => {
  it('routes to queues bound directly', () => {
    const x = exchange('x');
    x.matcher.add(queue('q1'), 'k', null);
    expect(routed(x, 'k')).toEqual(['q1']);
    expect(routed(x, 'other')).toEqual([]);
  });

  it('follows exchange-to-exchange chains with the same key and headers', () => {
    const a = exchange('a', 'topic');
    const b = exchange('b', 'fanout');
    const c = exchange('c', 'headers');
    a.matcher.add(b, 'orders.#', null);
    b.matcher.add(c, '', null);
    b.matcher.add(queue('audit'), '', null);
    c.matcher.add(queue('eu'), '', { region: 'eu' });
    expect(routed(a, 'orders.new', { region: 'eu' })).toEqual(['audit', 'eu']);
    expect(routed(a, 'orders.new', { region: 'us' })).toEqual(['audit']);
    expect(routed(a, 'invoices.new', { region: 'eu' })).toEqual([]);
  });

  it('terminates on cycles, including a self-binding, and still collects queues', () => {
    const a = exchange('a', 'fanout');
    const b = exchange('b', 'fanout');
    a.matcher.add(a, '', null);
    a.matcher.add(b, '', null);
    b.matcher.add(queue('qb'), '', null);
    expect(routed(a, 'k')).toEqual(['qb']);
    expect(routed(b, 'k')).toEqual(['qb']);
  });

  it('visits each exchange once: a queue reached by several paths is added once', () => {
    const top = exchange('top', 'fanout');
    const left = exchange('left', 'fanout');
    const right = exchange('right', 'fanout');
    const shared = exchange('shared', 'direct');
    const q = queue('q');
    top.matcher.add(left, '', null);
    top.matcher.add(right, '', null);
    top.matcher.add(q, '', null);
    left.matcher.add(shared, '', null);
    right.matcher.add(shared, '', null);
    left.matcher.add(q, '', null);
    shared.matcher.add(q, 'k', null);
    let visits = 0;
    const spy = shared.matcher.match.bind(shared.matcher);
    shared.matcher.match = (k, h, out) => {
      visits++;
      spy(k, h, out);
    };
    const out = new Set<Q>();
    route(top, 'k', undefined, isExchange, out);
    expect([...out]).toEqual([q]);
    expect(visits).toBe(1);
  });

  it('uses the alternate exchange only when the exchange itself matched nothing', () => {
    const ae = exchange('ae', 'fanout');
    ae.matcher.add(queue('unrouted'), '', null);
    const x = exchange('x', 'direct', ae);
    x.matcher.add(queue('q'), 'k', null);
    expect(routed(x, 'k')).toEqual(['q']);
    expect(routed(x, 'nope')).toEqual(['unrouted']);
  });

  it('does not use the AE when the exchange matched an exchange that routes nowhere (RabbitMQ rule)', () => {
    const aeX = exchange('ae-x', 'fanout');
    aeX.matcher.add(queue('ae-x-q'), '', null);
    const aeEmpty = exchange('ae-empty', 'fanout');
    aeEmpty.matcher.add(queue('ae-empty-q'), '', null);
    const empty = exchange('empty', 'direct', aeEmpty);
    const x = exchange('x', 'fanout', aeX);
    x.matcher.add(empty, '', null);
    // x matched `empty`, so x's AE is not used; `empty` matched nothing, so its AE is.
    expect(routed(x, 'k')).toEqual(['ae-empty-q']);
    const emptyNoAe = exchange('empty2', 'direct');
    const y = exchange('y', 'fanout', aeX);
    y.matcher.add(emptyNoAe, '', null);
    expect(routed(y, 'k')).toEqual([]); // unroutable, yet no AE: the caller returns/drops it
  });

  it('does not use the AE when the only match is an exchange already visited', () => {
    const ae = exchange('ae', 'fanout');
    ae.matcher.add(queue('ae-q'), '', null);
    const a = exchange('a', 'fanout', ae);
    a.matcher.add(a, '', null);
    expect(routed(a, 'k')).toEqual([]);
  });

  it('follows AE chains, applying the rule at each step, and stops on AE cycles', () => {
    const ae2 = exchange('ae2', 'direct');
    ae2.matcher.add(queue('last-resort'), 'k', null);
    const ae1 = exchange('ae1', 'direct', ae2);
    ae1.matcher.add(queue('ae1-q'), 'special', null);
    const x = exchange('x', 'direct', ae1);
    expect(routed(x, 'k')).toEqual(['last-resort']);
    expect(routed(x, 'special')).toEqual(['ae1-q']);
    // Make the chain a cycle: x -> ae1 -> ae2 -> x.
    ae2.alternate = x;
    expect(routed(x, 'none')).toEqual([]);
    // An AE that was already visited by an e2e path is not routed twice.
    const y = exchange('y', 'fanout');
    const z = exchange('z', 'direct', y);
    y.matcher.add(z, '', null);
    y.matcher.add(queue('yq'), '', null);
    expect(routed(y, 'k')).toEqual(['yq']);
  });

  it('leaves no state behind: the next call starts fresh, even after a matcher throws', () => {
    const a = exchange('a', 'fanout');
    const b = exchange('b', 'fanout');
    a.matcher.add(b, '', null);
    b.matcher.add(queue('qb'), '', null);
    const boom = exchange('boom', 'fanout');
    boom.matcher.add(b, '', null);
    b.matcher.match = () => {
      throw new Error('boom');
    };
    expect(() => routed(boom, 'k')).toThrow('boom');
    b.matcher.match = (k, h, out) => out.add(queue('qb'));
    expect(routed(a, 'k')).toEqual(['qb']);
  });

  it('supports a re-entrant call from isExchange', () => {
    const a = exchange('a', 'fanout');
    const b = exchange('b', 'fanout');
    a.matcher.add(b, '', null);
    a.matcher.add(queue('qa'), '', null); // iterated after b: lost if the inner call reused our scratch
    b.matcher.add(queue('qb'), '', null);
    const inner = exchange('inner', 'fanout');
    inner.matcher.add(queue('qi'), '', null);
    const innerOut = new Set<Q>();
    const reentrant = (d: unknown): d is X => {
      if (innerOut.size === 0) route(inner, 'k', undefined, isExchange, innerOut);
      return isExchange(d);
    };
    const out = new Set<Q>();
    route(a, 'k', undefined, reentrant, out);
    expect([...out].map((q) => q.queue).sort()).toEqual(['qa', 'qb']);
    expect([...innerOut].map((q) => q.queue)).toEqual(['qi']);
  });
});
