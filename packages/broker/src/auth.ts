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
 */
import { createHmac, scrypt, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

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

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p), expected.length);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
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

export type AuthResult = { ok: true } | { ok: false; reason: string };

/** Runs at most `limit` tasks at once, the rest in arrival order. */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  peak = 0;

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}

export class UserStore {
  private readonly users = new Map<string, string>();
  /** Per process, never stored: HMACs of verified passwords mean nothing outside it. */
  private readonly macKey = randomBytes(32);
  /** username -> HMAC of the password last verified for it with scrypt. */
  private readonly verified = new Map<string, Buffer>();
  /** Checks running or queued, by username and HMAC: the same check asked again joins it. */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly limiter = new Limiter(SCRYPT_CONCURRENCY);
  /** scrypt checks started since creation (for tests and diagnostics). */
  scryptChecks = 0;

  /** guest may log in only from loopback unless allowGuestRemote. */
  constructor(private readonly allowGuestRemote: boolean) {}

  /** Most scrypt checks that ran at the same time. */
  get peakConcurrentChecks(): number {
    return this.limiter.peak;
  }

  static async create(users: UserConfig[], opts: { defaultGuest: boolean; allowGuestRemote: boolean }): Promise<UserStore> {
    const store = new UserStore(opts.allowGuestRemote);
    if (opts.defaultGuest) store.users.set('guest', await hashPassword('guest'));
    for (const user of users) {
      const hash = user.passwordHash ?? (user.password !== undefined ? await hashPassword(user.password) : undefined);
      if (hash === undefined) throw new Error(`user ${user.username} has neither password nor passwordHash`);
      store.users.set(user.username, hash);
    }
    return store;
  }

  async authenticate(username: string, password: string, remoteAddress: string | undefined): Promise<AuthResult> {
    const hash = this.users.get(username);
    const ok = await this.check(username, password, hash);
    if (hash === undefined || !ok) return { ok: false, reason: `login refused for user '${username}'` };
    if (username === 'guest' && !this.allowGuestRemote && !isLoopback(remoteAddress)) {
      return { ok: false, reason: `user 'guest' may only connect from loopback` };
    }
    return { ok: true };
  }

  private check(username: string, password: string, hash: string | undefined): Promise<boolean> {
    const mac = createHmac('sha256', this.macKey).update(password).digest();
    const known = this.verified.get(username);
    if (hash !== undefined && known !== undefined && timingSafeEqual(mac, known)) return Promise.resolve(true);
    const key = `${username}\0${mac.toString('base64')}`;
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      pending = this.limiter
        .run(() => {
          this.scryptChecks++;
          // Hash even for unknown users so timing does not reveal which names exist.
          return verifyPassword(password, hash ?? DUMMY_HASH);
        })
        .then((ok) => {
          if (ok && hash !== undefined) this.verified.set(username, mac);
          return ok;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }
}

const DUMMY_HASH = `scrypt$16384$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
