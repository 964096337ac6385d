/**
 * The topology: exchanges, queues and bindings, with AMQP 0-9-1 declare,
 * delete and bind semantics. Every failure is a WarrenError that answers the
 * request; nothing here closes a connection.
 */
import { randomBytes } from 'node:crypto';
import {
  type Arguments,
  type ExchangeDeclareOptions,
  type QueueDeclareOptions,
  type QueueDeclareResult,
} from '@warren/protocol';
import { Exchange, isExchange, type Destination, type ExchangeKind } from './exchange.js';
import { Queue, type QueueHost } from './queue.js';
import { route, isExchangeType } from './routing/index.js';
import type { TopologySnapshot } from './storage/index.js';
import { canonical } from './canonical.js';
import { errors } from './errors.js';

const MAX_NAME = 255;
const BUILTIN_EXCHANGES: Array<[string, ExchangeKind]> = [
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

function checkName(kind: string, name: string): void {
  if (name.length > MAX_NAME) throw errors.invalidArgument(`${kind} name longer than ${MAX_NAME} characters`);
}

function inequivalent(kind: string, name: string, field: string, received: unknown, current: unknown): never {
  throw errors.preconditionFailed(
    `inequivalent arg '${field}' for ${kind} '${name}': received ${canonical(received)} but current is ${canonical(current)}`,
    { field, received: received ?? null, current: current ?? null },
  );
}

export class VirtualHost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Reused per publish: routing is synchronous. */
  private readonly routeOut = new Set<Queue>();

  constructor(private readonly queueHost: QueueHost) {
    for (const [name, type] of BUILTIN_EXCHANGES) {
      this.exchanges.set(
        name,
        new Exchange(name, type, { durable: true, autoDelete: false, internal: false, alternateExchange: undefined, arguments: {} }),
      );
    }
  }

  // -- exchanges -------------------------------------------------------------

  /** Returns true when a durable exchange was created (the topology must be saved). */
  declareExchange(name: string, type: string, opts: ExchangeDeclareOptions): boolean {
    checkName('exchange', name);
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
    checkName('queue', requested);
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
    if (existing !== undefined) {
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
  bindQueue(queueName: string, exchangeName: string, routingKey: string, args: Arguments | null, owner: object): boolean {
    const q = this.queueFor(queueName, owner);
    const e = this.bindableSource(exchangeName);
    const added = e.matcher.add(q, routingKey, args);
    return added && q.durable && e.durable;
  }

  unbindQueue(queueName: string, exchangeName: string, routingKey: string, args: Arguments | null, owner: object): boolean {
    const q = this.queueFor(queueName, owner);
    const e = this.bindableSource(exchangeName);
    const removed = e.matcher.remove(q, routingKey, args);
    if (removed) this.maybeAutoDeleteExchange(e);
    return removed && q.durable && e.durable;
  }

  bindExchange(destination: string, source: string, routingKey: string, args: Arguments | null): boolean {
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
    out.clear();
    if (exchangeName === '') {
      const q = this.queues.get(routingKey);
      if (q !== undefined) out.add(q);
      return out;
    }
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
