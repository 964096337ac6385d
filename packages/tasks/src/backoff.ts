/** Retry back-off: exponential, capped, with jitter. */
export interface BackoffOptions {
  /** Delay before the first retry, ms (default 1000). */
  baseMs?: number;
  /** Each further retry waits this many times longer (default 2). */
  factor?: number;
  /** Longest delay, ms (default 1 hour). */
  maxMs?: number;
  /** Spread as a fraction of the delay: the delay is multiplied by a random factor in [1 - jitter, 1 + jitter] (default 0.2; 0 = none). */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.2 };

/**
 * The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
 * min(maxMs, baseMs * factor^(attempt-1)) * (1 + jitter * (2r - 1)), r from `random` in [0, 1).
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { baseMs, factor, maxMs, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const plain = Math.min(maxMs, baseMs * factor ** Math.max(0, attempt - 1));
  const spread = jitter > 0 ? 1 + jitter * (2 * random() - 1) : 1;
  return Math.max(0, Math.round(plain * spread));
}
