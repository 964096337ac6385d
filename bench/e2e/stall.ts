/**
 * Watching a publisher that may never finish: a peer that blocks it (RabbitMQ's
 * memory or disk alarm: connection.blocked; Warren's FLOW) or simply stops
 * taking messages must end the phase within a bounded time, with a verdict that
 * says what happened and how far it got, instead of hanging the run.
 *
 * ProgressWatch is pure: the caller feeds it samples with its own clock (the
 * runner samples the producer's progress messages about once a second), so a
 * test drives it without timers.
 */

export interface ProgressSample {
  /** The caller's clock, in ms. */
  at: number;
  /** Messages published so far in the phase. */
  count: number;
  /** Why the broker blocks the publisher (connection.blocked's reason, Warren's FLOW reason); undefined while it does not. */
  blocked?: string | undefined;
}

export interface WatchLimits {
  /** Blocked without a break this long: give up (an alarm that clears sooner is only a pause). */
  blockedMs: number;
  /** No message published for this long, blocked or not (e.g. flow control that never lets go): give up. */
  stallMs: number;
  /** The whole phase may take this long at most: slower than that is reported, not waited for. */
  budgetMs: number;
}

export type Verdict =
  | { state: 'running' }
  | { state: 'blocked'; reason: string; count: number; forMs: number }
  | { state: 'stalled'; count: number; forMs: number; blocked?: string }
  | { state: 'overtime'; count: number; forMs: number };

export class ProgressWatch {
  private lastCount = 0;
  private lastProgressAt: number;
  private blockedSince: number | undefined;

  constructor(
    private readonly limits: WatchLimits,
    private readonly startAt: number,
  ) {
    this.lastProgressAt = startAt;
  }

  sample(s: ProgressSample): Verdict {
    if (s.count > this.lastCount) {
      this.lastCount = s.count;
      this.lastProgressAt = s.at;
    }
    if (s.blocked === undefined) this.blockedSince = undefined;
    else {
      this.blockedSince ??= s.at;
      const forMs = s.at - this.blockedSince;
      if (forMs >= this.limits.blockedMs) return { state: 'blocked', reason: s.blocked, count: this.lastCount, forMs };
    }
    const idleMs = s.at - this.lastProgressAt;
    if (idleMs >= this.limits.stallMs) return { state: 'stalled', count: this.lastCount, forMs: idleMs, ...(s.blocked !== undefined ? { blocked: s.blocked } : {}) };
    const elapsed = s.at - this.startAt;
    if (elapsed >= this.limits.budgetMs) return { state: 'overtime', count: this.lastCount, forMs: elapsed };
    return { state: 'running' };
  }
}

/** One sentence for the notes next to the numbers, e.g. "rabbitmq: blocked by its memory alarm at 2,913,000 of 10,000,000 messages ...". */
export function describeVerdict(system: string, v: Exclude<Verdict, { state: 'running' }>, total: number, rssBytes?: number): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const s = (ms: number) => `${n(ms / 1000)} s`;
  const at = `at ${n(v.count)} of ${n(total)} messages published`;
  const rss = rssBytes === undefined ? '' : `, RSS ${n(rssBytes / 1e6)} MB`;
  switch (v.state) {
    case 'blocked':
      return `${system}: ${blockedBy(v.reason)} ${at}${rss} (blocked for ${s(v.forMs)} without a break; connection.blocked: "${v.reason}"); the phase was stopped there`;
    case 'stalled':
      return `${system}: stopped taking messages ${at}${rss} (nothing published for ${s(v.forMs)}${v.blocked !== undefined ? `, blocked: "${v.blocked}"` : ''}); the phase was stopped there`;
    case 'overtime':
      return `${system}: too slow, ${at} after ${s(v.forMs)}${rss} (the phase's budget); the phase was stopped there`;
  }
}

function blockedBy(reason: string): string {
  if (/memory/i.test(reason)) return 'blocked by its memory alarm';
  if (/disk/i.test(reason)) return 'blocked by its disk alarm';
  return 'blocked the publisher';
}
