/**
 * Connections and consumers (HTTP-API.md):
 *
 *   GET    /api/connections            paged
 *   GET    /api/connections/:name      (name = the connection's id)
 *   DELETE /api/connections/:name      reason in `X-Reason` or {reason}: the client gets CLOSE CONNECTION_FORCED
 *   GET    /api/consumers[/:vhost]
 *
 * Administrators and monitoring see every connection; management users see
 * their own (RabbitMQ's rule) and may close them. Rates are computed on
 * demand from the connection's plain counters: the change since the
 * previous look (at least a second apart), or the average since it opened.
 */
import { ErrorCodes } from '@warren/protocol';
import type { Connection } from '../../connection.js';
import { errors } from '../../errors.js';
import type { Consumer, Queue } from '../../queue.js';
import type { VirtualHost } from '../../vhost.js';
import type { HttpContext } from '../context.js';
import { objectBody, optString, vhostOf } from '../fields.js';
import { paginate } from '../paging.js';
import { noContent, type ApiRequest, type Router } from '../router.js';

export interface ConnectionItem {
  name: string;
  user: string | null;
  vhost: string | null;
  address: string;
  clientProperties: Record<string, unknown>;
  tls: { protocol: string | null; cipher: string | null; peerCN: string | null; peerVerified: boolean } | null;
  connectedAt: number;
  unacked: number;
  consumers: number;
  published: number;
  delivered: number;
  rates: { publishIn: number; deliverOut: number };
}

export interface ConsumerItem {
  queue: string;
  vhost: string;
  tag: string;
  connection: string;
  prefetch: number;
  unacked: number;
  noAck: boolean;
  exclusive: boolean;
  /** The share of its prefetch window free now: 1 when it can take messages freely, 0 when full. */
  utilisation: number;
}

interface Seen {
  t: number;
  published: number;
  delivered: number;
  rates: { publishIn: number; deliverOut: number };
}

/** The CN of a subject line `CN=app, O=...`. */
function commonName(subject: string | null): string | null {
  if (subject === null) return null;
  const m = /(?:^|,\s*)CN=([^,]+)/.exec(subject);
  return m === null ? subject : m[1]!;
}

export function consumerItem(vhost: VirtualHost, q: Queue, c: Consumer): ConsumerItem {
  return {
    queue: q.name,
    vhost: vhost.name,
    tag: c.tag,
    connection: (c.sink as Partial<Connection>).id ?? '',
    prefetch: c.prefetch,
    unacked: c.unacked,
    noAck: c.noAck,
    exclusive: c.exclusive,
    utilisation: c.prefetch === 0 ? 1 : Math.max(0, (c.prefetch - c.unacked) / c.prefetch),
  };
}

export function consumersOf(vhost: VirtualHost, q: Queue): ConsumerItem[] {
  return q.consumerList().map((c) => consumerItem(vhost, q, c));
}

export function register(router: Router, ctx: HttpContext): void {
  const seen = new WeakMap<Connection, Seen>();

  const rates = (c: Connection, now: number): Seen['rates'] => {
    const last = seen.get(c);
    if (last !== undefined && now - last.t < 1000) return last.rates;
    const since = last ?? { t: c.connectedAt, published: 0, delivered: 0 };
    const seconds = Math.max(0.001, (now - since.t) / 1000);
    const r = { publishIn: (c.published - since.published) / seconds, deliverOut: (c.delivered - since.delivered) / seconds };
    seen.set(c, { t: now, published: c.published, delivered: c.delivered, rates: r });
    return r;
  };

  const item = (c: Connection, now: number): ConnectionItem => {
    const vhost = c.username === '' ? undefined : (c.vhost as VirtualHost | undefined);
    return {
      name: c.id,
      user: c.username === '' ? null : c.username,
      vhost: vhost?.name ?? null,
      address: c.remoteAddress,
      clientProperties: c.clientProperties,
      tls: c.tls === null ? null : { protocol: c.tls.protocol, cipher: c.tls.cipher, peerCN: commonName(c.tls.peerSubject), peerVerified: c.tls.peerVerified },
      connectedAt: c.connectedAt,
      unacked: c.unackedCount,
      consumers: c.consumerCount,
      published: c.published,
      delivered: c.delivered,
      rates: rates(c, now),
    };
  };

  /** Whether the user sees a connection: all of them with monitoring or administrator, else its own. */
  const sees = (req: ApiRequest, c: Connection): boolean => req.user.seesAll || (c.username !== '' && c.username === req.user.name);

  const find = (req: ApiRequest): Connection => {
    const name = req.params['name']!;
    for (const c of ctx.broker.openConnections) if (c.id === name && sees(req, c)) return c;
    throw errors.notFound(`connection '${name}'`);
  };

  router.get('/api/connections', (req) => {
    const now = Date.now();
    const visible = [...ctx.broker.openConnections].filter((c) => sees(req, c));
    return paginate(
      visible,
      req.query,
      (c) => `${c.id} ${c.username} ${c.remoteAddress} ${typeof c.clientProperties['name'] === 'string' ? c.clientProperties['name'] : ''}`,
      (c) => item(c, now),
      'connectedAt',
    );
  });
  router.get('/api/connections/:name', (req) => item(find(req), Date.now()));
  router.delete('/api/connections/:name', async (req) => {
    const c = find(req);
    if (!req.user.isAdmin && c.username !== req.user.name) throw errors.accessRefused(`user '${req.user.name}' may not close the connections of others: needs the administrator tag`);
    const header = req.headers['x-reason'];
    // The reason travels in the CLOSE frame: kept short.
    const reason = ((typeof header === 'string' ? header : undefined) ?? optString(await objectBody(req), 'reason') ?? 'closed by an operator').slice(0, 200);
    ctx.logger.info({ conn: c.id, user: c.username, by: req.user.name, reason }, 'connection closed from the management API');
    c.close(ErrorCodes.CONNECTION_FORCED, reason);
    return noContent();
  });

  const listConsumers = (req: ApiRequest): ConsumerItem[] => {
    const name = req.params['vhost'];
    if (name !== undefined) req.user.requireSee(name);
    const vhosts = name !== undefined ? [vhostOf(ctx.vhosts, name)] : [...ctx.vhosts].filter((v) => req.user.canSee(v.name));
    const out: ConsumerItem[] = [];
    for (const v of vhosts) for (const q of v.queues.values()) if (q.consumerCount > 0) out.push(...consumersOf(v, q));
    return out;
  };
  router.get('/api/consumers', listConsumers);
  router.get('/api/consumers/:vhost', listConsumers);
}
