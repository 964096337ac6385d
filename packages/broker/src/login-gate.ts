/**
 * Limits the work unauthenticated clients can make the broker do, per source
 * address and in total, so that a flood of wrong passwords cannot stall real
 * logins.
 *
 * A password check that needs scrypt (~50 ms of a libuv thread) is the costly
 * part of a login. The gate caps such checks pending per address and overall
 * and refuses the excess at once; it counts recent failures per address (one
 * is forgiven per `failureForgiveMs`), locks an address out while it has
 * `failureBurst` of them, and ranks waiting checks so an address
 * with no recent failures goes before those that keep failing.
 *
 * A refusal for load counts as a failure too: a check is only refused for load
 * when it would have needed scrypt, i.e. when the password was not a verified
 * one, so uncounted it would tell a guesser "wrong" for free.
 */

export interface LoginLimits {
  /** scrypt checks waiting or running for one source address. Default 4. */
  maxPendingPerAddress: number;
  /** scrypt checks waiting or running in total. Default 64. */
  maxPending: number;
  /** Recent failed logins after which an address is refused without a check. Default 10. */
  failureBurst: number;
  /** One recent failure is forgiven per this many ms (10 burst, 6 s: 10 guesses a minute). Default 6000. */
  failureForgiveMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  maxPendingPerAddress: 4,
  maxPending: 64,
  failureBurst: 10,
  failureForgiveMs: 6000,
};

interface AddressState {
  /** scrypt checks waiting or running. */
  pending: number;
  /** Recent failures; one is forgiven each failureForgiveMs after `since`. */
  failures: number;
  since: number;
}

export type Admission = { ok: true } | { ok: false; reason: string };

export class LoginGate {
  private readonly addresses = new Map<string, AddressState>();
  private pendingTotal = 0;
  /** Map size after the last sweep of forgotten addresses. */
  private sweptAt = 0;

  constructor(
    readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Recent failures of an address: those not forgiven yet. */
  recentFailures(address: string): number {
    const s = this.addresses.get(address);
    return s === undefined ? 0 : this.forgive(s);
  }

  /** Whether an address may try to log in at all (checked before the password is looked at). */
  mayTry(address: string): Admission {
    if (this.recentFailures(address) >= this.limits.failureBurst) {
      return { ok: false, reason: 'too many failed logins from this address; try again later' };
    }
    return { ok: true };
  }

  /** Takes a slot for one scrypt check, or refuses it (and counts the refusal as a failure). */
  reserve(address: string): Admission {
    const s = this.state(address);
    let reason: string | null = null;
    if (s.pending >= this.limits.maxPendingPerAddress) reason = 'too many logins pending from this address; try again later';
    else if (this.pendingTotal >= this.limits.maxPending) reason = 'too many logins pending; try again later';
    if (reason !== null) {
      this.failed(address);
      return { ok: false, reason };
    }
    s.pending++;
    this.pendingTotal++;
    return { ok: true };
  }

  /** Gives back a slot taken by reserve(). */
  release(address: string): void {
    const s = this.addresses.get(address);
    if (s === undefined || s.pending === 0) return;
    s.pending--;
    this.pendingTotal--;
  }

  /** A failed login from this address. The count is capped so a lockout ends soon after the attempts stop. */
  failed(address: string): void {
    const s = this.state(address);
    s.failures = Math.min(this.forgive(s) + 1, 2 * this.limits.failureBurst);
  }

  get pending(): number {
    return this.pendingTotal;
  }

  /** Applies the forgiveness due by now (whole failures, keeping the time towards the next one); returns what is left. */
  private forgive(s: AddressState): number {
    const now = this.now();
    if (s.failures === 0) {
      s.since = now;
      return 0;
    }
    const steps = Math.floor((now - s.since) / this.limits.failureForgiveMs);
    if (steps > 0) {
      s.failures = Math.max(0, s.failures - steps);
      s.since = s.failures === 0 ? now : s.since + steps * this.limits.failureForgiveMs;
    }
    return s.failures;
  }

  private state(address: string): AddressState {
    let s = this.addresses.get(address);
    if (s === undefined) {
      if (this.addresses.size >= 2 * this.sweptAt + 1024) this.sweep();
      s = { pending: 0, failures: 0, since: this.now() };
      this.addresses.set(address, s);
    }
    return s;
  }

  /** Forgets addresses with nothing pending and every failure forgiven: the map stays as big as the recent attackers. */
  private sweep(): void {
    for (const [address, s] of this.addresses) if (s.pending === 0 && this.forgive(s) === 0) this.addresses.delete(address);
    this.sweptAt = this.addresses.size;
  }
}
