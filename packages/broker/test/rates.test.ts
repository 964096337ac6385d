/** The rate sampler: per-second rates from the plain counters, with an injected clock (no timer). */
import { describe, expect, it } from 'vitest';
import { RateSampler } from '../src/rates.js';
import type { Queue } from '../src/queue.js';
import type { VirtualHost } from '../src/vhost.js';

function fakeQueue(): Queue {
  return { counters: { published: 0, delivered: 0, redelivered: 0, acked: 0 }, messageCount: 0, unackedCount: 0 } as unknown as Queue;
}

function setup(opts: { maxTracked?: number; capacity?: number; initialRows?: number; evictQuietMs?: number } = {}) {
  let now = 1_000_000;
  const queues = new Map<string, Queue>([
    ['a', fakeQueue()],
    ['b', fakeQueue()],
  ]);
  const vhost = { counters: { published: 0, returned: 0, deadLettered: 0 }, queues } as unknown as VirtualHost;
  const sampler = new RateSampler(() => [vhost], { now: () => now, ...opts });
  const tick = (ms = 1000) => {
    now += ms;
    sampler.sample();
  };
  return { sampler, vhost, queues, tick, now: () => now };
}

describe('RateSampler', () => {
  it('turns counter growth into per-second rates, globally and per queue', () => {
    const { sampler, vhost, queues, tick } = setup();
    sampler.sample();
    const a = queues.get('a')! as unknown as { counters: Queue['counters']; messageCount: number; unackedCount: number };
    vhost.counters.published += 100;
    vhost.counters.returned += 3;
    a.counters.published += 100;
    a.counters.delivered += 50;
    a.counters.redelivered += 5;
    a.counters.acked += 40;
    a.messageCount = 50;
    a.unackedCount = 10;
    tick(2000); // two seconds: rates are halved
    expect(sampler.latest()).toEqual({ published: 50, delivered: 25, acked: 20, redelivered: 2.5, returned: 1.5, deadLettered: 0 });
    expect(sampler.queueLatest(queues.get('a')!)).toEqual({ published: 50, delivered: 25, acked: 20 });
    tick();
    expect(sampler.latest().published).toBe(0);
    const h = sampler.history(60);
    expect(h.intervalMs).toBe(1000);
    expect(h.samples.map((s) => s.published)).toEqual([50, 0]);
    const qh = sampler.queueHistory(queues.get('a')!, 60);
    expect(qh.samples.map((s) => [s.published, s.ready, s.unacked])).toEqual([
      [0, 0, 0],
      [50, 50, 10],
      [0, 50, 10],
    ]);
    // A quiet queue: flat at its depth.
    expect(sampler.queueHistory(queues.get('b')!, 60).samples.every((s) => s.published === 0 && s.ready === 0)).toBe(true);
  });

  it("a stream's in-rate is its log's growth (its next offset), from when its log is open", () => {
    const { sampler, vhost, queues, tick } = setup();
    const stream = { ...fakeQueue(), isStream: true, name: 's' } as unknown as Queue;
    queues.set('s', stream);
    let log: { next: number } | undefined; // still opening
    (vhost as unknown as { streams: unknown }).streams = { log: (name: string) => (name === 's' ? log : undefined) };
    sampler.sample();
    log = { next: 1000 }; // opened, 1000 messages from before a restart: not a rate
    tick();
    expect(sampler.queueLatest(stream)).toEqual({ published: 0, delivered: 0, acked: 0 });
    log.next += 30;
    tick(2000);
    expect(sampler.queueLatest(stream).published).toBe(15);
    tick();
    expect(sampler.queueHistory(stream, 60).samples.map((s) => s.published)).toEqual([0, 15, 0]);
  });

  it('keeps 10 minutes (the capacity), answers the seconds asked for, and never reports a negative rate', () => {
    const { sampler, vhost, queues, tick } = setup({ capacity: 5 });
    sampler.sample();
    for (let i = 0; i < 8; i++) {
      vhost.counters.published += 10;
      tick();
    }
    expect(sampler.history(600).samples).toHaveLength(5);
    expect(sampler.history(2).samples).toHaveLength(3); // t-2s .. t inclusive
    // A queue deleted (its counters gone with it): 0, not negative.
    const a = queues.get('a')! as unknown as { counters: Queue['counters'] };
    a.counters.delivered = 1000;
    tick();
    queues.delete('a');
    tick();
    expect(sampler.latest().delivered).toBe(0);
  });

  it('keeps per-queue history for at most maxTracked active queues (the quietest goes first, once quiet for evictQuietMs)', () => {
    const { sampler, queues, tick } = setup({ maxTracked: 1, evictQuietMs: 5000 });
    sampler.sample();
    const a = queues.get('a')! as unknown as { counters: Queue['counters'] };
    const b = queues.get('b')! as unknown as { counters: Queue['counters'] };
    a.counters.published++;
    tick();
    tick(5000);
    b.counters.published++;
    tick();
    expect(sampler.queueHistory(queues.get('b')!, 60).samples.some((s) => s.published > 0)).toBe(true);
    // a lost its ring to b: flat now. b took a's ring: one ring allocated in all.
    expect(sampler.queueHistory(queues.get('a')!, 60).samples.every((s) => s.published === 0)).toBe(true);
    expect(sampler.ringStats()).toMatchObject({ tracked: 1, created: 1 });
  });

  it('allocates no ring per sample when more queues are busy than maxTracked: a busy queue keeps its history', () => {
    const { sampler, queues, tick } = setup({ maxTracked: 1 });
    sampler.sample();
    const a = queues.get('a')! as unknown as { counters: Queue['counters'] };
    const b = queues.get('b')! as unknown as { counters: Queue['counters'] };
    for (let i = 0; i < 10; i++) {
      a.counters.published++;
      b.counters.published++;
      tick();
    }
    // Before: each change of the untracked queue evicted the other and allocated a new ring (20 rings, no history kept).
    expect(sampler.ringStats()).toEqual({ tracked: 1, rows: expect.any(Number), created: 1 });
    expect(sampler.queueHistory(queues.get('a')!, 60).samples.filter((s) => s.published > 0)).toHaveLength(10);
    // The other one still has its latest rates, and 0 once it is quiet.
    expect(sampler.queueLatest(queues.get('b')!).published).toBe(1);
    tick();
    expect(sampler.queueLatest(queues.get('b')!).published).toBe(0);
  });

  it('grows a ring with its history (not the full 10 minutes at once) and drops the ring of a deleted queue', () => {
    const { sampler, queues, tick } = setup({ capacity: 600, initialRows: 60 });
    sampler.sample();
    const a = queues.get('a')! as unknown as { counters: Queue['counters'] };
    a.counters.published++;
    tick();
    expect(sampler.ringStats()).toEqual({ tracked: 1, rows: 60, created: 1 });
    for (let i = 0; i < 100; i++) {
      a.counters.published++;
      tick();
    }
    expect(sampler.ringStats().rows).toBe(120);
    const h = sampler.queueHistory(queues.get('a')!, 600).samples;
    expect(h).toHaveLength(102);
    expect(h.slice(1).every((s) => s.published === 1)).toBe(true);
    for (let i = 0; i < 700; i++) {
      a.counters.published++;
      tick();
    }
    expect(sampler.ringStats().rows).toBe(600);
    expect(sampler.queueHistory(queues.get('a')!, 3600).samples).toHaveLength(600);
    queues.delete('a');
    tick();
    expect(sampler.ringStats()).toEqual({ tracked: 0, rows: 0, created: 1 });
  });
});
