/**
 * Waiting in tests without asserting a timing: poll a condition, take the
 * next event, let pending I/O run, see how a promise settled. Every poll is
 * bounded (WAIT_LIMIT_MS) well under vitest's test timeout.
 */
import type { EventEmitter } from 'node:events';

/**
 * The longest any one wait may take: a third of the integration tests' timeout
 * (60 s, vitest.config.ts), so a hang fails here, with what was awaited (and a
 * child's output), rather than as "Test timed out".
 */
export const WAIT_LIMIT_MS = 20_000;

export interface UntilOptions {
  /** Fail after this long (a guard against hangs, not a timing assertion). */
  limitMs?: number;
  /** Pause between checks. */
  everyMs?: number;
}

/**
 * Polls `check` until it returns true; once the limit passes, rejects naming
 * `what` (a function is called then, so it can include output seen so far).
 */
export async function until(check: () => boolean | Promise<boolean>, what: string | (() => string) = 'condition', options: UntilOptions = {}): Promise<void> {
  const { limitMs = WAIT_LIMIT_MS, everyMs = 5 } = options;
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs / 1000} s waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Lets pending I/O callbacks and microtasks run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Resolves with how a promise settled, so a rejection is never left unhandled. */
export function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** `settle(p)`, plus whether it has settled yet (for "still pending" checks). */
export function tracked<T>(p: Promise<T>): { settled: () => boolean; result: Promise<Settled<T>> } {
  let done = false;
  const result = settle(p).finally(() => {
    done = true;
  });
  return { settled: () => done, result };
}

/** A promise with its resolve function, for a test to settle when it chooses. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The first argument of the next `event` the emitter emits. */
export function nextEvent<T>(emitter: Pick<EventEmitter, 'once'>, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}
