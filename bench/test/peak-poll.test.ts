/**
 * The bench broker's queue peak poll (peak-poll.mjs): fast while a queue holds messages, slow while
 * all are empty, and the peaks it reports are the deepest counts it saw since the last take().
 */
import { describe, expect, it } from 'vitest';
import { PEAK_IDLE_POLL_MS, PEAK_POLL_MS, startPeakPoll } from '../e2e/peak-poll.mjs';

/** A scheduler that keeps the next poll instead of running it, to be stepped by hand. */
function manual() {
  const delays: number[] = [];
  let next: (() => void) | undefined;
  return {
    delays,
    schedule: (fn: () => void, ms: number) => {
      next = fn;
      delays.push(ms);
    },
    step: () => {
      const fn = next!;
      next = undefined;
      fn();
    },
  };
}

describe('queue peak poll', () => {
  it('polls every PEAK_IDLE_POLL_MS while every queue is empty, every PEAK_POLL_MS while one holds messages', () => {
    const q = [
      { messageCount: 0, pagedCount: 0 },
      { messageCount: 0, pagedCount: 0 },
    ];
    const s = manual();
    startPeakPoll(() => q, s.schedule);
    expect(s.delays).toEqual([PEAK_IDLE_POLL_MS]);
    q[1]!.messageCount = 3;
    s.step();
    expect(s.delays.at(-1)).toBe(PEAK_POLL_MS);
    s.step();
    expect(s.delays.at(-1)).toBe(PEAK_POLL_MS);
    q[1]!.messageCount = 0;
    s.step();
    expect(s.delays.at(-1)).toBe(PEAK_IDLE_POLL_MS);
    expect(PEAK_POLL_MS).toBe(10);
    expect(PEAK_IDLE_POLL_MS).toBeGreaterThan(PEAK_POLL_MS);
  });

  it('reports the deepest ready count and paged-out tail seen since the last take, then starts again from zero', () => {
    const q = [
      { messageCount: 0, pagedCount: 0 },
      { messageCount: 0, pagedCount: 0 },
    ];
    const s = manual();
    const peaks = startPeakPoll(() => q, s.schedule);
    q[0]!.messageCount = 500;
    q[0]!.pagedCount = 100;
    s.step();
    q[0]!.messageCount = 200;
    q[1]!.messageCount = 300;
    q[1]!.pagedCount = 150;
    s.step();
    expect(peaks.take()).toEqual({ peakReady: 500, peakPaged: 150 });
    expect(peaks.take()).toEqual({ peakReady: 0, peakPaged: 0 });
    s.step();
    expect(peaks.take()).toEqual({ peakReady: 300, peakPaged: 150 });
  });
});
