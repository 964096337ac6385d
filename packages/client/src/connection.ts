/**
 * The public Connection: topology and management requests, publish, consume,
 * get, the draining close, events and status. What it is built from:
 *
 * - handshake.ts   opens a link (TCP connect, OPEN, OPEN_OK);
 * - link.ts        what a link is, and the link state machine (linkTransition);
 * - link-keeper.ts keeps the connection linked: reconnects with back-off,
 *                  recovers, opens the new link, or closes for good;
 * - recovery.ts    replays the recorded topology (topology.ts) on a new link;
 * - inbound.ts     what every frame from the server does;
 * - publisher.ts, session.ts, requests.ts: publishes with confirms, acks,
 *                  request/reply matching, on top of transport.ts.
 *
 * A Connection outlives its sockets: what belongs to one socket is a Link;
 * options, recorded topology, consumers, the publish buffer and the status
 * stream live here. On a new link the topology is replayed first, then the
 * publisher re-attaches (re-sending what was in flight), then the requests
 * made meanwhile run.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  ErrorCodes,
  FrameType,
  WarrenError,
  errors,
  type Arguments,
  type BindingInfo,
  type BrokerStatus,
  type ExchangeDeclareOptions,
  type ExchangeInfo,
  type ExchangeType,
  type Frame,
  type MessageProperties,
  type OpenOkFrame,
  type QueueDeclareOptions,
  type QueueDeclareResult,
  type QueueInfo,
  type StreamInfo,
} from '@warren/protocol';
import { Consumer, type ConsumeOptions, type ConsumerHost, type MessageHandler } from './consumer.js';
import { AbortError, ConnectionClosedError, TimeoutError, type ReturnedMessage } from './errors.js';
import { openLink } from './handshake.js';
import { withLimits } from './limits.js';
import { dispatchFrame, getOkOf, type InboundTarget } from './inbound.js';
import { sendRequest, type SendRequest } from './link.js';
import { LinkKeeper, type LinkOwner } from './link-keeper.js';
import { Delivery, type Message } from './message.js';
import { encodeValue, withContentType } from './codec.js';
import { KvRegistry, type KvBucket, type KvBucketInfo, type KvBucketOptions } from './kv.js';
import type { Session } from './session.js';
import { Vhosts } from './vhosts.js';
import { Users } from './users.js';
import { resolveOptions, type ConnectOptions, type ResolvedOptions } from './options.js';
import { checkFrameSize, checkProperties } from './publish-checks.js';
import { ANY_REQUEST_ID, headerShapeError } from './request-checks.js';
import { Publisher, type PublishLimits } from './publisher.js';
import { recoverTopology, type RecoveryTarget } from './recovery.js';
import { asArray, asRecord, declareResult, messageCountOf } from './replies.js';
import type { ReplyMapper } from './requests.js';
import { StatusStream, type QueueRenamedEvent, type RecoveryItem, type StatusEvent, type ConnectedEvent, type DisconnectedEvent, type ReconnectingEvent, type BlockedEvent, type UnblockedEvent, type ClosedEvent } from './status.js';
import { Topology, sendBinding, type BindingRecord } from './topology.js';
import type { Transport } from './transport.js';
import {
  StreamConsumer,
  StreamConsumers,
  subscribeOptions,
  type StreamConsumeOptions,
  type StreamConsumerHost,
  type StreamMessageHandler,
} from './stream-consumer.js';

export { CLIENT_VERSION } from './handshake.js';

/**
 * What publish() takes: bytes (copied at the call) and strings are sent as they are; any other
 * value (an object, an array, a number, ...) is encoded by the connection's
 * codec (JSON unless `connect({ codec })` names another).
 */
export type PublishBody = Buffer | Uint8Array | string | object | number | boolean | null;

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

/** Options for {@link Connection.send}: message properties plus `mandatory` (a returned message is reported by the 'return' and 'sendFailed' events). */
export type SendOptions = MessageProperties & { mandatory?: boolean };

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
  /**
   * A fire-and-forget {@link Connection.send} was not confirmed: the broker
   * nacked or returned it, or the connection failed before its confirm (with
   * `publishRecovery: 'reject'`, or closed for good). Once per such message.
   */
  sendFailed: [err: unknown];
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

const noop = (): void => {};

const CLIENT_CLOSE = { code: 0, name: 'OK', message: 'closed by client' } as const;

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
export class Connection extends EventEmitter<ConnectionEvents> implements ConsumerHost, StreamConsumerHost {
  /** Resolves when the connection closes for good: null after a normal close, else the reason. Never rejects. */
  readonly closed: Promise<WarrenError | null>;

  private closing = false;
  private readonly options: ResolvedOptions;
  private readonly links: LinkKeeper;
  private readonly publisher: Publisher;
  private readonly topology = new Topology();
  private readonly kvState = new KvRegistry((send, map) => this.request(send, map));
  /**
   * Users, permissions and user limits (protocol-spec 8.8; the broker's
   * `access` capability): `conn.users.add(...)`, `setPermissions(...)`, ...
   */
  readonly users = new Users((send, map) => this.request(send, map));
  /**
   * Virtual hosts and their limits (protocol-spec 8.9; the broker's `vhosts`
   * capability): `conn.vhosts.add('prod')`, `list()`, `setLimits(...)`, ...
   */
  readonly vhosts = new Vhosts((send, map) => this.request(send, map));
  private readonly statusStream = new StatusStream();
  private readonly clientId = randomBytes(6).toString('base64url');
  private closePromise: Promise<void> | undefined;
  private isBlocked = false;
  private consumerCount = 0;
  /** Stream subscriptions of the current link (they end with it). */
  private readonly streamConsumers = new StreamConsumers();
  private streamConsumerCount = 0;
  private warnedNoHandlerErrorListener = false;
  private resolveClosed!: (err: WarrenError | null) => void;

  /** @internal Use {@link connect}. */
  constructor(transport: Transport, options: ResolvedOptions, openOk: OpenOkFrame) {
    super();
    this.options = options;
    this.publisher = new Publisher({
      window: options.publishWindow,
      maxBuffered: options.maxBufferedPublishes,
      whenFull: options.whenBufferFull,
      recovery: options.publishRecovery,
      onSendFailed: (err) => this.safeEmit('sendFailed', err),
    });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.links = new LinkKeeper(this.linkOwner(), transport, openOk);
    this.publisher.attach(transport);
    this.setStatus({ type: 'connected', connectionId: openOk.connectionId, reconnected: false, attempts: 0, recoveryErrors: [] });
  }

  /** Assigned by the server to the current (or last) link; shows up in its logs and management tools. Changes on reconnect. */
  get connectionId(): string {
    return this.links.lastOpenOk.connectionId;
  }

  /** What the server said about itself in OPEN_OK (product, version, ...), on the current (or last) link. */
  get serverProperties(): Record<string, unknown> {
    return this.links.lastOpenOk.properties;
  }

  /** The negotiated largest frame, in bytes, prelude and header included (current or last link). */
  get frameMax(): number {
    return this.links.lastOpenOk.frameMax;
  }

  /** The negotiated heartbeat interval in ms (0 = none), current or last link. */
  get heartbeatMs(): number {
    return this.links.lastOpenOk.heartbeatMs;
  }

  /** True while the server has flow-blocked publishers (see the 'blocked' event). */
  get blocked(): boolean {
    return this.isBlocked;
  }

  /** True while a link is up and its topology recovered (publishes go straight out). */
  get isConnected(): boolean {
    return this.links.state === 'open';
  }

  /** Publishes accepted but not yet written to a socket: never more than `maxBufferedPublishes`. */
  get bufferedPublishes(): number {
    return this.publisher.buffered;
  }

  /** `whenBufferFull: 'wait'`: publishes that found the buffer full and wait for room in it (at most `maxBufferedPublishes`). */
  get waitingPublishes(): number {
    return this.publisher.waiting;
  }

  /** True when the publish buffer has room: a publish or send made now does not wait (see {@link writable}). */
  get writableNow(): boolean {
    return this.publisher.hasRoom;
  }

  /**
   * The back-pressure signal for producers that do not await each publish:
   * resolves when the publish buffer has room (at once when it has), rejects
   * when the connection has closed for good. `await conn.writable()` before
   * each publish or send keeps the client's memory bounded by
   * `maxBufferedPublishes` + `publishWindow` messages at full speed.
   */
  writable(): Promise<void> {
    if (this.closing || this.links.state === 'closed') return Promise.reject(this.closedError());
    return this.publisher.writable();
  }

  /** Resolves once nothing is buffered or unconfirmed: every publish and send so far is settled. */
  flushPublishes(): Promise<void> {
    return this.publisher.whenIdle();
  }

  /** @internal */
  get [kTopology](): Topology {
    return this.topology;
  }

  /** @internal For tests: the current link's transport. */
  private get transport(): Transport | undefined {
    return this.links.current?.transport;
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
    const refused = headerShapeError({ type: FrameType.EXCHANGE_DECLARE, requestId: ANY_REQUEST_ID, exchange: name, exchangeType: type, options: opts }, `declareExchange('${name}')`);
    if (refused !== undefined) return Promise.reject(refused);
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
    const refused = headerShapeError({ type: FrameType.QUEUE_DECLARE, requestId: ANY_REQUEST_ID, queue: name, options: opts }, `declareQueue('${name}')`);
    if (refused !== undefined) return Promise.reject(refused);
    return this.request(
      (w, requestId) => w.queueDeclare(requestId, name, opts),
      (result) => {
        const declared = declareResult(result, name);
        this.topology.queueDeclared(declared.queue, opts, name === '');
        return declared;
      },
    );
  }

  /**
   * Declares a stream (protocol-spec 8.6): a durable, append-only log that exchanges
   * route to like a queue and that any number of consumers read from any offset.
   * `maxAge` (ms, or a string such as '7d', '12h', '30m') and `maxLengthBytes` set
   * retention; whole segments of `segmentBytes` are deleted from the old end.
   */
  declareStream(name: string, opts: { maxAge?: number | string; maxLengthBytes?: number; segmentBytes?: number } = {}): Promise<QueueDeclareResult> {
    const args: Arguments = { 'x-queue-type': 'stream' };
    try {
      if (opts.maxAge !== undefined) args['x-max-age'] = durationMs(opts.maxAge);
    } catch (err) {
      return Promise.reject(err);
    }
    if (opts.maxLengthBytes !== undefined) args['x-max-length-bytes'] = opts.maxLengthBytes;
    if (opts.segmentBytes !== undefined) args['x-stream-segment-bytes'] = opts.segmentBytes;
    return this.declareQueue(name, { durable: true, arguments: args });
  }

  /** Deletes a stream with everything stored in it. */
  deleteStream(name: string): Promise<void> {
    return this.deleteQueue(name).then(() => undefined);
  }

  /**
   * Reads a stream from `offset` ('first', 'last', 'next' (default), a number or a
   * Date) or, for a named consumer, after its last committed offset. With a handler,
   * messages are passed to it one at a time, in order; without one, iterate the
   * returned consumer with `for await`. See {@link StreamConsumer}. After a reconnect
   * it subscribes again by itself and carries on after the last message it handed out.
   */
  consumeStream(stream: string, handler: StreamMessageHandler, opts?: StreamConsumeOptions): Promise<StreamConsumer>;
  consumeStream(stream: string, opts?: StreamConsumeOptions): Promise<StreamConsumer>;
  async consumeStream(stream: string, a?: StreamMessageHandler | StreamConsumeOptions, b?: StreamConsumeOptions): Promise<StreamConsumer> {
    const handler = typeof a === 'function' ? a : undefined;
    const opts = (typeof a === 'function' ? b : a) ?? {};
    if (opts.autoCommit && opts.name === undefined) throw errors.invalidArgument('autoCommit needs a consumer name');
    this.requireStreams();
    const consumer = new StreamConsumer(stream, opts, this, handler);
    consumer.tag = opts.consumerTag ?? `stag-${this.clientId}-${++this.streamConsumerCount}`;
    if (this.streamConsumers.has(consumer.tag)) throw errors.preconditionFailed(`stream consumer tag "${consumer.tag}" is already in use on this connection`);
    const refused = headerShapeError({ type: FrameType.STREAM_SUBSCRIBE, requestId: ANY_REQUEST_ID, stream, options: { ...subscribeOptions(opts), consumerTag: consumer.tag } }, `consumeStream('${stream}')`);
    if (refused !== undefined) throw refused;
    // Registered before STREAM_SUBSCRIBE goes out, so no delivery can miss it.
    this.streamConsumers.add(consumer);
    try {
      const options = { ...subscribeOptions(opts), consumerTag: consumer.tag };
      const result = await this.request((w, requestId) => w.streamSubscribe(requestId, stream, options), asRecord);
      consumer.startOffset = typeof result.offset === 'number' ? result.offset : null;
      consumer.subscribed = true;
      return consumer;
    } catch (err) {
      this.streamConsumers.remove(consumer);
      consumer.end(err instanceof WarrenError ? err : null);
      throw err;
    }
  }

  /** Stores `offset` as the last processed offset of the named consumer `name` on `stream` (durably). */
  commitStreamOffset(stream: string, name: string, offset: number): Promise<void> {
    return this.request((w, requestId) => w.streamCommit(requestId, stream, name, offset), () => undefined);
  }

  /** A stream's offsets, size, retention and named consumers with their committed offset and lag. */
  streamInfo(stream: string): Promise<StreamInfo> {
    this.requireStreams();
    return this.request((w, requestId) => w.streamInfo(requestId, stream), (r) => r as StreamInfo);
  }

  /** Every stream, as {@link streamInfo} describes it. */
  listStreams(): Promise<StreamInfo[]> {
    this.requireStreams();
    return this.request((w, requestId) => w.streamList(requestId), asArray<StreamInfo>);
  }

  /** @internal Called by stream consumers as they process messages. */
  grantCredit(tag: string, credit: number): void {
    const link = this.links.current;
    if (link !== undefined && this.links.state === 'open' && this.streamConsumers.has(tag)) link.transport.writer.streamCredit(tag, credit);
  }

  /** @internal Called by StreamConsumer.cancel. */
  async unsubscribeStream(consumer: StreamConsumer): Promise<void> {
    if (!this.streamConsumers.remove(consumer)) return;
    const link = this.links.current;
    if (link === undefined || this.links.state !== 'open') return;
    await sendRequest(link, (w, requestId) => w.streamUnsubscribe(requestId, consumer.tag), () => undefined).catch(() => undefined);
  }

  private requireStreams(): void {
    if (asRecord(this.serverProperties['capabilities'])['streams'] !== true) {
      throw new WarrenError(ErrorCodes.NOT_IMPLEMENTED, 'this server does not support streams');
    }
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
    // The four binding frames share one layout: arguments are the header's fifth field.
    const frame = { type, requestId: ANY_REQUEST_ID, routingKey, arguments: record.arguments, ...(kind === 'queue' ? { queue: destination, exchange: source } : { destination, source }) };
    const refused = headerShapeError(frame as Frame, `${bind ? 'bind' : 'unbind'}${kind === 'queue' ? 'Queue' : 'Exchange'}('${destination}', '${source}')`);
    if (refused !== undefined) return Promise.reject(refused);
    return this.request(
      (w, requestId) => sendBinding(w, bind, record, requestId),
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
   * in the publish buffer, in call order. The buffer holds at most
   * `maxBufferedPublishes`; when it is full, 'reject' fails the publish at
   * once and 'wait' keeps it pending in a waiting line of at most as many
   * again (beyond that: PublishBufferFullError). A producer that does not
   * await each publish awaits {@link writable} instead. Properties are checked
   * first (INVALID_ARGUMENT) because a mistyped one would cost the connection.
   *
   * Body ownership: a Buffer or Uint8Array body is copied before publish()
   * returns, so you may reuse or change yours at once; the message sent (and
   * re-sent after a reconnect) is what the body held at the call. With
   * `connect({ copyPublishBodies: false })` publish() takes ownership
   * instead: leave the body unchanged until the promise settles.
   */
  publish(exchange: string, routingKey: string, body: PublishBody, opts?: PublishOptions): Promise<void> {
    if (this.closing || this.links.state === 'closed') return Promise.reject(this.closedError());
    const buf = this.bodyOf(body);
    if (buf instanceof WarrenError) return Promise.reject(buf);
    if (!Buffer.isBuffer(body) && !(body instanceof Uint8Array) && typeof body !== 'string') opts = withContentType(opts, this.options.codec.contentType);
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
      checkFrameSize(this.links.lastOpenOk.frameMax, exchange, routingKey, properties, buf.length);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.publisher.publish(exchange, routingKey, buf, properties, mandatory, limits);
  }

  /**
   * Fire-and-forget publish, for messages that need no confirm: no promise,
   * nothing allocated for the outcome. Returns true while the publish buffer
   * has room for more, false when you should `await conn.writable()` before
   * the next one; a send made anyway on a full buffer throws
   * PublishBufferFullError (nothing sent). The broker still confirms it on
   * the wire and the client keeps it until then, so a send is re-sent after a
   * reconnect like a publish (`publishRecovery`); one that fails is reported
   * by the 'sendFailed' event. The body is copied, as for publish().
   * Throws at once what publish() would reject with before sending
   * (INVALID_ARGUMENT, MessageTooLargeError, ConnectionClosedError).
   */
  send(exchange: string, routingKey: string, body: PublishBody, opts?: SendOptions): boolean {
    if (this.closing || this.links.state === 'closed') throw this.closedError();
    const buf = this.bodyOf(body);
    if (buf instanceof WarrenError) throw buf;
    if (!Buffer.isBuffer(body) && !(body instanceof Uint8Array) && typeof body !== 'string') opts = withContentType(opts, this.options.codec.contentType);
    let properties: MessageProperties | null = null;
    let mandatory = false;
    if (opts !== undefined) {
      if (opts.mandatory !== undefined) {
        const { mandatory: m, ...rest } = opts;
        mandatory = m === true;
        properties = rest;
      } else properties = opts;
    }
    const invalid =
      (properties === null ? undefined : checkProperties(properties)) ??
      checkFrameSize(this.links.lastOpenOk.frameMax, exchange, routingKey, properties, buf.length);
    if (invalid !== undefined) throw invalid;
    return this.publisher.send(exchange, routingKey, buf, properties, mandatory);
  }

  /** The bytes to send: a copy of a Buffer/Uint8Array (the caller may reuse theirs), a string's UTF-8, or the codec's encoding. */
  private bodyOf(body: PublishBody): Buffer | WarrenError {
    if (body instanceof Uint8Array) {
      if (this.options.copyPublishBodies) return Buffer.from(body); // a copy, Buffers included
      return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    }
    if (typeof body === 'string') return Buffer.from(body, 'utf8');
    // Any other value: the connection's codec (JSON by default).
    return encodeValue(body, this.options.codec);
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
    if (this.closing || this.links.state === 'closed') return Promise.reject(this.closedError());
    const handler = typeof a === 'function' ? a : undefined;
    const { signal, timeoutMs, ...wire } = (typeof a === 'function' ? b : a) ?? {};
    if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      return Promise.reject(errors.invalidArgument('timeoutMs must be a non-negative number'));
    }
    // The client picks the tag and registers the consumer before sending
    // CONSUME, so deliveries that race the reply still find it.
    const tag = wire.consumerTag ?? `ctag-${this.clientId}-${++this.consumerCount}`;
    const refused = headerShapeError({ type: FrameType.CONSUME, requestId: ANY_REQUEST_ID, queue, options: { ...wire, consumerTag: tag } }, `consume('${queue}')`);
    if (refused !== undefined) return Promise.reject(refused);
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
      const link = this.links.current;
      if (this.links.state !== 'open' || link === undefined) return this.whenOpen().then(send);
      consumer.consumeSent = true;
      return sendRequest(
        link,
        (w, requestId) => w.consume(requestId, consumer.queue, consumer.options),
        (result) => {
          this.topology.consumeConfirmed(consumer, result);
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

  /** Fetches one message, or null when the queue is empty. Settle it unless `noAck`. */
  get(queue: string, opts: { noAck?: boolean } = {}): Promise<Message | null> {
    const noAck = opts.noAck === true;
    let session: Session | undefined;
    return this.request(
      (w, requestId) => {
        session = this.links.current!.session;
        w.get(requestId, queue, opts);
      },
      (reply): Message | null => {
        const f = getOkOf(reply);
        if (f === undefined) return null;
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
      const link = this.links.current;
      // No link, or the broker never heard of it on this one: nothing to tell the broker.
      if (link === undefined || this.links.state === 'closed' || (!consumer.established && !consumer.consumeSent)) {
        stop();
        return;
      }
      if (this.links.state === 'recovering') {
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
        await sendRequest(link, (w, requestId) => w.cancel(requestId, consumer.tag), stop);
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
    if (this.links.state === 'closed') return Promise.resolve();
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
    if (this.links.state === 'closed') return;
    if (expired) {
      this.publisher.failAll(new ConnectionClosedError(`close(): not confirmed within the drain deadline of ${drainTimeoutMs} ms`));
    }
    const link = this.links.current;
    if (link === undefined) {
      this.links.close(undefined);
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
    const cause = this.links.closeReason;
    if (this.closing && this.links.state !== 'closed') return new ConnectionClosedError('connection is closing');
    return new ConnectionClosedError(cause === undefined ? 'connection is closed' : `connection is closed: ${cause.message}`, { cause });
  }

  /** Resolves when a link is open (at once if it is); rejects if the connection closes for good first. */
  private whenOpen(): Promise<void> {
    return this.links.whenOpen(() => this.closedError());
  }

  /** What the LinkKeeper's state changes mean here: publisher, consumers, status events. */
  private linkOwner(): LinkOwner {
    const conn = this;
    const recovery: RecoveryTarget = {
      topology: this.topology,
      kv: this.kvState,
      streams: this.streamConsumers,
      get closing() {
        return conn.closing;
      },
      isCurrent: (link) => this.links.current === link,
      recoveryError: (err, item) => this.safeEmit('recoveryError', err, item),
      queueRenamed: (oldName, newName) => {
        this.topology.queueRenamedWithConsumers(oldName, newName);
        this.safeEmit('queueRenamed', { oldName, newName });
      },
    };
    const inbound: InboundTarget = {
      topology: this.topology,
      kv: this.kvState,
      publisher: this.publisher,
      streams: this.streamConsumers,
      flow: (blocked, reason) => this.flow(blocked, reason),
      serverError: (err) => this.safeEmit('serverError', err),
      returned: (msg) => this.safeEmit('return', msg),
    };
    return {
      options: this.options,
      get closing() {
        return conn.closing;
      },
      frame: (link, frame) => dispatchFrame(inbound, link, frame),
      recover: (link) => recoverTopology(recovery, link),
      attached: (link) => {
        const frameMax = link.openOk.frameMax;
        this.publisher.rejectBuffered((e) => checkFrameSize(frameMax, e.exchange, e.routingKey, e.properties, e.body.length));
        this.publisher.attach(link.transport);
      },
      lost: (err, failure, wasOpen) => {
        this.publisher.detach(failure);
        this.streamConsumers.linkLost();
        for (const consumer of this.topology.consumers.values()) consumer.linkLost();
        this.kvState.linkLost();
        if (wasOpen) this.setStatus({ type: 'disconnected', error: err, willReconnect: true });
        if (this.isBlocked) {
          this.isBlocked = false;
          this.setStatus({ type: 'unblocked' });
        }
      },
      publishesFail: (failure) => this.publisher.failAll(failure),
      closedForGood: (err, failure) => {
        for (const consumer of this.topology.consumers.values()) consumer.end(err === undefined ? null : failure, true);
        this.streamConsumers.endAll(err === undefined ? null : failure);
        this.kvState.closed(err === undefined ? null : failure);
        this.resolveClosed(err ?? null);
        this.setStatus({ type: 'closed', error: err });
        this.safeEmit('close', err);
      },
      status: (event) => this.setStatus(event),
    };
  }

  /** FLOW from the server: publishes wait while it does not read them. */
  private flow(blocked: boolean, reason: string): void {
    if (blocked === this.isBlocked) return;
    this.isBlocked = blocked;
    this.publisher.setBlocked(blocked);
    this.setStatus(blocked ? { type: 'blocked', reason } : { type: 'unblocked' });
  }

  private setStatus(event: StatusEvent): void {
    this.statusStream.push(event);
    this.safeEmit(event.type, event as never);
  }

  /** A user request: rejected once closing; waits for the link while reconnecting. */
  private request<T>(build: SendRequest, map: ReplyMapper<T>): Promise<T> {
    if (this.closing || this.links.state === 'closed') return Promise.reject(this.closedError());
    return this.requestWhenOpen(build, map);
  }

  private requestWhenOpen<T>(build: SendRequest, map: ReplyMapper<T>): Promise<T> {
    const link = this.links.current;
    if (this.links.state === 'open' && link !== undefined) return sendRequest(link, build, map);
    return this.whenOpen().then(() => this.requestWhenOpen(build, map));
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

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in ms from a number of ms or a string such as '7d', '12h', '30m', '10s', '500ms'. */
function durationMs(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)\s*(ms|s|m|h|d)$/i.exec(v.trim());
  if (m === null) throw errors.invalidArgument(`'${v}' is not a duration such as '7d', '12h', '30m', '10s' or '500ms'`);
  return Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!;
}
