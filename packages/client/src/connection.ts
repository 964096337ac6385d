/**
 * The connection: handshake, request/reply, publishing, consuming and the
 * close handshake, over one Transport. Per-socket state (transport, pending
 * requests, publish sequence, delivery tags) is kept apart from what outlives
 * a socket (options, topology, consumers), so reconnecting can be added later
 * by swapping the former and replaying the latter.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import {
  ErrorCodes,
  FrameType,
  PROTOCOL_VERSION,
  ProtocolError,
  WarrenError,
  errors,
  type Arguments,
  type ExchangeDeclareOptions,
  type ExchangeType,
  type Frame,
  type GetOkFrame,
  type MessageProperties,
  type OpenOkFrame,
  type QueueDeclareOptions,
  type QueueDeclareResult,
  type QueueInfo,
  type ExchangeInfo,
  type BindingInfo,
  type BrokerStatus,
} from '@warren/protocol';
import { Consumer, type ConsumeOptions, type ConsumerHost, type MessageHandler } from './consumer.js';
import { ConnectionClosedError, TimeoutError, remoteError, type ReturnedMessage } from './errors.js';
import { Delivery, Session, type Message } from './message.js';
import { resolveOptions, type ConnectOptions, type ResolvedOptions } from './options.js';
import { checkFrameSize, checkProperties } from './publish-checks.js';
import { Publisher } from './publisher.js';
import { RequestTable, type ReplyMapper } from './requests.js';
import { Topology } from './topology.js';
import { Transport } from './transport.js';

export const CLIENT_VERSION = '0.1.0';

/** Options for {@link Connection.publish}: message properties plus `mandatory`. */
export type PublishOptions = MessageProperties & {
  /** Return the message (reject with MessageReturnedError) when no queue is bound to receive it. */
  mandatory?: boolean;
};

/**
 * Events of a {@link Connection}. There is deliberately no 'error' event:
 * failures surface through promises and through 'close'.
 */
export type ConnectionEvents = {
  /**
   * The server stopped reading from this connection (memory or disk alarm).
   * Until 'unblocked', publishes wait in the client (their promises stay
   * pending) and close() waits for them.
   */
  blocked: [reason: string];
  unblocked: [];
  /** The connection is closed. `err` is undefined after a normal close (yours, or the server's with code 0), else why it closed. */
  close: [err?: WarrenError];
  /** A mandatory publish came back unroutable (its publish() promise also rejects). */
  return: [msg: ReturnedMessage];
  /** A consumer handler threw or rejected (`msg` set), or an event listener threw (`msg` undefined). */
  handlerError: [err: unknown, msg: Message | undefined];
  /**
   * A connection-level ERROR (requestId 0), e.g. an ack for an unknown delivery
   * tag. Usually harmless; when fatal, the server's CLOSE follows and 'close'
   * reports it.
   */
  serverError: [err: WarrenError];
};

/** Internal: lets tests look at the recorded topology without making it public API. */
export const kTopology = Symbol('warren.topology');

type State = 'open' | 'closing' | 'closed';

const GET_OK_MARK = Symbol('getOk');
interface GetOkReply {
  [GET_OK_MARK]: GetOkFrame;
}

/**
 * An open connection to a Warren broker. Create one with {@link connect}.
 * Every method returns a promise; after the connection closes they reject at
 * once with ConnectionClosedError.
 */
export class Connection extends EventEmitter<ConnectionEvents> implements ConsumerHost {
  /** Assigned by the server; shows up in its logs and management tools. */
  readonly connectionId: string;
  /** What the server said about itself in OPEN_OK (product, version, ...). */
  readonly serverProperties: Record<string, unknown>;
  /** The negotiated largest frame, in bytes, prelude and header included. */
  readonly frameMax: number;
  /** The negotiated heartbeat interval in ms (0 = none). */
  readonly heartbeatMs: number;
  /** Resolves when the connection closes: null after a normal close, else the reason. Never rejects. */
  readonly closed: Promise<WarrenError | null>;

  private state: State = 'open';
  private readonly options: ResolvedOptions;
  private readonly transport: Transport;
  private readonly session: Session;
  private readonly requests = new RequestTable();
  private readonly publisher: Publisher;
  private readonly topology = new Topology();
  private closeReason: WarrenError | undefined;
  private closePromise: Promise<void> | undefined;
  private closeSent = false;
  private graceful = false;
  private isBlocked = false;
  private consumerCount = 0;
  private warnedNoHandlerErrorListener = false;
  private resolveClosed!: (err: WarrenError | null) => void;

  /** @internal Use {@link connect}. */
  constructor(transport: Transport, options: ResolvedOptions, openOk: OpenOkFrame) {
    super();
    this.transport = transport;
    this.options = options;
    this.connectionId = openOk.connectionId;
    this.serverProperties = openOk.properties;
    this.frameMax = openOk.frameMax;
    this.heartbeatMs = openOk.heartbeatMs;
    this.session = new Session(transport);
    this.publisher = new Publisher(transport, options.publishWindow);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    transport.setHandlers({ frame: (f) => this.onFrame(f), close: (err) => this.onTransportClose(err) });
    transport.setFrameMax(openOk.frameMax);
    transport.startHeartbeat(openOk.heartbeatMs);
  }

  /** True while the server has flow-blocked publishers (see the 'blocked' event). */
  get blocked(): boolean {
    return this.isBlocked;
  }

  /** @internal */
  get [kTopology](): Topology {
    return this.topology;
  }

  // ---------------------------------------------------------------------------
  // Topology
  // ---------------------------------------------------------------------------

  /** Declares an exchange (idempotent when the attributes match; PRECONDITION_FAILED otherwise). */
  declareExchange(name: string, type: ExchangeType, opts: ExchangeDeclareOptions = {}): Promise<void> {
    return this.request(
      (requestId) => ({ type: FrameType.EXCHANGE_DECLARE, requestId, exchange: name, exchangeType: type, options: opts }),
      () => this.topology.exchangeDeclared(name, type, opts),
    );
  }

  /** Deletes an exchange; `ifUnused` fails with PRECONDITION_FAILED while it has bindings. */
  deleteExchange(name: string, opts: { ifUnused?: boolean } = {}): Promise<void> {
    return this.request(
      (requestId) => ({ type: FrameType.EXCHANGE_DELETE, requestId, exchange: name, options: opts }),
      () => this.topology.exchangeDeleted(name),
    );
  }

  /** Declares a queue. An empty or omitted name asks the server to pick one; read it from the result. */
  declareQueue(name = '', opts: QueueDeclareOptions = {}): Promise<QueueDeclareResult> {
    return this.request(
      (requestId) => ({ type: FrameType.QUEUE_DECLARE, requestId, queue: name, options: opts }),
      (result) => {
        const r = asRecord(result);
        const declared: QueueDeclareResult = {
          queue: typeof r.queue === 'string' ? r.queue : name,
          messageCount: count(r.messageCount),
          consumerCount: count(r.consumerCount),
        };
        this.topology.queueDeclared(declared.queue, opts, name === '');
        return declared;
      },
    );
  }

  /** Deletes a queue and returns how many messages it held. */
  deleteQueue(name: string, opts: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<{ messageCount: number }> {
    return this.request(
      (requestId) => ({ type: FrameType.QUEUE_DELETE, requestId, queue: name, options: opts }),
      (result) => {
        this.topology.queueDeleted(name);
        return { messageCount: messageCountOf(result) };
      },
    );
  }

  /** Removes every ready message from a queue and returns how many were removed. */
  purgeQueue(name: string): Promise<{ messageCount: number }> {
    return this.request(
      (requestId) => ({ type: FrameType.QUEUE_PURGE, requestId, queue: name }),
      (result) => ({ messageCount: messageCountOf(result) }),
    );
  }

  /** Lists queues with their counts and attributes (management). */
  listQueues(): Promise<QueueInfo[]> {
    return this.request((requestId) => ({ type: FrameType.QUEUE_LIST, requestId }), (result) => result as QueueInfo[]);
  }

  /** Lists exchanges, the default exchange ('') included (management). */
  listExchanges(): Promise<ExchangeInfo[]> {
    return this.request((requestId) => ({ type: FrameType.EXCHANGE_LIST, requestId }), (result) => result as ExchangeInfo[]);
  }

  /** Lists bindings (queue and exchange destinations) (management). */
  listBindings(): Promise<BindingInfo[]> {
    return this.request((requestId) => ({ type: FrameType.BINDING_LIST, requestId }), (result) => result as BindingInfo[]);
  }

  /** The broker's version, uptime, counts, memory and disk use (management). */
  status(): Promise<BrokerStatus> {
    return this.request((requestId) => ({ type: FrameType.STATUS, requestId }), (result) => result as BrokerStatus);
  }

  /** Binds a queue to an exchange. */
  bindQueue(queue: string, exchange: string, routingKey = '', args?: Arguments): Promise<void> {
    return this.binding(FrameType.QUEUE_BIND, 'queue', queue, exchange, routingKey, args);
  }

  /** Removes a queue binding. */
  unbindQueue(queue: string, exchange: string, routingKey = '', args?: Arguments): Promise<void> {
    return this.binding(FrameType.QUEUE_UNBIND, 'queue', queue, exchange, routingKey, args);
  }

  /** Binds exchange `destination` to receive from exchange `source`. */
  bindExchange(destination: string, source: string, routingKey = '', args?: Arguments): Promise<void> {
    return this.binding(FrameType.EXCHANGE_BIND, 'exchange', destination, source, routingKey, args);
  }

  /** Removes an exchange-to-exchange binding. */
  unbindExchange(destination: string, source: string, routingKey = '', args?: Arguments): Promise<void> {
    return this.binding(FrameType.EXCHANGE_UNBIND, 'exchange', destination, source, routingKey, args);
  }

  private binding(
    type: number,
    kind: 'queue' | 'exchange',
    destination: string,
    source: string,
    routingKey: string,
    args: Arguments | undefined,
  ): Promise<void> {
    const record = { kind, destination, source, routingKey, arguments: args ?? null };
    const bind = type === FrameType.QUEUE_BIND || type === FrameType.EXCHANGE_BIND;
    return this.request(
      (requestId) =>
        kind === 'queue'
          ? { type: type as 0x15 | 0x16, requestId, queue: destination, exchange: source, routingKey, arguments: record.arguments }
          : { type: type as 0x17 | 0x18, requestId, destination, source, routingKey, arguments: record.arguments },
      () => (bind ? this.topology.bound(record) : this.topology.unbound(record)),
    );
  }

  // ---------------------------------------------------------------------------
  // Publishing
  // ---------------------------------------------------------------------------

  /**
   * Publishes a message and resolves once the server has confirmed it
   * (stored, for persistent messages to durable queues).
   *
   * Rejects with PublishNackedError (the server's code) when refused,
   * MessageReturnedError when `mandatory` and unroutable, MessageTooLargeError
   * (nothing sent) when it cannot fit one frame, ConnectionClosedError when
   * the connection drops before the confirm (it may or may not have been
   * stored: retry idempotently).
   *
   * Back-pressure: at most `publishWindow` publishes are unconfirmed, and
   * none are handed to the socket while its buffer is over 1 MiB or the
   * server has flow-blocked the connection; later calls wait, in call order,
   * so an un-awaited loop does not flood the socket. Properties are checked
   * first (INVALID_ARGUMENT) because a mistyped one would cost the connection.
   * Do not modify `body` until the promise settles.
   */
  publish(exchange: string, routingKey: string, body: Buffer | Uint8Array | string, opts?: PublishOptions): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    let buf: Buffer;
    if (Buffer.isBuffer(body)) buf = body;
    else if (typeof body === 'string') buf = Buffer.from(body, 'utf8');
    else if (body instanceof Uint8Array) buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    else return Promise.reject(errors.invalidArgument('body must be a Buffer, Uint8Array or string'));
    let properties: MessageProperties | null = null;
    let mandatory = false;
    if (opts !== undefined) {
      if (opts.mandatory !== undefined) {
        const { mandatory: m, ...rest } = opts;
        mandatory = m === true;
        properties = rest;
      } else {
        properties = opts;
      }
    }
    const invalid =
      (properties === null ? undefined : checkProperties(properties)) ??
      checkFrameSize(this.frameMax, exchange, routingKey, properties, buf.length);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.publisher.publish(exchange, routingKey, buf, properties, mandatory);
  }

  // ---------------------------------------------------------------------------
  // Consuming
  // ---------------------------------------------------------------------------

  /**
   * Starts a consumer. With a handler, each delivery is passed to it (see
   * {@link MessageHandler} for the error rule); without one, iterate the
   * returned Consumer with `for await`. Set `prefetch` to bound unacknowledged
   * deliveries (and so the iterator's buffer).
   */
  consume(queue: string, handler: MessageHandler, opts?: ConsumeOptions): Promise<Consumer>;
  consume(queue: string, opts?: ConsumeOptions): Promise<Consumer>;
  consume(queue: string, a?: MessageHandler | ConsumeOptions, b?: ConsumeOptions): Promise<Consumer> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    const handler = typeof a === 'function' ? a : undefined;
    const opts = (typeof a === 'function' ? b : a) ?? {};
    // The client picks the tag and registers the consumer before sending
    // CONSUME, so deliveries that race the reply still find it.
    const tag = opts.consumerTag ?? `ctag-${this.connectionId}-${++this.consumerCount}`;
    if (this.topology.consumers.has(tag)) {
      return Promise.reject(errors.preconditionFailed(`consumer tag "${tag}" is already in use on this connection`));
    }
    const options: ConsumeOptions = { ...opts, consumerTag: tag };
    const consumer = new Consumer(this, tag, queue, options, handler);
    const consumers = this.topology.consumers;
    consumers.set(tag, consumer);
    return this.request(
      (requestId) => ({ type: FrameType.CONSUME, requestId, queue, options }),
      (result) => {
        const r = typeof result === 'string' ? { consumerTag: result } : asRecord(result);
        if (typeof r.consumerTag === 'string' && r.consumerTag !== tag && consumers.get(tag) === consumer) {
          consumers.delete(tag);
          consumers.set(r.consumerTag, consumer);
          consumer.retag(r.consumerTag);
        }
        return consumer;
      },
    ).catch((err: unknown) => {
      if (consumers.get(consumer.tag) === consumer) consumers.delete(consumer.tag);
      consumer.end(err instanceof WarrenError ? err : null, true);
      throw err;
    });
  }

  /** Fetches one message, or null when the queue is empty. Settle it unless `noAck`. */
  get(queue: string, opts: { noAck?: boolean } = {}): Promise<Message | null> {
    const noAck = opts.noAck === true;
    return this.request(
      (requestId) => ({ type: FrameType.GET, requestId, queue, options: opts }),
      (reply): Message | null => {
        if (typeof reply !== 'object' || reply === null || !(GET_OK_MARK in reply)) return null;
        const f = (reply as GetOkReply)[GET_OK_MARK];
        return new Delivery(this.session, f.body, f.exchange, f.routingKey, f.properties, f.redelivered, f.deliveryCount, f.deliveryTag, undefined, noAck);
      },
    );
  }

  /** @internal Called by Consumer.cancel. */
  async cancelConsumer(consumer: Consumer): Promise<void> {
    // Nothing to do once it ended, or once close() is under way (closing ends it).
    if (consumer.isEnded || this.state !== 'open') return;
    const stop = (): void => {
      if (this.topology.consumers.get(consumer.tag) === consumer) this.topology.consumers.delete(consumer.tag);
      consumer.end(null, false);
    };
    try {
      // Unregister while the OK is dispatched: nothing after it is routed here.
      await this.request((requestId) => ({ type: FrameType.CANCEL, requestId, consumerTag: consumer.tag }), stop);
    } catch (err) {
      if (err instanceof ConnectionClosedError) return;
      if (err instanceof WarrenError && err.code === ErrorCodes.NOT_FOUND) {
        stop(); // the broker no longer knows it: it is cancelled
        return;
      }
      throw err;
    }
  }

  /** @internal Called by consumers when a handler fails. */
  reportHandlerError(err: unknown, msg: Message | undefined): void {
    if (this.listenerCount('handlerError') === 0) {
      if (!this.warnedNoHandlerErrorListener) {
        this.warnedNoHandlerErrorListener = true;
        process.emitWarning(`Warren consumer handler failed and no 'handlerError' listener is attached: ${String(err)}`, 'WarrenWarning');
      }
      return;
    }
    try {
      this.emit('handlerError', err, msg);
    } catch {
      // A throwing 'handlerError' listener has nowhere left to report to.
    }
  }

  // ---------------------------------------------------------------------------
  // Closing
  // ---------------------------------------------------------------------------

  /**
   * Closes gracefully: new calls reject at once, publishes already made are
   * awaited until confirmed (or failed), then CLOSE is sent and CLOSE_OK
   * awaited (up to `timeoutMs`). Resolves once the socket is closed; never
   * rejects. Idempotent. Waiting for confirms has no deadline of its own: while
   * the server keeps the connection flow-blocked, close() waits with it.
   */
  close(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    if (this.state === 'closed') return Promise.resolve();
    this.state = 'closing';
    this.closePromise = this.runClose();
    return this.closePromise;
  }

  /** Same as {@link close}: `await using conn = await connect(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async runClose(): Promise<void> {
    await this.publisher.whenIdle();
    if (this.state === 'closed') return;
    this.closeSent = true;
    // Deliveries after CLOSE are requeued by the server; settling them is pointless.
    this.session.open = false;
    this.transport.send({ type: FrameType.CLOSE, code: 0, name: 'OK', message: 'closed by client' });
    let timer: NodeJS.Timeout | undefined;
    if (this.options.timeoutMs > 0) {
      timer = setTimeout(
        () => this.transport.destroy(new TimeoutError(`no CLOSE_OK within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
    }
    await this.closed;
    clearTimeout(timer);
  }

  private closedError(): ConnectionClosedError {
    const cause = this.closeReason;
    if (this.state === 'closing') return new ConnectionClosedError('connection is closing');
    return new ConnectionClosedError(cause === undefined ? 'connection is closed' : `connection is closed: ${cause.message}`, { cause });
  }

  private onTransportClose(reason: WarrenError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.session.open = false;
    const err = this.graceful ? undefined : reason;
    this.closeReason = err;
    const failure =
      err === undefined
        ? new ConnectionClosedError(this.closeSent ? 'connection closed by the client' : 'connection closed by the server')
        : err instanceof ConnectionClosedError
          ? err
          : new ConnectionClosedError(`connection closed: ${err.message}`, { cause: err });
    this.requests.failAll(failure);
    this.publisher.failAll(failure);
    for (const consumer of this.topology.consumers.values()) consumer.end(err === undefined ? null : failure, true);
    this.resolveClosed(err ?? null);
    this.safeEmit('close', err);
  }

  // ---------------------------------------------------------------------------
  // Inbound frames
  // ---------------------------------------------------------------------------

  private onFrame(frame: Frame): void {
    // After our CLOSE only CLOSE and CLOSE_OK matter (protocol-spec 4.5).
    if (this.closeSent && frame.type !== FrameType.CLOSE && frame.type !== FrameType.CLOSE_OK) return;
    switch (frame.type) {
      case FrameType.DELIVER: {
        const consumer = this.topology.consumers.get(frame.consumerTag);
        if (consumer === undefined) {
          // Raced a cancel: hand it back instead of leaving it unacked.
          if (this.session.open) this.session.reject(frame.deliveryTag, true);
          return;
        }
        consumer.deliver(
          new Delivery(
            this.session,
            frame.body,
            frame.exchange,
            frame.routingKey,
            frame.properties,
            frame.redelivered,
            frame.deliveryCount,
            frame.deliveryTag,
            consumer.tag,
            consumer.noAck,
          ),
        );
        return;
      }
      case FrameType.CONFIRM:
        this.publisher.confirm(frame.seq, frame.multiple);
        return;
      case FrameType.OK:
        this.requests.reply(frame.requestId, frame.result);
        return;
      case FrameType.GET_OK:
        this.requests.reply(frame.requestId, { [GET_OK_MARK]: frame } satisfies GetOkReply);
        return;
      case FrameType.ERROR: {
        const err = remoteError(frame.code, frame.name, frame.message, frame.details);
        if (frame.requestId === 0 || !this.requests.fail(frame.requestId, err)) this.safeEmit('serverError', err);
        return;
      }
      case FrameType.PUBLISH_NACK:
        this.publisher.nack(frame.seq, frame.code, frame.name, frame.message);
        return;
      case FrameType.RETURN: {
        const msg: ReturnedMessage = {
          body: frame.body,
          exchange: frame.exchange,
          routingKey: frame.routingKey,
          properties: frame.properties ?? {},
          code: frame.code,
          reason: frame.name,
        };
        this.publisher.returnMessage(frame.seq, msg);
        this.safeEmit('return', msg);
        return;
      }
      case FrameType.CANCELLED: {
        const consumer = this.topology.consumers.get(frame.consumerTag);
        if (consumer === undefined) return;
        this.topology.consumers.delete(frame.consumerTag);
        consumer.end(remoteError(frame.code, frame.name, frame.message), false);
        return;
      }
      case FrameType.FLOW:
        if (frame.blocked === this.isBlocked) return;
        this.isBlocked = frame.blocked;
        this.publisher.setBlocked(frame.blocked);
        if (frame.blocked) this.safeEmit('blocked', frame.reason);
        else this.safeEmit('unblocked');
        return;
      case FrameType.HEARTBEAT:
        return;
      case FrameType.CLOSE: {
        // Crossing CLOSEs count as the close we asked for; code 0 is a normal close.
        if (this.closeSent || frame.code === 0) this.graceful = true;
        const err = remoteError(frame.code, frame.name, frame.message);
        this.transport.send({ type: FrameType.CLOSE_OK });
        this.session.open = false;
        this.transport.end(err);
        return;
      }
      case FrameType.CLOSE_OK:
        if (this.closeSent) {
          this.graceful = true;
          this.transport.end(new ConnectionClosedError('connection closed by the client'));
        }
        return;
      default: {
        const err = new ProtocolError(ErrorCodes.COMMAND_INVALID, `unexpected frame 0x${frame.type.toString(16)} from the server`);
        this.transport.send({ type: FrameType.CLOSE, code: err.code, name: err.name, message: err.message });
        this.transport.end(err);
      }
    }
  }

  private request<T>(build: (requestId: number) => Frame, map: ReplyMapper<T>): Promise<T> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    const { id, promise } = this.requests.start(map);
    this.transport.send(build(id));
    return promise;
  }

  /** Listener exceptions must not unwind frame dispatch; they are reported as 'handlerError'. */
  private safeEmit<K extends keyof ConnectionEvents>(event: K, ...args: ConnectionEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: ConnectionEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.reportHandlerError(err, undefined);
    }
  }
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}
function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
function messageCountOf(result: unknown): number {
  return typeof result === 'number' ? result : count(asRecord(result).messageCount);
}

/**
 * Opens a connection: TCP connect, OPEN, then OPEN_OK (or the server's ERROR,
 * as a typed rejection). `timeoutMs` bounds the whole handshake (TimeoutError);
 * `signal` aborts it (rejects with `signal.reason`).
 *
 * @example
 * const conn = await connect('warren://guest:guest@127.0.0.1:5680');
 */
export function connect(url?: string | ConnectOptions): Promise<Connection> {
  let options: ResolvedOptions;
  try {
    options = resolveOptions(url);
  } catch (err) {
    return Promise.reject(err);
  }
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<Connection>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => fail(signal!.reason, true);
    const fail = (err: unknown, destroy: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const reason = err instanceof WarrenError ? err : new ConnectionClosedError('connect aborted', { cause: err });
      if (destroy) transport.destroy(reason);
      else transport.end(reason);
      reject(err);
    };
    const socket = net.connect({ host: options.host, port: options.port });
    const transport = new Transport(socket, {
      frame: (frame) => {
        if (settled) return;
        switch (frame.type) {
          case FrameType.OPEN_OK: {
            if (frame.version !== PROTOCOL_VERSION) {
              fail(new ProtocolError(ErrorCodes.UNSUPPORTED_VERSION, `server speaks protocol version ${frame.version}, client ${PROTOCOL_VERSION}`), false);
              return;
            }
            settled = true;
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            // Built synchronously so frames right behind OPEN_OK reach it.
            resolve(new Connection(transport, options, frame));
            return;
          }
          case FrameType.ERROR:
            fail(remoteError(frame.code, frame.name, frame.message, frame.details), false);
            return;
          case FrameType.CLOSE:
            transport.send({ type: FrameType.CLOSE_OK });
            fail(remoteError(frame.code, frame.name, frame.message), false);
            return;
          case FrameType.HEARTBEAT:
            return;
          default:
            fail(new ProtocolError(ErrorCodes.COMMAND_INVALID, `unexpected frame 0x${frame.type.toString(16)} before OPEN_OK`), false);
        }
      },
      close: (err) => fail(err, true),
    });
    if (options.timeoutMs > 0) {
      timer = setTimeout(
        () => fail(new TimeoutError(`connecting to ${options.host}:${options.port} timed out after ${options.timeoutMs} ms`), true),
        options.timeoutMs,
      );
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      const properties: Record<string, unknown> = {
        product: 'warren-client',
        version: CLIENT_VERSION,
        platform: `Node.js ${process.version}`,
        ...options.properties,
      };
      if (options.name !== undefined) properties.name = options.name;
      transport.send({
        type: FrameType.OPEN,
        version: PROTOCOL_VERSION,
        properties,
        credentials: { mechanism: 'PLAIN', username: options.username, password: options.password },
        frameMax: options.frameMax,
        heartbeatMs: options.heartbeatMs,
      });
    });
  });
}
