import { describe, expect, it } from 'vitest';
import { warmUp } from '../e2e/common.js';

/** A clock that moves only when a phase runs, so the test needs no sleeps. */
function clocked(msPerPhase: number) {
  let t = 0;
  return { now: () => t, phase: async () => void (t += msPerPhase) };
}

describe('warmUp', () => {
  it('repeats the warm-up phase until the minimum time has passed', async () => {
    const c = clocked(300);
    expect(await warmUp(c.phase, 1000, 100, c.now)).toBe(4);
  });

  it('runs one phase when no minimum is asked or one phase is long enough', async () => {
    expect(await warmUp(clocked(5).phase, 0, 100, clocked(5).now)).toBe(1);
    const slow = clocked(2000);
    expect(await warmUp(slow.phase, 1000, 100, slow.now)).toBe(1);
  });

  it('stops at the phase cap on a system too fast to measure', async () => {
    const c = clocked(0);
    expect(await warmUp(c.phase, 1000, 7, c.now)).toBe(7);
  });
});
