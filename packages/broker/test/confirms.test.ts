import { describe, expect, it } from 'vitest';
import { ConfirmTracker } from '../src/confirms.js';

const immediate = () => new Promise<void>((r) => setImmediate(r));

function tracker() {
  const sent: [number, boolean][] = [];
  const t = new ConfirmTracker({ confirm: (seq, multiple) => sent.push([seq, multiple]) });
  const publish = (n: number) => {
    for (let i = 0; i < n; i++) t.received();
  };
  return { t, sent, publish };
}

describe('ConfirmTracker', () => {
  it('sends one CONFIRM for publishes settled in separate reads of one loop iteration', async () => {
    const { t, sent, publish } = tracker();
    publish(8);
    // Two socket reads served in the same poll phase: a microtask checkpoint between them.
    t.settle(1, true);
    t.settle(2, true);
    t.settle(3, true);
    t.settle(4, true);
    await Promise.resolve();
    expect(sent).toEqual([]);
    t.settle(5, true);
    t.settle(6, true);
    await Promise.resolve();
    await immediate();
    expect(sent).toEqual([[6, true]]);
  });

  /** Settles each [seq, ok] in one loop iteration and returns the CONFIRMs sent for it. */
  async function iteration(x: ReturnType<typeof tracker>, settles: [number, boolean][]): Promise<[number, boolean][]> {
    const before = x.sent.length;
    for (const [seq, ok] of settles) x.t.settle(seq, ok);
    await immediate();
    return x.sent.slice(before);
  }

  it('confirms beyond a gap one by one and the prefix once the gap closes', async () => {
    const x = tracker();
    x.publish(4);
    expect(await iteration(x, [[1, true], [3, true]])).toEqual([[1, true], [3, false]]);
    expect(await iteration(x, [[2, true], [4, true]])).toEqual([[4, true]]);
    expect(x.t.outstanding).toBe(0);
  });

  it('never confirms a nacked publish', async () => {
    const x = tracker();
    x.publish(3);
    expect(await iteration(x, [[2, false], [3, true]])).toEqual([[3, false]]);
    // The prefix up to 3 covers 2, which its nack already settled.
    expect(await iteration(x, [[1, true]])).toEqual([[3, true]]);
  });
});
