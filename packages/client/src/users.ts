/**
 * Users, permissions and user limits (protocol-spec 8.8), as `conn.users`.
 * Most calls need a user with the administrator tag; any user may change its
 * own password and list its own permissions. Needs a broker with the
 * `access` capability.
 *
 * @example
 * await admin.users.add('orders-app', secret, { tags: [] });
 * await admin.users.setPermissions('orders-app', '/', { configure: '^orders\\.', write: '^orders\\.', read: '^orders\\.' });
 * await admin.users.setLimits('orders-app', { maxConnections: 10 });
 */
import type { PermissionInfo, Permissions, UserInfo, UserTag } from '@warren/protocol';
import type { SendRequest } from './link.js';
import type { ReplyMapper } from './requests.js';
import { asArray } from './replies.js';

type Request = <T>(build: SendRequest, map: ReplyMapper<T>) => Promise<T>;
const nothing = (): void => undefined;

export class Users {
  /** @internal */
  constructor(private readonly request: Request) {}

  /** Creates a user (PRECONDITION_FAILED if it exists). It has no permissions until setPermissions. */
  add(username: string, password: string, options: { tags?: UserTag[] } = {}): Promise<void> {
    return this.request((w, id) => w.userAdd(id, username, password, { tags: options.tags ?? [] }), nothing);
  }

  /** Deletes a user and its permissions; its open connections are closed (CONNECTION_FORCED). */
  delete(username: string): Promise<void> {
    return this.request((w, id) => w.userDelete(id, username), nothing);
  }

  /** Changes a user's password and/or tags (tags replace the current ones). */
  update(username: string, changes: { password?: string; tags?: UserTag[] }): Promise<void> {
    return this.request((w, id) => w.userUpdate(id, username, { ...changes }), nothing);
  }

  /** Changes a password; any user may change its own. */
  changePassword(username: string, password: string): Promise<void> {
    return this.update(username, { password });
  }

  list(): Promise<UserInfo[]> {
    return this.request((w, id) => w.userList(id), asArray<UserInfo>);
  }

  /** Sets (replaces) a user's permissions in a vhost ('/' is the default vhost). */
  setPermissions(username: string, vhost: string, permissions: Permissions): Promise<void> {
    const { configure, write, read } = permissions;
    return this.request((w, id) => w.permissionsSet(id, username, vhost, { configure, write, read }), nothing);
  }

  clearPermissions(username: string, vhost: string): Promise<void> {
    return this.request((w, id) => w.permissionsClear(id, username, vhost), nothing);
  }

  /** Permission entries, all or those of one user and/or vhost; any user may list its own. */
  listPermissions(filter: { username?: string; vhost?: string } = {}): Promise<PermissionInfo[]> {
    return this.request((w, id) => w.permissionsList(id, { ...filter }), asArray<PermissionInfo>);
  }

  /** maxConnections null: no limit. */
  setLimits(username: string, limits: { maxConnections: number | null }): Promise<void> {
    return this.request((w, id) => w.userLimitsSet(id, username, { maxConnections: limits.maxConnections }), nothing);
  }
}
