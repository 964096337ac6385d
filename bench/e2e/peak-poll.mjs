/**
 * The bench broker's (broker-child.mjs) poll of its queues' peak depth: the deepest ready count
 * (paged-out ones included) and paged-out tail any queue had since the last stats request.
 *
 * It polls every PEAK_POLL_MS while the last poll found a queue holding messages, and every
 * PEAK_IDLE_POLL_MS while every queue was empty: a flow whose consumer keeps up (the latency
 * scenarios: the queue is empty at nearly every poll) then carries 10 timer wake-ups a second in the
 * measured broker instead of 100, which the relay floor it is compared with does not have at all.
 * A queue that starts to fill is found within PEAK_IDLE_POLL_MS and is polled every PEAK_POLL_MS
 * from then on, until it is empty again.
 */

export const PEAK_POLL_MS = 10;
export const PEAK_IDLE_POLL_MS = 100;

/**
 * Starts polling. `queues()` lists the queues (it is called once per poll); `schedule(fn, ms)` runs
 * fn after ms (default: an unref'd setTimeout, so the poll never keeps the process alive).
 * Returns the peaks, which the caller reads and resets (take()).
 *
 * @param {() => Iterable<{ messageCount: number; pagedCount: number }>} queues
 * @param {(fn: () => void, ms: number) => void} [schedule]
 */
export function startPeakPoll(queues, schedule = (fn, ms) => void setTimeout(fn, ms).unref()) {
  const peak = { ready: 0, paged: 0 };
  const poll = () => {
    let deepest = 0;
    for (const q of queues()) {
      const ready = q.messageCount;
      const paged = q.pagedCount;
      if (ready > deepest) deepest = ready;
      if (ready > peak.ready) peak.ready = ready;
      if (paged > peak.paged) peak.paged = paged;
    }
    schedule(poll, deepest > 0 ? PEAK_POLL_MS : PEAK_IDLE_POLL_MS);
  };
  poll();
  return {
    /** The peaks since the last take(), reset. */
    take() {
      const r = { peakReady: peak.ready, peakPaged: peak.paged };
      peak.ready = 0;
      peak.paged = 0;
      return r;
    },
  };
}
