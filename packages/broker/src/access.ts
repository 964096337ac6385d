/**
 * Users, tags, permissions and user limits, managed at run time
 * (`broker.access`; protocol-spec 8.8). The state lives in memory, is saved
 * durably by the AccessStore before a change is answered, and bumps
 * `generation` so sessions drop their cached decisions (authorizer.ts).
 *
 * Tags: `administrator` may do everything (no permissions needed) and manage
 * users; `monitoring` may read every list and status, users and permissions
 * included, and changes nothing unless permissions allow it; `management` may
 * read the lists of the vhosts it has permissions in. Permissions follow
 * RabbitMQ: per user and vhost, a configure, a write and a read regular
 * expression over resource names ('' matches nothing).
 *
 * Seeds: the users given at start (options.users, the users file) are
 * applied at every start: created, or their password reset, with the
 * administrator tag and full permissions on '/' if they have none there. They
 * stay stored afterwards like any user (delete them at run time and remove
 * them from the start-up options). guest/guest is created only on a first
 * start (no stored users) with no other seed, as RabbitMQ does, and may log
 * in only from loopback unless allowGuestRemote.
 */
import { ErrorCodes, type PermissionInfo, type Permissions, type UserInfo, type UserTag } from '@warren/protocol';

export type { PermissionInfo, Permissions, UserInfo };
import { UserStore, hashPassword, passwordHashProblem, readUsersFile, type AuthResult, type UserConfig } from './auth.js';
import type { LoginLimits } from './login-gate.js';
import { errors } from './errors.js';
import type { Logger } from './logger.js';
import { checkName } from './vhost.js';
import { AccessStore, type AccessSnapshot, type StoredPermission, type StoredUser } from './storage/access-store.js';

export const TAGS = ['administrator', 'management', 'monitoring'] as const;
export type Tag = (typeof TAGS)[number];
export type PermissionKind = 'configure' | 'write' | 'read';

export interface UserChanges {
  /** A new password (hashed with scrypt here, never stored). */
  password?: string;
  /** Or a hash made by hashPassword() / `warren hash-password`. */
  passwordHash?: string;
  tags?: readonly string[];
}
export interface UserLimits {
  maxConnections: number | null;
}

/** A permission entry, compiled once: one RegExp per kind, null where it is '' (nothing). */
export class CompiledPermissions {
  readonly configure: RegExp | null;
  readonly write: RegExp | null;
  readonly read: RegExp | null;

  constructor(p: Permissions) {
    this.configure = compile(p.configure);
    this.write = compile(p.write);
    this.read = compile(p.read);
  }

  allows(kind: PermissionKind, resource: string): boolean {
    const re = this[kind];
    return re !== null && re.test(resource);
  }
}

function compile(source: string): RegExp | null {
  if (source === '') return null;
  try {
    return new RegExp(source);
  } catch (err) {
    throw errors.invalidArgument(`invalid regular expression '${source}': ${(err as Error).message}`);
  }
}

/** What access needs of a connection: whose it is, and how to close it. */
export interface AccessSession {
  readonly username: string;
  close(code: number, reason: string): void;
}

interface UserState {
  readonly tags: ReadonlySet<string>;
  readonly maxConnections: number | null;
  readonly permissions: Map<string, CompiledPermissions>;
}

export interface AccessOptions {
  /** The data folder; null for an in-memory broker (nothing is stored). */
  dataDir: string | null;
  sync: boolean;
  users: UserConfig[];
  usersFile: string | undefined;
  defaultGuest: boolean;
  allowGuestRemote: boolean;
  loginLimits?: Partial<LoginLimits>;
  logger: Logger;
}

const ALL: Permissions = { configure: '.*', write: '.*', read: '.*' };

export class Access {
  /** Bumped by every change of users, tags or permissions. */
  generation = 0;
  /** Whether a vhost exists (the broker sets it to ask its registry): permissions name existing vhosts only. */
  vhostExists: (name: string) => boolean = () => true;
  private users = new Map<string, UserState>();
  private current: AccessSnapshot = { users: [], permissions: [] };
  private readonly sessions = new Map<string, Set<AccessSession>>();
  /** Changes run one at a time, each saved before the next starts. */
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    /** Password checks (scrypt, the verified-password fast path, the login gate). */
    readonly passwords: UserStore,
    private readonly store: AccessStore,
    private readonly logger: Logger,
  ) {}

  static async open(o: AccessOptions): Promise<Access> {
    const passwords = await UserStore.create([], {
      defaultGuest: false,
      allowGuestRemote: o.allowGuestRemote,
      ...(o.loginLimits !== undefined ? { loginLimits: o.loginLimits } : {}),
    });
    const store = await AccessStore.open(o.dataDir, { sync: o.sync });
    const access = new Access(passwords, store, o.logger);
    const stored = store.load();
    access.apply(stored);
    const seeds = [...o.users, ...(o.usersFile !== undefined ? readUsersFile(o.usersFile) : [])];
    if (seeds.length === 0 && o.defaultGuest && stored.users.length === 0) seeds.push({ username: 'guest', password: 'guest' });
    if (seeds.length > 0) {
      const hashed: StoredUser[] = [];
      for (const seed of seeds) {
        checkUsername(seed.username);
        try {
          checkHash(seed.passwordHash);
        } catch (err) {
          throw new Error(`start-up user ${seed.username}: ${(err as Error).message}`);
        }
        const hash = seed.passwordHash ?? (seed.password !== undefined ? await hashPassword(seed.password) : undefined);
        if (hash === undefined) throw new Error(`user ${seed.username} has neither password nor passwordHash`);
        hashed.push({ username: seed.username, passwordHash: hash, tags: ['administrator'], maxConnections: null });
      }
      await access.mutate((s) => {
        for (const seed of hashed) {
          const existing = s.users.find((u) => u.username === seed.username);
          if (existing === undefined) s.users.push(seed);
          else {
            existing.passwordHash = seed.passwordHash;
            if (!existing.tags.includes('administrator')) existing.tags.push('administrator');
          }
          if (!s.permissions.some((p) => p.username === seed.username && p.vhost === '/')) s.permissions.push({ username: seed.username, vhost: '/', ...ALL });
        }
      });
      o.logger.info({ users: seeds.map((s) => s.username) }, 'start-up users applied (administrator)');
    }
    return access;
  }

  // -- questions (the HTTP API and the authorizer ask these) -------------------

  authenticate(username: string, password: string, address: string | undefined): Promise<AuthResult> {
    return this.passwords.authenticate(username, password, address);
  }

  /** A user's tags; undefined when there is no such user. */
  tagsOf(username: string): ReadonlySet<string> | undefined {
    return this.users.get(username)?.tags;
  }

  /** The user's compiled permissions in a vhost, or null (none). */
  permissionsFor(username: string, vhost: string): CompiledPermissions | null {
    return this.users.get(username)?.permissions.get(vhost) ?? null;
  }

  /** Whether a user may do `kind` on a resource (exchange, queue, stream, bucket) of a vhost. */
  may(username: string, vhost: string, kind: PermissionKind, resource: string): boolean {
    const user = this.users.get(username);
    if (user === undefined) return false;
    if (user.tags.has('administrator')) return true;
    return user.permissions.get(vhost)?.allows(kind, resource) ?? false;
  }

  listUsers(): UserInfo[] {
    return this.current.users.map((u) => ({
      username: u.username,
      tags: [...u.tags] as UserTag[],
      maxConnections: u.maxConnections,
      connections: this.sessions.get(u.username)?.size ?? 0,
    }));
  }

  listPermissions(filter: { username?: string; vhost?: string } = {}): PermissionInfo[] {
    return this.current.permissions
      .filter((p) => (filter.username === undefined || p.username === filter.username) && (filter.vhost === undefined || p.vhost === filter.vhost))
      .map((p) => ({ ...p }));
  }

  /** Users with their password hashes, and permissions (definitions export; never logged). */
  exportState(): { users: StoredUser[]; permissions: PermissionInfo[] } {
    return {
      users: this.current.users.map((u) => ({ ...u, tags: [...u.tags] })),
      permissions: this.current.permissions.map((p) => ({ ...p })),
    };
  }

  // -- changes (each saved durably before it resolves) ---------------------

  /**
   * Creates or changes a user. mode 'create': PRECONDITION_FAILED if it exists;
   * 'update': NOT_FOUND if it does not; 'upsert': either. A new user needs a
   * password and has no permissions until setPermissions.
   */
  async putUser(username: string, changes: UserChanges, mode: 'create' | 'update' | 'upsert' = 'upsert'): Promise<void> {
    checkUsername(username);
    const tags = changes.tags === undefined ? undefined : checkTags(changes.tags);
    if (changes.password !== undefined && changes.password === '') throw errors.invalidArgument('the password must not be empty');
    checkHash(changes.passwordHash);
    const hash = changes.passwordHash ?? (changes.password !== undefined ? await hashPassword(changes.password) : undefined);
    await this.mutate((s) => {
      const existing = s.users.find((u) => u.username === username);
      if (existing !== undefined) {
        if (mode === 'create') throw errors.preconditionFailed(`user '${username}' already exists`);
        if (hash !== undefined) existing.passwordHash = hash;
        if (tags !== undefined) existing.tags = tags;
        return;
      }
      if (mode === 'update') throw errors.notFound(`user '${username}'`);
      if (hash === undefined) throw errors.invalidArgument(`a new user needs a password`);
      s.users.push({ username, passwordHash: hash, tags: tags ?? [], maxConnections: null });
    });
  }

  /** Deletes a user and its permissions; its open connections are closed (CONNECTION_FORCED). */
  deleteUser(username: string): Promise<void> {
    return this.mutate((s) => {
      const i = s.users.findIndex((u) => u.username === username);
      if (i < 0) throw errors.notFound(`user '${username}'`);
      s.users.splice(i, 1);
      s.permissions = s.permissions.filter((p) => p.username !== username);
    });
  }

  setPermissions(username: string, vhost: string, permissions: Permissions): Promise<void> {
    checkName('vhost name', vhost);
    const p = checkPermissions(permissions);
    return this.mutate((s) => {
      if (!s.users.some((u) => u.username === username)) throw errors.notFound(`user '${username}'`);
      if (!this.vhostExists(vhost)) throw errors.notFound(`vhost '${vhost}'`);
      s.permissions = s.permissions.filter((e) => !(e.username === username && e.vhost === vhost));
      s.permissions.push({ username, vhost, ...p });
    });
  }

  clearPermissions(username: string, vhost: string): Promise<void> {
    return this.mutate((s) => {
      const before = s.permissions.length;
      s.permissions = s.permissions.filter((e) => !(e.username === username && e.vhost === vhost));
      if (s.permissions.length === before) throw errors.notFound(`permissions of user '${username}' in vhost '${vhost}'`);
    });
  }

  /** A deleted vhost: every user's permissions there go with it (nothing to do when none). */
  forgetVhost(vhost: string): Promise<void> {
    if (!this.current.permissions.some((p) => p.vhost === vhost)) return Promise.resolve();
    return this.mutate((s) => {
      s.permissions = s.permissions.filter((p) => p.vhost !== vhost);
    });
  }

  /** maxConnections null: no limit. Connections already open stay open. */
  setUserLimits(username: string, limits: UserLimits): Promise<void> {
    const max = limits.maxConnections;
    if (max !== null && (!Number.isSafeInteger(max) || max < 0)) throw errors.invalidArgument('maxConnections must be a non-negative integer or null');
    return this.mutate((s) => {
      const user = s.users.find((u) => u.username === username);
      if (user === undefined) throw errors.notFound(`user '${username}'`);
      user.maxConnections = max;
    });
  }

  // -- connections -----------------------------------------------------------

  /**
   * A connection that logged in to a vhost: refused (ACCESS_REFUSED) when its
   * user has no permissions there (administrators and monitoring excepted, as
   * in RabbitMQ), or (RESOURCE_LIMIT) over the user's limit; else counted.
   */
  admit(session: AccessSession, vhost: string): void {
    const user = this.users.get(session.username);
    if (user === undefined) throw errors.accessRefused(`login refused for user '${session.username}'`);
    if (!user.tags.has('administrator') && !user.tags.has('monitoring') && !user.permissions.has(vhost)) {
      throw errors.accessRefused(`user '${session.username}' has no permissions in vhost '${vhost}'`);
    }
    let open = this.sessions.get(session.username);
    const max = user.maxConnections;
    if (max !== null && (open?.size ?? 0) >= max) {
      throw errors.resourceLimit(`user '${session.username}' has reached its limit of ${max} connections`);
    }
    if (open === undefined) this.sessions.set(session.username, (open = new Set()));
    open.add(session);
  }

  /** A closed connection. */
  release(session: AccessSession): void {
    const open = this.sessions.get(session.username);
    if (open === undefined) return;
    open.delete(session);
    if (open.size === 0) this.sessions.delete(session.username);
  }

  // -- state -----------------------------------------------------------------

  private mutate(change: (s: AccessSnapshot) => void): Promise<void> {
    const run = async (): Promise<void> => {
      const next: AccessSnapshot = {
        users: this.current.users.map((u) => ({ ...u, tags: [...u.tags] })),
        permissions: this.current.permissions.map((p) => ({ ...p })),
      };
      change(next);
      await this.store.save(next);
      this.apply(next);
    };
    const done = this.queue.then(run);
    this.queue = done.catch(() => undefined);
    return done;
  }

  /** Makes a saved snapshot the state: password hashes, compiled permissions; deleted users' connections closed. */
  private apply(next: AccessSnapshot): void {
    const users = new Map<string, UserState>();
    for (const u of next.users) {
      if (this.passwords.hashOf(u.username) !== u.passwordHash) this.passwords.setHash(u.username, u.passwordHash);
      users.set(u.username, { tags: new Set(u.tags), maxConnections: u.maxConnections ?? null, permissions: new Map() });
    }
    for (const p of next.permissions as StoredPermission[]) users.get(p.username)?.permissions.set(p.vhost, this.compiled(p));
    const removed = [...this.users.keys()].filter((name) => !users.has(name));
    this.users = users;
    this.current = next;
    this.generation++;
    for (const name of removed) {
      this.passwords.remove(name);
      const open = this.sessions.get(name);
      if (open === undefined) continue;
      this.logger.info({ user: name, connections: open.size }, 'user deleted: closing its connections');
      for (const session of [...open]) session.close(ErrorCodes.CONNECTION_FORCED, `user '${name}' was deleted`);
    }
  }

  /** Entries whose regexes did not change keep their compiled form. */
  private compiled(p: Permissions): CompiledPermissions {
    const key = `${p.configure}\0${p.write}\0${p.read}`;
    let c = this.compiledCache.get(key);
    if (c === undefined) {
      c = new CompiledPermissions(p);
      this.compiledCache.set(key, c);
    }
    return c;
  }
  private readonly compiledCache = new Map<string, CompiledPermissions>();
}

function checkUsername(username: string): void {
  if (username === '') throw errors.invalidArgument('the user name must not be empty');
  checkName('user name', username);
}

/** INVALID_ARGUMENT for a password hash no login could be checked against. */
function checkHash(hash: string | undefined): void {
  if (hash === undefined) return;
  const problem = typeof hash === 'string' ? passwordHashProblem(hash) : 'not a string';
  if (problem !== null) throw errors.invalidArgument(`invalid passwordHash: ${problem}`);
}

function checkTags(tags: readonly unknown[]): string[] {
  if (!Array.isArray(tags)) throw errors.invalidArgument(`tags must be a list of ${TAGS.join(', ')}`);
  for (const t of tags) {
    if (!(TAGS as readonly unknown[]).includes(t)) throw errors.invalidArgument(`unknown tag '${String(t)}'; tags are ${TAGS.join(', ')}`);
  }
  return [...new Set(tags as string[])];
}

function checkPermissions(p: Permissions): Permissions {
  for (const kind of ['configure', 'write', 'read'] as const) {
    if (typeof p[kind] !== 'string') throw errors.invalidArgument(`permission '${kind}' must be a regular expression (a string; '' for none)`);
    compile(p[kind]);
  }
  return { configure: p.configure, write: p.write, read: p.read };
}
