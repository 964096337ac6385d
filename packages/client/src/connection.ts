/**
 * The connection: handshake, request/reply, publishing, consuming, automatic
 * reconnection with topology recovery, and the draining close.
 *
 * A Connection outlives its sockets. What belongs to one socket (transport,
 * request table, delivery-tag session, negotiated values) is a Link; what
 * outlives it (options, recorded topology, consumers, the publish buffer,
 * the status stream) lives on the Connection. When a link is lost the
 * connection schedules reconnect attempts with back-off; on a new link it
 * first replays the topology (exchanges, queues, exchange bindings, queue
 * bindings, consumers), then re-attaches the publisher, which re-sends what
 * was in flight, then runs the requests that were made meanwhile.
 *
 * Link states: 'open' (usable), 'recovering' (a new link is up, topology is
 * being replayed; user requests and publishes wait), 'reconnecting' (no
 * link; waiting for the next attempt), 'closed' (for good).
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  ErrorCodes,
  FrameType,
  PROTOCOL_VERSION,
  ProtocolError,
  WarrenError,
  errors,
  type Arguments,
  type BindingInfo,
  type BrokerStatus,
  type ExchangeDeclareOptions,
  type ExchangeInfo,
  type ExchangeType,
  type Frame,
  type FrameWriter,
  type GetOkFrame,
  type MessageProperties,
  type OpenOkFrame,
  type QueueDeclareOptions,
  type QueueDeclareResult,
  type QueueInfo,
} from '@warren/protocol';
import { Consumer, type ConsumeOptions, type ConsumerHost, type MessageHandler } from './consumer.js';
import { AbortError, ConnectionClosedError, TimeoutError, remoteError, type ReturnedMessage } from './errors.js';
import { Delivery, type Message } from './message.js';
import { KV_ENTRY_MARK, KvRegistry, type KvBucket, type KvBucketInfo, type KvBucketOptions, type KvEntryReply, type KvRequest } from './kv.js';
import { Session } from './session.js';
import { backoffDelay, resolveOptions, type ConnectOptions, type ResolvedOptions } from './options.js';
import { checkFrameSize, checkProperties } from './publish-checks.js';
import { Publisher, type PublishLimits } from './publisher.js';
import { RequestTable, type ReplyMapper } from './requests.js';
import { StatusStream, type QueueRenamedEvent, type RecoveryItem, type StatusEvent, type ConnectedEvent, type DisconnectedEvent, type ReconnectingEvent, type BlockedEvent, type UnblockedEvent, type ClosedEvent } from './status.js';
import { Topology, type BindingRecord, type QueueRecord } from './topology.js';
import { Transport } from './transport.js';

export const CLIENT_VERSION = '0.1.0';

/** Options for {@link Connection.publish}: message properties plus `mandatory` and per-call limits. */
export type PublishOptions = MessageProperties & {
  /** Return the message (reject with MessageReturnedError) when no queue is bound to receive it. */
  mandatory?: boolean;
  /**
   * Abort waiting for this publish: the promise rejects with AbortError. If
   * the message was still buffered it is dropped and never sent; if it was
   * already written it may still be delivered.
   */
  signal?: AbortSignal;
  /**
   * Deadline in ms for the broker's confirm, buffering included (TimeoutError,
   * same rules as `signal`). Defaults to the connection's `publishTimeoutMs`.
   */
  timeoutMs?: number;
};

/** Options for {@link Connection.close}. */
export interface CloseOptions {
  /**
   * How long close() may spend draining (cancelling consumers, waiting for
   * running handlers and for the confirms of every publish made so far,
   * including reconnecting to send buffered ones) before it gives up: what is
   * left then fails with ConnectionClosedError and the connection closes
   * anyway. Default 30000; Infinity waits as long as it takes.
   */
  drainTimeoutMs?: number;
}

/** close() gives draining this long unless told otherwise. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/**
 * Events of a {@link Connection}. There is deliberately no 'error' event, so
 * an EventEmitter without listeners can never crash the process: failures
 * surface through promises, through {@link Connection.statusEvents} and the status
 * events below, 'handlerError' (a handler or listener threw), 'recoveryError'
 * and 'serverError'. Listener exceptions are caught and reported on
 * 'handlerError'.
 *
 * The six status events ('connected', 'disconnected', 'reconnecting',
 * 'blocked', 'unblocked', 'closed') carry the same object that
 * {@link Connection.statusEvents} yields.
 */
export type ConnectionEvents = {
  connected: [event: ConnectedEvent];
  disconnected: [event: DisconnectedEvent];
  reconnecting: [event: ReconnectingEvent];
  /**
   * The server stopped reading from this connection (memory or disk alarm).
   * Until 'unblocked', publishes wait in the client (their promises stay
   * pending) and close() waits for them (up to its drain deadline).
   */
  blocked: [event: BlockedEvent];
  unblocked: [event: UnblockedEvent];
  closed: [event: ClosedEvent];
  /** Same moment as 'closed', kept for compatibility: `err` is undefined after a normal close, else why it closed. */
  close: [err?: WarrenError];
  /** A server-named queue got a new name after a reconnect; consumers and bindings of the old name already follow it. */
  queueRenamed: [event: QueueRenamedEvent];
  /** A recorded topology item could not be re-declared after a reconnect; it was dropped (a consumer is ended with `err`). */
  recoveryError: [err: WarrenError, item: RecoveryItem];
  /** A mandatory publish came back unroutable (its publish() promise also rejects). */
  return: [msg: ReturnedMessage];
  /** A consumer handler threw or rejected (`msg` set), or an event listener threw (`msg` undefined). */
  handlerError: [err: unknown, msg: Message | undefined];
  /**
   * A connection-level ERROR (requestId 0), e.g. an ack for an unknown delivery
   * tag. Usually harmless; when fatal, the server's CLOSE follows.
   */
  serverError: [err: WarrenError];
};

/** Internal: lets tests look at the recorded topology without making it public API. */
export const kTopology = Symbol('warren.topology');

type LinkState = 'open' | 'recovering' | 'reconnecting' | 'closed';

/** One socket's worth of state. */
interface Link {
  readonly transport: Transport;
  readonly session: Session;
  readonly requests: RequestTable;
  readonly openOk: OpenOkFrame;
  /** We sent CLOSE on it. */
  closeSent: boolean;
  /** It ended by a normal close handshake. */
  graceful: boolean;
}

const GET_OK_MARK = Symbol('getOk');
interface GetOkReply {
  [GET_OK_MARK]: GetOkFrame;
}

/** Thrown inside recovery when its link is gone: the next link starts over. */
const LINK_GONE = Symbol('link gone');

const noop = (): void => {};

/**
 * A connection to a Warren broker that reconnects by itself. Create one with
 * {@link connect}.
 *
 * While the link is down: publishes wait in a bounded buffer (see
 * `maxBufferedPublishes`), requests (declare, bind, get, consume...) wait
 * for the reconnect, consumers resume by themselves, and acks for messages
 * of the lost link are no-ops. Requests already sent when the link dropped
 * reject with a retriable ConnectionClosedError (their outcome is unknown);
 * unconfirmed publishes are re-sent or rejected per `publishRecovery`.
 * After the connection is closed for good (close(), gave up reconnecting,
 * reconnect disabled, or a non-retriable error) every method rejects at
 * once with ConnectionClosedError.
 */
export class Connection extends EventEmitter<ConnectionEvents> implements ConsumerHost {
  /** Resolves when the connection closes for good: null after a normal close, else the reason. Never rejects. */
  readonly closed: Promise<WarrenError | null>;

  private linkState: LinkState = 'open';
  /** close() was called: new calls reject, draining is under way. */
  private closing = false;
  private link: Link | undefined;
  private lastOpenOk: OpenOkFrame;
  private readonly options: ResolvedOptions;
  private readonly publisher: Publisher;
  private readonly topology = new Topology();
  private readonly kvState = new KvRegistry((send, map) => this.request(send, map));
  private readonly statusStream = new StatusStream();
  private readonly clientId = randomBytes(6).toString('base64url');
  private openWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connectAbort: AbortController | undefined;
  private lastLinkError: WarrenError | undefined;
  private closeReason: WarrenError | undefined;
  private closePromise: Promise<void> | undefined;
  private isBlocked = false;
  private consumerCount = 0;
  private warnedNoHandlerErrorListener = false;
  private resolveClosed!: (err: WarrenError | null) => void;

  /** @internal Use {@link connect}. */
  constructor(transport: Transport, options: ResolvedOptions, openOk: OpenOkFrame) {
    super();
    this.options = options;
    this.lastOpenOk = openOk;
    this.publisher = new Publisher({
      window: options.publishWindow,
      maxBuffered: options.maxBufferedPublishes,
      whenFull: options.whenBufferFull,
      recovery: options.publishRecovery,
    });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const link = this.adoptLink(transport, openOk);
    this.publisher.attach(link.transport);
    this.setStatus({ type: 'connected', connectionId: openOk.connectionId, reconnected: false, attempts: 0, recoveryErrors: [] });
  }

  /** Assigned by the server to the current (or last) link; shows up in its logs and management tools. Changes on reconnect. */
  get connectionId(): string {
    return this.lastOpenOk.connectionId;
  }

  /** What the server said about itself in OPEN_OK (product, version, ...), on the current (or last) link. */
  get serverProperties(): Record<string, unknown> {
    return this.lastOpenOk.properties;
  }

  /** The negotiated largest frame, in bytes, prelude and header included (current or last link). */
  get frameMax(): number {
    return this.lastOpenOk.frameMax;
  }

  /** The negotiated heartbeat interval in ms (0 = none), current or last link. */
  get heartbeatMs(): number {
    return this.lastOpenOk.heartbeatMs;
  }

  /** True while the server has flow-blocked publishers (see the 'blocked' event). */
  get blocked(): boolean {
    return this.isBlocked;
  }

  /** True while a link is up and its topology recovered (publishes go straight out). */
  get isConnected(): boolean {
    return this.linkState === 'open';
  }

  /** Publishes accepted but not yet written to a socket (see `maxBufferedPublishes`). */
  get bufferedPublishes(): number {
    return this.publisher.buffered;
  }

  /** @internal */
  get [kTopology](): Topology {
    return this.topology;
  }

  /** @internal For tests: the current link's transport. */
  private get transport(): Transport | undefined {
    return this.link?.transport;
  }

  /**
   * This connection's status as an async iterable. Each call returns a new
   * iterator; it first yields the current state (the latest 'connected',
   * 'disconnected', 'reconnecting' or 'closed' event), then every status
   * event as it happens, and ends after 'closed'. Leaving the loop
   * (`break`) unsubscribes. An iterator that is not read keeps at most the
   * latest 1000 events.
   *
   * @example
   * for await (const s of conn.statusEvents()) {
   *   if (s.type === 'reconnecting') log.warn(`reconnecting (attempt ${s.attempt}): ${s.error.message}`);
   * }
   */
  statusEvents(): AsyncIterableIterator<StatusEvent> {
    return this.statusStream.subscribe();
  }

  // ---------------------------------------------------------------------------
  // Topology
  // ---------------------------------------------------------------------------

  /** Declares an exchange (idempotent when the attributes match; PRECONDITION_FAILED otherwise). Re-declared after a reconnect. */
  declareExchange(name: string, type: ExchangeType, opts: ExchangeDeclareOptions = {}): Promise<void> {
    return this.request(
      (w, requestId) => w.exchangeDeclare(requestId, name, type, opts),
      () => this.topology.exchangeDeclared(name, type, opts),
    );
  }

  /** Deletes an exchange; `ifUnused` fails with PRECONDITION_FAILED while it has bindings. */
  deleteExchange(name: string, opts: { ifUnused?: boolean } = {}): Promise<void> {
    return this.request(
      (w, requestId) => w.exchangeDelete(requestId, name, opts),
      () => this.topology.exchangeDeleted(name),
    );
  }

  /**
   * Declares a queue. An empty or omitted name asks the server to pick one;
   * read it from the result. Re-declared after a reconnect; a server-named
   * queue that did not survive gets a new name then ('queueRenamed').
   */
  declareQueue(name = '', opts: QueueDeclareOptions = {}): Promise<QueueDeclareResult> {
    return this.request(
      (w, requestId) => w.queueDeclare(requestId, name, opts),
      (result) => {
        const declared = declareResult(result, name);
        this.topology.queueDeclared(declared.queue, opts, name === '');
        return declared;
      },
    );
  }

  /** Deletes a queue and returns how many messages it held. */
  deleteQueue(name: string, opts: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<{ messageCount: number }> {
    return this.request(
      (w, requestId) => w.queueDelete(requestId, name, opts),
      (result) => {
        this.topology.queueDeleted(name);
        return { messageCount: messageCountOf(result) };
      },
    );
  }

  /** Removes every ready message from a queue and returns how many were removed. */
  purgeQueue(name: string): Promise<{ messageCount: number }> {
    return this.request(
      (w, requestId) => w.queuePurge(requestId, name),
      (result) => ({ messageCount: messageCountOf(result) }),
    );
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
    const record: BindingRecord = { kind, destination, source, routingKey, arguments: args ?? null };
    const bind = type === FrameType.QUEUE_BIND || type === FrameType.EXCHANGE_BIND;
    return this.request(
      (w, requestId) => sendBinding(w, type, record, requestId),
      () => (bind ? this.topology.bound(record) : this.topology.unbound(record)),
    );
  }

  // ---------------------------------------------------------------------------
  // Management (protocol-spec 8.5: results are server-defined; passed through as received)
  // ---------------------------------------------------------------------------

  /** Lists queues with their counts and attributes (management). */
  listQueues(): Promise<QueueInfo[]> {
    return this.request((w, requestId) => w.queueList(requestId), asArray<QueueInfo>);
  }

  /** Lists exchanges, the default exchange ('') included (management). */
  listExchanges(): Promise<ExchangeInfo[]> {
    return this.request((w, requestId) => w.exchangeList(requestId), asArray<ExchangeInfo>);
  }

  /** Lists bindings (queue and exchange destinations) (management). */
  listBindings(): Promise<BindingInfo[]> {
    return this.request((w, requestId) => w.bindingList(requestId), asArray<BindingInfo>);
  }

  /**
   * The broker's version, uptime, counts, memory and disk use (management
   * STATUS request). For this connection's own state see {@link statusEvents}.
   */
  status(): Promise<BrokerStatus> {
    return this.request((w, requestId) => w.status(requestId), (r) => r as BrokerStatus);
  }

  /**
   * Creates a key-value bucket, or opens an existing one (options given are checked:
   * PRECONDITION_FAILED when they differ; `passive`: only open, NOT_FOUND if missing).
   * Needs a broker with the `kv` capability.
   *
   * @example
   * const results = await conn.kv('results', { history: 5, ttl: 3_600_000 });
   * const rev = await results.put('task.42', JSON.stringify({ ok: true }));
   * const e = await results.get('task.42');
   */
  kv(name: string, options: KvBucketOptions & { passive?: boolean } = {}): Promise<KvBucket> {
    return this.kvState.open(name, options);
  }

  /** Every key-value bucket of the broker. */
  listKv(): Promise<KvBucketInfo[]> {
    return this.kvState.list();
  }

  /** Deletes a key-value bucket with its keys and history; its watches end with NOT_FOUND. */
  deleteKv(name: string): Promise<void> {
    return this.kvState.delete(name);
  }

  // ---------------------------------------------------------------------------
  // Publishing
  // ---------------------------------------------------------------------------

  /**
   * Publishes a message and resolves once the server has confirmed it
   * (stored, for persistent messages to durable queues). A resolved publish
   * is never lost: it survives reconnects and, if persistent to a durable
   * queue, broker restarts.
   *
   * Rejects with PublishNackedError (the server's code) when refused,
   * MessageReturnedError when `mandatory` and unroutable, MessageTooLargeError
   * (nothing sent) when it cannot fit one frame, PublishBufferFullError when
   * the buffer is full and `whenBufferFull` is 'reject', AbortError or
   * TimeoutError per `signal`/`timeoutMs`, and ConnectionClosedError when the
   * connection is closed for good, or when the link drops before the confirm
   * and `publishRecovery` is 'reject' (it may or may not have been stored:
   * retry idempotently). With the default 'resend' it is sent again after
   * the reconnect instead, so it may be delivered twice.
   *
   * Back-pressure: at most `publishWindow` publishes are unconfirmed, and
   * none are handed to the socket while its buffer is over 1 MiB, the server
   * has flow-blocked the connection, or the link is down; later calls wait
   * in the publish buffer, in call order. Properties are checked first
   * (INVALID_ARGUMENT) because a mistyped one would cost the connection.
   * Do not modify `body` until the promise settles (it may be sent again).
   */
  publish(exchange: string, routingKey: string, body: Buffer | Uint8Array | string, opts?: PublishOptions): Promise<void> {
    if (this.closing || this.linkState === 'closed') return Promise.reject(this.closedError());
    let buf: Buffer;
    if (Buffer.isBuffer(body)) buf = body;
    else if (typeof body === 'string') buf = Buffer.from(body, 'utf8');
    else if (body instanceof Uint8Array) buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    else return Promise.reject(errors.invalidArgument('body must be a Buffer, Uint8Array or string'));
    let properties: MessageProperties | null = null;
    let mandatory = false;
    let limits: PublishLimits | undefined;
    if (opts !== undefined) {
      if (opts.mandatory !== undefined || opts.signal !== undefined || opts.timeoutMs !== undefined) {
        const { mandatory: m, signal, timeoutMs, ...rest } = opts;
        mandatory = m === true;
        properties = rest;
        if (signal !== undefined || timeoutMs !== undefined) {
          if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
          if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
            return Promise.reject(errors.invalidArgument('timeoutMs must be a non-negative number'));
          }
          limits = { signal, timeoutMs: timeoutMs ?? this.options.publishTimeoutMs };
        }
      } else {
        properties = opts;
      }
    }
    if (limits === undefined && this.options.publishTimeoutMs > 0) limits = { timeoutMs: this.options.publishTimeoutMs };
    const invalid =
      (properties === null ? undefined : checkProperties(properties)) ??
      checkFrameSize(this.lastOpenOk.frameMax, exchange, routingKey, properties, buf.length);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.publisher.publish(exchange, routingKey, buf, properties, mandatory, limits);
  }

  // ---------------------------------------------------------------------------
  // Consuming
  // ---------------------------------------------------------------------------

  /**
   * Starts a consumer. With a handler, each delivery is passed to it (see
   * {@link MessageHandler} for the error rule); without one, iterate the
   * returned Consumer with `for await`. Set `prefetch` to bound unacknowledged
   * deliveries (and so the iterator's buffer and handler concurrency: a slow
   * consumer never gets more than `prefetch` messages at once). The consumer
   * is re-subscribed after every reconnect until it is cancelled.
   */
  consume(queue: string, handler: MessageHandler, opts?: ConsumeOptions): Promise<Consumer>;
  consume(queue: string, opts?: ConsumeOptions): Promise<Consumer>;
  consume(queue: string, a?: MessageHandler | ConsumeOptions, b?: ConsumeOptions): Promise<Consumer> {
    if (this.closing || this.linkState === 'closed') return Promise.reject(this.closedError());
    const handler = typeof a === 'function' ? a : undefined;
    const { signal, timeoutMs, ...wire } = (typeof a === 'function' ? b : a) ?? {};
    if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      return Promise.reject(errors.invalidArgument('timeoutMs must be a non-negative number'));
    }
    // The client picks the tag and registers the consumer before sending
    // CONSUME, so deliveries that race the reply still find it.
    const tag = wire.consumerTag ?? `ctag-${this.clientId}-${++this.consumerCount}`;
    if (this.topology.consumers.has(tag)) {
      return Promise.reject(errors.preconditionFailed(`consumer tag "${tag}" is already in use on this connection`));
    }
    const consumer = new Consumer(this, tag, queue, { ...wire, consumerTag: tag }, handler);
    this.topology.consumers.set(tag, consumer);
    const started = this.startConsumer(consumer);
    if (signal === undefined && !(timeoutMs !== undefined && timeoutMs > 0)) return started;
    const cancel = (): void => void consumer.cancel().catch(noop);
    if (signal !== undefined) {
      signal.addEventListener('abort', cancel, { once: true });
      void consumer.cancelled.then(() => signal.removeEventListener('abort', cancel));
    }
    return withLimits(started, signal, timeoutMs, 'consume() not confirmed', cancel);
  }

  private startConsumer(consumer: Consumer): Promise<Consumer> {
    const consumers = this.topology.consumers;
    const send = (): Promise<Consumer> => {
      if (consumer.isEnded || consumer.cancelRequested) return Promise.reject(new ConnectionClosedError('the consumer was cancelled before it started'));
      const link = this.link;
      if (this.linkState !== 'open' || link === undefined) return this.whenOpen().then(send);
      consumer.consumeSent = true;
      return this.sendRequest(
        link,
        (w, requestId) => w.consume(requestId, consumer.queue, consumer.options),
        (result) => {
          this.consumeConfirmed(consumer, result);
          consumer.established = true;
          return consumer;
        },
      );
    };
    return send().catch((err: unknown) => {
      if (consumers.get(consumer.tag) === consumer) consumers.delete(consumer.tag);
      consumer.end(err instanceof WarrenError ? err : null, true);
      throw err;
    });
  }

  /** The server may answer CONSUME with another tag than asked for; follow it. */
  private consumeConfirmed(consumer: Consumer, result: unknown): void {
    const consumers = this.topology.consumers;
    const r = typeof result === 'string' ? { consumerTag: result } : asRecord(result);
    if (typeof r.consumerTag === 'string' && r.consumerTag !== consumer.tag && consumers.get(consumer.tag) === consumer) {
      consumers.delete(consumer.tag);
      consumers.set(r.consumerTag, consumer);
      consumer.retag(r.consumerTag);
    }
  }

  /** Fetches one message, or null when the queue is empty. Settle it unless `noAck`. */
  get(queue: string, opts: { noAck?: boolean } = {}): Promise<Message | null> {
    const noAck = opts.noAck === true;
    let session: Session | undefined;
    return this.request(
      (w, requestId) => {
        session = this.link!.session;
        w.get(requestId, queue, opts);
      },
      (reply): Message | null => {
        if (typeof reply !== 'object' || reply === null || !(GET_OK_MARK in reply)) return null;
        const f = (reply as GetOkReply)[GET_OK_MARK];
        return new Delivery(session!, f.body, f.exchange, f.routingKey, f.properties, f.redelivered, f.deliveryCount, f.deliveryTag, undefined, noAck);
      },
    );
  }

  /** @internal Called by Consumer.cancel (and by close()). */
  async cancelConsumer(consumer: Consumer): Promise<void> {
    consumer.cancelRequested = true;
    const stop = (): void => {
      if (this.topology.consumers.get(consumer.tag) === consumer) this.topology.consumers.delete(consumer.tag);
      consumer.end(null, false);
    };
    for (;;) {
      if (consumer.isEnded) return;
      const link = this.link;
      // No link, or the broker never heard of it on this one: nothing to tell the broker.
      if (link === undefined || this.linkState === 'closed' || (!consumer.established && !consumer.consumeSent)) {
        stop();
        return;
      }
      if (this.linkState === 'recovering') {
        // Recovery skips (and stops) it; wait for the link to open, then look again.
        try {
          await this.whenOpen();
        } catch {
          stop();
          return;
        }
        continue;
      }
      try {
        // Unregister while the OK is dispatched: nothing after it is routed here.
        await this.sendRequest(link, (w, requestId) => w.cancel(requestId, consumer.tag), stop);
        return;
      } catch (err) {
        // The link died (the broker dropped the consumer with it) or the broker no longer knows it: cancelled either way.
        if (err instanceof ConnectionClosedError || (err instanceof WarrenError && err.code === ErrorCodes.NOT_FOUND)) {
          stop();
          return;
        }
        throw err;
      }
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
   * Closes gracefully, draining first: new calls reject at once; consumers
   * are cancelled (no new deliveries); running handler calls are awaited;
   * every publish made so far is awaited until confirmed or failed (while
   * reconnecting, the client keeps trying so buffered publishes go out);
   * then CLOSE is sent and CLOSE_OK awaited (up to `timeoutMs`). The drain
   * is bounded by `drainTimeoutMs` (default 30 s): past it, what is left
   * fails with ConnectionClosedError. Resolves once the connection is closed;
   * never rejects. Idempotent (later calls return the first call's promise).
   */
  close(opts: CloseOptions = {}): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    if (this.linkState === 'closed') return Promise.resolve();
    this.closing = true;
    this.closePromise = this.runClose(opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    return this.closePromise;
  }

  /** Same as {@link close} with its defaults: `await using conn = await connect(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async runClose(drainTimeoutMs: number): Promise<void> {
    let expired = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      if (Number.isFinite(drainTimeoutMs)) {
        timer = setTimeout(() => {
          expired = true;
          resolve();
        }, Math.max(0, drainTimeoutMs));
      }
    });
    const within = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.then(noop, noop), deadline]);
    const consumers = [...this.topology.consumers.values()];
    try {
      // Stop consuming, then let running handlers finish (they may still ack).
      await within(Promise.all(consumers.map((c) => this.cancelConsumer(c).catch(noop))));
      if (!expired) await within(Promise.all(consumers.map((c) => c.whenIdle())));
      if (!expired) await within(this.publisher.whenIdle());
    } finally {
      clearTimeout(timer);
    }
    if (this.linkState === 'closed') return;
    if (expired) {
      this.publisher.failAll(new ConnectionClosedError(`close(): not confirmed within the drain deadline of ${drainTimeoutMs} ms`));
    }
    const link = this.link;
    if (link === undefined) {
      this.finalize(undefined);
      return;
    }
    link.closeSent = true;
    // Acks still waiting for the end of this turn go before CLOSE; deliveries after CLOSE are
    // requeued by the server, so settling them is pointless.
    link.session.flushAcks();
    link.session.open = false;
    link.transport.writer.close(CLIENT_CLOSE);
    if (this.options.timeoutMs > 0) {
      timer = setTimeout(
        () => link.transport.destroy(new TimeoutError(`no CLOSE_OK within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
    }
    await this.closed;
    clearTimeout(timer);
  }

  private closedError(): ConnectionClosedError {
    const cause = this.closeReason;
    if (this.closing && this.linkState !== 'closed') return new ConnectionClosedError('connection is closing');
    return new ConnectionClosedError(cause === undefined ? 'connection is closed' : `connection is closed: ${cause.message}`, { cause });
  }

  // ---------------------------------------------------------------------------
  // Links, reconnection and recovery
  // ---------------------------------------------------------------------------

  private adoptLink(transport: Transport, openOk: OpenOkFrame): Link {
    const link: Link = { transport, session: new Session(transport.writer), requests: new RequestTable(), openOk, closeSent: false, graceful: false };
    this.link = link;
    this.lastOpenOk = openOk;
    transport.setHandlers({ frame: (f) => this.onFrame(link, f), close: (err) => this.onLinkClosed(link, err) });
    transport.setFrameMax(openOk.frameMax);
    transport.startHeartbeat(openOk.heartbeatMs);
    return link;
  }

  private onLinkClosed(link: Link, reason: WarrenError): void {
    if (link !== this.link) return;
    this.link = undefined;
    link.session.open = false;
    const wasOpen = this.linkState === 'open';
    const err = link.graceful ? undefined : reason;
    const failure =
      err === undefined
        ? new ConnectionClosedError(link.closeSent ? 'connection closed by the client' : 'connection closed by the server')
        : err instanceof ConnectionClosedError
          ? err
          : new ConnectionClosedError(`connection closed: ${err.message}`, { cause: err });
    link.requests.failAll(failure);
    if (this.linkState === 'closed') return;
    const retry = this.options.reconnect !== false && !link.closeSent && err !== undefined && err.retriable;
    if (!retry) {
      if (wasOpen && err !== undefined && !link.closeSent) this.setStatus({ type: 'disconnected', error: err, willReconnect: false });
      this.finalize(err);
      return;
    }
    this.linkState = 'reconnecting';
    this.lastLinkError = err;
    this.publisher.detach(failure);
    for (const consumer of this.topology.consumers.values()) consumer.linkLost();
    this.kvState.linkLost();
    if (wasOpen) this.setStatus({ type: 'disconnected', error: err, willReconnect: true });
    if (this.isBlocked) {
      this.isBlocked = false;
      this.setStatus({ type: 'unblocked' });
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const policy = this.options.reconnect;
    if (policy === false || this.linkState !== 'reconnecting') return;
    const attempt = ++this.reconnectAttempt;
    const last = this.lastLinkError ?? new ConnectionClosedError('connection lost');
    if (attempt > policy.maxRetries) {
      this.finalize(new ConnectionClosedError(`gave up reconnecting after ${attempt - 1} attempts: ${last.message}`, { cause: last }));
      return;
    }
    const delayMs = backoffDelay(attempt, policy);
    this.setStatus({ type: 'reconnecting', attempt, delayMs, error: last });
    if (this.linkState !== 'reconnecting') return; // a listener closed us
    this.reconnectTimer = setTimeout(() => this.attemptReconnect(), delayMs);
  }

  private attemptReconnect(): void {
    this.reconnectTimer = undefined;
    if (this.linkState !== 'reconnecting') return;
    const ac = new AbortController();
    this.connectAbort = ac;
    openLink(this.options, ac.signal, (transport, openOk) => {
      this.connectAbort = undefined;
      const link = this.adoptLink(transport, openOk);
      this.linkState = 'recovering';
      this.recover(link).catch((err: unknown) => {
        // A bug in recovery must not leave the connection half-open: drop the link and retry.
        link.transport.destroy(new ConnectionClosedError(`recovery failed: ${String(err)}`, { cause: err }));
      });
    }).then(undefined, (err: unknown) => {
      if (this.connectAbort === ac) this.connectAbort = undefined;
      if (this.linkState !== 'reconnecting') return;
      const e = err instanceof WarrenError ? err : new ConnectionClosedError(`reconnect failed: ${String(err)}`, { cause: err });
      this.lastLinkError = e;
      // Refused for good (bad credentials, unsupported version): retrying cannot help.
      if (!e.retriable) this.finalize(e);
      else this.scheduleReconnect();
    });
  }

  /**
   * Replays the recorded topology on a new link in dependency order, each
   * stage pipelined, then opens the link for publishes and waiting requests.
   * Items the broker refuses are reported and dropped; RESOURCE_LOCKED (the
   * broker has not yet noticed that our old socket is gone and still holds
   * its exclusive queue or consumer) drops the link to try again later.
   */
  private async recover(link: Link): Promise<void> {
    const topo = this.topology;
    const recoveryErrors: WarrenError[] = [];
    const failed = (item: RecoveryItem, drop: (err: WarrenError) => void) => (err: unknown): void => {
      if (this.link !== link || !(err instanceof WarrenError) || err instanceof ConnectionClosedError) throw LINK_GONE;
      if (err.code === ErrorCodes.RESOURCE_LOCKED) {
        link.transport.destroy(new ConnectionClosedError(`recovery: ${err.message}; retrying on a new connection`, { cause: err }));
        throw LINK_GONE;
      }
      drop(err);
      recoveryErrors.push(err);
      this.safeEmit('recoveryError', err, item);
    };
    const stage = async (jobs: Promise<unknown>[]): Promise<void> => {
      await Promise.all(jobs);
      if (this.link !== link) throw LINK_GONE;
    };
    try {
      await stage(
        [...topo.exchanges.values()].map((x) =>
          this.sendRequest(link, (w, requestId) => w.exchangeDeclare(requestId, x.name, x.type, x.options), noop).catch(
            failed({ kind: 'exchange', name: x.name }, () => topo.exchangeDeleted(x.name)),
          ),
        ),
      );
      await stage(
        [...topo.queues.values()].map((q) =>
          this.recoverQueue(link, q).catch(failed({ kind: 'queue', name: q.name }, () => this.dropQueue(q.name))),
        ),
      );
      const bindings = [...topo.bindings.values()];
      for (const kind of ['exchange', 'queue'] as const) {
        await stage(
          bindings
            .filter((b) => b.kind === kind)
            .map((b) =>
              this.sendRequest(link, (w, requestId) => sendBinding(w, kind === 'queue' ? FrameType.QUEUE_BIND : FrameType.EXCHANGE_BIND, b, requestId), noop).catch(
                failed(
                  { kind: 'binding', destinationKind: b.kind, destination: b.destination, source: b.source, routingKey: b.routingKey },
                  () => topo.unbound(b),
                ),
              ),
            ),
        );
      }
      const consumers: Consumer[] = [];
      for (const c of topo.consumers.values()) {
        if (!c.established || c.isEnded) continue; // not started yet: its own consume() call sends it
        if (c.cancelRequested || this.closing) {
          topo.consumers.delete(c.tag);
          c.end(null, true);
          continue;
        }
        consumers.push(c);
      }
      await stage(
        consumers.map((c) => {
          c.consumeSent = true;
          return this.sendRequest(link, (w, requestId) => w.consume(requestId, c.queue, c.options), (r) =>
            this.consumeConfirmed(c, r),
          ).catch(
            failed({ kind: 'consumer', tag: c.tag, queue: c.queue }, (err) => {
              if (topo.consumers.get(c.tag) === c) topo.consumers.delete(c.tag);
              c.end(err, true);
            }),
          );
        }),
      );
      const onLink: KvRequest = (send, map) => this.sendRequest(link, send, map);
      await stage(this.kvState.recoverBuckets(onLink, (name) => failed({ kind: 'kv-bucket', name }, noop)));
      await stage(this.kvState.recoverWatches(onLink, (w) => failed({ kind: 'kv-watch', bucket: w.bucket }, (err) => w.end(err))));
    } catch (err) {
      if (err === LINK_GONE) return;
      throw err;
    }
    this.linkOpened(link, recoveryErrors);
  }

  /** A server-named queue: keep the old name if the queue survived (passive check), else declare a new one. */
  private async recoverQueue(link: Link, q: QueueRecord): Promise<void> {
    const declare = (name: string, options: QueueDeclareOptions): Promise<QueueDeclareResult> =>
      this.sendRequest(link, (w, requestId) => w.queueDeclare(requestId, name, options), (r) => declareResult(r, name));
    if (!q.serverNamed) {
      await declare(q.name, q.options);
      return;
    }
    if (q.options.exclusive !== true) {
      try {
        await declare(q.name, { ...q.options, passive: true });
        return;
      } catch (err) {
        if (!(err instanceof WarrenError) || (err.code !== ErrorCodes.NOT_FOUND && err.code !== ErrorCodes.RESOURCE_LOCKED)) throw err;
      }
    }
    const { queue } = await declare('', q.options);
    if (queue !== q.name) this.renameQueue(q.name, queue);
  }

  private renameQueue(oldName: string, newName: string): void {
    this.topology.queueRenamed(oldName, newName);
    for (const c of this.topology.consumers.values()) if (c.queue === oldName) c.renameQueue(newName);
    this.safeEmit('queueRenamed', { oldName, newName });
  }

  private dropQueue(name: string): void {
    this.topology.queueDeleted(name);
  }

  /** Recovery done: publishes flow again, waiting requests go out. */
  private linkOpened(link: Link, recoveryErrors: WarrenError[]): void {
    if (this.link !== link || this.linkState !== 'recovering') return;
    this.linkState = 'open';
    const attempts = this.reconnectAttempt;
    this.reconnectAttempt = 0;
    this.lastLinkError = undefined;
    const frameMax = link.openOk.frameMax;
    this.publisher.rejectBuffered((e) => checkFrameSize(frameMax, e.exchange, e.routingKey, e.properties, e.body.length));
    this.publisher.attach(link.transport);
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.resolve();
    this.setStatus({ type: 'connected', connectionId: link.openOk.connectionId, reconnected: true, attempts, recoveryErrors });
  }

  /** Resolves when a link is open (at once if it is); rejects if the connection closes for good first. */
  private whenOpen(): Promise<void> {
    if (this.linkState === 'open') return Promise.resolve();
    if (this.linkState === 'closed') return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /** Closed for good: everything still waiting fails, consumers end, 'closed' is reported. */
  private finalize(err: WarrenError | undefined): void {
    if (this.linkState === 'closed') return;
    this.linkState = 'closed';
    this.closeReason = err;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.connectAbort?.abort();
    this.connectAbort = undefined;
    const failure =
      err === undefined
        ? new ConnectionClosedError(this.closing ? 'connection closed by the client' : 'connection closed by the server')
        : err instanceof ConnectionClosedError
          ? err
          : new ConnectionClosedError(`connection closed: ${err.message}`, { cause: err });
    const link = this.link;
    if (link !== undefined) {
      this.link = undefined;
      link.session.open = false;
      link.requests.failAll(failure);
      link.transport.destroy(failure);
    }
    this.publisher.failAll(failure);
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.reject(failure);
    for (const consumer of this.topology.consumers.values()) consumer.end(err === undefined ? null : failure, true);
    this.kvState.closed(err === undefined ? null : failure);
    this.resolveClosed(err ?? null);
    this.setStatus({ type: 'closed', error: err });
    this.safeEmit('close', err);
  }

  private setStatus(event: StatusEvent): void {
    this.statusStream.push(event);
    this.safeEmit(event.type, event as never);
  }

  // ---------------------------------------------------------------------------
  // Inbound frames
  // ---------------------------------------------------------------------------

  private onFrame(link: Link, frame: Frame): void {
    // After our CLOSE only CLOSE and CLOSE_OK matter (protocol-spec 4.5).
    if (link.closeSent && frame.type !== FrameType.CLOSE && frame.type !== FrameType.CLOSE_OK) return;
    switch (frame.type) {
      case FrameType.DELIVER: {
        const consumer = this.topology.consumers.get(frame.consumerTag);
        if (consumer === undefined) {
          // Raced a cancel: hand it back instead of leaving it unacked.
          if (link.session.open) link.session.reject(frame.deliveryTag, true);
          return;
        }
        consumer.deliver(
          new Delivery(
            link.session,
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
        link.requests.reply(frame.requestId, frame.result);
        return;
      case FrameType.KV_ENTRY:
        link.requests.reply(frame.requestId, { [KV_ENTRY_MARK]: frame } satisfies KvEntryReply);
        return;
      case FrameType.KV_EVENT:
      case FrameType.KV_WATCH_END:
        this.kvState.frame(frame);
        return;
      case FrameType.GET_OK:
        link.requests.reply(frame.requestId, { [GET_OK_MARK]: frame } satisfies GetOkReply);
        return;
      case FrameType.ERROR: {
        const err = remoteError(frame.code, frame.name, frame.message, frame.details);
        if (frame.requestId === 0 || !link.requests.fail(frame.requestId, err)) this.safeEmit('serverError', err);
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
        this.setStatus(frame.blocked ? { type: 'blocked', reason: frame.reason } : { type: 'unblocked' });
        return;
      case FrameType.HEARTBEAT:
        return;
      case FrameType.CLOSE: {
        // Crossing CLOSEs count as the close we asked for; code 0 is a normal close.
        if (link.closeSent || frame.code === 0) link.graceful = true;
        const err = remoteError(frame.code, frame.name, frame.message);
        link.transport.writer.closeOk();
        link.session.open = false;
        link.transport.end(err);
        return;
      }
      case FrameType.CLOSE_OK:
        if (link.closeSent) {
          link.graceful = true;
          link.transport.end(new ConnectionClosedError('connection closed by the client'));
        }
        return;
      default: {
        const err = new ProtocolError(ErrorCodes.COMMAND_INVALID, `unexpected frame 0x${frame.type.toString(16)} from the server`);
        link.transport.writer.close(err);
        link.transport.end(err);
      }
    }
  }

  /** A user request: rejected once closing; waits for the link while reconnecting. */
  private request<T>(build: SendRequest, map: ReplyMapper<T>): Promise<T> {
    if (this.closing || this.linkState === 'closed') return Promise.reject(this.closedError());
    return this.requestWhenOpen(build, map);
  }

  private requestWhenOpen<T>(build: SendRequest, map: ReplyMapper<T>): Promise<T> {
    const link = this.link;
    if (this.linkState === 'open' && link !== undefined) return this.sendRequest(link, build, map);
    return this.whenOpen().then(() => this.requestWhenOpen(build, map));
  }

  private sendRequest<T>(link: Link, send: SendRequest, map: ReplyMapper<T>): Promise<T> {
    const { id, promise } = link.requests.start(map);
    send(link.transport.writer, id);
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

/** Sends a request frame with the id it was given. */
type SendRequest = (writer: FrameWriter, requestId: number) => void;

const CLIENT_CLOSE = { code: 0, name: 'OK', message: 'closed by client' } as const;

/** QUEUE_BIND, QUEUE_UNBIND, EXCHANGE_BIND or EXCHANGE_UNBIND for a binding record. */
function sendBinding(w: FrameWriter, type: number, b: BindingRecord, requestId: number): void {
  if (type === FrameType.QUEUE_BIND) w.queueBind(requestId, b.destination, b.source, b.routingKey, b.arguments);
  else if (type === FrameType.QUEUE_UNBIND) w.queueUnbind(requestId, b.destination, b.source, b.routingKey, b.arguments);
  else if (type === FrameType.EXCHANGE_BIND) w.exchangeBind(requestId, b.destination, b.source, b.routingKey, b.arguments);
  else w.exchangeUnbind(requestId, b.destination, b.source, b.routingKey, b.arguments);
}

function declareResult(result: unknown, name: string): QueueDeclareResult {
  const r = asRecord(result);
  return {
    queue: typeof r.queue === 'string' ? r.queue : name,
    messageCount: count(r.messageCount),
    consumerCount: count(r.consumerCount),
  };
}

function asArray<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
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
 * `p`, or AbortError / TimeoutError if `signal` fires or `timeoutMs` passes
 * first; `onGiveUp` then undoes what `p` was doing. `p` is always observed,
 * so its late rejection is never unhandled.
 */
function withLimits<T>(p: Promise<T>, signal: AbortSignal | undefined, timeoutMs: number | undefined, what: string, onGiveUp: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const giveUp = (err: WarrenError): void => {
      if (!finish()) return;
      reject(err);
      onGiveUp();
    };
    const onAbort = (): void => giveUp(new AbortError(signal!.reason));
    if (timeoutMs !== undefined && timeoutMs > 0) timer = setTimeout(() => giveUp(new TimeoutError(`${what} within ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        if (finish()) resolve(v);
      },
      (err: unknown) => {
        if (finish()) reject(err);
      },
    );
  });
}

/**
 * TCP connect, OPEN, then OPEN_OK (or the server's ERROR, as a typed
 * rejection). On OPEN_OK, `adopt` is called synchronously, inside the frame
 * dispatch, so frames right behind OPEN_OK reach whatever handlers it
 * installs. `options.timeoutMs` bounds the whole handshake (TimeoutError);
 * `signal` aborts it (AbortError with `cause` = signal.reason).
 */
function openLink(options: ResolvedOptions, signal: AbortSignal | undefined, adopt: (transport: Transport, openOk: OpenOkFrame) => void): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => fail(new AbortError(signal!.reason), true);
    const fail = (err: WarrenError, destroy: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (destroy) transport.destroy(err);
      else transport.end(err);
      reject(err);
    };
    const transport = new Transport(options.host, options.port, {
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
            try {
              adopt(transport, frame);
            } catch (err) {
              transport.destroy(new ConnectionClosedError(`internal client error: ${String(err)}`, { cause: err }));
              reject(err);
              return;
            }
            resolve();
            return;
          }
          case FrameType.ERROR:
            fail(remoteError(frame.code, frame.name, frame.message, frame.details), false);
            return;
          case FrameType.CLOSE:
            transport.writer.closeOk();
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
    transport.rawSocket.once('connect', () => {
      const properties: Record<string, unknown> = {
        product: 'warren-client',
        version: CLIENT_VERSION,
        platform: `Node.js ${process.version}`,
        ...options.properties,
      };
      if (options.name !== undefined) properties.name = options.name;
      const credentials = { mechanism: 'PLAIN', username: options.username, password: options.password } as const;
      transport.writer.open(PROTOCOL_VERSION, properties, credentials, options.frameMax, options.heartbeatMs);
    });
  });
}

/**
 * Opens a connection: TCP connect, OPEN, then OPEN_OK (or the server's ERROR,
 * as a typed rejection). This first connect is not retried: it fails fast
 * (ConnectionClosedError when nothing listens, the server's error when it
 * refuses). `timeoutMs` bounds the handshake (TimeoutError); `signal` aborts
 * it (AbortError, `cause` = signal.reason). Once connected, the connection
 * reconnects by itself (see {@link ConnectOptions.reconnect}).
 *
 * @example
 * const conn = await connect('warren://guest:guest@127.0.0.1:5680');
 * conn.on('reconnecting', (e) => log.warn(`broker link lost: ${e.error.message}; retry #${e.attempt} in ${e.delayMs} ms`));
 */
export function connect(url?: string | ConnectOptions): Promise<Connection> {
  let options: ResolvedOptions;
  try {
    options = resolveOptions(url);
  } catch (err) {
    return Promise.reject(err);
  }
  let conn: Connection | undefined;
  return openLink(options, options.signal, (transport, openOk) => {
    conn = new Connection(transport, options, openOk);
  }).then(() => conn!);
}
