/**
 * A virtual host: one isolated namespace of exchanges, queues and bindings
 * (AMQP 0-9-1 declare, delete and bind semantics), with what lives beside
 * them per vhost: its admission and dead-lettering, its topology saving, and
 * its stores (messages, topology, streams, kv buckets), each under the
 * vhost's own folder (vhosts.ts opens and closes them). A connection picks
 * one at OPEN; handlers use `session.vhost`. Every failure is a WarrenError
 * that answers the request; nothing here closes a connection.
 */
import { randomBytes } from 'node:crypto';
import {
  type Arguments,
  type ExchangeDeclareOptions,
  type QueueDeclareOptions,
  type QueueDeclareResult,
  type VhostLimits,
} from '@warren/protocol';
import { Exchange, isExchange, type Destination, type ExchangeKind } from './exchange.js';
import { Queue, type QueueHost } from './queue.js';
import { route, isExchangeType } from './routing/index.js';
import type { TopologySnapshot } from './storage/index.js';
import { canonical } from './canonical.js';
import { errors } from './errors.js';
import { Admission } from './admission.js';
import { DeadLetters } from './dead-letter.js';
import { Topology } from './topology.js';
import type { Logger } from './logger.js';
import type { MemoryBudget } from './memory.js';
import type { PagingConfig } from './queue.js';
import type { MessageStore, TopologyStore } from './storage/index.js';
import type { Streams } from './streams/streams.js';
import type { KvStore } from './kv/kv-store.js';
import type { Session } from './session.js';

const MAX_NAME = 255;
const BUILTIN_EXCHANGES: Array<[string, ExchangeKind]> = [
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

/** Names, routing keys and consumer tags: at most 255 UTF-8 bytes (protocol-spec 5.1), what any language can check. */
export function checkName(kind: string, name: string): void {
  // 85 UTF-16 units never exceed 255 UTF-8 bytes: the common case skips the count.
  if (name.length > MAX_NAME / 3 && Buffer.byteLength(name) > MAX_NAME) throw errors.invalidArgument(`${kind} longer than ${MAX_NAME} UTF-8 bytes`);
}

function inequivalent(kind: string, name: string, field: string, received: unknown, current: unknown): never {
  throw errors.preconditionFailed(
    `inequivalent arg '${field}' for ${kind} '${name}': received ${canonical(received)} but current is ${canonical(current)}`,
    { field, received: received ?? null, current: current ?? null },
  );
}

/** What every vhost shares: the broker's logger, memory budget and paging. */
export interface VhostEnv {
  readonly logger: Logger;
  readonly memory: MemoryBudget;
  /** Where queues page out their tails; null: no paging. */
  readonly paging: PagingConfig | null;
}

/** Per-vhost limits (null: no limit). */
export type { VhostLimits };

/** Plain counters of one vhost (the per-queue ones are Queue.counters); never reset. */
export interface VhostCounters {
  /** Publishes received (routed or not). */
  published: number;
  /** Unroutable mandatory publishes returned to their publisher. */
  returned: number;
  /** Messages republished to a dead-letter exchange. */
  deadLettered: number;
  /** Messages dropped because their DELIVER frame could not be encoded (queue.ts UnencodableDelivery). */
  undeliverable: number;
}

export class VirtualHost {
  readonly counters: VhostCounters = { published: 0, returned: 0, deadLettered: 0, undeliverable: 0 };
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Reused per publish: routing is synchronous. */
  private readonly routeOut = new Set<Queue>();
  private readonly queueHost: QueueHost;
  readonly logger: Logger;
  readonly admission: Admission;
  readonly deadLetters: DeadLetters;
  readonly topology: Topology;
  /** The vhost's stores, opened by vhosts.ts; null (kv: in-memory) while the broker keeps nothing on disk. */
  store: MessageStore | null = null;
  topologyStore: TopologyStore | null = null;
  streams: Streams | null = null;
  kv!: KvStore;
  /** The open connections (sessions) using this vhost. */
  readonly sessions = new Set<Session>();
  limits: VhostLimits = { maxConnections: null, maxQueues: null };
  /** Set once the vhost is being deleted: no new connection or queue. */
  deleted = false;
  private emptied: (() => void) | null = null;

  constructor(
    readonly name: string,
    env: VhostEnv,
  ) {
    this.logger = env.logger;
    this.admission = new Admission(this, env.memory);
    // What queues call back for: message lifecycle (admission), dead-lettering, auto-delete, paging.
    this.queueHost = {
      get paging() {
        return env.paging;
      },
      pagedOut: (m) => this.admission.release(m),
      pagedIn: (m) => {
        if (m.body !== null) env.memory.reloaded(m.bodySize);
      },
      settled: (queue, qm) => this.admission.settled(queue, qm),
      delivering: (queue, qm) => this.admission.delivering(queue, qm),
      loadBodies: (messages) => this.admission.loadBodies(messages),
      deadLetter: (queue, qm, reason) => this.deadLetters.deadLetter(queue, qm, reason),
      autoDelete: (queue, reason) => this.topology.autoDelete(queue, reason),
      tooLarge: (queue, qm, frameMax) =>
        this.logger.warn(
          { vhost: this.name, queue: queue.name, bodySize: qm.message.bodySize, frameMax },
          'message too large for the frameMax of every consumer of its queue: dead-lettered (frame-too-large)',
        ),
      unencodable: (queue, qm, err) => {
        this.counters.undeliverable++;
        this.logger.warn(
          { vhost: this.name, queue: queue.name, messageId: qm.message.properties?.messageId, bodySize: qm.message.bodySize, err: err.message },
          'message whose delivery cannot be encoded (headers nested too deeply, stored before the 64-level bound): dropped',
        );
      },
    };
    this.deadLetters = new DeadLetters(this, this.admission, this.logger);
    this.topology = new Topology(this, this, this.logger);
    for (const [name, type] of BUILTIN_EXCHANGES) {
      this.exchanges.set(
        name,
        new Exchange(name, type, { durable: true, autoDelete: false, internal: false, alternateExchange: undefined, arguments: {} }),
      );
    }
  }

  // -- connections -----------------------------------------------------------

  /** A connection opened in this vhost; false (not attached) when the vhost is at its connection limit. */
  attach(session: Session): boolean {
    const max = this.limits.maxConnections;
    if (max !== null && this.sessions.size >= max) return false;
    this.sessions.add(session);
    return true;
  }

  detach(session: Session): void {
    if (this.sessions.delete(session) && this.sessions.size === 0) this.emptied?.();
  }

  /** Closes every connection in this vhost; resolves once all are gone. */
  async closeSessions(code: number, reason: string): Promise<void> {
    if (this.sessions.size === 0) return;
    const gone = new Promise<void>((resolve) => (this.emptied = resolve));
    for (const s of [...this.sessions]) s.close(code, reason);
    await gone;
    this.emptied = null;
  }

  // -- exchanges -------------------------------------------------------------

  /** Returns true when a durable exchange was created (the topology must be saved). */
  declareExchange(name: string, type: string, opts: ExchangeDeclareOptions): boolean {
    checkName('exchange name', name);
    const existing = this.exchanges.get(name);
    if (opts.passive) {
      if (existing === undefined) throw errors.notFound(`exchange '${name}'`);
      return false;
    }
    if (name === '' || name.startsWith('amq.')) {
      throw errors.accessRefused(`exchange name '${name}' is reserved (default exchange or 'amq.' prefix)`);
    }
    if (!isExchangeType(type)) throw errors.invalidArgument(`unknown exchange type '${type}'`);
    const options = {
      durable: opts.durable ?? false,
      autoDelete: opts.autoDelete ?? false,
      internal: opts.internal ?? false,
      alternateExchange: opts.alternateExchange ?? (opts.arguments?.['alternate-exchange'] as string | undefined),
      arguments: opts.arguments ?? {},
    };
    if (existing !== undefined) {
      if (existing.type !== type) inequivalent('exchange', name, 'type', type, existing.type);
      for (const field of ['durable', 'autoDelete', 'internal', 'alternateExchange'] as const) {
        if ((existing.options[field] ?? null) !== (options[field] ?? null)) {
          inequivalent('exchange', name, field, options[field], existing.options[field]);
        }
      }
      if (canonical(existing.options.arguments) !== canonical(options.arguments)) {
        inequivalent('exchange', name, 'arguments', options.arguments, existing.options.arguments);
      }
      return false;
    }
    this.exchanges.set(name, new Exchange(name, type, options));
    this.resolveAlternates();
    return options.durable;
  }

  /** Returns true when a durable exchange was deleted. */
  deleteExchange(name: string, ifUnused: boolean): boolean {
    if (name === '' || name.startsWith('amq.')) throw errors.accessRefused(`exchange '${name}' cannot be deleted`);
    const exchange = this.exchanges.get(name);
    if (exchange === undefined) throw errors.notFound(`exchange '${name}'`);
    if (ifUnused && (exchange.matcher.size > 0 || exchange.inbound > 0)) {
      throw errors.preconditionFailed(`exchange '${name}' is in use (has bindings)`);
    }
    this.removeExchange(exchange);
    return exchange.durable;
  }

  private removeExchange(exchange: Exchange): void {
    this.exchanges.delete(exchange.name);
    for (const b of exchange.matcher.bindings()) {
      if (isExchange(b.destination)) b.destination.inbound--;
    }
    for (const other of this.exchanges.values()) {
      const removed = other.matcher.removeDestination(exchange);
      if (removed > 0) this.maybeAutoDeleteExchange(other);
    }
    this.resolveAlternates();
  }

  private resolveAlternates(): void {
    for (const e of this.exchanges.values()) {
      e.alternate = e.options.alternateExchange === undefined ? null : (this.exchanges.get(e.options.alternateExchange) ?? null);
    }
  }

  private exchangeOrThrow(name: string): Exchange {
    const e = this.exchanges.get(name);
    if (e === undefined) throw errors.notFound(`exchange '${name}'`);
    return e;
  }

  private maybeAutoDeleteExchange(exchange: Exchange): void {
    if (exchange.options.autoDelete && exchange.matcher.size === 0 && this.exchanges.get(exchange.name) === exchange) {
      this.removeExchange(exchange);
    }
  }

  // -- queues ----------------------------------------------------------------

  /**
   * Declares (or checks) a queue. `created` tells the caller whether a durable
   * queue was created and the topology must be saved.
   */
  declareQueue(
    requested: string,
    opts: QueueDeclareOptions,
    owner: object,
  ): { result: QueueDeclareResult; created: Queue | null } {
    checkName('queue name', requested);
    if (opts.passive) {
      const q = this.queueFor(requested, owner);
      return { result: { queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount }, created: null };
    }
    if (requested.startsWith('amq.')) throw errors.accessRefused(`queue name '${requested}' uses the reserved 'amq.' prefix`);
    const name = requested === '' ? `amq.gen-${randomBytes(12).toString('base64url')}` : requested;
    const options = {
      durable: opts.durable ?? false,
      exclusive: opts.exclusive ?? false,
      autoDelete: opts.autoDelete ?? false,
      arguments: opts.arguments ?? {},
    };
    const existing = this.queues.get(name);
    if (existing === undefined) this.checkQueueLimit();
    else {
      this.checkOwner(existing, owner);
      for (const field of ['durable', 'exclusive', 'autoDelete'] as const) {
        if (existing.options[field] !== options[field]) inequivalent('queue', name, field, options[field], existing.options[field]);
      }
      if (canonical(existing.options.arguments) !== canonical(options.arguments)) {
        inequivalent('queue', name, 'arguments', options.arguments, existing.options.arguments);
      }
      return { result: { queue: name, messageCount: existing.messageCount, consumerCount: existing.consumerCount }, created: null };
    }
    const queue = new Queue(name, options, options.exclusive ? owner : null, this.queueHost);
    this.queues.set(name, queue);
    return { result: { queue: name, messageCount: 0, consumerCount: 0 }, created: queue };
  }

  /** A new queue would exceed the vhost's queue limit: RESOURCE_LIMIT naming the limit. */
  private checkQueueLimit(): void {
    if (this.deleted) throw errors.notFound(`vhost '${this.name}' (deleted)`);
    const max = this.limits.maxQueues;
    if (max !== null && this.queues.size >= max) {
      throw errors.resourceLimit(`vhost '${this.name}' has reached its limit of ${max} queues`);
    }
  }

  /** The queue, if it exists and this owner may use it. */
  queueFor(name: string, owner: object | null): Queue {
    const q = this.queues.get(name);
    if (q === undefined) throw errors.notFound(`queue '${name}'`);
    if (owner !== null) this.checkOwner(q, owner);
    return q;
  }

  private checkOwner(q: Queue, owner: object): void {
    if (q.owner !== null && q.owner !== owner) {
      throw errors.resourceLocked(`queue '${q.name}' is exclusive to another connection`);
    }
  }

  deleteQueue(name: string, opts: { ifUnused?: boolean; ifEmpty?: boolean }, owner: object | null): { count: number; queue: Queue } {
    const q = this.queueFor(name, owner);
    if (opts.ifUnused && q.consumerCount > 0) throw errors.preconditionFailed(`queue '${name}' has ${q.consumerCount} consumers`);
    if (opts.ifEmpty && q.messageCount > 0) throw errors.preconditionFailed(`queue '${name}' has ${q.messageCount} messages`);
    return { count: this.removeQueue(q, `queue '${name}' was deleted`), queue: q };
  }

  /** Removes a queue and its bindings; returns the number of ready messages dropped. */
  removeQueue(q: Queue, reason: string): number {
    if (this.queues.get(q.name) !== q) return 0;
    this.queues.delete(q.name);
    for (const e of this.exchanges.values()) {
      if (e.matcher.removeDestination(q) > 0) this.maybeAutoDeleteExchange(e);
    }
    return q.delete(reason);
  }

  // -- bindings --------------------------------------------------------------

  /** Returns true when the binding is durable (both ends durable) and was added. */
  bindQueue(queueName: string, exchangeName: string, routingKey: string, args: Arguments | null, owner: object | null): boolean {
    checkName('routing key', routingKey);
    const q = this.queueFor(queueName, owner);
    const e = this.bindableSource(exchangeName);
    const added = e.matcher.add(q, routingKey, args);
    return added && q.durable && e.durable;
  }

  unbindQueue(queueName: string, exchangeName: string, routingKey: string, args: Arguments | null, owner: object | null): boolean {
    const q = this.queueFor(queueName, owner);
    const e = this.bindableSource(exchangeName);
    const removed = e.matcher.remove(q, routingKey, args);
    if (removed) this.maybeAutoDeleteExchange(e);
    return removed && q.durable && e.durable;
  }

  bindExchange(destination: string, source: string, routingKey: string, args: Arguments | null): boolean {
    checkName('routing key', routingKey);
    const d = this.bindableSource(destination);
    const s = this.bindableSource(source);
    const added = s.matcher.add(d, routingKey, args);
    if (added) d.inbound++;
    return added && d.durable && s.durable;
  }

  unbindExchange(destination: string, source: string, routingKey: string, args: Arguments | null): boolean {
    const d = this.bindableSource(destination);
    const s = this.bindableSource(source);
    const removed = s.matcher.remove(d, routingKey, args);
    if (removed) {
      d.inbound--;
      this.maybeAutoDeleteExchange(s);
    }
    return removed && d.durable && s.durable;
  }

  private bindableSource(name: string): Exchange {
    if (name === '') throw errors.accessRefused(`the default exchange cannot be bound`);
    return this.exchangeOrThrow(name);
  }

  // -- routing ---------------------------------------------------------------

  /**
   * Routes to queues. The returned set is reused by the next call: consume it
   * before routing again, or pass your own (dead-lettering routes while a
   * publish is still walking its set).
   */
  route(
    exchangeName: string,
    routingKey: string,
    headers: Record<string, unknown> | undefined,
    out: Set<Queue> = this.routeOut,
  ): Set<Queue> {
    if (exchangeName === '') {
      const q = this.queues.get(routingKey);
      // A stream of publishes to one queue routes to the set it already is: Set.clear() allocates a
      // new table, has() does not. Checked, not assumed: callers may have taken queues out of it.
      if (q !== undefined && out.size === 1 && out.has(q)) return out;
      out.clear();
      if (q !== undefined) out.add(q);
      return out;
    }
    out.clear();
    const e = this.exchanges.get(exchangeName);
    if (e === undefined) throw errors.notFound(`exchange '${exchangeName}'`);
    if (e.options.internal) throw errors.accessRefused(`exchange '${exchangeName}' is internal; it cannot be published to`);
    route<Queue>(e, routingKey, headers, isExchange, out);
    return out;
  }

  // -- persistence -----------------------------------------------------------

  /** The durable part of the topology. */
  snapshot(): TopologySnapshot {
    const snapshot: TopologySnapshot = { exchanges: [], queues: [], bindings: [] };
    for (const e of this.exchanges.values()) {
      if (!e.durable) continue;
      if (!e.name.startsWith('amq.')) {
        snapshot.exchanges.push({
          name: e.name,
          type: e.type,
          durable: true,
          autoDelete: e.options.autoDelete,
          internal: e.options.internal,
          ...(e.options.alternateExchange !== undefined ? { alternateExchange: e.options.alternateExchange } : {}),
          arguments: e.options.arguments,
        });
      }
      for (const b of e.matcher.bindings()) {
        const d = b.destination as Destination;
        if (!d.durable || (!isExchange(d) && d.options.exclusive)) continue;
        snapshot.bindings.push({
          kind: isExchange(d) ? 'exchange' : 'queue',
          destination: d.name,
          source: e.name,
          routingKey: b.routingKey,
          arguments: b.arguments,
        });
      }
    }
    for (const q of this.queues.values()) {
      // Exclusive queues are deleted with their connection: never restored.
      if (!q.durable || q.options.exclusive) continue;
      snapshot.queues.push({ name: q.name, durable: true, autoDelete: q.options.autoDelete, arguments: q.options.arguments });
    }
    return snapshot;
  }

  /** Rebuilds durable topology at start. */
  restore(snapshot: TopologySnapshot): void {
    for (const e of snapshot.exchanges) {
      if (this.exchanges.has(e.name) || !isExchangeType(e.type)) continue;
      this.exchanges.set(
        e.name,
        new Exchange(e.name, e.type, {
          durable: true,
          autoDelete: e.autoDelete,
          internal: e.internal,
          alternateExchange: e.alternateExchange,
          arguments: e.arguments,
        }),
      );
    }
    for (const q of snapshot.queues) {
      if (this.queues.has(q.name)) continue;
      this.queues.set(
        q.name,
        new Queue(q.name, { durable: true, exclusive: false, autoDelete: q.autoDelete, arguments: q.arguments }, null, this.queueHost),
      );
    }
    for (const b of snapshot.bindings) {
      const source = this.exchanges.get(b.source);
      const dest = b.kind === 'queue' ? this.queues.get(b.destination) : this.exchanges.get(b.destination);
      if (source === undefined || dest === undefined) continue;
      if (source.matcher.add(dest, b.routingKey, b.arguments) && isExchange(dest)) dest.inbound++;
    }
    this.resolveAlternates();
  }
}
