/**
 * Users, permissions and user limits (protocol-spec 8.8): each request calls
 * `broker.access` (access.ts), which saves the change durably before the OK.
 * Who may send them is the authorizer's call (administer: the administrator
 * tag, with the exceptions in authorizer.ts).
 */
import { FrameType } from '@warren/protocol';
import { Answer, type DispatchTable } from '../dispatch.js';
import { errors } from '../errors.js';
import type { Permissions, UserChanges } from '../access.js';

function optionalString(options: Record<string, unknown>, key: string): string | undefined {
  const v = options[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw errors.invalidArgument(`'${key}' must be a string`);
  return v;
}

/** A user change from a request's options (USER_ADD/USER_UPDATE, the HTTP API's PUT /api/users/:name): password and tags. */
export function changesOf(options: Record<string, unknown>): UserChanges {
  const changes: UserChanges = {};
  const password = optionalString(options, 'password');
  if (password !== undefined) changes.password = password;
  const tags = options['tags'];
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags)) throw errors.invalidArgument(`'tags' must be a list of strings`);
    changes.tags = tags as string[];
  }
  return changes;
}

export function registerAccessHandlers(table: DispatchTable): void {
  table.register(FrameType.USER_ADD, Answer.Reply, 'administer', async (f, _s, { access }) => {
    if (f.password === '') throw errors.invalidArgument('the password must not be empty');
    await access.putUser(f.username, { ...changesOf(f.options), password: f.password }, 'create');
    return null;
  });
  table.register(FrameType.USER_DELETE, Answer.Reply, 'administer', async (f, _s, { access }) => {
    await access.deleteUser(f.username);
    return null;
  });
  table.register(FrameType.USER_UPDATE, Answer.Reply, 'administer', async (f, _s, { access }) => {
    await access.putUser(f.username, changesOf(f.options), 'update');
    return null;
  });
  table.register(FrameType.USER_LIST, Answer.Reply, 'administer', (_f, _s, { access }) => access.listUsers());
  table.register(FrameType.PERMISSIONS_SET, Answer.Reply, 'administer', async (f, _s, { access }) => {
    const o = f.options;
    const p: Permissions = { configure: o['configure'] as string, write: o['write'] as string, read: o['read'] as string };
    await access.setPermissions(f.username, f.vhost, p);
    return null;
  });
  table.register(FrameType.PERMISSIONS_CLEAR, Answer.Reply, 'administer', async (f, _s, { access }) => {
    await access.clearPermissions(f.username, f.vhost);
    return null;
  });
  table.register(FrameType.PERMISSIONS_LIST, Answer.Reply, 'administer', (f, _s, { access }) => {
    const username = optionalString(f.options, 'username');
    const vhost = optionalString(f.options, 'vhost');
    return access.listPermissions({ ...(username !== undefined ? { username } : {}), ...(vhost !== undefined ? { vhost } : {}) });
  });
  table.register(FrameType.USER_LIMITS_SET, Answer.Reply, 'administer', async (f, _s, { access }) => {
    const max = f.options['maxConnections'];
    if (max !== undefined && max !== null && typeof max !== 'number') throw errors.invalidArgument(`'maxConnections' must be an integer or nil`);
    await access.setUserLimits(f.username, { maxConnections: (max as number | null | undefined) ?? null });
    return null;
  });
}
