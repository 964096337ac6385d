/**
 * Users and password checks. Passwords are stored as scrypt hashes in the
 * form `scrypt$N$r$p$salt$hash` (base64), so a users file never holds secrets.
 *
 * scrypt is deliberately expensive (16 MiB and ~50 ms of a libuv thread per
 * check), and it runs on the thread pool that file I/O, fsync included, also
 * needs. So a login does not pay it every time: once a user's password has been
 * verified, later logins with the same password compare an HMAC of it under a
 * key made at start (in memory only) instead. Logins that need scrypt share at
 * most SCRYPT_CONCURRENCY threads, and identical checks in flight are run once:
 * a thousand clients reconnecting at once cost one scrypt, not a thousand, and
 * durable publishes keep their fsyncs moving meanwhile.
 *
 * Which checks may wait for a thread, and in which order, is the LoginGate's
 * call (per source address): a flood of wrong passwords is refused early and
 * waits behind addresses that do not keep failing.
 */
import { createHmac, scrypt, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { DEFAULT_LOGIN_LIMITS, LoginGate, type LoginLimits } from './login-gate.js';

export interface UserConfig {
  username: string;
  /** A hash from hashPassword(), or a plain password (hashed at start, never stored). */
  passwordHash?: string;
  password?: string;
}

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 };
/** Password checks running scrypt at once: half of libuv's default pool of 4, the rest stays free for file I/O. */
export const SCRYPT_CONCURRENCY = 2;

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyLength, { N, r, p, maxmem: 128 * N * r * 2 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Largest scrypt parameters a stored hash may ask for: a login against a hash
 * runs scrypt with the hash's own N, r and p, so without a bound one
 * hand-written hash (users file, `passwordHash`, a definitions import) could
 * make every login attempt for that user take gigabytes (N = 2^20, r = 8 is
 * 1 GiB; ours is 2^14, 16 MiB).
 */
const SCRYPT_BOUNDS = { maxN: 2 ** 20, maxR: 32, maxP: 16, maxMemory: 1024 * 1024 * 1024 };

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A stored hash's parts, or a sentence saying what is wrong with it. */
function parseHash(encoded: string): ParsedHash | string {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return "not of the form scrypt$N$r$p$salt$hash (see 'warren hash-password')";
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (!/^\d+$/.test(n) || N < 2 || N > SCRYPT_BOUNDS.maxN || (N & (N - 1)) !== 0) return `N must be a power of 2 from 2 to ${SCRYPT_BOUNDS.maxN}`;
  if (!/^\d+$/.test(r) || R < 1 || R > SCRYPT_BOUNDS.maxR) return `r must be an integer from 1 to ${SCRYPT_BOUNDS.maxR}`;
  if (!/^\d+$/.test(p) || P < 1 || P > SCRYPT_BOUNDS.maxP) return `p must be an integer from 1 to ${SCRYPT_BOUNDS.maxP}`;
  if (128 * N * R > SCRYPT_BOUNDS.maxMemory) return `N and r need more than ${SCRYPT_BOUNDS.maxMemory / 2 ** 20} MiB`;
  if (!BASE64.test(salt) || !BASE64.test(hash)) return 'salt and hash must be base64';
  const key = Buffer.from(hash, 'base64');
  if (key.length < 16 || key.length > 64) return 'the hash must be 16 to 64 bytes';
  return { N, r: R, p: P, salt: Buffer.from(salt, 'base64'), hash: key };
}

/** null when `encoded` is a hash verifyPassword can check, else what is wrong with it (never the hash itself). */
export function passwordHashProblem(encoded: string): string | null {
  const parsed = parseHash(encoded);
  return typeof parsed === 'string' ? parsed : null;
}

/** Whether `password` matches `encoded`; false for a hash it cannot check (never throws: see passwordHashProblem). */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const h = parseHash(encoded);
  if (typeof h === 'string') return false;
  try {
    const key = await scryptAsync(password, h.salt, h.N, h.r, h.p, h.hash.length);
    return key.length === h.hash.length && timingSafeEqual(key, h.hash);
  } catch {
    return false;
  }
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * The source a per-address limit counts a client under: an IPv4 address as itself (also when it
 * arrives IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address by its /64 network, since one host or
 * LAN is routinely given a whole /64 and could otherwise take a new address per connection.
 * Anything else (no address) as it is.
 */
export function sourceOf(address: string): string {
  const bare = address.split('%')[0]!;
  if (isIP(bare) !== 6) return address;
  if (/^::ffff:/i.test(bare) && isIP(bare.slice(7)) === 4) return bare.slice(7);
  const [head = '', tail] = bare.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/**
 * Reads a users file: JSON `[{ "username": "...", "passwordHash": "scrypt$..." }]`
 * or lines of `username:scrypt$...`.
 */
export function readUsersFile(path: string): UserConfig[] {
  const text = readFileSync(path, 'utf8').trim();
  if (text.startsWith('[')) return JSON.parse(text) as UserConfig[];
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const i = line.indexOf(':');
      return { username: line.slice(0, i), passwordHash: line.slice(i + 1) };
    });
}

/**
 * A refusal says only "refused" to the client (it must not learn whether the
 * user exists or why); `logReason` is for the server's log. `shed`: refused
 * for load or repeated failures before the password was checked, answered at
 * once with RESOURCE_LIMIT instead of after the failure delay.
 */
export type AuthResult = { ok: true } | { ok: false; shed: boolean; reason: string; logReason: string };

/**
 * Runs at most `limit` tasks at once. The next to start is the waiting one
 * whose source ranks lowest (fewest recent failures), then whose source has
 * the fewest running, then the oldest.
 */
class RankedLimiter {
  private running = 0;
  private readonly runningBySource = new Map<string, number>();
  private readonly waiting: { source: string; start: () => void }[] = [];
  peak = 0;

  constructor(
    private readonly limit: number,
    private readonly rank: (source: string) => number,
  ) {}

  async run<T>(source: string, task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((start) => this.waiting.push({ source, start }));
    else this.running++;
    this.peak = Math.max(this.peak, this.running);
    this.runningBySource.set(source, (this.runningBySource.get(source) ?? 0) + 1);
    try {
      return await task();
    } finally {
      const left = this.runningBySource.get(source)! - 1;
      if (left === 0) this.runningBySource.delete(source);
      else this.runningBySource.set(source, left);
      const next = this.takeNext();
      if (next !== undefined) next();
      else this.running--;
    }
  }

  /** Linear in the waiting tasks, which the LoginGate keeps few. */
  private takeNext(): (() => void) | undefined {
    let best = -1;
    let bestRank = 0;
    let bestRunning = 0;
    for (let i = 0; i < this.waiting.length; i++) {
      const source = this.waiting[i]!.source;
      const rank = this.rank(source);
      const running = this.runningBySource.get(source) ?? 0;
      if (best < 0 || rank < bestRank || (rank === bestRank && running < bestRunning)) {
        best = i;
        bestRank = rank;
        bestRunning = running;
      }
    }
    return best < 0 ? undefined : this.waiting.splice(best, 1)[0]!.start;
  }
}

/**
 * What a client is told when its password login is refused: every cause in one
 * sentence, so that it learns nothing about which (the log says which).
 */
export function loginRefused(username: string): string {
  const guest = username === 'guest' ? "; guest logs in only from the broker's own machine (loopback) unless the broker runs with --allow-guest-remote" : '';
  return `login refused for user '${username}': unknown user, wrong password, or a vhost or address it may not use (the broker's log says which)${guest}`;
}

/** A check's outcome: the password matched or not, or it was refused before being checked. */
type CheckOutcome = boolean | { shed: string };

export class UserStore {
  private readonly users = new Map<string, string>();
  /** Per process, never stored: HMACs of verified passwords mean nothing outside it. */
  private readonly macKey = randomBytes(32);
  /** username -> HMAC of the password last verified for it with scrypt. */
  private readonly verified = new Map<string, Buffer>();
  /** Checks running or queued, by username and HMAC: the same check asked again joins it. */
  private readonly inFlight = new Map<string, Promise<CheckOutcome>>();
  readonly gate: LoginGate;
  private readonly limiter: RankedLimiter;
  /** scrypt checks started since creation (for tests and diagnostics). */
  scryptChecks = 0;

  /** guest may log in only from loopback unless allowGuestRemote. */
  constructor(
    private readonly allowGuestRemote: boolean,
    limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    now: () => number = Date.now,
    /** The password check itself (scrypt); tests pass one they can hold back. */
    private readonly verify: (password: string, encoded: string) => Promise<boolean> = verifyPassword,
  ) {
    this.gate = new LoginGate(limits, now);
    this.limiter = new RankedLimiter(SCRYPT_CONCURRENCY, (address) => this.gate.recentFailures(address));
  }

  /** Most scrypt checks that ran at the same time. */
  get peakConcurrentChecks(): number {
    return this.limiter.peak;
  }

  static async create(
    users: UserConfig[],
    opts: {
      defaultGuest: boolean;
      allowGuestRemote: boolean;
      loginLimits?: Partial<LoginLimits>;
      now?: () => number;
      verify?: (password: string, encoded: string) => Promise<boolean>;
    },
  ): Promise<UserStore> {
    const store = new UserStore(opts.allowGuestRemote, { ...DEFAULT_LOGIN_LIMITS, ...opts.loginLimits }, opts.now, opts.verify);
    if (opts.defaultGuest) store.users.set('guest', await hashPassword('guest'));
    for (const user of users) {
      const hash = user.passwordHash ?? (user.password !== undefined ? await hashPassword(user.password) : undefined);
      if (hash === undefined) throw new Error(`user ${user.username} has neither password nor passwordHash`);
      store.users.set(user.username, hash);
    }
    return store;
  }

  /** Sets or replaces a user's password hash; a login with the old password goes through scrypt again (and fails). */
  setHash(username: string, passwordHash: string): void {
    this.users.set(username, passwordHash);
    this.verified.delete(username);
  }

  /** Removes a user: its next login fails like an unknown user's. */
  remove(username: string): void {
    this.users.delete(username);
    this.verified.delete(username);
  }

  hashOf(username: string): string | undefined {
    return this.users.get(username);
  }

  /** Users with a password, in insertion order. */
  usernames(): IterableIterator<string> {
    return this.users.keys();
  }

  async authenticate(username: string, password: string, remoteAddress: string | undefined): Promise<AuthResult> {
    const address = remoteAddress ?? 'unknown';
    const may = this.gate.mayTry(address);
    if (!may.ok) return { ok: false, shed: true, reason: may.reason, logReason: may.reason };
    const hash = this.users.get(username);
    const outcome = await this.check(username, password, hash, address);
    if (typeof outcome === 'object') return { ok: false, shed: true, reason: outcome.shed, logReason: outcome.shed };
    let logReason: string | null = null;
    if (hash === undefined) logReason = 'unknown user';
    else if (!outcome) {
      const problem = passwordHashProblem(hash);
      logReason = problem === null ? 'wrong password' : `the stored password hash cannot be checked: ${problem}`;
    }
    else if (username === 'guest' && !this.allowGuestRemote && !isLoopback(remoteAddress)) {
      // The password was right, but saying so would help a guesser: the client sees the usual refusal.
      logReason = `user 'guest' may only connect from loopback`;
    }
    if (logReason === null) return { ok: true };
    this.gate.failed(address);
    return { ok: false, shed: false, reason: loginRefused(username), logReason };
  }

  private check(username: string, password: string, hash: string | undefined, address: string): Promise<CheckOutcome> {
    const mac = createHmac('sha256', this.macKey).update(password).digest();
    const known = this.verified.get(username);
    if (hash !== undefined && known !== undefined && timingSafeEqual(mac, known)) return Promise.resolve(true);
    // The hash is part of the key: a check against a password changed meanwhile is not joined.
    const key = `${username}\0${mac.toString('base64')}\0${hash ?? ''}`;
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      const slot = this.gate.reserve(address);
      if (!slot.ok) return Promise.resolve({ shed: slot.reason });
      pending = this.limiter
        .run(address, (): Promise<CheckOutcome> => {
          // Locked out while it waited: refuse without spending scrypt on it.
          const may = this.gate.mayTry(address);
          if (!may.ok) return Promise.resolve({ shed: may.reason });
          this.scryptChecks++;
          // Hash even for unknown users so timing does not reveal which names exist.
          return this.verify(password, hash ?? DUMMY_HASH);
        })
        .then((ok) => {
          // Remembered only if the password was not changed (or the user deleted) while it ran.
          if (ok === true && hash !== undefined && this.users.get(username) === hash) this.verified.set(username, mac);
          return ok;
        })
        .finally(() => {
          this.inFlight.delete(key);
          this.gate.release(address);
        });
      this.inFlight.set(key, pending);
    }
    return pending;
  }
}

const DUMMY_HASH = `scrypt$16384$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
