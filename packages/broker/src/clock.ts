/**
 * A coarse clock for the hot path: `coarseClock.now` is Date.now() as of the
 * last tick (every CLOCK_TICK_MS, an unref'd timer that runs while a broker
 * runs). Reading it is a property load, where Date.now() is a call; what
 * needs only "about when" (a queue's arrival checkpoints, queue.ts) reads it.
 */
export const CLOCK_TICK_MS = 100;

export const coarseClock = { now: Date.now() };

let users = 0;
let timer: NodeJS.Timeout | null = null;

/** A broker started: keep the clock ticking (brokers in one process share it). */
export function startCoarseClock(): void {
  coarseClock.now = Date.now();
  if (users++ === 0) {
    timer = setInterval(() => {
      coarseClock.now = Date.now();
    }, CLOCK_TICK_MS);
    timer.unref();
  }
}

export function stopCoarseClock(): void {
  if (users === 0) return;
  if (--users === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}
