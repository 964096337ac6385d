/**
 * Users, permissions, limits and vhosts (HTTP-API.md), through broker.access
 * and the vhost registry, as the wire protocol's requests (handlers/access.ts,
 * handlers/vhosts.ts): the same checks, the same durable saves.
 *
 *   GET    /api/users                 administrator or monitoring
 *   GET    /api/users/:name           ... or the user itself
 *   PUT    /api/users/:name           {password?, passwordHash?, tags?}: administrator; anyone may change its own password
 *   DELETE /api/users/:name           administrator (its connections are closed)
 *   GET    /api/permissions           everyone's (administrator, monitoring) or one's own
 *   GET    /api/permissions/:vhost/:user
 *   PUT    /api/permissions/:vhost/:user   {configure, write, read}: administrator
 *   DELETE /api/permissions/:vhost/:user
 *   GET    /api/limits                user and vhost limits (administrator, monitoring)
 *   PUT    /api/limits/user/:user     {maxConnections}        DELETE: no limit
 *   PUT    /api/limits/vhost/:vhost   {maxConnections?, maxQueues?}   DELETE: no limits
 *   GET    /api/vhosts                the vhosts the caller sees
 *   GET    /api/vhosts/:vhost
 *   PUT    /api/vhosts/:vhost         {limits?}: creates it (201) or sets its limits (200); administrator
 *   DELETE /api/vhosts/:vhost         administrator: its connections closed, its data removed
 *
 * Password hashes never leave here (definitions export aside); passwords are never logged.
 */
import type { PermissionInfo, UserInfo } from '@warren/protocol';
import { errors } from '../../errors.js';
import { isOwnPasswordChange } from '../../authorizer.js';
import { changesOf } from '../../handlers/access.js';
import { limitsOf } from '../../handlers/vhosts.js';
import { vhostInfo } from '../../management.js';
import { deleteVhost } from '../../vhosts.js';
import type { HttpContext } from '../context.js';
import { objectBody, optObject, optString, reqString, vhostOf } from '../fields.js';
import { json, noContent, type ApiRequest, type Router } from '../router.js';

export interface UserItem {
  name: string;
  tags: string[];
  maxConnections: number | null;
  connections: number;
}

export interface PermissionItem {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

function userItem(u: UserInfo): UserItem {
  return { name: u.username, tags: u.tags, maxConnections: u.maxConnections, connections: u.connections };
}

function permissionItem(p: PermissionInfo): PermissionItem {
  return { user: p.username, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read };
}

export function register(router: Router, ctx: HttpContext): void {
  const access = (): HttpContext['access'] => ctx.access;

  const findUser = (name: string): UserItem => {
    const u = access().listUsers().find((x) => x.username === name);
    if (u === undefined) throw errors.notFound(`user '${name}'`);
    return userItem(u);
  };

  /** Administrator, monitoring, or the user itself. */
  const requireSelfOrMonitor = (req: ApiRequest, user: string, action: string): void => {
    if (req.user.name !== user) req.user.requireMonitor(action);
  };

  // -- users -----------------------------------------------------------------
  router.get('/api/users', (req) => {
    req.user.requireMonitor('list users');
    return access().listUsers().map(userItem);
  });
  router.get('/api/users/:name', (req) => {
    const name = req.params['name']!;
    requireSelfOrMonitor(req, name, `see user '${name}'`);
    return findUser(name);
  });
  router.put('/api/users/:name', async (req) => {
    const name = req.params['name']!;
    const body = await objectBody(req);
    const changes = changesOf(body);
    const passwordHash = optString(body, 'passwordHash');
    if (passwordHash !== undefined) changes.passwordHash = passwordHash;
    // The wire protocol's exception (authorizer.ts): anyone may change its own password, and nothing else.
    const ownPassword = isOwnPasswordChange(req.user.name, name, Object.keys(body));
    if (!ownPassword) req.user.requireAdmin(`create or change user '${name}'`);
    const existed = access().tagsOf(name) !== undefined;
    await access().putUser(name, changes, ownPassword ? 'update' : 'upsert');
    ctx.logger.info({ user: name, by: req.user.name, created: !existed, tags: changes.tags }, 'user changed from the management API');
    return json(findUser(name), existed ? 200 : 201);
  });
  router.delete('/api/users/:name', async (req) => {
    const name = req.params['name']!;
    req.user.requireAdmin(`delete user '${name}'`);
    await access().deleteUser(name);
    return noContent();
  });

  // -- permissions -------------------------------------------------------------
  router.get('/api/permissions', (req) => {
    const all = access().listPermissions(req.user.seesAll ? {} : { username: req.user.name });
    return all.map(permissionItem);
  });
  router.get('/api/users/:name/permissions', (req) => {
    const name = req.params['name']!;
    requireSelfOrMonitor(req, name, `see the permissions of user '${name}'`);
    findUser(name);
    return access().listPermissions({ username: name }).map(permissionItem);
  });
  router.get('/api/permissions/:vhost/:user', (req) => {
    const { vhost, user } = req.params as { vhost: string; user: string };
    requireSelfOrMonitor(req, user, `see the permissions of user '${user}'`);
    const p = access().listPermissions({ username: user, vhost })[0];
    if (p === undefined) throw errors.notFound(`permissions of user '${user}' in vhost '${vhost}'`);
    return permissionItem(p);
  });
  router.put('/api/permissions/:vhost/:user', async (req) => {
    const { vhost, user } = req.params as { vhost: string; user: string };
    req.user.requireAdmin(`set the permissions of user '${user}'`);
    const body = await objectBody(req);
    await access().setPermissions(user, vhost, { configure: reqString(body, 'configure'), write: reqString(body, 'write'), read: reqString(body, 'read') });
    return permissionItem(access().listPermissions({ username: user, vhost })[0]!);
  });
  router.delete('/api/permissions/:vhost/:user', async (req) => {
    const { vhost, user } = req.params as { vhost: string; user: string };
    req.user.requireAdmin(`clear the permissions of user '${user}'`);
    await access().clearPermissions(user, vhost);
    return noContent();
  });

  // -- limits ----------------------------------------------------------------
  router.get('/api/limits', (req) => {
    req.user.requireMonitor('see limits');
    return {
      users: access()
        .listUsers()
        .filter((u) => u.maxConnections !== null)
        .map((u) => ({ user: u.username, maxConnections: u.maxConnections })),
      vhosts: [...ctx.vhosts].filter((v) => v.limits.maxConnections !== null || v.limits.maxQueues !== null).map((v) => ({ vhost: v.name, ...v.limits })),
    };
  });
  const setUserLimit = async (req: ApiRequest, max: unknown): Promise<unknown> => {
    const user = req.params['user']!;
    req.user.requireAdmin(`set the limits of user '${user}'`);
    if (max !== undefined && max !== null && typeof max !== 'number') throw errors.invalidArgument(`'maxConnections' must be an integer or null`);
    await access().setUserLimits(user, { maxConnections: (max as number | null | undefined) ?? null });
    return { user, maxConnections: findUser(user).maxConnections };
  };
  router.put('/api/limits/user/:user', async (req) => setUserLimit(req, (await objectBody(req))['maxConnections']));
  router.delete('/api/limits/user/:user', async (req) => {
    await setUserLimit(req, null);
    return noContent();
  });
  router.put('/api/limits/vhost/:vhost', async (req) => {
    const name = req.params['vhost']!;
    req.user.requireAdmin(`set the limits of vhost '${name}'`);
    const limits = await ctx.vhosts.setLimits(name, limitsOf(await objectBody(req)));
    return { vhost: name, ...limits };
  });
  router.delete('/api/limits/vhost/:vhost', async (req) => {
    const name = req.params['vhost']!;
    req.user.requireAdmin(`clear the limits of vhost '${name}'`);
    await ctx.vhosts.setLimits(name, { maxConnections: null, maxQueues: null });
    return noContent();
  });

  // -- vhosts ----------------------------------------------------------------
  router.get('/api/vhosts', (req) => [...ctx.vhosts].filter((v) => req.user.canSee(v.name)).map(vhostInfo));
  router.get('/api/vhosts/:vhost', (req) => {
    const name = req.params['vhost']!;
    req.user.requireSee(name);
    return vhostInfo(vhostOf(ctx.vhosts, name));
  });
  router.put('/api/vhosts/:vhost', async (req) => {
    const name = req.params['vhost']!;
    req.user.requireAdmin(`create or change vhost '${name}'`);
    const limits = limitsOf(optObject(await objectBody(req), 'limits') ?? {});
    if (await ctx.vhosts.add(name, limits)) return json(vhostInfo(vhostOf(ctx.vhosts, name)), 201);
    await ctx.vhosts.setLimits(name, limits);
    return vhostInfo(vhostOf(ctx.vhosts, name));
  });
  router.delete('/api/vhosts/:vhost', async (req) => {
    const name = req.params['vhost']!;
    req.user.requireAdmin(`delete vhost '${name}'`);
    await deleteVhost(ctx.vhosts, ctx.access, name);
    return noContent();
  });
}
