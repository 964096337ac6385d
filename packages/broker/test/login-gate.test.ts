/** Per-address limits on unauthenticated work: caps, failure lockout, and the order password checks run in. */
import { describe, expect, it } from 'vitest';
import { LoginGate, DEFAULT_LOGIN_LIMITS } from '../src/login-gate.js';
import { SCRYPT_CONCURRENCY, UserStore } from '../src/auth.js';

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('LoginGate', () => {
  it('caps pending checks per address and in total, and a refusal for load counts as a failure', () => {
    const c = clock();
    const gate = new LoginGate({ ...DEFAULT_LOGIN_LIMITS, maxPendingPerAddress: 2, maxPending: 3 }, c.now);
    expect(gate.reserve('10.0.0.1')).toEqual({ ok: true });
    expect(gate.reserve('10.0.0.1')).toEqual({ ok: true });
    expect(gate.reserve('10.0.0.1')).toMatchObject({ ok: false, reason: expect.stringContaining('from this address') });
    expect(gate.recentFailures('10.0.0.1')).toBe(1);
    expect(gate.reserve('10.0.0.2')).toEqual({ ok: true });
    expect(gate.reserve('10.0.0.3')).toMatchObject({ ok: false, reason: 'too many logins pending; try again later' });
    gate.release('10.0.0.1');
    expect(gate.pending).toBe(2);
    expect(gate.reserve('10.0.0.3')).toEqual({ ok: true });
    expect(gate.recentFailures('10.0.0.2')).toBe(0);
  });

  it('locks an address out after failureBurst failures and forgives one per failureForgiveMs', () => {
    const c = clock();
    const gate = new LoginGate({ ...DEFAULT_LOGIN_LIMITS, failureBurst: 3, failureForgiveMs: 1000 }, c.now);
    for (let i = 0; i < 2; i++) gate.failed('10.0.0.1');
    expect(gate.mayTry('10.0.0.1').ok).toBe(true);
    gate.failed('10.0.0.1');
    expect(gate.mayTry('10.0.0.1')).toMatchObject({ ok: false, reason: expect.stringContaining('too many failed logins') });
    expect(gate.mayTry('10.0.0.2').ok).toBe(true);
    c.advance(999);
    expect(gate.mayTry('10.0.0.1').ok).toBe(false);
    c.advance(1);
    expect(gate.mayTry('10.0.0.1').ok).toBe(true);
    expect(gate.recentFailures('10.0.0.1')).toBe(2);
    c.advance(5000);
    expect(gate.recentFailures('10.0.0.1')).toBe(0);
  });

  it('caps the failure count, so a lockout ends soon after the attempts stop', () => {
    const c = clock();
    const gate = new LoginGate({ ...DEFAULT_LOGIN_LIMITS, failureBurst: 3, failureForgiveMs: 1000 }, c.now);
    for (let i = 0; i < 1000; i++) gate.failed('10.0.0.1');
    expect(gate.recentFailures('10.0.0.1')).toBe(6);
    c.advance(3999);
    expect(gate.mayTry('10.0.0.1').ok).toBe(false);
    c.advance(1);
    expect(gate.mayTry('10.0.0.1').ok).toBe(true);
  });
});

/** A password check the test releases by hand, recording the order checks start in. The right password is 'right'. */
function heldChecks() {
  const started: string[] = [];
  const waiting: (() => void)[] = [];
  const verify = async (password: string): Promise<boolean> => {
    started.push(password);
    await new Promise<void>((resolve) => waiting.push(resolve));
    return password === 'right';
  };
  const releaseOne = async () => {
    waiting.shift()!();
    // Let the check's completion and the next start run.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return { started, verify, releaseOne };
}

describe('password checks under a flood', () => {
  it('an address without recent failures goes before addresses that keep failing', async () => {
    const held = heldChecks();
    const store = await UserStore.create([{ username: 'alice', password: 'right' }], {
      defaultGuest: false,
      allowGuestRemote: false,
      verify: held.verify,
    });
    const attacker = '10.0.0.1';
    // One failure on record for the attacker.
    const first = store.authenticate('alice', 'guess-0', attacker);
    await held.releaseOne();
    expect((await first).ok).toBe(false);
    // It fills its per-address quota; then a first-time login from elsewhere arrives last.
    const guesses = [1, 2, 3, 4].map((i) => store.authenticate('alice', `guess-${i}`, attacker));
    const real = store.authenticate('alice', 'right', '10.0.0.9');
    await new Promise((r) => setImmediate(r));
    expect(held.started).toEqual(['guess-0', 'guess-1', 'guess-2']);
    await held.releaseOne();
    // First in line now: the address with no failures, not the attacker's older checks.
    expect(held.started[3]).toBe('right');
    while (store.gate.pending > 0) await held.releaseOne();
    expect(held.started.slice(4)).toEqual(['guess-3', 'guess-4']);
    expect((await real).ok).toBe(true);
    expect((await Promise.all(guesses)).map((r) => r.ok)).toEqual([false, false, false, false]);
    expect(SCRYPT_CONCURRENCY).toBe(2);
  });

  it('refuses the excess of one address at once, without a check, and lets other addresses in', async () => {
    const held = heldChecks();
    const store = await UserStore.create([{ username: 'alice', password: 'right' }], { defaultGuest: false, allowGuestRemote: false, verify: held.verify });
    const pending = [0, 1, 2, 3].map((i) => store.authenticate('alice', `guess-${i}`, '10.0.0.1'));
    const excess = await store.authenticate('alice', 'guess-4', '10.0.0.1');
    expect(excess).toMatchObject({ ok: false, shed: true, reason: expect.stringContaining('pending from this address') });
    expect(held.started).not.toContain('guess-4');
    const other = store.authenticate('alice', 'right', '10.0.0.2');
    while (held.started.length < 5) await held.releaseOne();
    while (store.gate.pending > 0) await held.releaseOne();
    expect((await other).ok).toBe(true);
    await Promise.all(pending);
  });

  it('a locked-out address is refused even with the right password, so the lockout is no oracle', async () => {
    const c = clock();
    const store = await UserStore.create([{ username: 'alice', password: 'right' }], {
      defaultGuest: false,
      allowGuestRemote: false,
      now: c.now,
      loginLimits: { failureBurst: 2 },
    });
    expect((await store.authenticate('alice', 'right', '10.0.0.1')).ok).toBe(true); // now verified (cached)
    for (const guess of ['a', 'b']) expect(await store.authenticate('alice', guess, '10.0.0.1')).toMatchObject({ ok: false, shed: false });
    const locked = await store.authenticate('alice', 'right', '10.0.0.1');
    expect(locked).toMatchObject({ ok: false, shed: true, reason: expect.stringContaining('too many failed logins') });
    expect((await store.authenticate('alice', 'right', '10.0.0.2')).ok).toBe(true);
    c.advance(DEFAULT_LOGIN_LIMITS.failureForgiveMs);
    expect((await store.authenticate('alice', 'right', '10.0.0.1')).ok).toBe(true);
  });

  it('a check that waited while its address got locked out is refused without running scrypt', async () => {
    const held = heldChecks();
    const store = await UserStore.create([{ username: 'alice', password: 'right' }], {
      defaultGuest: false,
      allowGuestRemote: false,
      verify: held.verify,
      loginLimits: { failureBurst: 2, maxPendingPerAddress: 5 },
    });
    const results = [0, 1, 2, 3, 4].map((i) => store.authenticate('alice', `guess-${i}`, '10.0.0.1'));
    await held.releaseOne(); // guess-0 fails; guess-2 takes its thread
    await held.releaseOne(); // guess-1 fails: two failures, the address is locked out; guess-3 had taken the thread
    await held.releaseOne(); // guess-2 done: guess-4 is next, and refused without a check
    expect(await results[4]).toMatchObject({ ok: false, shed: true, reason: expect.stringContaining('too many failed logins') });
    await held.releaseOne();
    expect(held.started).toEqual(['guess-0', 'guess-1', 'guess-2', 'guess-3']);
    expect(store.scryptChecks).toBe(4);
    expect((await Promise.all(results)).map((r) => r.ok)).toEqual([false, false, false, false, false]);
  });

  it('guest from a remote address gets the same refusal as a wrong password; only the log says why', async () => {
    const store = await UserStore.create([], { defaultGuest: true, allowGuestRemote: false });
    const remote = await store.authenticate('guest', 'guest', '10.1.2.3');
    const wrong = await store.authenticate('guest', 'nope', '10.1.2.4');
    expect(remote.ok || wrong.ok).toBe(false);
    if (remote.ok || wrong.ok) return;
    expect(remote.reason).toBe(wrong.reason);
    expect(remote.shed).toBe(wrong.shed);
    expect(remote.logReason).toContain('loopback');
    expect(wrong.logReason).toBe('wrong password');
  });
});
