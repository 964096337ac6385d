/**
 * One client connection: handshake, request dispatch, the publish path with
 * confirms, deliveries and acks, heartbeats and flow control.
 *
 * Requests fail with an ERROR frame carrying their id and the connection goes
 * on; only protocol violations (bad bytes, a frame not allowed in this state)
 * end it, after an ERROR and a CLOSE.
 */
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  ARENA_COPY_BELOW,
  ErrorCodes,
  FrameDecoder,
  ReadArena,
  adoptArenaReads,
  FrameType,
  FrameWriter,
  PRE_AUTH_FRAME_MAX,
  PROTOCOL_VERSION,
  ProtocolError,
  PublishFlags,
  WarrenError,
  errors,
  type Frame,
  type OpenFrame,
  type PublishFrame,
} from '@warren/protocol';
import { ConfirmTracker } from './confirms.js';
import { newMessage, type QueuedMessage } from './message.js';
import { Consumer, type DeliverySink, type Queue } from './queue.js';
import type { BrokerContext } from './context.js';

const enum State {
  AwaitOpen,
  Authenticating,
  Open,
  Closing,
  Closed,
}

interface Delivery {
  readonly queue: Queue;
  readonly qm: QueuedMessage;
  readonly consumer: Consumer | null;
  /** When it was delivered, for x-consumer-timeout; 0 when the queue has none. */
  readonly at: number;
}

interface StreamWait {
  left: number;
  err: WarrenError | null;
}

/** How often unacked deliveries are checked against their queue's x-consumer-timeout. */
const ACK_TIMEOUT_SWEEP_MS = 100;

/** Socket bytes pending above which deliveries to this connection wait for 'drain'. */
const WRITE_HIGH_WATER = 1024 * 1024;
/** Unconfirmed publishes above which we stop reading this publisher's socket. */
const MAX_OUTSTANDING_PUBLISHES = 16_384;

export class Connection implements DeliverySink {
  readonly id = randomUUID();
  private state = State.AwaitOpen;
  private readonly decoder = new FrameDecoder(PRE_AUTH_FRAME_MAX, { copyBodiesBelow: ARENA_COPY_BELOW });
  private readonly writer: FrameWriter;
  private readonly confirms: ConfirmTracker;
  private readonly deliveries = new Map<number, Delivery>();
  private nextDeliveryTag = 1;
  private readonly consumers = new Map<string, Consumer>();
  /** Publishes routed to streams, waiting for their appends (and the rest of their route) to be durable. */
  private readonly streamWaits = new Map<number, StreamWait>();
  private consumerCounter = 0;
  /** Queues touched by one multiple-ack, drained once at the end. */
  private readonly touched = new Set<Queue>();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatMs = 0;
  private ackTimeoutTimer: NodeJS.Timeout | undefined;
  private sentSinceTick = false;
  private silentTicks = 0;
  private congested = false;
  /** Reasons we stopped reading the socket; reads resume when none is left. */
  private readonly pauses = new Set<string>();
  /** Set once this connection has published: only publishers are blocked by alarms. */
  private isPublisher = false;
  username = '';
  readonly remoteAddress: string;
  readonly connectedAt = Date.now();
  clientProperties: Record<string, unknown> = {};
  published = 0;
  delivered = 0;
  /** Reads land in arenas (ReadArena); false when this Node only allowed 'data' events. */
  readonly readsIntoArenas: boolean;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: BrokerContext,
  ) {
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.writer = new FrameWriter(socket);
    this.confirms = new ConfirmTracker({
      confirm: (seq, multiple) => this.writer.sendRaw(FrameType.CONFIRM, [seq, multiple]),
    });
    socket.setNoDelay(true);
    // The server accepts paused (pauseOnConnect): reads start here, into arenas where Node allows it.
    const onData = (chunk: Buffer): void => this.onData(chunk);
    this.readsIntoArenas = adoptArenaReads(socket, new ReadArena(this.decoder, onData));
    if (!this.readsIntoArenas) socket.on('data', onData);
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => this.ctx.logger.debug({ conn: this.id, err: err.message }, 'socket error'));
    socket.on('close', () => this.onClose());
    this.handshakeTimer = setTimeout(() => {
      if (this.state === State.AwaitOpen || this.state === State.Authenticating) {
        this.fail(new WarrenError(ErrorCodes.TIMEOUT, `handshake not completed within ${this.ctx.options.handshakeTimeoutMs} ms`));
      }
    }, this.ctx.options.handshakeTimeoutMs);
  }

  // -- input -----------------------------------------------------------------

  private readonly onFrameBound = (frame: Frame) => this.onFrame(frame);

  private onData(chunk: Buffer): void {
    this.silentTicks = 0;
    if (this.state === State.Closed) return;
    try {
      this.decoder.push(chunk, this.onFrameBound);
    } catch (err) {
      if (err instanceof ProtocolError) this.fail(err);
      else this.internalError(err);
    }
  }

  private onFrame(frame: Frame): void {
    switch (this.state) {
      case State.AwaitOpen:
        if (frame.type !== FrameType.OPEN) throw errors.commandInvalid(`expected OPEN, got frame type ${frame.type}`);
        this.state = State.Authenticating;
        void this.handshake(frame);
        return;
      case State.Authenticating:
        throw errors.commandInvalid('frame received before OPEN_OK');
      case State.Closing:
        if (frame.type === FrameType.CLOSE_OK || frame.type === FrameType.CLOSE) this.socket.end();
        return;
      case State.Closed:
        return;
      case State.Open:
        break;
    }
    switch (frame.type) {
      case FrameType.PUBLISH:
        return this.onPublish(frame);
      case FrameType.ACK:
        return this.onAck(frame.deliveryTag, frame.multiple);
      case FrameType.NACK:
        return this.onNack(frame.deliveryTag, frame.multiple, frame.requeue);
      case FrameType.REJECT:
        return this.onNack(frame.deliveryTag, false, frame.requeue);
      case FrameType.HEARTBEAT:
        return;
      case FrameType.STREAM_CREDIT:
        this.ctx.streams?.credit(this, frame.consumerTag, frame.credit);
        return;
      case FrameType.CLOSE:
        this.writer.sendRaw(FrameType.CLOSE_OK, []);
        this.writer.flush();
        this.state = State.Closing;
        this.socket.end();
        return;
      case FrameType.OPEN:
      case FrameType.OPEN_OK:
      case FrameType.CLOSE_OK:
      case FrameType.ERROR:
      case FrameType.OK:
      case FrameType.FLOW:
      case FrameType.CONFIRM:
      case FrameType.PUBLISH_NACK:
      case FrameType.RETURN:
      case FrameType.DELIVER:
      case FrameType.CANCELLED:
      case FrameType.GET_OK:
      case FrameType.STREAM_DELIVER:
      case FrameType.STREAM_CANCELLED:
        throw errors.commandInvalid(`frame type 0x${frame.type.toString(16)} is not sent by clients`);
      default:
        void this.onRequest(frame);
    }
  }

  // -- handshake -------------------------------------------------------------

  private async handshake(open: OpenFrame): Promise<void> {
    const { options, logger } = this.ctx;
    if (open.version !== PROTOCOL_VERSION) {
      return this.fail(new WarrenError(ErrorCodes.UNSUPPORTED_VERSION, `protocol version ${open.version} is not supported; this server speaks ${PROTOCOL_VERSION}`));
    }
    if (open.credentials === null) {
      return this.refuse('credentials are required');
    }
    const result = await this.ctx.users.authenticate(open.credentials.username, open.credentials.password, this.socket.remoteAddress);
    if (this.state !== State.Authenticating) return;
    if (!result.ok) return this.refuse(result.reason, open.credentials.username);
    clearTimeout(this.handshakeTimer);
    this.username = open.credentials.username;
    this.clientProperties = open.properties;
    const frameMax = open.frameMax === 0 ? options.frameMax : Math.min(Math.max(open.frameMax, 4096), options.frameMax);
    this.heartbeatMs = open.heartbeatMs === 0 || options.heartbeatMs === 0 ? 0 : Math.min(open.heartbeatMs, options.heartbeatMs);
    this.decoder.maxFrameSize = frameMax;
    this.state = State.Open;
    this.writer.sendRaw(FrameType.OPEN_OK, [PROTOCOL_VERSION, this.ctx.serverProperties, frameMax, this.heartbeatMs, this.id]);
    this.startHeartbeats();
    logger.info(
      { conn: this.id, user: this.username, remote: this.remoteAddress, client: open.properties['name'] ?? null },
      'connection opened',
    );
    if (this.ctx.publishBlockReason !== null) this.setBlocked(this.ctx.publishBlockReason);
  }

  private refuse(reason: string, username?: string): void {
    this.ctx.logger.warn({ conn: this.id, user: username ?? null, remote: this.remoteAddress, reason }, 'authentication failed');
    // A short delay makes password guessing slow.
    setTimeout(() => this.fail(errors.accessRefused(reason)), this.ctx.options.authFailureDelayMs).unref();
  }

  // -- heartbeats ------------------------------------------------------------

  private startHeartbeats(): void {
    if (this.heartbeatMs === 0) return;
    const interval = Math.max(1, Math.floor(this.heartbeatMs / 2));
    this.heartbeatTimer = setInterval(() => {
      // Two intervals = heartbeatMs; four = 2 × heartbeatMs of silence. While we
      // are not reading the socket (flow control) the peer's silence is ours.
      if (this.pauses.size > 0) this.silentTicks = 0;
      else if (++this.silentTicks >= 4) {
        this.fail(new WarrenError(ErrorCodes.TIMEOUT, `no heartbeat from the client for ${2 * this.heartbeatMs} ms`));
        return;
      }
      if (!this.sentSinceTick && this.writer.pendingBytes === 0) this.writer.sendRaw(FrameType.HEARTBEAT, []);
      this.sentSinceTick = false;
    }, interval);
    this.heartbeatTimer.unref();
  }

  // -- requests --------------------------------------------------------------

  private async onRequest(frame: Frame): Promise<void> {
    const requestId = (frame as { requestId: number }).requestId;
    try {
      const result = await this.ctx.handleRequest(this, frame);
      if (this.state !== State.Open) return;
      if (result !== NO_REPLY) this.reply(requestId, result);
    } catch (err) {
      if (this.state !== State.Open) return;
      if (err instanceof WarrenError) this.sendError(requestId, err);
      else {
        this.ctx.logger.error({ conn: this.id, err }, 'request failed');
        this.sendError(requestId, new WarrenError(ErrorCodes.INTERNAL_ERROR, 'internal error'));
      }
    }
  }

  reply(requestId: number, result: unknown): void {
    this.send(FrameType.OK, [requestId, result ?? null]);
  }

  sendError(requestId: number, err: WarrenError): void {
    this.send(FrameType.ERROR, [requestId, err.code, err.name, err.message, err.details ?? null]);
  }

  /** Sends one frame (stream subscriptions write their own frames). */
  sendFrame(type: number, header: unknown[], body?: Buffer): void {
    this.send(type, header, body);
  }

  private readonly streamHead: unknown[] = ['', 0, 0];

  sendStreamDelivery(consumerTag: string, offset: number, timestamp: number, meta: Buffer, body: Buffer): void {
    const head = this.streamHead;
    head[0] = consumerTag;
    head[1] = offset;
    head[2] = timestamp;
    this.sentSinceTick = true;
    this.writer.sendWithEncodedTail(FrameType.STREAM_DELIVER, head, meta, body);
  }

  private send(type: number, header: unknown[], body?: Buffer): void {
    this.sentSinceTick = true;
    this.writer.sendRaw(type, header, body);
  }

  // -- publish ---------------------------------------------------------------

  private onPublish(frame: PublishFrame): void {
    const confirms = this.confirms;
    if (frame.seq !== confirms.expected) {
      throw errors.commandInvalid(`publish sequence number ${frame.seq} out of order; expected ${confirms.expected}`);
    }
    confirms.received();
    this.published++;
    if (!this.isPublisher) {
      this.isPublisher = true;
      if (this.ctx.publishBlockReason !== null) this.setBlocked(this.ctx.publishBlockReason);
    }
    const seq = frame.seq;
    let queues: Set<Queue>;
    try {
      queues = this.ctx.vhost.route(frame.exchange, frame.routingKey, frame.properties?.headers);
    } catch (err) {
      this.nackPublish(seq, err as WarrenError);
      return;
    }
    if (this.ctx.streams !== null && queues.size > 0 && !this.appendToStreams(frame, queues)) return;
    if (queues.size === 0) {
      if ((frame.flags & PublishFlags.MANDATORY) !== 0) {
        const e = ErrorCodes.NO_ROUTE;
        this.send(FrameType.RETURN, [seq, e, 'NO_ROUTE', frame.exchange, frame.routingKey, frame.properties], frame.body);
      }
      confirms.settle(seq, true);
      return;
    }
    const properties = frame.properties;
    const headers = properties?.headers;
    if (headers !== undefined) normalizeDelay(headers);
    const message = newMessage(frame.exchange, frame.routingKey, properties, frame.body);
    // Queues at their length limit with x-overflow reject-publish(-dlx) refuse it; the publish is then
    // nacked. Decided once per queue, before anything is enqueued or dead-lettered.
    let refused: Queue[] | null = null;
    for (const q of queues) if (q.rejectsPublish(message)) (refused ??= []).push(q);
    const accepted = queues.size - (refused === null ? 0 : refused.length);
    const persistent = properties?.persistent === true;
    let durableQueues: string[] | null = null;
    if (persistent && this.ctx.store !== null) {
      for (const q of queues) if (q.durable && (refused === null || !refused.includes(q))) (durableQueues ??= []).push(q.name);
    }
    const refusal =
      refused === null
        ? null
        : new WarrenError(ErrorCodes.RESOURCE_LIMIT, `queue '${refused[0]!.name}' is full (x-overflow ${refused[0]!.policy.overflow})`);
    if (durableQueues !== null) {
      message.evictable = durableQueues.length === accepted;
      message.storeId = this.ctx.persist(durableQueues, message, (err) => {
        if (err !== null) this.settlePublish(seq, new WarrenError(ErrorCodes.STORAGE_ERROR, `message not stored: ${err.message}`));
        else this.settlePublish(seq, refusal);
        this.checkOutstanding();
      });
    }
    message.refs = accepted;
    this.ctx.accountBody(message);
    if (refused === null) {
      for (const q of queues) q.enqueue(message);
    } else {
      for (const q of queues) if (!refused.includes(q)) q.enqueue(message);
      for (const q of refused) if (q.policy.overflow === 'reject-publish-dlx') this.ctx.deadLetterRefused(q, message);
      if (accepted === 0) this.ctx.releaseBody(message);
    }
    if (durableQueues === null) this.settlePublish(seq, refusal);
    else if (confirms.outstanding > MAX_OUTSTANDING_PUBLISHES) this.pause('confirms');
  }

  /**
   * Appends the message to the streams among the routed queues and takes them out of
   * the set; the publish is then settled once every stream and the rest of the route
   * are done (see settlePublish). Returns false when only streams were routed to: the
   * publish is then fully handled here.
   */
  private appendToStreams(frame: PublishFrame, queues: Set<Queue>): boolean {
    let streams: Queue[] | null = null;
    for (const q of queues) if (q.isStream) (streams ??= []).push(q);
    if (streams === null) return true;
    for (const q of streams) queues.delete(q);
    const seq = frame.seq;
    const onlyStreams = queues.size === 0;
    const wait: StreamWait = { left: streams.length + (onlyStreams ? 0 : 1), err: null };
    this.streamWaits.set(seq, wait);
    const done = (err: Error | null): void => {
      if (err !== null) wait.err ??= new WarrenError(ErrorCodes.STORAGE_ERROR, `message not stored in stream: ${err.message}`);
      this.settlePublish(seq, null);
      this.checkOutstanding();
    };
    const p = frame.properties;
    for (const q of streams) this.ctx.streams!.append(q.name, frame.exchange, frame.routingKey, p, frame.body, done);
    if (this.confirms.outstanding > MAX_OUTSTANDING_PUBLISHES) this.pause('confirms');
    return !onlyStreams;
  }

  /** One part of a publish's route is done: confirm or nack it once all parts are (streams add parts). */
  private settlePublish(seq: number, err: WarrenError | null): void {
    if (this.streamWaits.size !== 0) {
      const wait = this.streamWaits.get(seq);
      if (wait !== undefined) {
        if (err !== null) wait.err ??= err;
        if (--wait.left > 0) return;
        this.streamWaits.delete(seq);
        err = wait.err;
      }
    }
    if (err !== null) this.nackPublish(seq, err);
    else this.confirms.settle(seq, true);
  }

  private nackPublish(seq: number, err: WarrenError): void {
    if (this.state === State.Open) this.send(FrameType.PUBLISH_NACK, [seq, err.code, err.name, err.message]);
    this.confirms.settle(seq, false);
  }

  private checkOutstanding(): void {
    if (this.pauses.has('confirms') && this.confirms.outstanding <= MAX_OUTSTANDING_PUBLISHES / 2) this.resume('confirms');
  }

  // -- flow control ----------------------------------------------------------

  private pause(reason: string): void {
    if (this.pauses.size === 0) this.socket.pause();
    this.pauses.add(reason);
  }

  private resume(reason: string): void {
    if (this.pauses.delete(reason) && this.pauses.size === 0 && this.state !== State.Closed) this.socket.resume();
  }

  /** A broker alarm: publishers stop being read, and are told why. */
  setBlocked(reason: string | null): void {
    if (this.state !== State.Open || !this.isPublisher) return;
    if (reason !== null && !this.pauses.has('alarm')) {
      this.send(FrameType.FLOW, [true, reason]);
      this.pause('alarm');
    } else if (reason === null && this.pauses.has('alarm')) {
      this.send(FrameType.FLOW, [false, '']);
      this.resume('alarm');
    }
  }

  // -- consumers and deliveries ---------------------------------------------

  get writable(): boolean {
    if (this.congested) return false;
    if (this.socket.writableLength + this.writer.pendingBytes > WRITE_HIGH_WATER) {
      this.congested = true;
      this.writer.flush();
      return false;
    }
    return this.state === State.Open;
  }

  private onDrain(): void {
    if (!this.congested) return;
    this.congested = false;
    for (const c of this.consumers.values()) c.queue.drain();
    this.ctx.streams?.drained(this);
  }

  addConsumer(queue: Queue, tag: string | undefined, prefetch: number, noAck: boolean, exclusive: boolean): Consumer {
    const consumerTag = tag === undefined || tag === '' ? `ctag-${this.id.slice(0, 8)}-${++this.consumerCounter}` : tag;
    if (this.consumers.has(consumerTag)) throw errors.preconditionFailed(`consumer tag '${consumerTag}' is already in use on this connection`);
    const consumer = new Consumer(consumerTag, queue, this, prefetch, noAck, exclusive);
    queue.addConsumer(consumer);
    this.consumers.set(consumerTag, consumer);
    return consumer;
  }

  cancelConsumer(tag: string): void {
    const consumer = this.consumers.get(tag);
    if (consumer === undefined) throw errors.notFound(`consumer '${tag}'`);
    this.consumers.delete(tag);
    consumer.queue.removeConsumer(consumer);
  }

  deliver(consumer: Consumer, qm: QueuedMessage): void {
    const tag = this.nextDeliveryTag++;
    if (!consumer.noAck) {
      const timed = consumer.queue.policy.consumerTimeout !== null;
      this.deliveries.set(tag, { queue: consumer.queue, qm, consumer, at: timed ? Date.now() : 0 });
      if (timed) this.startAckTimeoutSweep();
    }
    const m = qm.message;
    this.delivered++;
    this.send(
      FrameType.DELIVER,
      [consumer.tag, tag, qm.deliveryCount > 0, qm.deliveryCount + 1, m.exchange, m.routingKey, m.properties],
      m.body!,
    );
  }

  /** Sends a pulled message (GET_OK) and tracks it for ack unless noAck. */
  deliverGet(requestId: number, queue: Queue, qm: QueuedMessage, noAck: boolean): void {
    const tag = this.nextDeliveryTag++;
    if (!noAck) {
      const timed = queue.policy.consumerTimeout !== null;
      this.deliveries.set(tag, { queue, qm, consumer: null, at: timed ? Date.now() : 0 });
      if (timed) this.startAckTimeoutSweep();
    }
    const m = qm.message;
    this.send(
      FrameType.GET_OK,
      [requestId, tag, qm.deliveryCount > 0, qm.deliveryCount + 1, m.exchange, m.routingKey, m.properties, queue.messageCount],
      m.body!,
    );
  }

  private startAckTimeoutSweep(): void {
    if (this.ackTimeoutTimer !== undefined) return;
    this.ackTimeoutTimer = setInterval(() => this.sweepAckTimeouts(), ACK_TIMEOUT_SWEEP_MS);
    this.ackTimeoutTimer.unref();
  }

  /** Requeues deliveries unacked past their queue's x-consumer-timeout and tells the client which. */
  private sweepAckTimeouts(): void {
    const now = Date.now();
    let timed = 0;
    const touched = this.touched;
    for (const [tag, d] of this.deliveries) {
      if (d.at === 0) continue;
      timed++;
      const limit = d.queue.policy.consumerTimeout!;
      if (now - d.at < limit) continue;
      this.deliveries.delete(tag);
      timed--;
      d.queue.returnToQueue(d.consumer, d.qm);
      touched.add(d.queue);
      this.sendError(
        0,
        new WarrenError(ErrorCodes.TIMEOUT, `delivery ${tag} was not acknowledged within ${limit} ms; it was requeued`, {
          details: { deliveryTag: tag, consumerTag: d.consumer?.tag ?? null, queue: d.queue.name },
        }),
      );
    }
    for (const q of touched) q.drain();
    touched.clear();
    if (timed === 0) {
      clearInterval(this.ackTimeoutTimer);
      this.ackTimeoutTimer = undefined;
    }
  }

  consumerCancelled(consumer: Consumer, err: WarrenError): void {
    if (this.consumers.get(consumer.tag) !== consumer) return;
    this.consumers.delete(consumer.tag);
    if (this.state === State.Open) this.send(FrameType.CANCELLED, [consumer.tag, err.code, err.name, err.message]);
  }

  private onAck(deliveryTag: number, multiple: boolean): void {
    if (multiple) {
      this.settleUpTo(deliveryTag, (d) => d.queue.settle(d.consumer, d.qm));
      return;
    }
    const d = this.takeDelivery(deliveryTag);
    if (d === undefined) return;
    d.queue.settle(d.consumer, d.qm);
    d.queue.drain();
  }

  private onNack(deliveryTag: number, multiple: boolean, requeue: boolean): void {
    const settle = requeue
      ? (d: Delivery) => d.queue.returnToQueue(d.consumer, d.qm)
      : (d: Delivery) => d.queue.reject(d.consumer, d.qm);
    if (multiple) {
      this.settleUpTo(deliveryTag, settle);
      return;
    }
    const d = this.takeDelivery(deliveryTag);
    if (d === undefined) return;
    settle(d);
    d.queue.drain();
  }

  private takeDelivery(tag: number): Delivery | undefined {
    const d = this.deliveries.get(tag);
    if (d === undefined) {
      this.sendError(0, errors.preconditionFailed(`unknown delivery tag ${tag}`, { deliveryTag: tag }));
      return undefined;
    }
    this.deliveries.delete(tag);
    return d;
  }

  /**
   * multiple=true: every outstanding delivery up to tag (0 = all), possibly
   * none. Map order is tag order. A tag never issued is still an error.
   */
  private settleUpTo(tag: number, settle: (d: Delivery) => void): void {
    if (tag >= this.nextDeliveryTag) {
      this.sendError(0, errors.preconditionFailed(`unknown delivery tag ${tag}`, { deliveryTag: tag }));
      return;
    }
    const touched = this.touched;
    for (const [t, d] of this.deliveries) {
      if (tag !== 0 && t > tag) break;
      this.deliveries.delete(t);
      settle(d);
      touched.add(d.queue);
    }
    for (const q of touched) q.drain();
    touched.clear();
  }

  get unackedCount(): number {
    return this.deliveries.size;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  // -- closing ---------------------------------------------------------------

  /** Sends ERROR (id 0) and CLOSE, then closes the socket. */
  fail(err: WarrenError): void {
    if (this.state === State.Closed || this.state === State.Closing) return;
    this.ctx.logger.warn({ conn: this.id, remote: this.remoteAddress, code: err.name, reason: err.message }, 'closing connection');
    this.state = State.Closing;
    this.writer.sendRaw(FrameType.ERROR, [0, err.code, err.name, err.message, err.details ?? null]);
    this.writer.sendRaw(FrameType.CLOSE, [err.code, err.name, err.message]);
    this.writer.flush();
    this.socket.end();
    // Do not wait forever for a peer that never reads.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Server-initiated close (shutdown). */
  close(code: number, reason: string): void {
    this.fail(new WarrenError(code, reason));
  }

  private internalError(err: unknown): void {
    this.ctx.logger.error({ conn: this.id, err }, 'internal error while handling a frame');
    this.fail(new WarrenError(ErrorCodes.INTERNAL_ERROR, 'internal error'));
  }

  private onClose(): void {
    if (this.state === State.Closed) return;
    const wasOpen = this.state === State.Open || this.state === State.Closing;
    this.state = State.Closed;
    clearTimeout(this.handshakeTimer);
    clearInterval(this.heartbeatTimer);
    clearInterval(this.ackTimeoutTimer);
    // Consumers go first so requeued messages are not redelivered to them.
    for (const c of this.consumers.values()) c.queue.removeConsumer(c);
    this.consumers.clear();
    const touched = this.touched;
    for (const d of this.deliveries.values()) {
      d.queue.returnToQueue(d.consumer, d.qm);
      touched.add(d.queue);
    }
    this.deliveries.clear();
    this.ctx.connectionClosed(this);
    this.ctx.streams?.connectionClosed(this);
    for (const q of touched) q.drain();
    touched.clear();
    if (wasOpen) this.ctx.logger.info({ conn: this.id, user: this.username, remote: this.remoteAddress }, 'connection closed');
  }
}

/**
 * A relative x-delay header becomes an absolute x-not-before, so the due time
 * survives a restart of the broker.
 */
function normalizeDelay(headers: Record<string, unknown>): void {
  const delay = headers['x-delay'];
  if (typeof delay === 'number' && delay > 0 && typeof headers['x-not-before'] !== 'number') {
    headers['x-not-before'] = Date.now() + delay;
  }
}

/** Returned by a request handler that already replied (GET_OK). */
export const NO_REPLY = Symbol('no-reply');
