/**
 * One client connection: the handshake, then answering frames. The socket
 * itself (arena reads, decoding, the batching writer, heartbeats, paused
 * reads, drain, ending) is the protocol's FrameSocket, shared with the client.
 * Once open, every frame a client may send is looked up in the dispatch table
 * (dispatch.ts, handlers/*.ts) and the connection writes what the handler
 * returns: OK or ERROR for a request, CONFIRM, RETURN or PUBLISH_NACK for a
 * publish. It also writes deliveries, which come from its consumers' queues.
 *
 * Requests fail with an ERROR frame carrying their id and the connection goes
 * on; only protocol violations (bad bytes, a frame not allowed in this state)
 * end it, after an ERROR and a CLOSE.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { randomUUID } from 'node:crypto';
import {
  ErrorCodes,
  FrameSocket,
  FrameType,
  MECHANISMS,
  PRE_AUTH_FRAME_MAX,
  PROTOCOL_VERSION,
  frameLength,
  MAX_HEADER_VALUES,
  MAX_NESTING,
  ProtocolError,
  WarrenError,
  type Credentials,
  type Frame,
  type FrameWriter,
  type OpenFrame,
  type PublishFrame,
} from '@warren/protocol';
import { ConfirmTracker } from './confirms.js';
import { ConsumerSet } from './consumers.js';
import { Deliveries, PulledMessage } from './deliveries.js';
import { KvSession, type KvFlow } from './kv/kv-session.js';
import { SessionGrant } from './authorizer.js';
import { AfterReply, ANSWERED, Answer, FrameReply, PublishOutcome, type DispatchTable, type Handler, type HandlerEntry } from './dispatch.js';
import { errors } from './errors.js';
import { isLoopback, loginRefused, type AuthResult } from './auth.js';
import { connectionTls, peerCommonName, type ConnectionTls } from './tls.js';
import type { QueuedMessage } from './message.js';
import { UnencodableDelivery, type Consumer, type DeliverySink } from './queue.js';
import type { BrokerContext } from './context.js';
import type { Session } from './session.js';
import type { Holdable } from './flow-control.js';
import type { Queue } from './queue.js';
import type { VirtualHost } from './vhost.js';
import { DEFAULT_VHOST } from './vhosts.js';

const enum State {
  AwaitOpen,
  Authenticating,
  Open,
  Closing,
  Closed,
}

/** Unconfirmed publishes above which we stop reading this publisher's socket. */
const MAX_OUTSTANDING_PUBLISHES = 16_384;
/**
 * Requests waiting for an asynchronous answer (storage, a disk read) above which we stop reading this
 * connection until half of them are answered: a client that pipelines requests faster than they complete
 * cannot make the broker hold an unbounded number of them (the bound is this plus one read's frames).
 */
export const MAX_PENDING_REQUESTS = 1024;
/** How long a connection we close waits for the peer's FIN before dropping it. */
const CLOSE_GRACE_MS = 1000;
/**
 * A read this large (a client keeping its socket full, e.g. a fast publisher) is the last of this
 * connection in the loop's turn: the other connections' frames (consumers' acks) are read before its
 * next one (FrameSocketOptions.yieldAfterBytes). Reads are 16-256 KiB when a socket is busy; acks and
 * requests come in far smaller ones.
 */
export const YIELD_READ_BYTES = 64 * 1024;
/** The smallest heartbeat interval: smaller non-zero proposals are raised to it (protocol-spec 4.3). */
export const MIN_HEARTBEAT_MS = 1000;

/** The smaller proposal, 0 (none) when either side proposes 0, never below MIN_HEARTBEAT_MS. */
function negotiateHeartbeat(client: number, server: number): number {
  if (client === 0 || server === 0) return 0;
  return Math.max(MIN_HEARTBEAT_MS, Math.min(client, server));
}

const PLAIN_ONLY: readonly string[] = ['PLAIN'];

/** The widest integer a header field holds (encoded in 9 bytes). */
const MAX_UINT = Number.MAX_SAFE_INTEGER;

export class Connection implements DeliverySink, Session {
  readonly id = randomUUID();
  private state = State.AwaitOpen;
  private readonly fs: FrameSocket;
  private readonly writer: FrameWriter;
  private readonly confirms: ConfirmTracker;
  private readonly handlers: DispatchTable;
  readonly consumers: ConsumerSet;
  readonly deliveries: Deliveries;
  private kvSession: KvSession | null = null;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private heartbeatMs = 0;
  /** Negotiated in OPEN_OK; until then the pre-authentication limit. */
  frameMax = PRE_AUTH_FRAME_MAX;
  private congested = false;
  /** Set once this connection has published (or put to a kv bucket): only publishers are blocked by alarms. */
  private isPublisher = false;
  username = '';
  /** Chosen at OPEN (spec 4.2); set before any request is handled. */
  vhost!: VirtualHost;
  /** Set at login; until then no frame reaches a handler. */
  grant!: SessionGrant;
  /** Counted in its user's connections (access.admit). */
  private admitted = false;
  readonly remoteAddress: string;
  /** Counted in the broker's connections not logged in yet from this address, until loginEnded. */
  private loggingIn = true;
  private openedAt = 0;
  /** 'debug' for the CLI's short-lived management connections, else 'info'. */
  private logLevel: 'info' | 'debug' = 'info';
  readonly connectedAt = Date.now();
  clientProperties: Record<string, unknown> = {};
  /** The TLS side (protocol, cipher, client certificate), null on plain TCP. */
  readonly tls: ConnectionTls | null;
  /** The verified client certificate's CN, the user of an EXTERNAL login (spec 4.2); undefined without one. */
  private readonly peerName: string | undefined;
  /** Mechanisms offered to this connection: EXTERNAL only over TLS with a verified client certificate. */
  readonly mechanisms: readonly string[];
  published = 0;
  delivered = 0;
  /** Requests whose handler returned a promise not settled yet (MAX_PENDING_REQUESTS). */
  private pendingRequests = 0;
  /** This connection as publisher flow control holds it (reads paused for 'flow'). */
  private readonly flowHold: Holdable;

  constructor(
    socket: Socket,
    private readonly ctx: BrokerContext,
  ) {
    this.remoteAddress = socket.remoteAddress ?? 'unknown'; // as the broker counted it (loginEnded)
    this.tls = socket instanceof TLSSocket ? connectionTls(socket) : null;
    this.peerName = socket instanceof TLSSocket ? peerCommonName(socket) : undefined;
    this.mechanisms = this.peerName !== undefined ? MECHANISMS : PLAIN_ONLY;
    this.handlers = ctx.handlers;
    // The server accepts paused (pauseOnConnect): reads start here, into arenas where Node allows it.
    this.fs = new FrameSocket(socket, {
      frame: (frame) => this.onFrame(frame),
      fault: (err) => (err instanceof ProtocolError ? this.fail(err) : this.internalError(err)),
      silent: (heartbeatMs) => this.fail(errors.timeout(`no heartbeat from the client for ${2 * heartbeatMs} ms`)),
      closed: (err) => this.onClose(err),
    }, { reusePublishFrame: true, sharePublishProperties: true, maxHeaderValues: MAX_HEADER_VALUES, maxHeaderNesting: MAX_NESTING, yieldAfterBytes: YIELD_READ_BYTES }); // onPublish and the handlers keep no frame, only its fields (newMessage); properties are never mutated
    const fs = this.fs;
    this.flowHold = {
      get closed() {
        return fs.closed;
      },
      hold: () => fs.pause('flow'),
      release: () => fs.resume('flow'),
    };
    const writer = (this.writer = this.fs.writer);
    this.confirms = new ConfirmTracker({ confirm: (seq, multiple) => writer.confirm(seq, multiple) });
    this.consumers = new ConsumerSet(this, this.id.slice(0, 8));
    this.deliveries = new Deliveries((err) => writer.error(0, err));
    this.handshakeTimer = setTimeout(() => {
      if (this.state === State.AwaitOpen || this.state === State.Authenticating) {
        this.fail(errors.timeout(`handshake not completed within ${this.ctx.options.handshakeTimeoutMs} ms`));
      }
    }, this.ctx.options.handshakeTimeoutMs);
  }

  /** Reads land in arenas (ReadArena); false when this Node only allowed 'data' events. */
  get readsIntoArenas(): boolean {
    return this.fs.readsIntoArenas;
  }

  // -- input -----------------------------------------------------------------

  private onFrame(frame: Frame): void {
    switch (this.state) {
      case State.AwaitOpen:
        if (frame.type !== FrameType.OPEN) throw errors.commandInvalid(`expected OPEN, got frame type ${frame.type}`);
        this.state = State.Authenticating;
        // A failure inside the handshake closes this connection, never the broker (an unhandled rejection would).
        this.handshake(frame).catch((err: unknown) => this.internalError(err));
        return;
      case State.Authenticating:
        throw errors.commandInvalid('frame received before OPEN_OK');
      case State.Closing:
        if (frame.type === FrameType.CLOSE_OK || frame.type === FrameType.CLOSE) this.fs.end(null);
        return;
      case State.Closed:
        return;
      case State.Open:
        break;
    }
    const entry = this.handlers.get(frame.type);
    if (entry !== undefined) {
      if (entry.publishes && !this.isPublisher) this.becomePublisher();
      if (entry.answer === Answer.Publish) return this.onPublish(frame as PublishFrame, entry.handle);
      if (entry.answer === Answer.None) return this.onSignal(frame, entry.handle);
      this.onRequest(frame, entry);
      return;
    }
    switch (frame.type) {
      case FrameType.HEARTBEAT:
        return;
      case FrameType.CLOSE:
        this.writer.closeOk();
        this.state = State.Closing;
        this.fs.end(null);
        return;
      default:
        throw errors.commandInvalid(`frame type 0x${frame.type.toString(16)} is not sent by clients`);
    }
  }

  // -- handshake -------------------------------------------------------------

  private async handshake(open: OpenFrame): Promise<void> {
    const { options, logger } = this.ctx;
    if (open.version !== PROTOCOL_VERSION) {
      return this.fail(errors.unsupportedVersion(`protocol version ${open.version} is not supported; this server speaks ${PROTOCOL_VERSION}`));
    }
    if (open.credentials === null) {
      return this.refuse('credentials are required');
    }
    const { mechanism } = open.credentials;
    if (!this.mechanisms.includes(mechanism)) {
      if (mechanism === 'EXTERNAL') return this.fail(errors.externalNotOffered(this.mechanisms));
      return this.fail(errors.unknownMechanism(mechanism, this.mechanisms));
    }
    const external = mechanism === 'EXTERNAL';
    const username = external ? this.peerName! : open.credentials.username;
    const result = external ? this.external(open.credentials, username) : await this.ctx.access.authenticate(username, open.credentials.password, this.fs.socket.remoteAddress);
    if (this.state !== State.Authenticating) return;
    if (!result.ok) {
      if (result.shed) return this.shed(result.reason, username);
      return this.refuse(result.reason, username, result.logReason);
    }
    // An unknown vhost is refused like a wrong password: the client learns nothing more (the log says why).
    const vhostName = open.vhost ?? DEFAULT_VHOST;
    const vhost = this.ctx.vhosts.get(vhostName);
    if (vhost === undefined || vhost.deleted) {
      return this.refuse(loginRefused(username), username, `no vhost '${vhostName}'`);
    }
    clearTimeout(this.handshakeTimer);
    this.username = username;
    try {
      this.ctx.access.admit(this, vhost.name);
    } catch (err) {
      if (!(err instanceof WarrenError)) throw err;
      this.ctx.logger.warn({ conn: this.id, user: this.username, remote: this.remoteAddress, reason: err.message }, 'connection refused');
      return this.fail(err);
    }
    this.admitted = true;
    if (!vhost.attach(this)) {
      const err = errors.resourceLimit(`vhost '${vhostName}' has reached its limit of ${vhost.limits.maxConnections} connections`);
      this.ctx.logger.warn({ conn: this.id, user: this.username, vhost: vhostName, remote: this.remoteAddress, reason: err.message }, 'connection refused');
      return this.fail(err);
    }
    this.vhost = vhost;
    this.grant = new SessionGrant(this.username, vhost.name);
    this.clientProperties = open.properties;
    const frameMax = open.frameMax === 0 ? options.frameMax : Math.min(Math.max(open.frameMax, 4096), options.frameMax);
    this.heartbeatMs = negotiateHeartbeat(open.heartbeatMs, options.heartbeatMs);
    this.fs.setFrameMax(frameMax);
    this.state = State.Open;
    this.endLogin();
    this.writer.openOk(PROTOCOL_VERSION, this.ctx.serverProperties, frameMax, this.heartbeatMs, this.id);
    // From here on nothing longer than the client's frameMax is sent (protocol-spec 2, rule 8).
    this.frameMax = frameMax;
    this.writer.frameLimit = frameMax;
    this.fs.startHeartbeat(this.heartbeatMs);
    // The CLI's one-shot calls (health checks every few seconds) log at debug; services at info.
    this.openedAt = Date.now();
    this.logLevel = typeof open.properties['name'] === 'string' && open.properties['name'].startsWith('warren-cli ') ? 'debug' : 'info';
    logger[this.logLevel](
      { conn: this.id, user: this.username, vhost: vhost.name, remote: this.remoteAddress, client: open.properties['name'] ?? null, mechanism, tls: this.tls !== null },
      'connection opened',
    );
    if (this.ctx.publishBlockReason !== null) this.setBlocked(this.ctx.publishBlockReason);
  }

  /**
   * EXTERNAL (spec 4.2): the verified client certificate's CN is the user,
   * who must exist in the user store; a username in the credentials, if any,
   * must be that CN. Refused like a wrong password, with the same message.
   */
  private external(credentials: Credentials, cn: string): AuthResult {
    const reason = loginRefused(cn);
    const asked = credentials.username;
    if (asked !== '' && asked !== cn) return { ok: false, shed: false, reason, logReason: `EXTERNAL: the certificate is for '${cn}', the client asked for '${asked}'` };
    if (this.ctx.access.tagsOf(cn) === undefined) return { ok: false, shed: false, reason, logReason: `EXTERNAL: no user '${cn}' (the client certificate's CN)` };
    if (cn === 'guest' && !this.ctx.options.allowGuestRemote && !isLoopback(this.remoteAddress)) {
      return { ok: false, shed: false, reason, logReason: `user 'guest' may only connect from loopback` };
    }
    return { ok: true };
  }

  /** Wrong credentials: the client learns only that it was refused, and only after a delay that slows guessing. */
  private refuse(reason: string, username?: string, logReason = reason): void {
    this.ctx.logger.warn({ conn: this.id, user: username ?? null, remote: this.remoteAddress, reason: logReason }, 'authentication failed');
    setTimeout(() => this.fail(errors.accessRefused(reason)), this.ctx.options.authFailureDelayMs).unref();
  }

  /** Too many logins pending, or too many failures from this address: refused at once, before any password check. */
  private shed(reason: string, username: string): void {
    this.ctx.logger.warn({ conn: this.id, user: username, remote: this.remoteAddress, reason }, 'login refused for load');
    this.fail(errors.resourceLimit(reason));
  }

  // -- requests --------------------------------------------------------------

  /** A request: its handler's result goes back in OK (or GET_OK), its error in ERROR, with the request id. */
  private onRequest(frame: Frame, entry: HandlerEntry): void {
    const requestId = (frame as { requestId: number }).requestId;
    let result: unknown;
    try {
      result = entry.handle(frame, this, this.ctx);
    } catch (err) {
      this.requestFailed(requestId, err);
      return;
    }
    if (result instanceof Promise) {
      if (++this.pendingRequests === MAX_PENDING_REQUESTS) this.fs.pause('requests');
      result.then(
        (value) => {
          this.requestSettled();
          this.answer(requestId, value);
        },
        (err) => {
          this.requestSettled();
          this.requestFailed(requestId, err);
        },
      );
    } else this.answer(requestId, result);
  }

  private requestSettled(): void {
    if (--this.pendingRequests <= MAX_PENDING_REQUESTS / 2 && this.fs.isPausedFor('requests')) this.fs.resume('requests');
  }

  private answer(requestId: number, result: unknown): void {
    if (result === ANSWERED) return;
    if (result instanceof PulledMessage) return this.sendPulled(requestId, result);
    if (this.state !== State.Open) return;
    if (result instanceof FrameReply) {
      result.send(requestId);
      return;
    }
    if (result instanceof AfterReply) {
      if (this.sendOk(requestId, result.result)) result.afterwards();
      return;
    }
    this.sendOk(requestId, result);
  }

  /** OK, or ERROR RESOURCE_LIMIT when the result does not fit the client's frameMax (a very long list). */
  private sendOk(requestId: number, result: unknown): boolean {
    if (this.writer.ok(requestId, result)) return true;
    this.writer.error(requestId, errors.resourceLimit(`the reply does not fit the negotiated frameMax of ${this.frameMax} bytes`));
    return false;
  }

  private requestFailed(requestId: number, err: unknown): void {
    if (this.state !== State.Open) return;
    if (err instanceof WarrenError) this.writer.error(requestId, err);
    else {
      this.ctx.logger.error({ conn: this.id, err }, 'request failed');
      this.writer.error(requestId, errors.internal());
    }
  }

  /** ACK, NACK, REJECT: no reply; an error (an unknown delivery tag) goes back with id 0. */
  private onSignal(frame: Frame, handle: Handler): void {
    try {
      handle(frame, this, this.ctx);
    } catch (err) {
      if (!(err instanceof WarrenError) || err instanceof ProtocolError) throw err;
      this.writer.error(0, err);
    }
  }

  // -- streams (streams/subscription.ts writes through these) ------------------

  sendStreamRecord(tag: Buffer, offset: number, timestamp: number, src: Buffer, metaStart: number, bodyStart: number, end: number): boolean {
    return this.writer.sendSpliced(FrameType.STREAM_DELIVER, tag, 1, offset, timestamp, src, metaStart, bodyStart, end);
  }

  sendStreamCancelled(consumerTag: string, err: WarrenError): void {
    if (this.state === State.Open) this.writer.streamCancelled(consumerTag, err);
  }

  // -- publish ---------------------------------------------------------------

  /** The publish sequence and confirms are the connection's; routing and admission are the handler's. */
  private onPublish(frame: PublishFrame, handle: Handler): void {
    const confirms = this.confirms;
    if (frame.seq !== confirms.expected) {
      throw errors.commandInvalid(`publish sequence number ${frame.seq} out of order; expected ${confirms.expected}`);
    }
    confirms.received();
    this.published++;
    const seq = frame.seq;
    let outcome: PublishOutcome;
    try {
      outcome = handle(frame, this, this.ctx) as PublishOutcome;
    } catch (err) {
      if (!(err instanceof WarrenError)) throw err;
      this.nackPublish(seq, err);
      return;
    }
    if (outcome === PublishOutcome.Storing) {
      if (confirms.outstanding > MAX_OUTSTANDING_PUBLISHES) this.fs.pause('confirms');
      return;
    }
    if (outcome === PublishOutcome.Returned) {
      const returned = this.writer.return(seq, ErrorCodes.NO_ROUTE, 'NO_ROUTE', frame.exchange, frame.routingKey, frame.properties, frame.body);
      // A RETURN longer than our frameMax cannot be sent: the publish is nacked NO_ROUTE instead (protocol-spec 6.3).
      if (!returned) return this.nackPublish(seq, errors.noRoute(`message unroutable; its RETURN would exceed the frameMax of ${this.frameMax} bytes`));
    }
    confirms.settle(seq, true);
  }

  /** A stored publish is durable (err null: confirm) or failed or refused (nack). */
  stored(seq: number, err: WarrenError | null): void {
    if (err !== null) this.nackPublish(seq, err);
    else this.confirms.settle(seq, true);
    this.checkOutstanding();
  }

  private nackPublish(seq: number, err: WarrenError): void {
    if (this.state === State.Open) this.writer.publishNack(seq, err);
    this.confirms.settle(seq, false);
  }

  /**
   * A publish was enqueued on `queues`: flow control may hold this publisher (flow-control.ts).
   * Not one that also consumes or has deliveries to settle: holding its reads would hold its acks too.
   */
  fed(queues: ReadonlySet<Queue>): void {
    const flow = this.ctx.flow;
    if (!flow.enabled || this.consumers.size > 0 || this.deliveries.size > 0) return;
    const high = flow.tuning.highWater;
    for (const q of queues) if (q.messageCount > high) flow.published(this.flowHold, q);
  }

  private checkOutstanding(): void {
    if (this.fs.isPausedFor('confirms') && this.confirms.outstanding <= MAX_OUTSTANDING_PUBLISHES / 2) this.fs.resume('confirms');
  }

  // -- flow control ----------------------------------------------------------

  /** The first PUBLISH or KV_PUT: from now on the alarms block this connection (this frame is still handled). */
  private becomePublisher(): void {
    this.isPublisher = true;
    if (this.ctx.publishBlockReason !== null) this.setBlocked(this.ctx.publishBlockReason);
  }

  /** A broker alarm: publishers stop being read, and are told why. */
  setBlocked(reason: string | null): void {
    if (this.state !== State.Open || !this.isPublisher) return;
    if (reason !== null && !this.fs.isPausedFor('alarm')) {
      this.writer.flow(true, reason);
      this.fs.pause('alarm');
    } else if (reason === null && this.fs.isPausedFor('alarm')) {
      this.writer.flow(false, '');
      this.fs.resume('alarm');
    }
  }

  // -- consumers and deliveries ---------------------------------------------

  get writable(): boolean {
    if (this.congested) return false;
    if (this.fs.overHighWater) {
      this.congested = true;
      this.writer.flush();
      this.fs.onceDrained(this.onDrainBound);
      return false;
    }
    return this.state === State.Open;
  }

  private readonly onDrainBound = (): void => {
    this.congested = false;
    // Also called as the socket closes: nothing more to deliver then.
    if (this.fs.closed) return;
    this.consumers.drainQueues();
    this.vhost.streams?.drained(this);
  };

  deliver(consumer: Consumer, qm: QueuedMessage): boolean {
    const m = qm.message;
    const tag = this.deliveries.nextDeliveryTag;
    let sent: boolean;
    try {
      // Encodes the header before writing anything: a throw leaves nothing half-sent.
      sent = this.writer.deliver(consumer.tag, tag, qm.deliveryCount > 0, qm.deliveryCount + 1, m.exchange, m.routingKey, m.properties, m.body!);
    } catch (err) {
      throw new UnencodableDelivery(err);
    }
    if (!sent) return false;
    this.deliveries.track(consumer.queue, qm, consumer, consumer.noAck);
    this.delivered++;
    return true;
  }

  fitsGetOk(qm: QueuedMessage): boolean {
    const m = qm.message;
    // Widest tag and count: the frame is sent a little later, when both may have grown.
    const h = [MAX_UINT, MAX_UINT, true, MAX_UINT, m.exchange, m.routingKey, m.properties, MAX_UINT];
    let length: number;
    try {
      length = frameLength(h, m.bodySize); // encodes the header: what GET_OK will
    } catch (err) {
      throw new UnencodableDelivery(err);
    }
    return length <= this.frameMax;
  }

  /** A GET's answer: GET_OK, tracked for ack unless noAck (back to its queue if we closed meanwhile). */
  private sendPulled(requestId: number, p: PulledMessage): void {
    if (this.state !== State.Open) {
      if (!p.noAck) {
        p.queue.returnToQueue(null, p.qm);
        p.queue.drain();
      }
      return;
    }
    const tag = this.deliveries.track(p.queue, p.qm, null, p.noAck);
    const m = p.qm.message;
    this.writer.getOk(requestId, tag, p.redelivered, p.deliveryCount, m.exchange, m.routingKey, m.properties, p.messageCount, p.body);
  }

  consumerCancelled(consumer: Consumer, err: WarrenError): void {
    if (!this.consumers.forget(consumer)) return;
    if (this.state === State.Open) this.writer.cancelled(consumer.tag, err);
  }

  private readonly kvFlow: KvFlow = {
    backlogged: () => this.fs.overHighWater,
    onceDrained: (cb) => this.fs.onceDrained(cb),
  };

  get kv(): KvSession {
    const open = (): boolean => this.state === State.Open;
    const w = this.writer;
    this.kvSession ??= new KvSession(this.vhost.kv, {
      kvEntry: (...args) => open() && w.kvEntry(...args),
      kvEvent: (...args) => open() && w.kvEvent(...args),
      kvWatchEnd: (...args) => open() && w.kvWatchEnd(...args),
      kvApplied: (...args) => open() && w.kvApplied(...args),
      error: (...args) => open() && w.error(...args),
      ok: (requestId, result) => void (open() && this.sendOk(requestId, result)),
      failed: (requestId, err) => this.requestFailed(requestId, err),
    }, this.kvFlow, this.ctx.options.kvWatchBacklogBytes);
    return this.kvSession;
  }

  checkConsumerRoom(): void {
    const max = this.ctx.options.maxConsumersPerConnection;
    const n = this.consumers.size + (this.kvSession?.watchCount ?? 0) + (this.vhost.streams?.subscriptionCount(this) ?? 0);
    if (n >= max) {
      throw errors.resourceLimit(`this connection has reached its limit of ${max} consumers (queue consumers, stream subscriptions and key-value watches together)`);
    }
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
    this.writer.error(0, err);
    this.writer.close(err);
    // Do not wait forever for a peer that never reads.
    this.fs.end(CLOSE_GRACE_MS);
  }

  /** Server-initiated close (shutdown). */
  close(code: number, reason: string): void {
    this.fail(errors.closing(code, reason));
  }

  private internalError(err: unknown): void {
    this.ctx.logger.error({ conn: this.id, err }, 'internal error while handling a frame');
    this.fail(errors.internal());
  }

  private endLogin(): void {
    if (!this.loggingIn) return;
    this.loggingIn = false;
    this.ctx.loginEnded(this.remoteAddress);
  }

  private onClose(socketError: Error | undefined): void {
    if (socketError !== undefined) this.ctx.logger.debug({ conn: this.id, err: socketError.message }, 'socket error');
    if (this.state === State.Closed) return;
    const wasOpen = this.state === State.Open || this.state === State.Closing;
    this.state = State.Closed;
    clearTimeout(this.handshakeTimer);
    this.endLogin();
    // Consumers go first so requeued messages are not redelivered to them.
    this.consumers.removeAll();
    this.deliveries.returnAll();
    this.kvSession?.close();
    this.ctx.flow.release(this.flowHold);
    this.ctx.connectionClosed(this);
    if (this.admitted) this.ctx.access.release(this);
    // Undefined when the connection closed before OPEN_OK.
    (this.vhost as VirtualHost | undefined)?.streams?.connectionClosed(this);
    this.deliveries.drainReturned();
    if (wasOpen) {
      const durationMs = Date.now() - this.openedAt;
      this.ctx.logger[this.logLevel]({ conn: this.id, user: this.username, remote: this.remoteAddress, durationMs }, 'connection closed');
    }
  }
}
