/**
 * Definitions: the whole configuration as one JSON document, to recreate a
 * deployment (administrators only).
 *
 *   GET  /api/definitions  -> {warrenVersion, vhosts, users, permissions, limits, exchanges, queues, bindings, policies}
 *   POST /api/definitions  (the same document) -> {imported: {vhosts, users, permissions, exchanges, queues, bindings, policies}}
 *
 * The export holds what survives a restart: vhosts with their limits, users
 * with their password hashes (scrypt, as RabbitMQ exports hashes) and tags,
 * permissions, and the durable exchanges, queues and bindings (exclusive
 * queues and the built-in `amq.*` exchanges are left out). Warren has no
 * policies: queue policies are queue arguments, so `policies` is always [].
 *
 * An import applies the document in that order through the same paths as the
 * wire protocol's requests: vhosts added (or their limits set), users created
 * or updated, permissions set, exchanges, queues and bindings declared. It is
 * idempotent: importing the same document again changes nothing. An entity
 * that exists with other attributes stops the import there (409, naming it);
 * what was applied before stays.
 */
import { MAX_NESTING, type Arguments, type VhostLimits } from '@warren/protocol';
import { passwordHashProblem } from '../../auth.js';
import { errors } from '../../errors.js';
import { limitsOf } from '../../handlers/vhosts.js';
import * as ops from '../../topology-ops.js';
import type { HttpContext } from '../context.js';
import { objectBody, optBool, optObject, optString, reqString, vhostOf, type Body } from '../fields.js';
import type { Router } from '../router.js';

export interface Definitions {
  warrenVersion: string;
  vhosts: { name: string; limits: VhostLimits }[];
  users: { name: string; passwordHash: string; tags: string[]; maxConnections: number | null }[];
  permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
  limits: { users: { user: string; maxConnections: number }[]; vhosts: ({ vhost: string } & VhostLimits)[] };
  exchanges: { vhost: string; name: string; type: string; durable: boolean; autoDelete: boolean; internal: boolean; alternateExchange: string | null; arguments: Arguments }[];
  queues: { vhost: string; name: string; durable: boolean; autoDelete: boolean; arguments: Arguments }[];
  bindings: { vhost: string; source: string; destination: string; destinationKind: 'queue' | 'exchange'; routingKey: string; arguments: Arguments }[];
  policies: never[];
}

function list(doc: Body, key: string): Body[] {
  const v = doc[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => x === null || typeof x !== 'object' || Array.isArray(x))) throw errors.invalidArgument(`'${key}' must be a list of objects`);
  return v as Body[];
}

/** A field error names the entry: "queues[3]: 'name' is required". */
function at<T>(key: string, i: number, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof Error) err.message = `${key}[${i}]: ${err.message}`;
    throw err;
  }
}

export function exportDefinitions(ctx: HttpContext): Definitions {
  const { users, permissions } = ctx.access.exportState();
  const doc: Definitions = {
    warrenVersion: String(ctx.broker.serverProperties['version']),
    vhosts: [...ctx.vhosts].map((v) => ({ name: v.name, limits: { ...v.limits } })),
    users: users.map((u) => ({ name: u.username, passwordHash: u.passwordHash, tags: u.tags, maxConnections: u.maxConnections ?? null })),
    permissions: permissions.map((p) => ({ user: p.username, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read })),
    limits: {
      users: users.filter((u) => u.maxConnections !== null && u.maxConnections !== undefined).map((u) => ({ user: u.username, maxConnections: u.maxConnections! })),
      vhosts: [...ctx.vhosts].filter((v) => v.limits.maxConnections !== null || v.limits.maxQueues !== null).map((v) => ({ vhost: v.name, ...v.limits })),
    },
    exchanges: [],
    queues: [],
    bindings: [],
    policies: [],
  };
  for (const v of ctx.vhosts) {
    const snap = v.snapshot();
    for (const e of snap.exchanges) {
      doc.exchanges.push({
        vhost: v.name,
        name: e.name,
        type: e.type,
        durable: true,
        autoDelete: e.autoDelete,
        internal: e.internal,
        alternateExchange: e.alternateExchange ?? null,
        arguments: e.arguments as Arguments,
      });
    }
    for (const q of snap.queues) doc.queues.push({ vhost: v.name, name: q.name, durable: true, autoDelete: q.autoDelete, arguments: q.arguments as Arguments });
    for (const b of snap.bindings) {
      doc.bindings.push({ vhost: v.name, source: b.source, destination: b.destination, destinationKind: b.kind, routingKey: b.routingKey, arguments: (b.arguments ?? {}) as Arguments });
    }
  }
  return doc;
}

export async function importDefinitions(ctx: HttpContext, doc: Body): Promise<Record<string, number>> {
  const imported = { vhosts: 0, users: 0, permissions: 0, exchanges: 0, queues: 0, bindings: 0, policies: 0 };
  if (list(doc, 'policies').length > 0) throw errors.invalidArgument(`Warren has no policies: set queue policies as queue arguments (x-message-ttl, x-max-length, ...)`);
  // Checked whole before anything is applied: a malformed document changes nothing.
  const vhosts = list(doc, 'vhosts').map((v, i) => at('vhosts', i, () => ({ name: reqString(v, 'name'), limits: limitsOf(optObject(v, 'limits') ?? {}) })));
  const users = list(doc, 'users').map((u, i) =>
    at('users', i, () => {
      const tags = u['tags'];
      if (tags !== undefined && (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))) throw errors.invalidArgument(`'tags' must be a list of strings`);
      const max = u['maxConnections'];
      if (max !== undefined && max !== null && typeof max !== 'number') throw errors.invalidArgument(`'maxConnections' must be an integer or null`);
      const passwordHash = optString(u, 'passwordHash');
      const problem = passwordHash === undefined ? null : passwordHashProblem(passwordHash);
      if (problem !== null) throw errors.invalidArgument(`invalid passwordHash: ${problem}`);
      const password = optString(u, 'password');
      return { name: reqString(u, 'name'), passwordHash, password, tags: tags as string[] | undefined, maxConnections: max as number | null | undefined };
    }),
  );
  const permissions = list(doc, 'permissions').map((p, i) =>
    at('permissions', i, () => ({ user: reqString(p, 'user'), vhost: reqString(p, 'vhost'), configure: reqString(p, 'configure'), write: reqString(p, 'write'), read: reqString(p, 'read') })),
  );
  const vhostLimits = optObject(doc, 'limits');
  const exchanges = list(doc, 'exchanges').map((e, i) =>
    at('exchanges', i, () => ({
      vhost: reqString(e, 'vhost'),
      name: reqString(e, 'name'),
      type: reqString(e, 'type'),
      durable: optBool(e, 'durable') ?? true,
      autoDelete: optBool(e, 'autoDelete') ?? false,
      internal: optBool(e, 'internal') ?? false,
      alternateExchange: optString(e, 'alternateExchange'),
      arguments: optObject(e, 'arguments') as Arguments | undefined,
    })),
  );
  const queues = list(doc, 'queues').map((q, i) =>
    at('queues', i, () => ({
      vhost: reqString(q, 'vhost'),
      name: reqString(q, 'name'),
      durable: optBool(q, 'durable') ?? true,
      autoDelete: optBool(q, 'autoDelete') ?? false,
      arguments: optObject(q, 'arguments') as Arguments | undefined,
    })),
  );
  const bindings = list(doc, 'bindings').map((b, i) =>
    at('bindings', i, () => {
      const kind = optString(b, 'destinationKind') ?? 'queue';
      if (kind !== 'queue' && kind !== 'exchange') throw errors.invalidArgument(`'destinationKind' must be 'queue' or 'exchange'`);
      return {
        vhost: reqString(b, 'vhost'),
        source: reqString(b, 'source'),
        destination: reqString(b, 'destination'),
        kind,
        routingKey: optString(b, 'routingKey') ?? '',
        arguments: (optObject(b, 'arguments') as Arguments | undefined) ?? null,
      };
    }),
  );

  const access = ctx.access;
  for (const v of vhosts) {
    if (!(await ctx.vhosts.add(v.name, v.limits))) await ctx.vhosts.setLimits(v.name, v.limits);
    imported.vhosts++;
  }
  for (const u of users) {
    await access.putUser(
      u.name,
      {
        ...(u.passwordHash !== undefined ? { passwordHash: u.passwordHash } : {}),
        ...(u.password !== undefined && u.passwordHash === undefined ? { password: u.password } : {}),
        ...(u.tags !== undefined ? { tags: u.tags } : {}),
      },
      'upsert',
    );
    if (u.maxConnections !== undefined) await access.setUserLimits(u.name, { maxConnections: u.maxConnections });
    imported.users++;
  }
  for (const p of permissions) {
    await access.setPermissions(p.user, p.vhost, { configure: p.configure, write: p.write, read: p.read });
    imported.permissions++;
  }
  // `limits` repeats what vhosts and users carry; applied too, for documents that only have it.
  if (vhostLimits !== undefined) {
    for (const [i, l] of list(vhostLimits, 'vhosts').entries()) {
      const name = at('limits.vhosts', i, () => reqString(l, 'vhost'));
      await ctx.vhosts.setLimits(name, limitsOf(l));
    }
    for (const [i, l] of list(vhostLimits, 'users').entries()) {
      const name = at('limits.users', i, () => reqString(l, 'user'));
      const max = l['maxConnections'];
      await access.setUserLimits(name, { maxConnections: typeof max === 'number' ? max : null });
    }
  }
  for (const e of exchanges) {
    const vhost = vhostOf(ctx.vhosts, e.vhost);
    await ops.declareExchange(vhost, e.name, e.type, {
      durable: e.durable,
      autoDelete: e.autoDelete,
      internal: e.internal,
      ...(e.alternateExchange !== undefined ? { alternateExchange: e.alternateExchange } : {}),
      ...(e.arguments !== undefined ? { arguments: e.arguments } : {}),
    });
    imported.exchanges++;
  }
  for (const q of queues) {
    const vhost = vhostOf(ctx.vhosts, q.vhost);
    await ops.declareQueue(vhost, q.name, { durable: q.durable, autoDelete: q.autoDelete, ...(q.arguments !== undefined ? { arguments: q.arguments } : {}) }, null);
    imported.queues++;
  }
  for (const b of bindings) {
    const vhost = vhostOf(ctx.vhosts, b.vhost);
    if (b.kind === 'queue') await ops.bindQueue(vhost, b.destination, b.source, b.routingKey, b.arguments, null);
    else await ops.bindExchange(vhost, b.destination, b.source, b.routingKey, b.arguments);
    imported.bindings++;
  }
  return imported;
}

/**
 * Deepest nesting of a definitions document (the JSON bound of other bodies is
 * MAX_NESTING, server.ts): it holds arguments two levels deeper than the
 * requests that declared them ({bindings: [{arguments}]} puts them at level 4;
 * a binding's arguments are at level 2 of QUEUE_BIND and of POST /api/bindings),
 * so what the broker accepted and exported imports again.
 */
export const MAX_DEFINITIONS_NESTING = MAX_NESTING + 2;

export function register(router: Router, ctx: HttpContext): void {
  router.get('/api/definitions', (req) => {
    req.user.requireAdmin('export definitions');
    return exportDefinitions(ctx);
  });
  router.post('/api/definitions', async (req) => {
    req.user.requireAdmin('import definitions');
    const doc = await objectBody(req, MAX_DEFINITIONS_NESTING);
    const imported = await importDefinitions(ctx, doc);
    ctx.logger.info({ by: req.user.name, imported }, 'definitions imported from the management API');
    return { imported };
  });
}
