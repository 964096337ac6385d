/**
 * The peers beside RabbitMQ: NATS core, NATS JetStream and Redis (lists, and
 * streams with consumer groups), behind the same Driver interface as Warren, so
 * that every scenario runs the same producer and consumer code against them.
 * Each is used the way its documentation recommends for the job (see PEER_NOTES):
 *
 * - AMQP names map onto each system's own objects: a queue is a subject (NATS),
 *   a stream with a work-queue consumer (JetStream), a list or a stream with one
 *   consumer group (Redis). A fanout exchange is a subject with one subscriber
 *   per queue (NATS), a stream with one durable consumer per bound queue
 *   (JetStream), a stream with one consumer group per bound queue (Redis streams).
 * - A consumer is told which exchange its queue is bound to (`from`), since
 *   NATS and Redis keep no binding a consumer could look up.
 */
import { Redis } from 'ioredis';
import {
  AckPolicy,
  RetentionPolicy,
  StorageType,
  connect as natsConnect,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import type { Delivered, Driver, PublishOpts } from './drivers.js';

export type PeerSystem = 'nats' | 'jetstream' | 'redis' | 'redis-streams';

/** What each peer is, how the harness uses it, and whether a confirm means the data was fsynced. Shown in RESULTS.md. */
export const PEER_NOTES: Record<PeerSystem | 'rabbitmq', string> = {
  rabbitmq:
    'RabbitMQ through amqplib: plain channel (publishes unconfirmed) except where a scenario asks for confirms (confirm channel, 1,000 in flight); ' +
    'Nagle off (`noDelay`) in the latency scenarios, amqplib default elsewhere; manual acks, prefetch 1,000. Durable classic queues (used here) confirm a persistent message once their store has written it; ' +
    'an fsync before the confirm is not guaranteed (version 2 of the classic queue store only flushes to the page cache; only quorum queues fsync before confirming).',
  nats:
    'NATS core through `nats` (nats.js): publish to a subject, one subscription per queue, `flush()` every 1,000 publishes so the producer cannot run ' +
    'unbounded ahead of the server; at most once, no acks, no storage (a lagging subscriber can lose messages: counted when it happens).',
  jetstream:
    'NATS JetStream through `nats`: one stream per queue (work-queue retention; memory storage for transient scenarios, file storage for durable ones), ' +
    'a durable pull consumer with explicit acks and max_ack_pending 1,000 consumed with `consume()`; async publish (1,000 `js.publish()` PubAcks in flight). ' +
    'The server does not fsync before a PubAck (it syncs its files every 2 minutes by default, `sync_interval`).',
  redis:
    'Redis lists through `ioredis` with auto-pipelining: RPUSH (1,000 replies in flight), BLMPOP COUNT 1,000 on a connection of its own; ' +
    'no acks (a popped message is gone). Redis here runs without AOF or RDB: nothing is written to disk.',
  'redis-streams':
    'Redis streams through `ioredis` with auto-pipelining: XADD (1,000 replies in flight), XREADGROUP COUNT 1,000 BLOCK on a connection of its own, ' +
    'XACK per message (pipelined); fanout = one consumer group per queue on one stream. Redis here runs without AOF or RDB (no fsync); ' +
    'with `appendfsync always` it would fsync before replying.',
};

const PENDING = 1000;
/** JetStream stream and consumer names cannot hold '.'. */
const streamName = (s: string) => s.replace(/[^\w-]/g, '_');
const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const ignore = (): void => {};

// ---------------------------------------------------------------------------
// NATS core
// ---------------------------------------------------------------------------

/** For systems with no queues or exchanges to declare (NATS core, the bare relay): topology calls do nothing. */
export abstract class NoTopology {
  async declareQueue(): Promise<void> {}
  async deleteQueue(): Promise<void> {}
  async purgeQueue(): Promise<void> {}
  async declareExchange(): Promise<void> {}
  async deleteExchange(): Promise<void> {}
  async bindQueue(): Promise<void> {}
}

class NatsDriver extends NoTopology implements Driver {
  readonly system = 'nats' as const;
  readonly confirms = false;
  readonly serverProperties: Record<string, unknown>;
  private sent = 0;
  constructor(private readonly nc: NatsConnection) {
    super();
    this.serverProperties = { version: nc.info?.version };
  }
  publish(exchange: string, key: string, body: Buffer): Promise<void> | undefined {
    this.nc.publish(exchange === '' ? key : exchange, body);
    // nats.js buffers without limit: a round trip every 1,000 publishes keeps the producer near the server.
    return ++this.sent % PENDING === 0 ? this.nc.flush() : undefined;
  }
  async consume(queue: string, _prefetch: number, handler: (m: Delivered) => void, from?: string): Promise<void> {
    this.nc.subscribe(from ?? queue, {
      callback: (err, m) => {
        if (err === null) handler({ body: asBuffer(m.data), ack: ignore });
      },
    });
    await this.nc.flush();
  }
  close(): Promise<void> {
    return this.nc.drain();
  }
}

// ---------------------------------------------------------------------------
// NATS JetStream
// ---------------------------------------------------------------------------

class JetStreamDriver implements Driver {
  readonly system = 'jetstream' as const;
  readonly confirms = true;
  readonly serverProperties: Record<string, unknown>;
  private readonly js: JetStreamClient;
  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
  ) {
    this.js = nc.jetstream();
    this.serverProperties = { version: nc.info?.version };
  }
  private async addStream(name: string, durable: boolean, retention: RetentionPolicy): Promise<void> {
    await this.jsm.streams.add({ name: streamName(name), subjects: [name], storage: durable ? StorageType.File : StorageType.Memory, retention });
  }
  private addConsumer(stream: string, name: string): Promise<unknown> {
    return this.jsm.consumers.add(streamName(stream), { durable_name: streamName(name), ack_policy: AckPolicy.Explicit, max_ack_pending: PENDING });
  }
  async declareQueue(name: string, durable: boolean): Promise<void> {
    await this.addStream(name, durable, RetentionPolicy.Workqueue);
    await this.addConsumer(name, name);
  }
  async deleteQueue(name: string): Promise<void> {
    await this.jsm.streams.delete(streamName(name)).catch(ignore);
  }
  async purgeQueue(name: string): Promise<void> {
    await this.jsm.streams.purge(streamName(name));
  }
  async declareExchange(name: string): Promise<void> {
    // Interest retention: a message goes once every bound queue (consumer) acked it.
    await this.addStream(name, false, RetentionPolicy.Interest);
  }
  deleteExchange(name: string): Promise<void> {
    return this.deleteQueue(name);
  }
  async bindQueue(queue: string, exchange: string): Promise<void> {
    await this.addConsumer(exchange, queue);
  }
  publish(exchange: string, key: string, body: Buffer): Promise<void> {
    return this.js.publish(exchange === '' ? key : exchange, body).then(ignore);
  }
  async consume(queue: string, prefetch: number, handler: (m: Delivered) => void, from?: string): Promise<void> {
    const consumer = await this.js.consumers.get(streamName(from ?? queue), streamName(queue));
    await consumer.consume({
      max_messages: prefetch,
      callback: (m) => handler({ body: asBuffer(m.data), ack: () => m.ack() }),
    });
  }
  close(): Promise<void> {
    return this.nc.drain();
  }
}

// ---------------------------------------------------------------------------
// Redis lists and streams
// ---------------------------------------------------------------------------

abstract class RedisDriver implements Driver {
  abstract readonly system: 'redis' | 'redis-streams';
  readonly confirms = true;
  readonly serverProperties: Record<string, unknown>;
  protected readonly readers: Redis[] = [];
  protected closed = false;
  constructor(
    protected readonly redis: Redis,
    version: string | undefined,
  ) {
    this.serverProperties = { version };
  }
  async deleteQueue(name: string): Promise<void> {
    await this.redis.del(name);
  }
  async declareExchange(): Promise<void> {}
  async deleteExchange(name: string): Promise<void> {
    await this.redis.del(name);
  }
  abstract declareQueue(name: string, durable: boolean): Promise<void>;
  abstract purgeQueue(name: string): Promise<void>;
  abstract bindQueue(queue: string, exchange: string, key: string): Promise<void>;
  abstract publish(exchange: string, key: string, body: Buffer, opts: PublishOpts): Promise<void>;
  abstract consume(queue: string, prefetch: number, handler: (m: Delivered) => void, from?: string): Promise<void>;

  /** A blocking read loop on a connection of its own (a blocked connection cannot carry the acks). */
  protected loop(read: (r: Redis) => Promise<void>): void {
    const reader = this.redis.duplicate({ enableAutoPipelining: false });
    this.readers.push(reader);
    void (async () => {
      while (!this.closed) await read(reader);
    })().catch((err: unknown) => {
      if (!this.closed) throw err;
    });
  }
  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.readers) r.disconnect();
    await this.redis.quit();
  }
}

class RedisListDriver extends RedisDriver {
  readonly system = 'redis' as const;
  async declareQueue(name: string): Promise<void> {
    await this.redis.del(name);
  }
  async purgeQueue(name: string): Promise<void> {
    await this.redis.del(name);
  }
  async bindQueue(): Promise<void> {
    throw new Error('Redis lists have no fanout or routing');
  }
  publish(exchange: string, key: string, body: Buffer): Promise<void> {
    return this.redis.rpush(exchange === '' ? key : exchange, body).then(ignore);
  }
  async consume(queue: string, prefetch: number, handler: (m: Delivered) => void): Promise<void> {
    this.loop(async (r) => {
      const got = (await r.callBuffer('BLMPOP', 1, 1, queue, 'LEFT', 'COUNT', prefetch)) as [Buffer, Buffer[]] | null;
      if (got !== null) for (const body of got[1]) handler({ body, ack: ignore });
    });
  }
}

const GROUP = 'bench';
type StreamEntries = [Buffer, Buffer[]][];
type StreamReply = [Buffer, StreamEntries] | [Buffer, StreamEntries][];

class RedisStreamDriver extends RedisDriver {
  readonly system = 'redis-streams' as const;
  private async group(stream: string, group: string): Promise<void> {
    await this.redis.xgroup('CREATE', stream, group, '$', 'MKSTREAM').catch((err: Error) => {
      if (!String(err.message).startsWith('BUSYGROUP')) throw err;
    });
  }
  declareQueue(name: string): Promise<void> {
    return this.group(name, GROUP);
  }
  async purgeQueue(name: string): Promise<void> {
    await this.redis.xtrim(name, 'MAXLEN', 0);
  }
  bindQueue(queue: string, exchange: string): Promise<void> {
    return this.group(exchange, queue);
  }
  publish(exchange: string, key: string, body: Buffer): Promise<void> {
    return this.redis.xaddBuffer(exchange === '' ? key : exchange, '*', 'b', body).then(ignore);
  }
  async consume(queue: string, prefetch: number, handler: (m: Delivered) => void, from?: string): Promise<void> {
    const stream = from ?? queue;
    const group = from === undefined ? GROUP : queue;
    const name = `c${process.pid}`;
    this.loop(async (r) => {
      const got = (await r.callBuffer('XREADGROUP', 'GROUP', group, name, 'COUNT', prefetch, 'BLOCK', 1000, 'STREAMS', stream, '>')) as StreamReply | null;
      if (got === null) return;
      // RESP3 (ioredis 6) answers a map, flattened to [stream, entries]; RESP2 a list of [stream, entries].
      const entries = Buffer.isBuffer(got[0]) ? (got as Extract<StreamReply, [Buffer, unknown]>)[1] : (got as Extract<StreamReply, unknown[][]>)[0]![1];
      for (const [id, fields] of entries) handler({ body: fields[1]!, ack: () => void this.redis.xack(stream, group, id) });
    });
  }
}

// ---------------------------------------------------------------------------

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function openPeer(system: PeerSystem, url: string): Promise<Driver> {
  if (system === 'nats' || system === 'jetstream') {
    const nc = await natsConnect({ servers: url.replace(/^nats:\/\//, ''), noEcho: true, maxReconnectAttempts: 0 });
    return system === 'nats' ? new NatsDriver(nc) : new JetStreamDriver(nc, await nc.jetstreamManager());
  }
  // Auto-pipelining: commands issued in one event-loop turn go out in one write (ioredis' recommended way to pipeline).
  const redis = new Redis(url, { enableAutoPipelining: true, lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true });
  await redis.connect();
  const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
  return system === 'redis' ? new RedisListDriver(redis, version) : new RedisStreamDriver(redis, version);
}
