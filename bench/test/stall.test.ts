/**
 * The publisher watch of the end-to-end benchmarks (e2e/stall.ts), driven by
 * hand-made samples: a peer that blocks the publisher (RabbitMQ's memory alarm)
 * or stops taking messages ends the phase with a verdict instead of a hang.
 */
import { describe, expect, it } from 'vitest';
import { ProgressWatch, describeVerdict, type Verdict } from '../e2e/stall.js';

const LIMITS = { blockedMs: 30_000, stallMs: 60_000, budgetMs: 500_000 };

/** Feeds one sample a second from `from` (inclusive) to `to` (exclusive) and returns the first verdict that is not 'running'. */
function drive(w: ProgressWatch, from: number, to: number, sample: (t: number) => { count: number; blocked?: string }): { at: number; v: Verdict } | undefined {
  for (let t = from; t < to; t += 1000) {
    const v = w.sample({ at: t, ...sample(t) });
    if (v.state !== 'running') return { at: t, v };
  }
  return undefined;
}

describe('ProgressWatch', () => {
  it('lets a publisher that keeps going run to the end of its budget', () => {
    const w = new ProgressWatch(LIMITS, 0);
    expect(drive(w, 0, 500_000, (t) => ({ count: t * 20 }))).toBeUndefined();
  });

  it('reports a memory alarm that blocks the publisher for good, with how far it got', () => {
    const w = new ProgressWatch(LIMITS, 0);
    // 2,900,000 messages in 100 s, then RabbitMQ's memory alarm: connection.blocked, nothing more published.
    const r = drive(w, 0, 1_000_000, (t) => (t < 100_000 ? { count: t * 29 } : { count: 2_900_000, blocked: 'low on memory' }));
    expect(r).toBeDefined();
    expect(r!.at).toBe(130_000);
    expect(r!.v).toEqual({ state: 'blocked', reason: 'low on memory', count: 2_900_000, forMs: 30_000 });
    expect(describeVerdict('rabbitmq', r!.v as Exclude<Verdict, { state: 'running' }>, 10_000_000, 10.2e9)).toBe(
      'rabbitmq: blocked by its memory alarm at 2,900,000 of 10,000,000 messages published, RSS 10,200 MB (blocked for 30 s without a break; connection.blocked: "low on memory"); the phase was stopped there',
    );
  });

  it('lets an alarm that clears within the limit pass (a pause, not a block)', () => {
    const w = new ProgressWatch(LIMITS, 0);
    // Blocked for 20 s at a time, then 10 s of progress, over and over.
    const r = drive(w, 0, 300_000, (t) => (t % 30_000 < 20_000 ? { count: Math.floor(t / 30_000) * 100_000, blocked: 'low on memory' } : { count: t * 5 }));
    expect(r).toBeUndefined();
  });

  it('reports a peer that stops taking messages without saying so (flow control, a dead socket)', () => {
    const w = new ProgressWatch(LIMITS, 0);
    const r = drive(w, 0, 1_000_000, (t) => ({ count: Math.min(t, 50_000) * 10 }));
    expect(r?.v).toEqual({ state: 'stalled', count: 500_000, forMs: 60_000 });
    expect(r!.at).toBe(110_000);
  });

  it('reports a publisher that never starts', () => {
    const w = new ProgressWatch(LIMITS, 5_000);
    expect(drive(w, 5_000, 1_000_000, () => ({ count: 0 }))).toEqual({ at: 65_000, v: { state: 'stalled', count: 0, forMs: 60_000 } });
  });

  it('stops a phase that is still going when its budget is spent', () => {
    const w = new ProgressWatch(LIMITS, 0);
    expect(drive(w, 0, 1_000_000, (t) => ({ count: t }))).toEqual({ at: 500_000, v: { state: 'overtime', count: 500_000, forMs: 500_000 } });
  });
});
