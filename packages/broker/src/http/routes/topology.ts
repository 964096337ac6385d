/**
 * Exchanges, queues and bindings (HTTP-API.md): lists (paged, sorted and
 * filtered server-side: paging.ts), detail, declare, delete, purge,
 * bind/unbind. Declares and deletes go through topology-ops.ts, as the wire
 * protocol's do; permissions are the wire protocol's (configure to declare or
 * delete, read to purge, write on the destination + read on the source to bind).
 *
 *   GET    /api/exchanges[/:vhost]                    paged
 *   GET    /api/exchanges/:vhost/:name
 *   PUT    /api/exchanges/:vhost/:name                {type, durable?, autoDelete?, internal?, alternateExchange?, arguments?}
 *   DELETE /api/exchanges/:vhost/:name[?if_unused=true]
 *   GET    /api/queues[/:vhost]                       paged
 *   GET    /api/queues/:vhost/:name
 *   PUT    /api/queues/:vhost/:name                   {durable?, autoDelete?, arguments?}
 *   DELETE /api/queues/:vhost/:name[?if_unused=true&if_empty=true]
 *   DELETE /api/queues/:vhost/:name/contents         purge -> {purged}
 *   GET    /api/queues/:vhost/:name/bindings
 *   GET    /api/exchanges/:vhost/:name/bindings/source|destination
 *   GET    /api/bindings[/:vhost]
 *   POST   /api/bindings/:vhost/e/:source/q|e/:destination      {routingKey?, arguments?}
 *   DELETE /api/bindings/:vhost/e/:source/q|e/:destination?routing_key=..   (body {arguments} for headers bindings)
 *
 * The default exchange is '' in lists and `amq.default` in paths.
 */
import { FrameType, type Arguments, type BindingInfo, type ExchangeInfo } from '@warren/protocol';
import { errors } from '../../errors.js';
import { isExchange, type Destination, type Exchange } from '../../exchange.js';
import type { Queue } from '../../queue.js';
import type { VirtualHost } from '../../vhost.js';
import { DEFAULT_EXCHANGE_INFO, exchangeInfo } from '../../management.js';
import * as ops from '../../topology-ops.js';
import type { PermissionKind } from '../../access.js';
import { redirectOf } from '../../authorizer.js';
import type { HttpContext } from '../context.js';
import { exchangeName, objectBody, optArguments, optBool, optString, queueOf, reqString, shownExchange, vhostOf, type Body } from '../fields.js';
import { bool, paginate } from '../paging.js';
import { queueRates } from '../rates.js';
import { consumersOf } from './connections.js';
import { json, noContent, type ApiRequest, type Router } from '../router.js';

/** EXCHANGE_LIST's entry, with its vhost. */
export type ExchangeItem = { vhost: string } & ExchangeInfo;

export interface QueueItem {
  vhost: string;
  name: string;
  type: 'classic' | 'stream';
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: Arguments;
  /** ready + unacked (a stream: the messages its log keeps, all counted as ready) */
  messages: number;
  ready: number;
  unacked: number;
  delayed: number;
  consumers: number;
  /** Bodies of the ready messages (a stream: the size of its log on disk). */
  bytes: number;
  /** Age of the next ready message (lag); null when none is ready. */
  oldestReadyAgeMs: number | null;
  rates: { published: number; delivered: number; acked: number };
}

/** BINDING_LIST's entry, with its vhost (and `{}` for no arguments). */
export type BindingItem = { vhost: string } & BindingInfo & { arguments: Arguments };

export function exchangeItem(vhost: VirtualHost, e: Exchange | null): ExchangeItem {
  if (e === null) return { vhost: vhost.name, ...DEFAULT_EXCHANGE_INFO, arguments: {}, bindings: vhost.queues.size };
  return { vhost: vhost.name, ...exchangeInfo(e) };
}

export function queueItem(ctx: HttpContext, vhost: VirtualHost, q: Queue, now = Date.now()): QueueItem {
  const rates = queueRates(ctx.broker, q);
  return {
    vhost: vhost.name,
    name: q.name,
    type: q.isStream ? 'stream' : 'classic',
    durable: q.durable,
    exclusive: q.options.exclusive,
    autoDelete: q.options.autoDelete,
    arguments: q.options.arguments,
    ...(q.isStream ? streamCounts(vhost, q) : queueCounts(q, now)),
    rates: { published: rates.published, delivered: rates.delivered, acked: rates.acked },
  };
}

type QueueCounts = Pick<QueueItem, 'messages' | 'ready' | 'unacked' | 'delayed' | 'consumers' | 'bytes' | 'oldestReadyAgeMs'>;

function queueCounts(q: Queue, now: number): QueueCounts {
  const ready = q.messageCount;
  const unacked = q.unackedCount;
  return {
    messages: ready + unacked,
    ready,
    unacked,
    delayed: q.delayedCount,
    consumers: q.consumerCount,
    bytes: q.readyBytes,
    oldestReadyAgeMs: q.oldestReadyAgeMs(now),
  };
}

/** A stream's messages are in its log, not in the queue's list: what the log keeps, all of it ready. */
function streamCounts(vhost: VirtualHost, q: Queue): QueueCounts {
  const info = vhost.streams?.log(q.name) === undefined ? undefined : vhost.streams!.infoOf(q.name);
  const kept = info?.messages ?? 0;
  return { messages: kept, ready: kept, unacked: 0, delayed: 0, consumers: info?.subscribers ?? 0, bytes: info?.bytes ?? 0, oldestReadyAgeMs: null };
}

function bindingItem(vhost: VirtualHost, source: string, d: Destination, routingKey: string, args: Arguments | null): BindingItem {
  return { vhost: vhost.name, source, destination: d.name, destinationKind: isExchange(d) ? 'exchange' : 'queue', routingKey, arguments: args ?? {} };
}

/** Every binding of a vhost; the default exchange's implicit ones (one per queue) first when `implicit`. */
export function* bindingsOf(vhost: VirtualHost, implicit = true): Generator<BindingItem> {
  if (implicit) for (const q of vhost.queues.values()) yield bindingItem(vhost, '', q, q.name, null);
  for (const e of vhost.exchanges.values()) {
    for (const b of e.matcher.bindings()) yield bindingItem(vhost, e.name, b.destination as Destination, b.routingKey, b.arguments);
  }
}

/** The vhosts a request's list covers: the one named (if the user may see it), else every one it may see. */
function visibleVhosts(ctx: HttpContext, req: ApiRequest): VirtualHost[] {
  const name = req.params['vhost'];
  if (name !== undefined) {
    req.user.requireSee(name);
    return [vhostOf(ctx.vhosts, name)];
  }
  return [...ctx.vhosts].filter((v) => req.user.canSee(v.name));
}

function* allExchanges(vhosts: VirtualHost[]): Generator<[VirtualHost, Exchange | null]> {
  for (const v of vhosts) {
    yield [v, null];
    for (const e of v.exchanges.values()) yield [v, e];
  }
}

function* allQueues(vhosts: VirtualHost[]): Generator<[VirtualHost, Queue]> {
  for (const v of vhosts) for (const q of v.queues.values()) yield [v, q];
}

function exchangeOf(vhost: VirtualHost, name: string): Exchange | null {
  if (name === '') return null;
  const e = vhost.exchanges.get(name);
  if (e === undefined) throw errors.notFound(`exchange '${name}' in vhost '${vhost.name}'`);
  return e;
}

/** The vhost of a route that reads one: visible to the user, and existing. */
function seenVhost(ctx: HttpContext, req: ApiRequest): VirtualHost {
  const name = req.params['vhost']!;
  req.user.requireSee(name);
  return vhostOf(ctx.vhosts, name);
}

/**
 * The vhost of a route that changes `resource`, once the caller may: the
 * permission is checked first, so a refusal never tells whether the vhost exists.
 */
function permittedVhost(ctx: HttpContext, req: ApiRequest, kind: PermissionKind, what: 'exchange' | 'queue', resource: string, action: string): VirtualHost {
  const name = req.params['vhost']!;
  req.user.require(name, kind, what, what === 'exchange' ? shownExchange(resource) : resource, action);
  return vhostOf(ctx.vhosts, name);
}

/** Write on the alternate or dead-letter exchange a declare names, as on the wire (authorizer.ts redirectOf). */
function requireRedirect(req: ApiRequest, vhost: VirtualHost, declare: Parameters<typeof redirectOf>[0], action: string): void {
  const target = redirectOf(declare);
  if (target !== undefined) req.user.require(vhost.name, 'write', 'exchange', target, action);
}

function boolOr(body: Body, key: string, fallback: boolean): boolean {
  return optBool(body, key) ?? fallback;
}

/** Binding routes: the destination kind from the path segment ('q' or 'e'). */
interface BindingTarget {
  vhost: VirtualHost;
  source: string;
  destination: string;
  toQueue: boolean;
}

function bindingTarget(ctx: HttpContext, req: ApiRequest, toQueue: boolean, action: string): BindingTarget {
  const source = exchangeName(req.params['source']!);
  const destination = toQueue ? req.params['destination']! : exchangeName(req.params['destination']!);
  // The wire protocol's rule (authorizer.ts): write on the destination, read on the source.
  req.user.require(req.params['vhost']!, 'read', 'exchange', shownExchange(source), action);
  const vhost = permittedVhost(ctx, req, 'write', toQueue ? 'queue' : 'exchange', destination, action);
  return { vhost, source, destination, toQueue };
}

export function register(router: Router, ctx: HttpContext): void {
  // -- exchanges -------------------------------------------------------------
  const listExchanges = (req: ApiRequest): unknown =>
    paginate(allExchanges(visibleVhosts(ctx, req)), req.query, ([, e]) => e?.name ?? '', ([v, e]) => exchangeItem(v, e));
  router.get('/api/exchanges', listExchanges);
  router.get('/api/exchanges/:vhost', listExchanges);
  router.get('/api/exchanges/:vhost/:name', (req) => {
    const vhost = seenVhost(ctx, req);
    return exchangeItem(vhost, exchangeOf(vhost, exchangeName(req.params['name']!)));
  });
  router.put('/api/exchanges/:vhost/:name', async (req) => {
    const name = exchangeName(req.params['name']!);
    const vhost = permittedVhost(ctx, req, 'configure', 'exchange', name, 'declare');
    const body = await objectBody(req);
    const existed = vhost.exchanges.has(name);
    const alternateExchange = optString(body, 'alternateExchange');
    const args = optArguments(body);
    requireRedirect(req, vhost, { type: FrameType.EXCHANGE_DECLARE, options: { alternateExchange, arguments: args } }, 'name as the alternate exchange of its exchange');
    await ops.declareExchange(vhost, name, reqString(body, 'type'), {
      durable: boolOr(body, 'durable', true),
      autoDelete: boolOr(body, 'autoDelete', false),
      internal: boolOr(body, 'internal', false),
      ...(alternateExchange !== undefined ? { alternateExchange } : {}),
      ...(args !== undefined ? { arguments: args } : {}),
    });
    return json(exchangeItem(vhost, exchangeOf(vhost, name)), existed ? 200 : 201);
  });
  router.delete('/api/exchanges/:vhost/:name', async (req) => {
    const name = exchangeName(req.params['name']!);
    const vhost = permittedVhost(ctx, req, 'configure', 'exchange', name, 'delete');
    await ops.deleteExchange(vhost, name, bool(req.query, 'if_unused'));
    return noContent();
  });
  router.get('/api/exchanges/:vhost/:name/bindings/source', (req) => {
    const vhost = seenVhost(ctx, req);
    const name = exchangeName(req.params['name']!);
    exchangeOf(vhost, name);
    return [...bindingsOf(vhost, name === '')].filter((b) => b.source === name);
  });
  router.get('/api/exchanges/:vhost/:name/bindings/destination', (req) => {
    const vhost = seenVhost(ctx, req);
    const name = exchangeName(req.params['name']!);
    exchangeOf(vhost, name);
    return [...bindingsOf(vhost, false)].filter((b) => b.destinationKind === 'exchange' && b.destination === name);
  });

  // -- queues ----------------------------------------------------------------
  const listQueues = (req: ApiRequest): unknown => {
    const now = Date.now();
    return paginate(allQueues(visibleVhosts(ctx, req)), req.query, ([, q]) => q.name, ([v, q]) => queueItem(ctx, v, q, now));
  };
  router.get('/api/queues', listQueues);
  router.get('/api/queues/:vhost', listQueues);
  router.get('/api/queues/:vhost/:name', (req) => {
    const vhost = seenVhost(ctx, req);
    const q = queueOf(vhost, req.params['name']!);
    const stream = q.isStream && vhost.streams?.log(q.name) !== undefined ? { stream: vhost.streams!.infoOf(q.name) } : {};
    return { ...queueItem(ctx, vhost, q), consumerDetails: consumersOf(vhost, q), ...stream };
  });
  router.put('/api/queues/:vhost/:name', async (req) => {
    const name = req.params['name']!;
    const vhost = permittedVhost(ctx, req, 'configure', 'queue', name, 'declare');
    const body = await objectBody(req);
    const existed = vhost.queues.has(name);
    const args = optArguments(body);
    requireRedirect(req, vhost, { type: FrameType.QUEUE_DECLARE, options: { arguments: args } }, 'name as the dead-letter exchange of its queue');
    await ops.declareQueue(
      vhost,
      name,
      {
        durable: boolOr(body, 'durable', true),
        autoDelete: boolOr(body, 'autoDelete', false),
        exclusive: boolOr(body, 'exclusive', false),
        ...(args !== undefined ? { arguments: args } : {}),
      },
      null,
    );
    return json(queueItem(ctx, vhost, queueOf(vhost, name)), existed ? 200 : 201);
  });
  router.delete('/api/queues/:vhost/:name', async (req) => {
    const name = req.params['name']!;
    const vhost = permittedVhost(ctx, req, 'configure', 'queue', name, 'delete');
    queueOf(vhost, name);
    await ops.deleteQueue(vhost, name, { ifUnused: bool(req.query, 'if_unused'), ifEmpty: bool(req.query, 'if_empty') }, null);
    return noContent();
  });
  router.delete('/api/queues/:vhost/:name/contents', (req) => {
    const name = req.params['name']!;
    const vhost = permittedVhost(ctx, req, 'read', 'queue', name, 'purge');
    queueOf(vhost, name);
    return { purged: ops.purgeQueue(vhost, name, null) };
  });
  router.get('/api/queues/:vhost/:name/bindings', (req) => {
    const vhost = seenVhost(ctx, req);
    const q = queueOf(vhost, req.params['name']!);
    return [...bindingsOf(vhost)].filter((b) => b.destinationKind === 'queue' && b.destination === q.name);
  });

  // -- bindings --------------------------------------------------------------
  const listBindings = (req: ApiRequest): unknown => visibleVhosts(ctx, req).flatMap((v) => [...bindingsOf(v)]);
  router.get('/api/bindings', listBindings);
  router.get('/api/bindings/:vhost', listBindings);
  for (const [kind, toQueue] of [
    ['q', true],
    ['e', false],
  ] as const) {
    const path = `/api/bindings/:vhost/e/:source/${kind}/:destination`;
    router.get(path, (req) => {
      const vhost = seenVhost(ctx, req);
      const source = exchangeName(req.params['source']!);
      const destination = toQueue ? req.params['destination']! : exchangeName(req.params['destination']!);
      return [...bindingsOf(vhost, false)].filter((b) => b.source === source && b.destination === destination && (b.destinationKind === 'queue') === toQueue);
    });
    router.post(path, async (req) => {
      const t = bindingTarget(ctx, req, toQueue, 'bind');
      const body = await objectBody(req);
      const routingKey = optString(body, 'routingKey') ?? '';
      const args = optArguments(body) ?? null;
      if (t.toQueue) await ops.bindQueue(t.vhost, t.destination, t.source, routingKey, args, null);
      else await ops.bindExchange(t.vhost, t.destination, t.source, routingKey, args);
      return json({ vhost: t.vhost.name, source: t.source, destination: t.destination, destinationKind: toQueue ? 'queue' : 'exchange', routingKey, arguments: args ?? {} }, 201);
    });
    router.delete(path, async (req) => {
      const t = bindingTarget(ctx, req, toQueue, 'unbind');
      const body = await objectBody(req);
      const routingKey = req.query.get('routing_key') ?? optString(body, 'routingKey') ?? '';
      const args = optArguments(body) ?? null;
      if (t.toQueue) await ops.unbindQueue(t.vhost, t.destination, t.source, routingKey, args, null);
      else await ops.unbindExchange(t.vhost, t.destination, t.source, routingKey, args);
      return noContent();
    });
  }
}
