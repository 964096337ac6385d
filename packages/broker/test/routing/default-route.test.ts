import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import type { MemoryBudget } from '../../src/memory.js';
import { VirtualHost } from '../../src/vhost.js';

// VirtualHost.route reuses one set per publish; the default exchange keeps it as it is when it
// already holds exactly the queue named (a stream of publishes to one queue). These pin down that
// the set is still what the route says after callers change it or the queues change.
describe('VirtualHost.route, default exchange', () => {
  const vhost = () => new VirtualHost('t', { logger: createLogger('silent'), memory: {} as MemoryBudget, paging: null });
  const owner = {};
  const names = (s: Set<{ name: string }>) => [...s].map((q) => q.name);

  it('routes repeated publishes to the same queue, and to another queue next', () => {
    const v = vhost();
    v.declareQueue('a', {}, owner);
    v.declareQueue('b', {}, owner);
    expect(names(v.route('', 'a', undefined))).toEqual(['a']);
    expect(names(v.route('', 'a', undefined))).toEqual(['a']);
    expect(names(v.route('', 'b', undefined))).toEqual(['b']);
    expect(names(v.route('', 'nope', undefined))).toEqual([]);
    expect(names(v.route('', 'a', undefined))).toEqual(['a']);
  });

  it('puts the queue back when the caller took it out of the set (as streams do)', () => {
    const v = vhost();
    v.declareQueue('a', {}, owner);
    const first = v.route('', 'a', undefined);
    first.clear();
    expect(names(v.route('', 'a', undefined))).toEqual(['a']);
  });

  it('drops what the caller added to the set', () => {
    const v = vhost();
    const { result } = v.declareQueue('a', {}, owner);
    v.declareQueue('b', {}, owner);
    const out = v.route('', result.queue, undefined);
    out.add(v.queues.get('b')!);
    expect(names(v.route('', 'a', undefined))).toEqual(['a']);
  });

  it('routes nowhere once the queue is deleted, and to the new queue of the same name', () => {
    const v = vhost();
    v.declareQueue('a', {}, owner);
    const old = v.queues.get('a')!;
    expect([...v.route('', 'a', undefined)]).toEqual([old]);
    v.deleteQueue('a', {}, owner);
    expect(names(v.route('', 'a', undefined))).toEqual([]);
    v.declareQueue('a', {}, owner);
    const routed = [...v.route('', 'a', undefined)];
    expect(routed).toHaveLength(1);
    expect(routed[0]).not.toBe(old);
  });

  it('leaves a set the caller passes in as the route says', () => {
    const v = vhost();
    v.declareQueue('a', {}, owner);
    const mine = new Set([v.queues.get('a')!]);
    expect(names(v.route('', 'a', undefined, mine))).toEqual(['a']);
    v.declareQueue('b', {}, owner);
    expect(names(v.route('', 'b', undefined, mine))).toEqual(['b']);
  });
});
