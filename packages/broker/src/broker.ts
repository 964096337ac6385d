/**
 * The broker: accepts connections, owns the topology and the message store,
 * answers requests, and watches memory and disk to block publishers in time.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  ErrorCodes,
  FrameType,
  FrameWriter,
  WarrenError,
  errors,
  type Frame,
} from '@warren/protocol';
import { createLogger, type Logger } from './logger.js';
import { UserStore, readUsersFile } from './auth.js';
import { VirtualHost } from './vhost.js';
import { Connection, NO_REPLY } from './connection.js';
import { newMessage, type Message, type QueuedMessage } from './message.js';
import type { DeathReason, Queue, QueueHost } from './queue.js';
import type { BrokerContext } from './context.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { MessageStore, TopologyStore, DiskMonitor } from './storage/index.js';
import { DataLock } from './data-lock.js';
import { Streams } from './streams/streams.js';
import { isStreamDeclaration } from './streams/stream-arguments.js';

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export class Broker implements BrokerContext, QueueHost {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly vhost: VirtualHost;
  readonly serverProperties: Record<string, unknown>;
  readonly startedAt = Date.now();
  store: MessageStore | null = null;
  streams: Streams | null = null;
  users!: UserStore;
  private topology: TopologyStore | null = null;
  private lock: DataLock | null = null;
  private diskMonitor: DiskMonitor | null = null;
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly exclusiveQueues = new Map<Connection, Set<Queue>>();
  /** Bytes of message bodies held in RAM by queues. */
  private bodyBytes = 0;
  private memoryAlarm = false;
  private diskAlarm = false;
  private closing: Promise<void> | null = null;
  private fatalError: Error | null = null;

  constructor(options: BrokerOptions) {
    this.options = resolveOptions(options);
    this.logger = options.logger ?? createLogger(this.options.logLevel, this.options.prettyLogs);
    this.vhost = new VirtualHost(this);
    this.serverProperties = { product: 'warren', version, platform: `node ${process.version}`, capabilities: { 'queue.policies': true, 'queue.delay': true, streams: true } };
  }

  /** The port the broker listens on (useful with port 0). */
  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : this.options.port;
  }

  get host(): string {
    return this.options.host;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  get publishBlockReason(): string | null {
    if (this.diskAlarm) return `disk alarm: free space under ${this.options.dataDir} is below ${this.options.diskFreeLimit} bytes`;
    if (this.memoryAlarm) return `memory alarm: message bodies in memory exceed ${this.options.memoryHighWatermark} bytes`;
    return null;
  }

  async start(): Promise<void> {
    const o = this.options;
    const users = [...o.users, ...(o.usersFile !== undefined ? readUsersFile(o.usersFile) : [])];
    this.users = await UserStore.create(users, { defaultGuest: o.defaultGuest, allowGuestRemote: o.allowGuestRemote });
    if (!o.inMemory) await this.openStorage();
    await this.listen();
    this.logger.info(
      { port: this.port, host: o.host, dataDir: o.inMemory ? null : o.dataDir, sync: o.sync, version },
      `warren listening on ${o.host}:${this.port}`,
    );
  }

  private async openStorage(): Promise<void> {
    const o = this.options;
    await mkdir(o.dataDir, { recursive: true });
    this.lock = await DataLock.acquire(o.dataDir);
    this.topology = await TopologyStore.open(o.dataDir, { sync: o.sync });
    this.vhost.restore(this.topology.load());
    this.streams = new Streams({ dataDir: o.dataDir, sync: o.sync, onFatal: (err) => this.onStorageFatal(err) });
    for (const q of this.vhost.queues.values()) {
      if (q.isStream) await this.streams.openStream(q.name, Streams.check(q.options));
    }
    this.store = await MessageStore.open({
      dir: o.dataDir,
      sync: o.sync,
      logger: this.logger,
      onFatal: (err) => this.onStorageFatal(err),
      ...(o.segmentSize !== undefined ? { segmentSize: o.segmentSize } : {}),
      ...(o.storeHooks !== undefined ? { hooks: o.storeHooks } : {}),
    });
    let recovered = 0;
    // Recovered records each decode their own strings; a backlog mostly shares a few.
    const strings = new Map<string, string>();
    const intern = (v: string): string => {
      const known = strings.get(v);
      if (known !== undefined) return known;
      if (strings.size < 65_536) strings.set(v, v);
      return v;
    };
    for (const [queueName, messages] of this.store.recovered()) {
      const queue = this.vhost.queues.get(queueName);
      if (queue === undefined || !queue.durable) {
        this.store.dropQueue(queueName);
        continue;
      }
      for (const r of messages) {
        const message: Message = {
          exchange: intern(r.exchange),
          routingKey: intern(r.routingKey),
          properties: r.properties,
          body: null,
          bodySize: r.bodySize,
          storeId: r.id,
          refs: 1,
          durable: true,
          evictable: true,
        };
        queue.enqueue(message, r.deliveryCount);
        recovered++;
      }
    }
    // The recovered lists are now owned by the queues.
    this.store.releaseRecovered();
    const stats = this.store.recoveryStats;
    this.logger.info({ ...stats, messages: recovered, queues: this.vhost.queues.size }, 'storage recovered');
    this.diskMonitor = new DiskMonitor(o.dataDir, o.diskFreeLimit, o.diskCheckIntervalMs, (alarm, free) => {
      this.diskAlarm = alarm;
      this.logger.warn({ freeBytes: free, limit: o.diskFreeLimit }, alarm ? 'disk alarm set: blocking publishers' : 'disk alarm cleared');
      this.updateBlocked();
    });
    this.diskMonitor.start();
  }

  private listen(): Promise<void> {
    // Paused: the connection switches the socket to arena reads before the first read.
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error({ err }, 'server error'));
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.closing !== null || this.fatalError !== null) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.logger.warn({ remote: socket.remoteAddress, max: this.options.maxConnections }, 'connection refused: limit reached');
      const writer = new FrameWriter(socket);
      const msg = `connection limit of ${this.options.maxConnections} reached`;
      writer.sendRaw(FrameType.ERROR, [0, ErrorCodes.RESOURCE_LIMIT, 'RESOURCE_LIMIT', msg, null]);
      writer.sendRaw(FrameType.CLOSE, [ErrorCodes.RESOURCE_LIMIT, 'RESOURCE_LIMIT', msg]);
      writer.flush();
      socket.on('error', () => {});
      socket.resume(); // discard what the client sends; see its FIN
      socket.end();
      return;
    }
    const conn = new Connection(socket, this);
    this.connections.add(conn);
    this.logger.debug({ conn: conn.id, remote: socket.remoteAddress }, 'connection accepted');
  }

  // -- BrokerContext ---------------------------------------------------------

  async handleRequest(conn: Connection, frame: Frame): Promise<unknown> {
    const vhost = this.vhost;
    switch (frame.type) {
      case FrameType.EXCHANGE_DECLARE:
        if (vhost.declareExchange(frame.exchange, frame.exchangeType, frame.options)) await this.saveTopology();
        return null;
      case FrameType.EXCHANGE_DELETE:
        if (vhost.deleteExchange(frame.exchange, frame.options.ifUnused ?? false)) await this.saveTopology();
        return null;
      case FrameType.QUEUE_DECLARE: {
        const stream = !frame.options.passive && isStreamDeclaration(frame.options.arguments) ? Streams.check(frame.options) : null;
        if (stream !== null && this.streams === null) throw errors.preconditionFailed('streams need a data folder; this broker runs in memory');
        const { result, created } = vhost.declareQueue(frame.queue, frame.options, conn);
        if (created !== null && stream !== null) {
          try {
            await this.streams!.openStream(created.name, stream);
          } catch (err) {
            vhost.removeQueue(created, `stream '${created.name}' could not be created`);
            throw new WarrenError(ErrorCodes.STORAGE_ERROR, `stream '${created.name}' could not be created: ${(err as Error).message}`);
          }
        }
        if (created !== null) {
          if (created.owner !== null) {
            let owned = this.exclusiveQueues.get(conn);
            if (owned === undefined) this.exclusiveQueues.set(conn, (owned = new Set()));
            owned.add(created);
          }
          // Exclusive queues die with their connection, so they are never saved.
          if (created.durable && !created.options.exclusive && this.topology !== null) await this.saveTopology();
        }
        return result;
      }
      case FrameType.QUEUE_DELETE: {
        const { count, queue } = vhost.deleteQueue(frame.queue, frame.options, conn);
        if (queue.isStream) await this.streams?.remove(queue.name);
        await this.queueRemoved(queue);
        return { messageCount: count };
      }
      case FrameType.QUEUE_PURGE:
        return { messageCount: vhost.queueFor(frame.queue, conn).purge() };
      case FrameType.QUEUE_BIND:
        if (vhost.bindQueue(frame.queue, frame.exchange, frame.routingKey, frame.arguments, conn)) await this.saveTopology();
        return null;
      case FrameType.QUEUE_UNBIND:
        if (vhost.unbindQueue(frame.queue, frame.exchange, frame.routingKey, frame.arguments, conn)) await this.saveTopology();
        return null;
      case FrameType.EXCHANGE_BIND:
        if (vhost.bindExchange(frame.destination, frame.source, frame.routingKey, frame.arguments)) await this.saveTopology();
        return null;
      case FrameType.EXCHANGE_UNBIND:
        if (vhost.unbindExchange(frame.destination, frame.source, frame.routingKey, frame.arguments)) await this.saveTopology();
        return null;
      case FrameType.CONSUME: {
        const o = frame.options;
        const prefetch = o.prefetch ?? 0;
        if (!Number.isSafeInteger(prefetch) || prefetch < 0) throw errors.invalidArgument('prefetch must be a non-negative integer');
        const queue = vhost.queueFor(frame.queue, conn);
        if (queue.isStream) throw errors.preconditionFailed(`'${queue.name}' is a stream: read it with STREAM_SUBSCRIBE`);
        const consumer = conn.addConsumer(queue, o.consumerTag, prefetch, o.noAck ?? false, o.exclusive ?? false);
        // Reply before the first delivery, so the client knows the tag.
        conn.reply(frame.requestId, { consumerTag: consumer.tag });
        queue.drain();
        return NO_REPLY;
      }
      case FrameType.CANCEL:
        conn.cancelConsumer(frame.consumerTag);
        return null;
      case FrameType.GET: {
        const queue = vhost.queueFor(frame.queue, conn);
        if (queue.isStream) throw errors.preconditionFailed(`'${queue.name}' is a stream: read it with STREAM_SUBSCRIBE`);
        const noAck = frame.options.noAck ?? false;
        const found = await queue.get(noAck, (qm) => conn.deliverGet(frame.requestId, queue, qm, noAck));
        return found ? NO_REPLY : null;
      }
      case FrameType.QUEUE_LIST:
        return [...vhost.queues.values()].map((q) => ({
          name: q.name,
          durable: q.durable,
          exclusive: q.options.exclusive,
          autoDelete: q.options.autoDelete,
          arguments: q.options.arguments,
          messages: q.messageCount,
          unacked: q.unackedCount,
          consumers: q.consumerCount,
        }));
      case FrameType.EXCHANGE_LIST:
        return [
          { name: '', type: 'direct', durable: true, autoDelete: false, internal: false, alternateExchange: null, arguments: {}, bindings: 0 },
          ...[...vhost.exchanges.values()].map((e) => ({
            name: e.name,
            type: e.type,
            durable: e.durable,
            autoDelete: e.options.autoDelete,
            internal: e.options.internal,
            alternateExchange: e.options.alternateExchange ?? null,
            arguments: e.options.arguments,
            bindings: e.matcher.size,
          })),
        ];
      case FrameType.BINDING_LIST: {
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
      case FrameType.STATUS:
        return this.status();
      default:
        if (Streams.handles(frame.type)) {
          if (this.streams === null) throw errors.notFound('streams (this broker runs in memory)');
          return this.streams.handleRequest(conn, frame);
        }
        throw errors.commandInvalid(`frame type 0x${frame.type.toString(16)} is not a request`);
    }
  }

  status(): Record<string, unknown> {
    let messages = 0;
    let unacked = 0;
    for (const q of this.vhost.queues.values()) {
      messages += q.messageCount;
      unacked += q.unackedCount;
    }
    const mem = process.memoryUsage();
    return {
      version,
      uptimeMs: Date.now() - this.startedAt,
      connections: this.connections.size,
      queues: this.vhost.queues.size,
      exchanges: this.vhost.exchanges.size + 1,
      messages,
      unacked,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, bodyBytes: this.bodyBytes, budget: this.options.memoryBudget },
      disk: {
        dataDir: this.options.inMemory ? null : this.options.dataDir,
        usedBytes: this.store?.diskUsage() ?? 0,
        freeBytes: this.diskMonitor !== null && Number.isFinite(this.diskMonitor.freeBytes) ? this.diskMonitor.freeBytes : null,
      },
      alarms: { memory: this.memoryAlarm, disk: this.diskAlarm },
    };
  }

  persist(queues: string[], message: Message, onDurable: (err: Error | null) => void): number {
    const store = this.store!;
    return store.append(
      queues,
      { exchange: message.exchange, routingKey: message.routingKey, properties: message.properties, body: message.body! },
      (err) => {
        if (err === null) {
          message.durable = true;
          // Past the budget, a durable body lives on disk only until it is delivered.
          if (message.evictable && message.body !== null && message.refs > 0 && this.bodyBytes > this.options.memoryBudget) {
            message.body = null;
            this.releaseBytes(message.bodySize);
          }
        }
        onDurable(err);
      },
    );
  }

  accountBody(message: Message): void {
    this.bodyBytes += message.bodySize;
    if (!this.memoryAlarm && this.bodyBytes > this.options.memoryHighWatermark) {
      this.memoryAlarm = true;
      this.logger.warn({ bodyBytes: this.bodyBytes }, 'memory alarm set: blocking publishers');
      this.updateBlocked();
    }
  }

  private releaseBytes(n: number): void {
    this.bodyBytes -= n;
    if (this.memoryAlarm && this.bodyBytes < this.options.memoryHighWatermark * 0.8) {
      this.memoryAlarm = false;
      this.logger.warn({ bodyBytes: this.bodyBytes }, 'memory alarm cleared');
      this.updateBlocked();
    }
  }

  private updateBlocked(): void {
    const reason = this.publishBlockReason;
    for (const c of this.connections) c.setBlocked(reason);
  }

  releaseBody(message: Message): void {
    if (message.refs === 0 && message.body !== null) {
      message.body = null;
      this.releaseBytes(message.bodySize);
    }
  }

  deadLetter(queue: Queue, qm: QueuedMessage, reason: DeathReason): void {
    const m = qm.message;
    if (queue.policy.deadLetterExchange === null || queue.deleted) {
      this.settled(queue, qm);
      return;
    }
    if (m.body === null) {
      // Evicted to disk: read it back first. The message keeps its ref meanwhile.
      this.loadBodies([m]).then(
        () => this.deadLetter(queue, qm, reason),
        () => this.settled(queue, qm),
      );
      return;
    }
    const durableCopy = this.republishDead(queue, m, reason, () => this.settleInStore(queue, m));
    this.releaseRef(m);
    if (!durableCopy) this.settleInStore(queue, m);
  }

  deadLetterRefused(queue: Queue, message: Message): void {
    this.republishDead(queue, message, 'maxlen', () => {});
  }

  /**
   * Publishes a dead-lettered copy to the queue's dead-letter exchange with an
   * x-death record. Returns true when the copy is being stored: the source is
   * then settled in storage only once the copy is durable (at-least-once).
   */
  private republishDead(queue: Queue, m: Message, reason: DeathReason, onCopyDurable: () => void): boolean {
    const policy = queue.policy;
    const exchange = policy.deadLetterExchange!;
    const routingKey = policy.deadLetterRoutingKey ?? m.routingKey;
    const properties = { ...(m.properties ?? {}) };
    const headers: Record<string, unknown> = { ...(properties.headers ?? {}) };
    if (properties.expiration !== undefined) {
      headers['original-expiration'] = properties.expiration;
      delete properties.expiration;
    }
    delete headers['x-delay'];
    delete headers['x-not-before'];
    recordDeath(headers, queue.name, reason, m);
    properties.headers = headers;
    let targets: Queue[];
    try {
      targets = [...this.vhost.route(exchange, routingKey, headers, new Set())];
    } catch (err) {
      this.logger.warn({ queue: queue.name, exchange, err: (err as Error).message }, 'dead-letter exchange unavailable; message dropped');
      return false;
    }
    // A message expiring or overflowing back into its own queue would cycle forever.
    if (reason !== 'rejected') targets = targets.filter((t) => t !== queue);
    targets = targets.filter((t) => !t.rejectsPublish(m));
    if (targets.length === 0) return false;
    const copy = newMessage(exchange, routingKey, properties, m.body!);
    copy.refs = targets.length;
    let stored = false;
    if (properties.persistent === true && this.store !== null) {
      const durable = targets.filter((t) => t.durable).map((t) => t.name);
      if (durable.length > 0) {
        stored = true;
        copy.evictable = durable.length === targets.length;
        copy.storeId = this.persist(durable, copy, (err) => {
          if (err === null) onCopyDurable();
        });
      }
    }
    this.accountBody(copy);
    for (const t of targets) t.enqueue(copy);
    return stored;
  }

  connectionClosed(conn: Connection): void {
    this.connections.delete(conn);
    const owned = this.exclusiveQueues.get(conn);
    if (owned === undefined) return;
    this.exclusiveQueues.delete(conn);
    for (const q of owned) {
      this.vhost.removeQueue(q, `exclusive queue '${q.name}' was deleted with its owner's connection`);
      void this.queueRemoved(q);
    }
  }

  // -- QueueHost -------------------------------------------------------------

  settled(queue: Queue, qm: QueuedMessage): void {
    this.settleInStore(queue, qm.message);
    this.releaseRef(qm.message);
  }

  private settleInStore(queue: Queue, m: Message): void {
    if (m.storeId !== 0 && queue.durable && !queue.deleted) this.store?.settle(queue.name, m.storeId);
  }

  private releaseRef(m: Message): void {
    if (--m.refs === 0 && m.body !== null) {
      m.body = null;
      this.releaseBytes(m.bodySize);
    }
  }

  delivering(queue: Queue, qm: QueuedMessage): void {
    const id = qm.message.storeId;
    if (id !== 0 && queue.durable) this.store?.delivered(queue.name, id);
  }

  async loadBodies(messages: Message[]): Promise<void> {
    const store = this.store;
    if (store === null) return;
    await Promise.all(
      messages.map(async (m) => {
        if (m.body !== null) return;
        try {
          const body = await store.readBody(m.storeId);
          if (m.body === null && m.refs > 0) {
            m.body = body;
            this.bodyBytes += m.bodySize;
          }
        } catch (err) {
          this.logger.error({ err, id: m.storeId }, 'could not read a stored message body');
          throw err;
        }
      }),
    );
  }

  autoDelete(queue: Queue, reason: string): void {
    this.logger.info({ queue: queue.name, reason }, 'queue deleted');
    this.vhost.removeQueue(queue, reason);
    void this.queueRemoved(queue);
  }

  private async queueRemoved(queue: Queue): Promise<void> {
    const store = this.store;
    if (!queue.durable || store === null) return;
    // The drop must be durable before a topology that may reuse the name is.
    await new Promise<void>((resolve, reject) => store.dropQueue(queue.name, (err) => (err === null ? resolve() : reject(err))));
    if (!queue.options.exclusive) await this.saveTopology();
  }

  private async saveTopology(): Promise<void> {
    if (this.topology === null) return;
    await this.topology.save(this.vhost.snapshot());
  }

  // -- shutdown --------------------------------------------------------------

  private onStorageFatal(err: Error): void {
    if (this.fatalError !== null) return;
    this.fatalError = err;
    this.logger.fatal({ err }, 'storage failed: stopping the broker; nothing is confirmed after this');
    void this.close();
  }

  /** Graceful shutdown: stop accepting, close connections, flush storage. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const server = this.server;
    const closed = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.connections) c.close(ErrorCodes.CONNECTION_FORCED, 'broker shutting down');
    const deadline = Date.now() + 2000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await closed;
    this.diskMonitor?.stop();
    await this.streams?.close();
    await this.store?.close();
    await this.lock?.release();
    this.logger.info('warren stopped');
  }

  /** Resolves when the broker stopped because storage failed (never otherwise). */
  get fatal(): Error | null {
    return this.fatalError;
  }
}

/**
 * Adds or updates the x-death entry for (queue, reason), most recent first, as
 * RabbitMQ does; x-first-death-* keep where the message first died.
 */
function recordDeath(headers: Record<string, unknown>, queue: string, reason: DeathReason, m: Message): void {
  const deaths = Array.isArray(headers['x-death']) ? [...(headers['x-death'] as Array<Record<string, unknown>>)] : [];
  const i = deaths.findIndex((d) => d['queue'] === queue && d['reason'] === reason);
  const now = Date.now();
  if (i >= 0) {
    const entry = { ...deaths[i]!, count: Number(deaths[i]!['count'] ?? 0) + 1, time: now };
    deaths.splice(i, 1);
    deaths.unshift(entry);
  } else {
    deaths.unshift({ queue, reason, count: 1, time: now, exchange: m.exchange, 'routing-keys': [m.routingKey] });
  }
  headers['x-death'] = deaths;
  if (headers['x-first-death-queue'] === undefined) {
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-exchange'] = m.exchange;
  }
  headers['x-last-death-queue'] = queue;
  headers['x-last-death-reason'] = reason;
}

/** Starts a broker (in-process). Resolves once it listens. */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const broker = new Broker(options);
  try {
    await broker.start();
  } catch (err) {
    await broker.close().catch(() => {});
    throw err;
  }
  return broker;
}

export { WarrenError };
