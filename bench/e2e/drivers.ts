/**
 * One small interface over the systems under test: Warren through
 * @warren/client (the built package), RabbitMQ through amqplib, and the peers
 * of peers.ts (NATS core, JetStream, Redis lists and streams). Workers and
 * the runner only talk to a Driver, so every scenario runs the same code
 * against all of them. 'relay' is the floor: raw TCP through relay-child.mjs,
 * with no broker or client logic.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as warrenConnect, type Connection as WarrenConnection } from '@warren/client';
import amqp from 'amqplib';
import { NoTopology, openPeer, type PeerSystem } from './peers.js';

/** The systems compared in the tables, in table order. */
export const COMPARED = ['warren', 'rabbitmq', 'nats', 'jetstream', 'redis', 'redis-streams'] as const;
export type ComparedSystem = (typeof COMPARED)[number];
export type Peer = Exclude<ComparedSystem, 'warren'>;
export type SystemName = ComparedSystem | 'relay';

export interface Delivered {
  body: Buffer;
  ack(): void;
}

export interface PublishOpts {
  persistent: boolean;
}

export interface QueueOptions {
  /**
   * A long backlog is expected: RabbitMQ declares a lazy classic queue (x-queue-mode=lazy, its
   * documented choice up to 3.12 for queues of millions of messages: kept on disk, not in memory).
   * Warren pages beyond its window in any case; the other peers ignore it.
   */
  backlog?: boolean;
}

export interface Driver {
  readonly system: SystemName;
  /** publish() settles on the broker's confirm (keep a window of them in flight); else it only signals socket back-pressure. */
  readonly confirms: boolean;
  readonly serverProperties: Record<string, unknown>;
  /**
   * Why the broker blocks this connection's publishes (RabbitMQ: connection.blocked's reason,
   * e.g. "low on memory"; Warren: FLOW's), or undefined while it does not. Other peers never say.
   */
  readonly blocked?: string | undefined;
  declareQueue(name: string, durable: boolean, opts?: QueueOptions): Promise<void>;
  /** Messages in the queue (Warren and RabbitMQ; the other peers do not say). */
  messageCount?(name: string, durable: boolean): Promise<number>;
  deleteQueue(name: string): Promise<void>;
  purgeQueue(name: string): Promise<void>;
  declareExchange(name: string, type: 'fanout' | 'topic' | 'direct'): Promise<void>;
  deleteExchange(name: string): Promise<void>;
  bindQueue(queue: string, exchange: string, key: string): Promise<void>;
  /**
   * Publishes. With `confirm` the returned promise settles on the broker's
   * confirm; without it (RabbitMQ's plain channel) it resolves at once, or
   * once the socket drained when its buffer is full. Warren always confirms.
   */
  publish(exchange: string, key: string, body: Buffer, opts: PublishOpts): Promise<void> | undefined;
  /** `from`: the exchange the queue is bound to (NATS and Redis keep no binding to look up). */
  consume(queue: string, prefetch: number, handler: (m: Delivered) => void, from?: string): Promise<void>;
  close(): Promise<void>;
}

export interface DriverOptions {
  /** RabbitMQ: use a confirm channel (publish settles on the broker's ack). */
  confirm?: boolean;
  /**
   * RabbitMQ: turn Nagle's algorithm off, as a latency-sensitive amqplib user
   * would (amqplib leaves it on; with delayed ACKs that costs 40 ms stalls).
   * Warren's client always sets it.
   */
  noDelay?: boolean;
}

// ---------------------------------------------------------------------------
// Warren
// ---------------------------------------------------------------------------

class WarrenDriver implements Driver {
  readonly system = 'warren' as const;
  readonly confirms = true;
  blocked: string | undefined;
  constructor(private readonly conn: WarrenConnection) {
    conn.on('blocked', (e) => (this.blocked = e.reason || 'flow'));
    conn.on('unblocked', () => (this.blocked = undefined));
  }

  get serverProperties(): Record<string, unknown> {
    return this.conn.serverProperties;
  }

  async declareQueue(name: string, durable: boolean): Promise<void> {
    await this.conn.declareQueue(name, { durable });
  }
  async messageCount(name: string, durable: boolean): Promise<number> {
    // Declaring an existing queue again with the same options answers its depth.
    return (await this.conn.declareQueue(name, { durable })).messageCount;
  }
  async deleteQueue(name: string): Promise<void> {
    await this.conn.deleteQueue(name);
  }
  async purgeQueue(name: string): Promise<void> {
    await this.conn.purgeQueue(name);
  }
  async declareExchange(name: string, type: 'fanout' | 'topic' | 'direct'): Promise<void> {
    await this.conn.declareExchange(name, type, { durable: false });
  }
  async deleteExchange(name: string): Promise<void> {
    await this.conn.deleteExchange(name);
  }
  bindQueue(queue: string, exchange: string, key: string): Promise<void> {
    return this.conn.bindQueue(queue, exchange, key);
  }
  publish(exchange: string, key: string, body: Buffer, opts: PublishOpts): Promise<void> {
    return this.conn.publish(exchange, key, body, opts.persistent ? PERSISTENT : undefined);
  }
  async consume(queue: string, prefetch: number, handler: (m: Delivered) => void): Promise<void> {
    // A Warren Message already has body and ack().
    await this.conn.consume(queue, handler, { prefetch });
  }
  close(): Promise<void> {
    return this.conn.close();
  }
}
const PERSISTENT = Object.freeze({ persistent: true });

// ---------------------------------------------------------------------------
// RabbitMQ (amqplib)
// ---------------------------------------------------------------------------

class RabbitDriver implements Driver {
  readonly system = 'rabbitmq' as const;
  private drained: Promise<void> | undefined;
  blocked: string | undefined;

  constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly ch: amqp.Channel | amqp.ConfirmChannel,
    readonly confirms: boolean,
  ) {
    // amqplib announces the connection.blocked capability; RabbitMQ then says when an alarm blocks publishing.
    conn.on('blocked', (reason: unknown) => (this.blocked = String(reason ?? 'blocked')));
    conn.on('unblocked', () => (this.blocked = undefined));
  }

  get serverProperties(): Record<string, unknown> {
    return this.conn.connection.serverProperties as unknown as Record<string, unknown>;
  }

  async declareQueue(name: string, durable: boolean, opts?: QueueOptions): Promise<void> {
    await this.ch.assertQueue(name, { durable, autoDelete: false, ...(opts?.backlog === true ? { arguments: { 'x-queue-mode': 'lazy' } } : {}) });
  }
  async messageCount(name: string): Promise<number> {
    return (await this.ch.checkQueue(name)).messageCount;
  }
  async deleteQueue(name: string): Promise<void> {
    await this.ch.deleteQueue(name);
  }
  async purgeQueue(name: string): Promise<void> {
    await this.ch.purgeQueue(name);
  }
  async declareExchange(name: string, type: 'fanout' | 'topic' | 'direct'): Promise<void> {
    await this.ch.assertExchange(name, type, { durable: false, autoDelete: false });
  }
  async deleteExchange(name: string): Promise<void> {
    await this.ch.deleteExchange(name);
  }
  async bindQueue(queue: string, exchange: string, key: string): Promise<void> {
    await this.ch.bindQueue(queue, exchange, key);
  }
  publish(exchange: string, key: string, body: Buffer, opts: PublishOpts): Promise<void> | undefined {
    const options = opts.persistent ? PERSISTENT_AMQP : TRANSIENT_AMQP;
    if (this.confirms) {
      return new Promise((resolve, reject) => {
        (this.ch as amqp.ConfirmChannel).publish(exchange, key, body, options, (err) => (err ? reject(err) : resolve()));
      });
    }
    // amqplib buffers without limit and returns false once over its high-water mark: wait for 'drain'
    // (one listener for every publish that waits meanwhile).
    if (!this.ch.publish(exchange, key, body, options)) {
      this.drained ??= new Promise<void>((resolve) =>
        this.ch.once('drain', () => {
          this.drained = undefined;
          resolve();
        }),
      );
      return this.drained;
    }
    return undefined;
  }
  async consume(queue: string, prefetch: number, handler: (m: Delivered) => void): Promise<void> {
    const ch = this.ch;
    await ch.prefetch(prefetch);
    await ch.consume(
      queue,
      (m) => {
        if (m === null) return;
        handler({ body: m.content, ack: () => ch.ack(m) });
      },
      { noAck: false },
    );
  }
  async close(): Promise<void> {
    try {
      await this.ch.close();
    } catch {
      // already closed
    }
    await this.conn.close();
  }
}
const PERSISTENT_AMQP = Object.freeze({ persistent: true });
const TRANSIENT_AMQP = Object.freeze({ persistent: false });

// ---------------------------------------------------------------------------
// Relay: the floor (raw TCP, 4-byte length + body records, 4-byte acks)
// ---------------------------------------------------------------------------

class RelayDriver extends NoTopology implements Driver {
  readonly system = 'relay' as const;
  /** The consumer's acks come back to the producer in order: each settles the oldest publish, like a confirm. */
  readonly confirms = true;
  private readonly unconfirmed: (() => void)[] = [];
  private confirmed = 0;
  readonly serverProperties: Record<string, unknown> = {};
  private role: 'P' | 'C' | undefined;
  private pending: Buffer[] = [];
  private scheduled = false;
  private readonly flush = (): void => {
    this.scheduled = false;
    const chunks = this.pending;
    this.pending = [];
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  };

  constructor(private readonly socket: Socket) {
    super();
  }

  /** Like the brokers' clients: everything sent in one turn goes out in one write. */
  private send(chunk: Buffer): void {
    this.pending.push(chunk);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  private claim(role: 'P' | 'C'): void {
    if (this.role !== undefined) return;
    this.role = role;
    this.send(Buffer.from(role));
  }

  publish(_exchange: string, _key: string, body: Buffer): Promise<void> {
    if (this.role === undefined) {
      this.claim('P');
      // The consumer's acks (4 bytes each), relayed back.
      let bytes = 0;
      this.socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        const n = Math.floor(bytes / 4);
        bytes -= n * 4;
        for (let i = 0; i < n; i++) this.unconfirmed[this.confirmed++]!();
        if (this.confirmed > 4096) {
          this.unconfirmed.splice(0, this.confirmed);
          this.confirmed = 0;
        }
      });
    }
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeUInt32BE(body.length, 0);
    this.send(prefix);
    this.send(body);
    return new Promise((resolve) => this.unconfirmed.push(resolve));
  }

  async consume(_queue: string, _prefetch: number, handler: (m: Delivered) => void): Promise<void> {
    this.claim('C');
    const ackBytes = Buffer.alloc(4);
    const ack = (): void => this.send(ackBytes);
    let rest: Buffer = Buffer.alloc(0);
    this.socket.on('data', (chunk: Buffer) => {
      let buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0);
        handler({ body: buf.subarray(4, 4 + n), ack });
        buf = buf.subarray(4 + n);
      }
      rest = buf;
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }
}

export const RABBIT_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export async function openDriver(system: SystemName, url: string, opts: DriverOptions = {}): Promise<Driver> {
  if (system !== 'warren' && system !== 'rabbitmq' && system !== 'relay') return openPeer(system satisfies PeerSystem, url);
  if (system === 'warren') {
    // The producer never changes a body it passed (no copy needed), and the paced (open-loop) producer
    // must not fail on a stall: a publish buffer far above what a run can fall behind by.
    return new WarrenDriver(await warrenConnect({ url, heartbeatMs: 0, name: 'bench', copyPublishBodies: false, maxBufferedPublishes: 1_000_000 }));
  }
  if (system === 'relay') {
    const { hostname, port } = new URL(url);
    const socket = tcpConnect({ host: hostname, port: Number(port), noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    return new RelayDriver(socket);
  }
  const conn = await amqp.connect(url, { timeout: 5000, noDelay: opts.noDelay === true });
  conn.on('error', () => {
    // surfaced through the failing operation
  });
  const ch = opts.confirm === true ? await conn.createConfirmChannel() : await conn.createChannel();
  ch.on('error', () => {
    // idem
  });
  return new RabbitDriver(conn, ch, opts.confirm === true);
}
