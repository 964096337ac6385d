/**
 * Users and password checks. Passwords are stored as scrypt hashes in the
 * form `scrypt$N$r$p$salt$hash` (base64), so a users file never holds secrets.
 */
import { scrypt, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export interface UserConfig {
  username: string;
  /** A hash from hashPassword(), or a plain password (hashed at start, never stored). */
  passwordHash?: string;
  password?: string;
}

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 };

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

export class UserStore {
  private readonly users = new Map<string, string>();

  /** guest may log in only from loopback unless allowGuestRemote. */
  constructor(private readonly allowGuestRemote: boolean) {}

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
    // Hash even for unknown users so timing does not reveal which names exist.
    const ok = await verifyPassword(password, hash ?? DUMMY_HASH);
    if (hash === undefined || !ok) return { ok: false, reason: `login refused for user '${username}'` };
    if (username === 'guest' && !this.allowGuestRemote && !isLoopback(remoteAddress)) {
      return { ok: false, reason: `user 'guest' may only connect from loopback` };
    }
    return { ok: true };
  }
}

const DUMMY_HASH = `scrypt$16384$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
