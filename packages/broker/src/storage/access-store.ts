/**
 * AccessStore: the users, their permissions and limits, kept in one small
 * JSON file in the data folder (`access.json`), replaced atomically on every
 * change (write tmp, fsync, rename, fsync dir): a crash leaves the old or the
 * new file, never a mix, and a change is answered only once it is durable.
 * Only scrypt hashes are stored, never passwords. An in-memory broker keeps
 * the same state without a file.
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errors } from '../errors.js';

export const ACCESS_FILE = 'access.json';
const TMP_PREFIX = `${ACCESS_FILE}.tmp-`;
const VERSION = 1;

export interface StoredUser {
  username: string;
  passwordHash: string;
  tags: string[];
  /** Most connections open at once for this user; null: no limit. */
  maxConnections: number | null;
}

export interface StoredPermission {
  username: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface AccessSnapshot {
  users: StoredUser[];
  permissions: StoredPermission[];
}

export class AccessStore {
  private chain: Promise<void> = Promise.resolve();
  private tmpSeq = 0;

  private constructor(
    /** null: in memory, nothing written. */
    private readonly dir: string | null,
    private readonly sync: boolean,
    /** Whether a file was found at open (a broker that ran with users before). */
    readonly existed: boolean,
    private readonly initial: AccessSnapshot,
  ) {}

  static async open(dir: string | null, opts: { sync: boolean }): Promise<AccessStore> {
    if (dir === null) return new AccessStore(null, false, false, { users: [], permissions: [] });
    await mkdir(dir, { recursive: true });
    // A tmp file is a save that crashed before its rename: the real file is still the old one.
    for (const name of await readdir(dir)) if (name.startsWith(TMP_PREFIX)) await unlink(join(dir, name)).catch(() => undefined);
    const path = join(dir, ACCESS_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return new AccessStore(dir, opts.sync, false, { users: [], permissions: [] });
    }
    return new AccessStore(dir, opts.sync, true, decode(text, path));
  }

  /** What was stored at open. */
  load(): AccessSnapshot {
    return this.initial;
  }

  /** Saves a snapshot durably; saves run one after another in call order. */
  save(snapshot: AccessSnapshot): Promise<void> {
    if (this.dir === null) return Promise.resolve();
    const text = JSON.stringify({ version: VERSION, ...snapshot }, null, 1);
    const done = this.chain.then(() => this.write(this.dir!, text));
    this.chain = done.catch(() => undefined);
    return done.catch((err: unknown) => {
      throw errors.storage(`saving users and permissions failed: ${(err as Error).message}`, err);
    });
  }

  private async write(dir: string, text: string): Promise<void> {
    const tmp = join(dir, `${TMP_PREFIX}${process.pid}-${this.tmpSeq++}`);
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text);
        if (this.sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(dir, ACCESS_FILE));
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    if (!this.sync) return;
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}

function decode(text: string, path: string): AccessSnapshot {
  const bad = (why: string) => errors.storage(`users file ${path} is unreadable (${why}); refusing to start without it`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const s = parsed as { version?: unknown; users?: unknown; permissions?: unknown };
  if (typeof s !== 'object' || s === null || !Array.isArray(s.users) || !Array.isArray(s.permissions)) throw bad('bad shape');
  if (typeof s.version !== 'number' || s.version > VERSION) throw bad(`format version ${String(s.version)}`);
  return { users: s.users as StoredUser[], permissions: s.permissions as StoredPermission[] };
}
