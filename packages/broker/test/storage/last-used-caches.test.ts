/**
 * The durable path keeps the thing it used last at hand instead of looking it up per message:
 * the deferred id list of the last queue settled / delivered on (PendingQueues), the last
 * interned queue name (MessageIndex), and the properties object last checked when it is
 * frozen (MetaCache: the decoder shares one for repeated publish properties). These tests
 * check that the shortcut is taken and that it never hands out something stale.
 */
import { describe, expect, it, vi } from 'vitest';
import { pack, type MessageProperties } from '@warren/protocol';
import { MetaCache } from '../../src/storage/meta-cache.js';
import { MessageIndex } from '../../src/storage/message-index.js';
import { PendingQueues } from '../../src/storage/message-store.js';
import { ids, open, put } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

describe('PendingQueues', () => {
  it('hands out the same queue\'s list again without a Map lookup', () => {
    const pq = new PendingQueues();
    const a = pq.of('a');
    const get = vi.spyOn(pq.lists, 'get');
    expect(pq.of('a')).toBe(a);
    expect(pq.of('a')).toBe(a);
    expect(get).not.toHaveBeenCalled();
    const b = pq.of('b');
    expect(b).not.toBe(a);
    expect(pq.of('a')).toBe(a);
    expect(get).toHaveBeenCalledTimes(2);
  });

  it('after drop, the queue gets a new list that is in lists (a stale one would lose its ids)', () => {
    const pq = new PendingQueues();
    const a = pq.of('a');
    pq.drop('a', a);
    expect(pq.lists.has('a')).toBe(false);
    const again = pq.of('a');
    expect(again).not.toBe(a);
    expect(pq.lists.get('a')).toBe(again);
  });
});

describe('MessageIndex.intern', () => {
  it('looks the name up only when it is not the last one', () => {
    const index = new MessageIndex();
    const names = (index as unknown as { names: Map<string, string> }).names;
    index.add(1, 1, 32, 10, ['q'], null);
    const get = vi.spyOn(names, 'get');
    index.add(2, 1, 42, 10, ['q'], null);
    index.add(3, 1, 52, 10, ['q'], null);
    expect(get).not.toHaveBeenCalled();
    index.add(4, 1, 62, 10, ['r'], null);
    expect(get).toHaveBeenCalledTimes(1);
    expect(index.get(4)!.q).toBe('r');
  });

  it('forgets a dropped queue\'s name (the map no longer holds it)', () => {
    const index = new MessageIndex();
    index.add(1, 1, 32, 10, ['q'], null);
    index.dropQueue('q');
    const names = (index as unknown as { names: Map<string, string> }).names;
    index.add(2, 1, 42, 10, ['q'], null);
    expect(names.has('q')).toBe(true);
    expect(index.get(2)!.q).toBe('q');
  });
});

describe('MetaCache with a frozen properties object', () => {
  const check = (cache: MetaCache, ex: string, rk: string, props: MessageProperties | null | undefined): void => {
    expect(Buffer.compare(cache.get(ex, rk, props), pack([ex, rk, props ?? null])), JSON.stringify(props)).toBe(0);
  };

  it('the same frozen object again skips the key walk', () => {
    const cache = new MetaCache();
    const shared = Object.freeze({ persistent: true }) as MessageProperties;
    check(cache, 'ex', 'rk', shared);
    const differs = vi.spyOn(cache as unknown as { differs: (p: unknown) => number }, 'differs');
    for (let i = 0; i < 5; i++) check(cache, 'ex', 'rk', shared);
    expect(differs).not.toHaveBeenCalled();
    // A plain (mutable) object is always compared.
    const plain = { persistent: true } as MessageProperties;
    check(cache, 'ex', 'rk', plain);
    check(cache, 'ex', 'rk', plain);
    expect(differs).toHaveBeenCalledTimes(2);
  });

  it('never returns bytes made for another object, exchange or routing key', () => {
    const cache = new MetaCache();
    const f1 = Object.freeze({ persistent: true, messageId: 'a' }) as MessageProperties;
    const f2 = Object.freeze({ persistent: true, messageId: 'b' }) as MessageProperties;
    const f3 = Object.freeze({ persistent: false }) as MessageProperties;
    const seq: Array<[string, string, MessageProperties | null | undefined]> = [
      ['ex', 'rk', f1],
      ['ex', 'rk', f1],
      ['ex', 'rk', f2], // spliced from f1's bytes
      ['ex', 'rk', f1], // spliced back
      ['ex', 'rk', f1],
      ['ex', 'rk2', f1],
      ['ex2', 'rk2', f1],
      ['ex2', 'rk2', f3], // packed anew
      ['ex2', 'rk2', f1],
      ['ex2', 'rk2', { persistent: true, messageId: 'c' }], // a plain object in between
      ['ex2', 'rk2', f1],
      ['ex2', 'rk2', null],
      ['ex2', 'rk2', null],
      ['ex2', 'rk2', undefined],
      ['ex2', 'rk2', f1],
      ['ex2', 'rk2', Object.freeze({ headers: { n: 1 } }) as MessageProperties], // not cacheable
      ['ex2', 'rk2', Object.freeze({ headers: { n: 1 } }) as MessageProperties],
      ['ex2', 'rk2', f1],
    ];
    for (const [ex, rk, p] of seq) check(cache, ex, rk, p);
  });
});

describe('settlements across batches, one queue idle for a batch', () => {
  const tmp = tempDirPerTest('warren-last-used-');

  it('ids settled after the queue\'s list was dropped are written (acked messages stay gone after a restart)', async () => {
    let s = await open(tmp.path);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 6; i++) {
      a.push(await put(s, ['a'], `a${i}`));
      b.push(await put(s, ['b'], `b${i}`));
    }
    s.settle('a', a[0]!);
    s.delivered('a', a[1]!);
    await s.idle(); // batch 1: a's lists hold ids
    s.settle('b', b[0]!);
    s.delivered('b', b[1]!);
    await s.idle(); // batch 2: a's lists are empty and dropped, b's last used
    s.settle('a', a[2]!); // a new list for a: must be the one flushPending writes
    s.delivered('a', a[3]!);
    s.settle('b', b[2]!);
    s.settle('a', a[4]!);
    await s.idle();
    await s.close();
    s = await open(tmp.path);
    expect(ids(s, 'a')).toEqual([a[1], a[3], a[5]]);
    expect(ids(s, 'b')).toEqual([b[1], b[3], b[4], b[5]]);
    const rec = s.recovered().get('a')!;
    expect(rec.map((m) => m.deliveryCount)).toEqual([1, 1, 0]);
    await s.close();
  });
});
