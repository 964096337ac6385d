/**
 * Review of 9ca1596 (last-used caches on the durable path: PendingQueues.last,
 * MessageIndex.intern's lastName, MetaCache.same). Adversarial: real stores on temp folders,
 * restarted, and what recovers compared with a model; randomized interleavings replay from
 * their seed (test-support/prng.ts). Each test here failed on a hand-injected faulty variant
 * of the change (see /work/coord/review-s2store-report.md).
 */
import { describe, expect, it } from 'vitest';
import { pack, type MessageProperties } from '@warren/protocol';
import { MetaCache } from '../../src/storage/meta-cache.js';
import type { MessageStore } from '../../src/storage/index.js';
import { rng, type Rng } from '../../../../test-support/prng.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';
import { ids, open } from './helpers.js';

const tmp = tempDirPerTest('warren-review-s2store-');

const msg = (body: string, properties: MessageProperties | null = { persistent: true }, exchange = 'ex', routingKey = 'rk') => ({
  exchange,
  routingKey,
  properties,
  body: Buffer.from(body),
});

/** Appends and resolves with the id once durable. */
function put(s: MessageStore, queues: string[], body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const id = s.append(queues, msg(body), (err) => (err ? reject(err) : resolve(id)));
  });
}

describe('PendingQueues: the last-used list is dropped by a flush', () => {
  it('a settlement after a batch that touched only delivery marks (the settled list of the last queue dropped) is written', async () => {
    let s = await open(tmp.path);
    const a = [await put(s, ['a'], 'a0'), await put(s, ['a'], 'a1'), await put(s, ['a'], 'a2')];
    const b = await put(s, ['b'], 'b0');
    s.settle('a', a[0]!); // pendingSettled.last = a's list
    await s.idle(); // batch 1 writes it; the list stays, empty
    s.delivered('b', b); // only a delivery mark: pendingSettled is flushed with a's list empty -> dropped
    await s.idle();
    s.settle('a', a[1]!); // must go to a list that flushPending sees
    await s.idle();
    await s.close();
    s = await open(tmp.path);
    try {
      expect(ids(s, 'a')).toEqual([a[2]]);
      expect(s.recovered().get('b')!.map((m) => m.deliveryCount)).toEqual([1]);
    } finally {
      await s.close();
    }
  });

  it('a delivery mark after a batch that touched only settlements (the delivered list of the last queue dropped) is written', async () => {
    let s = await open(tmp.path);
    const a = [await put(s, ['a'], 'a0'), await put(s, ['a'], 'a1')];
    const b = await put(s, ['b'], 'b0');
    s.delivered('a', a[0]!);
    await s.idle();
    s.settle('b', b); // only a settlement: a's empty delivered list is dropped
    await s.idle();
    s.delivered('a', a[0]!);
    s.delivered('a', a[1]!);
    await s.idle();
    await s.close();
    s = await open(tmp.path);
    try {
      expect(s.recovered().get('a')!.map((m) => [m.id, m.deliveryCount])).toEqual([
        [a[0], 2],
        [a[1], 1],
      ]);
      expect(ids(s, 'b')).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('a queue deleted and recreated under the same name, in one batch and across batches, keeps only the new queue\'s state', async () => {
    let s = await open(tmp.path);
    const old = [await put(s, ['q'], 'o0'), await put(s, ['q'], 'o1')];
    s.settle('q', old[0]!);
    s.delivered('q', old[1]!);
    await new Promise<void>((resolve, reject) => s.dropQueue('q', (err) => (err ? reject(err) : resolve())));
    // Same batch as nothing: the recreated queue reuses the name and (through `last`) the list.
    const n = [await put(s, ['q'], 'n0'), await put(s, ['q'], 'n1'), await put(s, ['q'], 'n2')];
    s.settle('q', n[0]!);
    s.delivered('q', n[1]!);
    s.dropQueue('q'); // dropped again without waiting, then recreated in the same turn
    const m = s.append(['q'], msg('m0'), () => {});
    s.settle('q', m);
    const m1 = await put(s, ['q'], 'm1');
    s.delivered('q', m1);
    await s.idle();
    await s.close();
    s = await open(tmp.path);
    try {
      expect(s.recovered().get('q')!.map((r) => [r.id, r.deliveryCount])).toEqual([[m1, 1]]);
    } finally {
      await s.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// MetaCache: every answer is pack()'s bytes, whatever the sequence of objects.

describe('MetaCache.same, adversarial sequences', () => {
  const expectPacked = (cache: MetaCache, ex: string, rk: string, p: MessageProperties | null | undefined, step: string): void => {
    const got = cache.get(ex, rk, p);
    const want = pack([ex, rk, p ?? null]);
    expect(Buffer.compare(got, want), `${step}: ${ex} ${rk} ${JSON.stringify(p)}`).toBe(0);
  };

  it('hand-picked edges: splice then the same object, twins, mutated plain object, frozen later, null/undefined, exchange/routingKey changes', () => {
    const cache = new MetaCache();
    const f1 = Object.freeze({ persistent: true, messageId: 'm-1' }) as MessageProperties;
    const twin = Object.freeze({ persistent: true, messageId: 'm-1' }) as MessageProperties;
    const f2 = Object.freeze({ persistent: true, messageId: 'm-22' }) as MessageProperties;
    const plain = { persistent: true, messageId: 'p' } as MessageProperties;
    const later = { persistent: true, messageId: 'late' } as MessageProperties;
    const steps: Array<[string, string, MessageProperties | null | undefined] | (() => void)> = [
      ['ex', 'rk', f1],
      ['ex', 'rk', f2], // spliced: packed is f2's (scratch), same = f2
      ['ex', 'rk', f2], // same hit on the spliced bytes
      ['ex', 'rk', f1], // spliced back
      ['ex', 'rk', twin], // another frozen object, same contents
      ['ex', 'rk', f1],
      ['ex', 'rk2', f1], // routing key changes under the same object
      ['ex', 'rk2', f1],
      ['ex2', 'rk2', f1], // exchange changes under the same object
      ['ex', 'rk', f1],
      ['ex', 'rk', plain], // a plain object after a frozen one
      ['ex', 'rk', plain],
      () => {
        (plain as Record<string, unknown>).messageId = 'p2';
      }, // mutated in place
      ['ex', 'rk', plain],
      () => {
        (plain as Record<string, unknown>).persistent = false;
      },
      ['ex', 'rk', plain],
      ['ex', 'rk', later], // first seen unfrozen (as the decoder hands it out)...
      () => {
        Object.freeze(later);
      }, // ...then frozen in place when it repeats
      ['ex', 'rk', later],
      ['ex', 'rk', later],
      ['ex', 'rk', null],
      ['ex', 'rk', f1],
      ['ex', 'rk', undefined],
      ['ex', 'rk', f1],
      ['ex', 'rk', Object.freeze({})],
      ['ex', 'rk', f1],
      ['ex', 'rk', Object.freeze({ headers: { n: 1 } }) as MessageProperties], // not cacheable: packed = null
      ['ex', 'rk', f1],
      ['', '', f1],
      ['', '', f1],
      ['ex', 'rk', f1],
    ];
    steps.forEach((s, i) => {
      if (typeof s === 'function') s();
      else expectPacked(cache, s[0], s[1], s[2], `step ${i}`);
    });
  });

  /** A pool of properties the way publishers and the decoder produce them, with in-place changes. */
  function randomSequence(r: Rng, cache: MetaCache, steps: number): void {
    const frozen: MessageProperties[] = [];
    const plain: Record<string, unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      frozen.push(Object.freeze({ persistent: true, contentType: 'text/plain', messageId: `id-${i}` }) as MessageProperties);
      plain.push({ persistent: true, contentType: 'text/plain', messageId: `id-${i}` });
    }
    frozen.push(Object.freeze({ persistent: true }) as MessageProperties);
    frozen.push(Object.freeze({ persistent: true, messageId: 'é-ü' }) as MessageProperties); // non-ASCII splice
    frozen.push(Object.freeze({ persistent: true, messageId: 'x'.repeat(200) }) as MessageProperties); // str8 header
    const exchanges = ['ex', 'ex2', ''];
    const keys = ['rk', 'rk2'];
    let ex = 'ex';
    let rk = 'rk';
    for (let i = 0; i < steps; i++) {
      if (r.next() < 0.1) ex = r.pick(exchanges);
      if (r.next() < 0.1) rk = r.pick(keys);
      const k = r.int(0, 9);
      let p: MessageProperties | null | undefined;
      if (k <= 3) p = r.pick(frozen);
      else if (k <= 5) {
        const o = r.pick(plain);
        if (r.next() < 0.5) o.messageId = `id-${r.int(0, 5)}`; // same identity, maybe new contents
        if (r.next() < 0.1) o.persistent = !o.persistent;
        p = o as MessageProperties;
      } else if (k === 6) {
        // A fresh frozen twin of a pool object (equal contents, other identity).
        p = Object.freeze({ ...r.pick(frozen) }) as MessageProperties;
      } else if (k === 7) p = r.next() < 0.5 ? null : undefined;
      else if (k === 8) p = Object.freeze({ persistent: true, contentType: 'text/plain', messageId: `n-${r.int(0, 1000)}` }) as MessageProperties;
      else p = Object.freeze({ headers: { n: r.int(0, 3) } }) as MessageProperties;
      expectPacked(cache, ex, rk, p, `step ${i}`);
    }
  }

  it.each([1, 2, 3, 42, 2026])('randomized sequence, seed %i: every get() equals pack()', (seed) => {
    randomSequence(rng(seed), new MetaCache(), 4000);
  });
});

// ---------------------------------------------------------------------------------------------
// The store as a whole: random interleavings, restarts, compared with a model.

interface ModelMsg {
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  /** queue -> delivery count */
  queues: Map<string, number>;
}

describe('MessageStore with the caches: randomized interleavings, restart and compare', () => {
  const QUEUES = ['a', 'b', 'c', 'dead'];

  async function run(seed: number, dir: string): Promise<void> {
    const r = rng(seed);
    const model = new Map<number, ModelMsg>();
    const frozen = [
      Object.freeze({ persistent: true }) as MessageProperties,
      Object.freeze({ persistent: true, messageId: 'fixed' }) as MessageProperties,
      Object.freeze({ persistent: true, contentType: 'a/b', priority: 3 }) as MessageProperties,
    ];
    const plain: Record<string, unknown> = { persistent: true, messageId: 'p0' };
    let s = await open(dir, { segmentSize: 4096 }); // small segments: rolls, deletion and compaction run

    const live = (): Array<[number, string]> => {
      const out: Array<[number, string]> = [];
      for (const [id, m] of model) for (const q of m.queues.keys()) out.push([id, q]);
      return out;
    };
    const settleModel = (id: number, q: string): void => {
      const m = model.get(id);
      if (!m || !m.queues.has(q)) return;
      m.queues.delete(q);
      if (m.queues.size === 0) model.delete(id);
    };

    const check = async (): Promise<void> => {
      for (const q of QUEUES) {
        const want = [...model].filter(([, m]) => m.queues.has(q)).map(([id, m]) => ({
          id,
          exchange: m.exchange,
          routingKey: m.routingKey,
          properties: m.properties,
          deliveryCount: m.queues.get(q)!,
        }));
        const got = (s.recovered().get(q) ?? []).map((m) => ({
          id: m.id,
          exchange: m.exchange,
          routingKey: m.routingKey,
          properties: m.properties,
          deliveryCount: m.deliveryCount,
        }));
        expect(got, `seed ${seed}, queue ${q}`).toEqual(want);
      }
    };

    for (let round = 0; round < 6; round++) {
      const ops = r.int(60, 160);
      for (let i = 0; i < ops; i++) {
        const k = r.int(0, 99);
        if (k < 35) {
          const qs = r.next() < 0.8 ? [r.pick(QUEUES.slice(0, 3))] : [r.pick(QUEUES.slice(0, 3)), r.pick(QUEUES.slice(0, 3))];
          const exchange = r.next() < 0.85 ? 'ex' : 'ex2';
          const routingKey = r.next() < 0.85 ? 'rk' : `rk.${r.int(0, 2)}`;
          let properties: MessageProperties | null;
          const pk = r.int(0, 5);
          if (pk <= 2) properties = r.pick(frozen);
          else if (pk === 3) {
            plain.messageId = `p${r.int(0, 3)}`; // same object, changed in place between publishes
            properties = plain as MessageProperties;
          } else if (pk === 4) properties = Object.freeze({ persistent: true, messageId: `m${i}` }) as MessageProperties;
          else properties = null;
          const snapshot = properties === null ? null : ({ ...properties } as MessageProperties);
          const id = s.append(qs, { exchange, routingKey, properties, body: r.bytes(r.int(1, 300)) }, (err) => {
            if (err) throw err;
          });
          model.set(id, { exchange, routingKey, properties: snapshot, queues: new Map([...new Set(qs)].map((q) => [q, 0])) });
        } else if (k < 65) {
          const l = live();
          if (l.length > 0) {
            const [id, q] = r.pick(l);
            s.settle(q, id);
            settleModel(id, q);
          }
        } else if (k < 85) {
          const l = live();
          if (l.length > 0) {
            const [id, q] = r.pick(l);
            s.delivered(q, id);
            model.get(id)!.queues.set(q, model.get(id)!.queues.get(q)! + 1);
          }
        } else if (k < 88) {
          const q = r.pick(QUEUES.slice(0, 3));
          if (r.next() < 0.5) await new Promise<void>((resolve, reject) => s.dropQueue(q, (err) => (err ? reject(err) : resolve())));
          else s.dropQueue(q);
          for (const [id] of [...model]) settleModel(id, q);
        } else if (k < 95) {
          // Let a batch go (flushPending drops the lists left empty).
          await new Promise((resolve) => setImmediate(resolve));
        } else {
          await s.idle();
        }
      }
      // Dead-lettering while the store closes: a copy's durable callback settles its source.
      const l = live().filter(([, q]) => q !== 'dead');
      const dl = Math.min(l.length, r.int(0, 3));
      for (let j = 0; j < dl; j++) {
        const [src, q] = l[j]!;
        const copyId = s.append(['dead'], { exchange: 'dlx', routingKey: q, properties: frozen[0]!, body: Buffer.from('copy') }, (err) => {
          if (err === null) s.settle(q, src);
        });
        model.set(copyId, { exchange: 'dlx', routingKey: q, properties: { ...frozen[0]! }, queues: new Map([['dead', 0]]) });
        settleModel(src, q);
      }
      await s.close();
      s = await open(dir, { segmentSize: 4096 });
      await check();
      s.releaseRecovered();
    }
    await s.close();
  }

  it.each([7, 11, 1234, 99991])('seed %i', async (seed) => {
    await run(seed, tmp.path);
  });
});

describe('compaction and recovery with the caches (intern during copy and replay)', () => {
  it('live messages of several queues, compacted while settlements of other queues are deferred, recover with their own queues, counts and metadata', async () => {
    const SEG = 4096;
    let s = await open(tmp.path, { segmentSize: SEG });
    const shared = Object.freeze({ persistent: true, messageId: 'shared' }) as MessageProperties;
    const stuck: Array<{ id: number; queues: string[]; ex: string; rk: string; props: MessageProperties | null }> = [];
    const names = ['x', 'y', 'z'];
    for (let i = 0; i < 6; i++) {
      const queues = i % 3 === 2 ? [names[i % 3]!, 'x'] : [names[i % 3]!];
      const ex = i % 2 === 0 ? 'ex' : 'ex2';
      const rk = `rk.${i}`;
      const props = i === 4 ? null : shared;
      const id = await new Promise<number>((resolve, reject) => {
        const n = s.append(queues, msg(`stuck-${i}`.padEnd(100, 's'), props, ex, rk), (err) => (err ? reject(err) : resolve(n)));
      });
      stuck.push({ id, queues: [...new Set(queues)], ex, rk, props });
    }
    s.delivered('y', stuck[1]!.id);
    // A flood on 'q' (the same frozen properties): segments full of garbage behind the stuck ones.
    for (let i = 0; i < 1000; i++) {
      const id = await put(s, ['q'], `body-${i}`.padEnd(100, 'x'));
      s.settle('q', id);
      if (i % 97 === 0) s.delivered('z', stuck[2]!.id); // marks of another queue interleaved with q's settlements
    }
    await s.idle();
    expect(s.writeStats.compactedMessages).toBeGreaterThanOrEqual(stuck.length);
    // After the copies: settle one, drop and recreate 'x' (its name interned last by compaction, likely).
    s.settle('y', stuck[4]!.id);
    await new Promise<void>((resolve, reject) => s.dropQueue('x', (err) => (err ? reject(err) : resolve())));
    const newX = await put(s, ['x'], 'new-x');
    s.delivered('x', newX);
    await s.idle();
    await s.close();
    s = await open(tmp.path, { segmentSize: SEG });
    try {
      const dc = (id: number, q: string) => (q === 'y' && id === stuck[1]!.id ? 1 : q === 'z' && id === stuck[2]!.id ? 11 : 0);
      for (const q of ['x', 'y', 'z']) {
        const want = stuck
          .filter((m) => m.queues.includes(q) && q !== 'x' && !(q === 'y' && m.id === stuck[4]!.id))
          .map((m) => ({ id: m.id, exchange: m.ex, routingKey: m.rk, properties: m.props === null ? null : { ...m.props }, deliveryCount: dc(m.id, q) }));
        if (q === 'x') want.push({ id: newX, exchange: 'ex', routingKey: 'rk', properties: { persistent: true }, deliveryCount: 1 });
        const got = (s.recovered().get(q) ?? []).map((m) => ({ id: m.id, exchange: m.exchange, routingKey: m.routingKey, properties: m.properties, deliveryCount: m.deliveryCount }));
        expect(got, q).toEqual(want);
      }
      expect(ids(s, 'q')).toEqual([]);
      const alive = new Set([...s.recovered().values()].flat().map((r) => r.id));
      for (const m of stuck) if (alive.has(m.id)) expect((await s.readBody(m.id)).toString().startsWith('stuck-')).toBe(true);
    } finally {
      await s.close();
    }
  });
});
