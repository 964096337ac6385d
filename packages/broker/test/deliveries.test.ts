/**
 * Deliveries (deliveries.ts) keeps unacked deliveries in a ring indexed by tag,
 * with a map for the ones left behind: settles in tag order, refuses unknown
 * tags, returns everything on close and requeues on x-consumer-timeout exactly
 * as a plain map by tag would, whatever the mix of orders, noAck tags and
 * stragglers (a seeded model below).
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import type { WarrenError } from '@warren/protocol';
import { Deliveries } from '../src/deliveries.js';
import type { QueuedMessage } from '../src/message.js';
import type { Consumer, Queue } from '../src/queue.js';

type Event = [op: 'settle' | 'return' | 'reject' | 'drain', queue: string, id?: number];

function fakeQueue(name: string, log: Event[], consumerTimeout: number | null = null): Queue {
  return {
    name,
    policy: { consumerTimeout },
    settle: (_c: Consumer | null, qm: QueuedMessage) => log.push(['settle', name, qm.seq]),
    returnToQueue: (_c: Consumer | null, qm: QueuedMessage) => log.push(['return', name, qm.seq]),
    reject: (_c: Consumer | null, qm: QueuedMessage) => log.push(['reject', name, qm.seq]),
    drain: () => log.push(['drain', name]),
  } as unknown as Queue;
}

const qm = (id: number) => ({ seq: id }) as unknown as QueuedMessage;
const noTimeout = (): void => {
  throw new Error('no timeout expected');
};

/** The settle/return/reject events only (drains are per batch). */
const settled = (log: Event[]) => log.filter((e) => e[0] !== 'drain');

afterEach(() => {
  vi.useRealTimers();
});

describe('Deliveries', () => {
  it('settles single tags in any order, multiples oldest first, and skips noAck tags', () => {
    const log: Event[] = [];
    const q = fakeQueue('q', log);
    const d = new Deliveries(noTimeout);
    for (let id = 1; id <= 6; id++) expect(d.track(q, qm(id), null, id === 3)).toBe(id);
    expect(d.size).toBe(5);
    d.ack(2, false);
    d.nack(5, false, true);
    d.ack(4, true);
    expect(settled(log)).toEqual([
      ['settle', 'q', 2],
      ['return', 'q', 5],
      ['settle', 'q', 1],
      ['settle', 'q', 4],
    ]);
    expect(d.size).toBe(1);
    d.nack(0, true, false);
    expect(settled(log).at(-1)).toEqual(['reject', 'q', 6]);
    expect(d.size).toBe(0);
  });

  it('refuses tags never issued, already settled, noAck, and 0 alone', () => {
    const q = fakeQueue('q', []);
    const d = new Deliveries(noTimeout);
    d.track(q, qm(1), null, false);
    d.track(q, qm(2), null, true);
    d.ack(1, false);
    for (const tag of [0, 1, 2, 3]) expect(() => d.ack(tag, false)).toThrow(/unknown delivery tag/);
    expect(() => d.ack(3, true)).toThrow(/unknown delivery tag 3/);
    d.ack(2, true); // nothing left up to 2: no error
  });

  it('keeps a delivery left unacked while a million later ones come and go, without growing', () => {
    const log: Event[] = [];
    const q = fakeQueue('q', log);
    const d = new Deliveries(noTimeout);
    d.track(q, qm(1), null, false);
    for (let id = 2; id <= 1_000_000; id++) {
      d.track(q, qm(id), null, false);
      if (id > 101) d.ack(id - 100, false);
    }
    expect(d.size).toBe(101);
    expect((d as unknown as { queues: unknown[] }).queues.length).toBeLessThanOrEqual(512);
    log.length = 0;
    d.ack(999_950, true);
    expect(settled(log).map((e) => e[2])).toEqual([1, ...Array.from({ length: 50 }, (_, i) => 999_901 + i)]);
    d.ack(1_000_000, false);
    expect(d.size).toBe(49);
  });

  it('returns everything on close in tag order, stragglers first', () => {
    const log: Event[] = [];
    const a = fakeQueue('a', log);
    const b = fakeQueue('b', log);
    const d = new Deliveries(noTimeout);
    d.track(a, qm(1), null, false);
    for (let id = 2; id <= 5000; id++) {
      d.track(id % 2 === 0 ? a : b, qm(id), null, false);
      if (id < 4990) d.ack(id, false);
    }
    log.length = 0;
    d.returnAll();
    expect(log.map((e) => e[2])).toEqual([1, ...Array.from({ length: 11 }, (_, i) => 4990 + i)]);
    expect(d.size).toBe(0);
    d.drainReturned();
    expect(log.filter((e) => e[0] === 'drain').map((e) => e[1]).sort()).toEqual(['a', 'b']);
    expect(() => d.ack(4990, false)).toThrow(/unknown delivery tag/);
  });

  it('requeues what outlives its queue x-consumer-timeout and says so', () => {
    vi.useFakeTimers();
    const log: Event[] = [];
    const timed = fakeQueue('timed', log, 1000);
    const plain = fakeQueue('plain', log);
    const errors: WarrenError[] = [];
    const d = new Deliveries((err) => errors.push(err));
    d.track(timed, qm(1), null, false);
    d.track(plain, qm(2), null, false);
    vi.advanceTimersByTime(500);
    d.track(timed, qm(3), null, false);
    vi.advanceTimersByTime(600);
    expect(settled(log)).toEqual([['return', 'timed', 1]]);
    expect(errors.map((e) => (e.details as { deliveryTag: number }).deliveryTag)).toEqual([1]);
    expect(errors[0]!.message).toBe('delivery 1 was not acknowledged within 1000 ms; it was requeued');
    vi.advanceTimersByTime(500);
    expect(settled(log).map((e) => e[2])).toEqual([1, 3]);
    expect(d.size).toBe(1);
    expect(() => d.ack(3, false)).toThrow(/unknown delivery tag/);
  });

  it('does what a map by tag does, for random mixes of tracks and settles (seeded model)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      let x = seed * 2654435761;
      const rand = (n: number) => {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        return x % n;
      };
      const log: Event[] = [];
      const q = fakeQueue('q', log);
      const d = new Deliveries(noTimeout);
      const model = new Map<number, number>();
      const want: Event[] = [];
      let next = 1;
      for (let step = 0; step < 3000; step++) {
        const r = rand(10);
        if (r < 5) {
          const noAck = rand(8) === 0;
          expect(d.track(q, qm(next), null, noAck)).toBe(next);
          if (!noAck) model.set(next, next);
          next++;
          continue;
        }
        const keys = [...model.keys()];
        // Mostly the oldest few (in-order acks), sometimes any tag, sometimes one never issued or settled.
        const tag = rand(6) === 0 ? rand(next + 2) : keys.length === 0 ? next : keys[Math.min(rand(4), keys.length - 1)]!;
        const multiple = rand(4) === 0;
        const op = rand(3);
        const how = op === 0 ? 'settle' : op === 1 ? 'return' : 'reject';
        const settle = () => (op === 0 ? d.ack(tag, multiple) : d.nack(tag, multiple, op === 1));
        if (multiple) {
          if (tag >= next) {
            expect(settle).toThrow(/unknown delivery tag/);
            continue;
          }
          for (const k of keys) {
            if (tag !== 0 && k > tag) break;
            model.delete(k);
            want.push([how, 'q', k]);
          }
        } else if (!model.has(tag)) {
          expect(settle).toThrow(/unknown delivery tag/);
          continue;
        } else {
          model.delete(tag);
          want.push([how, 'q', tag]);
        }
        settle();
        expect(d.size, `seed ${seed} step ${step}`).toBe(model.size);
      }
      expect(settled(log), `seed ${seed}`).toEqual(want);
      log.length = 0;
      d.returnAll();
      expect(settled(log), `seed ${seed}`).toEqual([...model.keys()].map((k) => ['return', 'q', k]));
    }
  });
});
