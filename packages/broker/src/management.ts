/**
 * What the management requests show: the queue, exchange and binding lists
 * and the broker's status, as plain objects in the shape protocol-spec.md
 * documents (the CLI prints them as they are).
 */
import type { ExchangeInfo, VhostInfo } from '@warren/protocol';
import type { MemoryBudget } from './memory.js';
import type { ResolvedOptions } from './options.js';
import type { VirtualHost } from './vhost.js';
import type { Exchange } from './exchange.js';
import type { CertificateInfo, ConnectionTls } from './tls.js';

export function queueList(vhost: VirtualHost): unknown[] {
  return [...vhost.queues.values()].map((q) => ({
    name: q.name,
    durable: q.durable,
    exclusive: q.options.exclusive,
    autoDelete: q.options.autoDelete,
    arguments: q.options.arguments,
    messages: q.messageCount,
    unacked: q.unackedCount,
    delayed: q.delayedCount,
    consumers: q.consumerCount,
  }));
}

/** One exchange as EXCHANGE_LIST and the HTTP API show it. */
export function exchangeInfo(e: Exchange): ExchangeInfo {
  return {
    name: e.name,
    type: e.type,
    durable: e.durable,
    autoDelete: e.options.autoDelete,
    internal: e.options.internal,
    alternateExchange: e.options.alternateExchange ?? null,
    arguments: e.options.arguments,
    bindings: e.matcher.size,
  };
}

/** The default exchange, as lists show it: it exists without being declared. */
export const DEFAULT_EXCHANGE_INFO: Readonly<ExchangeInfo> = Object.freeze({
  name: '',
  type: 'direct' as const,
  durable: true,
  autoDelete: false,
  internal: false,
  alternateExchange: null,
  arguments: {},
  bindings: 0,
});

/** The default exchange first. */
export function exchangeList(vhost: VirtualHost): unknown[] {
  return [{ ...DEFAULT_EXCHANGE_INFO }, ...[...vhost.exchanges.values()].map(exchangeInfo)];
}

/** Queue, exchange and message counts over some vhosts (STATUS, the HTTP overview). */
export function vhostTotals(vhosts: Iterable<VirtualHost>): { queues: number; exchanges: number; messages: number; unacked: number; consumers: number } {
  const t = { queues: 0, exchanges: 0, messages: 0, unacked: 0, consumers: 0 };
  for (const vhost of vhosts) {
    for (const q of vhost.queues.values()) {
      t.messages += q.messageCount;
      t.unacked += q.unackedCount;
      t.consumers += q.consumerCount;
    }
    t.queues += vhost.queues.size;
    t.exchanges += vhost.exchanges.size + 1;
  }
  return t;
}

export function bindingList(vhost: VirtualHost): unknown[] {
  const out: unknown[] = [];
  for (const e of vhost.exchanges.values()) {
    for (const b of e.matcher.bindings()) {
      const d = b.destination as { name: string; matcher?: unknown };
      out.push({
        source: e.name,
        destination: d.name,
        destinationKind: d.matcher !== undefined ? 'exchange' : 'queue',
        routingKey: b.routingKey,
        arguments: b.arguments,
      });
    }
  }
  return out;
}

/** One vhost as VHOST_LIST and the HTTP API show it. */
export function vhostInfo(v: VirtualHost): VhostInfo {
  let messages = 0;
  for (const q of v.queues.values()) messages += q.messageCount;
  return { name: v.name, connections: v.sessions.size, queues: v.queues.size, messages, ...v.limits };
}

/** What STATUS reports about the broker around the vhost. */
export interface StatusSource {
  readonly version: string;
  readonly startedAt: number;
  readonly connectionCount: number;
  /** Counts and disk use are the sums over every vhost. */
  readonly vhosts: Iterable<VirtualHost> & { readonly size: number };
  readonly memory: MemoryBudget;
  readonly options: ResolvedOptions;
  /** Free bytes under the data folder, null when unknown (in memory, not measured yet). */
  readonly diskFreeBytes: number | null;
  /** The TLS listener, null without TLS. */
  readonly tls: TlsStatus | null;
}

/** STATUS's `tls` map (spec 8.5). */
export interface TlsStatus {
  port: number;
  verifyPeer: boolean;
  /** Open connections over TLS. */
  connections: number;
  certificate: CertificateInfo;
}

/** What a connection listing shows of one connection. */
export interface ConnectionSource {
  readonly id: string;
  readonly username: string;
  readonly remoteAddress: string;
  readonly connectedAt: number;
  readonly clientProperties: Record<string, unknown>;
  readonly tls: ConnectionTls | null;
  readonly published: number;
  readonly delivered: number;
  readonly consumerCount: number;
  readonly unackedCount: number;
}

/** One open connection as management listings show it; `tls` is null on plain TCP. */
export function connectionInfo(c: ConnectionSource): Record<string, unknown> {
  const name = c.clientProperties['name'];
  return {
    id: c.id,
    user: c.username,
    remote: c.remoteAddress,
    name: typeof name === 'string' ? name : null,
    connectedAt: c.connectedAt,
    tls: c.tls,
    published: c.published,
    delivered: c.delivered,
    consumers: c.consumerCount,
    unacked: c.unackedCount,
  };
}

export function statusReport(s: StatusSource): Record<string, unknown> {
  const { messages, unacked, queues, exchanges } = vhostTotals(s.vhosts);
  let usedBytes = 0;
  for (const vhost of s.vhosts) {
    usedBytes += vhost.store?.diskUsage() ?? 0;
  }
  const mem = process.memoryUsage();
  return {
    version: s.version,
    uptimeMs: Date.now() - s.startedAt,
    connections: s.connectionCount,
    vhosts: s.vhosts.size,
    queues,
    exchanges,
    messages,
    unacked,
    memory: { rss: mem.rss, heapUsed: mem.heapUsed, bodyBytes: s.memory.bodyBytes, budget: s.options.memoryBudget },
    disk: {
      dataDir: s.options.inMemory ? null : s.options.dataDir,
      usedBytes,
      freeBytes: s.diskFreeBytes,
    },
    alarms: { memory: s.memory.memoryAlarm, disk: s.memory.diskAlarm },
    tls: s.tls,
  };
}
