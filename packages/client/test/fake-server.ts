/**
 * A scripted stand-in for the broker: accepts TCP connections on port 0,
 * decodes what the client sends, and lets a test wait for frames and reply
 * with whatever it likes (including nothing at all).
 */
import * as net from 'node:net';
import {
  FrameDecoder,
  FrameType,
  FRAME_MAX_LIMIT,
  DEFAULT_FRAME_MAX,
  encodeFrame,
  type DeliverFrame,
  type Frame,
  type OpenFrame,
  type OpenOkFrame,
} from '@warren/protocol';

/**
 * The frame shapes whose type can be T. Not `Extract<Frame, { type: T }>`: a
 * shape shared by two types (QUEUE_BIND/QUEUE_UNBIND) would extract to never.
 */
export type FrameOf<T extends number> = Frame extends infer F ? (F extends { type: infer U } ? (T extends U ? F : never) : never) : never;

export class FakePeer {
  readonly frames: Frame[] = [];
  private taken = new Set<number>();
  private waiters: (() => void)[] = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  constructor(readonly socket: net.Socket) {
    const decoder = new FrameDecoder(FRAME_MAX_LIMIT);
    socket.on('data', (chunk) => {
      decoder.push(chunk, (f) => {
        this.frames.push(f);
      });
      this.wake();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  send(...frames: Frame[]): void {
    // One write: frames arrive together, as they would from a batching server.
    this.socket.write(Buffer.concat(frames.map(encodeFrame)));
  }

  /** Frames received so far with one of these types. */
  all<T extends number>(...types: T[]): FrameOf<T>[] {
    return this.frames.filter((f) => (types as number[]).includes(f.type)) as FrameOf<T>[];
  }

  /** The next not-yet-taken frame whose type is one of `types`, waiting for it if needed. */
  async take<T extends number>(...types: T[]): Promise<FrameOf<T>> {
    for (;;) {
      for (let i = 0; i < this.frames.length; i++) {
        if (!this.taken.has(i) && (types as number[]).includes(this.frames[i]!.type)) {
          this.taken.add(i);
          return this.frames[i] as FrameOf<T>;
        }
      }
      if (this.closed) throw new Error(`peer closed while waiting for frame type(s) ${types.join(',')}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Waits for OPEN and answers OPEN_OK (fields overridable). */
  async handshake(openOk: Partial<OpenOkFrame> = {}, extra: Frame[] = []): Promise<OpenFrame> {
    const open = await this.take(FrameType.OPEN);
    this.send(
      {
        type: FrameType.OPEN_OK,
        version: 1,
        properties: { product: 'fake' },
        frameMax: DEFAULT_FRAME_MAX,
        heartbeatMs: 0,
        connectionId: 'conn-1',
        ...openOk,
      },
      ...extra,
    );
    return open;
  }

  /** Answers a request with OK. */
  ok(requestId: number, result: unknown = null): void {
    this.send({ type: FrameType.OK, requestId, result });
  }

  /** Answers the next CONSUME with OK (the tag the client chose); resolves with it once `consuming` (the client's consume()) has. */
  async acceptConsume(consuming: Promise<unknown>): Promise<FrameOf<typeof FrameType.CONSUME>> {
    const req = await this.take(FrameType.CONSUME);
    this.ok(req.requestId, { consumerTag: req.options.consumerTag });
    await consuming;
    return req;
  }

  /**
   * DELIVERs one message per tag, in one write; the body is `body`, or the tag
   * as text. Exchange 'ex' and routing key 'rk' unless `extra` says otherwise.
   */
  deliver(consumerTag: string, deliveryTags: number | readonly number[], body?: string, extra: Partial<DeliverFrame> = {}): void {
    const tags = typeof deliveryTags === 'number' ? [deliveryTags] : deliveryTags;
    this.send(
      ...tags.map(
        (deliveryTag): DeliverFrame => ({
          type: FrameType.DELIVER,
          consumerTag,
          deliveryTag,
          redelivered: false,
          deliveryCount: 1,
          exchange: 'ex',
          routingKey: 'rk',
          properties: null,
          body: Buffer.from(body ?? String(deliveryTag)),
          ...extra,
        }),
      ),
    );
  }

  /** Round-trips a request, so every frame the client sent before it has arrived. */
  async sync(conn: { purgeQueue(queue: string): Promise<unknown> }): Promise<void> {
    const p = conn.purgeQueue('sync');
    this.ok((await this.take(FrameType.QUEUE_PURGE)).requestId, 0);
    await p;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export class FakeServer {
  private readonly peers: FakePeer[] = [];
  private waiters: ((p: FakePeer) => void)[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(readonly server: net.Server) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      const peer = new FakePeer(socket);
      const w = this.waiters.shift();
      if (w) w(peer);
      else this.peers.push(peer);
    });
  }

  static async start(): Promise<FakeServer> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeServer(server);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `warren://guest:guest@127.0.0.1:${this.port}`;
  }

  nextPeer(): Promise<FakePeer> {
    const p = this.peers.shift();
    if (p) return Promise.resolve(p);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
