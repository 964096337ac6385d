/**
 * Publisher confirms, back-pressure and publishes that outlive a socket.
 *
 * Each PUBLISH on a link gets the next sequence number (from 1; a new link
 * starts again at 1). Unconfirmed publishes live in a ring indexed by seq, so
 * a confirm is O(1), a cumulative confirm is O(confirmed), and confirms are
 * matched by number, never by arrival order.
 *
 * A publish is sent at once only when a link is attached, nothing is queued
 * before it, the server has not flow-blocked us, fewer than `window`
 * publishes are unconfirmed and the socket's write buffer is under
 * WRITE_HIGH_WATER (@warren/protocol). Otherwise it waits in a FIFO (keeping publish order),
 * "the buffer", until a confirm, an unblock, a socket 'drain' or a new link
 * makes room: a tight loop of publishes then waits on the server instead of
 * growing the socket buffer without bound.
 *
 * The buffer is bounded in every mode: it never holds more than
 * `maxBuffered` publishes. With 'reject' a publish that finds it full fails
 * at once; with 'wait' it waits for room in a waiting line, itself bounded
 * by `maxBuffered` (a producer that awaits never gets that far; one that
 * does not await gets PublishBufferFullError instead of unbounded memory).
 * `writable()` resolves when the buffer has room: the back-pressure signal
 * for producers that do not await each confirm. `send()` publishes without
 * a promise (fire-and-forget): the broker still confirms it on the wire, and
 * a failure is reported to `onSendFailed` instead.
 *
 * When the link is lost, publishes that were written but not confirmed have
 * an unknown outcome. With the 'resend' policy they go back to the front of
 * the buffer (in seq order) and are sent again, with new seqs, on the next
 * link; with 'reject' they fail with the (retriable) link error.
 */
import { PublishFlags, type MessageProperties, type WarrenError } from '@warren/protocol';
import { AbortError, MessageReturnedError, PublishBufferFullError, PublishNackedError, TimeoutError, type ReturnedMessage } from './errors.js';
import type { Transport } from './transport.js';

type Resolve = () => void;
type Reject = (err: unknown) => void;

/** A publish waiting in the buffer (sent ones live in the ring's parallel arrays instead: no allocation on the hot path). */
interface Entry {
  exchange: string;
  routingKey: string;
  flags: number;
  properties: MessageProperties | null;
  body: Buffer;
  resolve: Resolve;
  reject: Reject;
  ticket: Ticket | undefined;
}

/** Only for publishes with a signal or deadline. */
interface Ticket {
  /** Seq on the current link; 0 while it waits in the buffer. */
  seq: number;
  /** Its promise already settled (abort or timeout): never send it again, settle it silently. */
  cancelled: boolean;
}

/** Per-call limits of a publish. */
export interface PublishLimits {
  signal?: AbortSignal | undefined;
  /** 0 or undefined: none. */
  timeoutMs?: number | undefined;
}

export interface PublisherOptions {
  window: number;
  maxBuffered: number;
  whenFull: 'wait' | 'reject';
  recovery: 'resend' | 'reject';
  /** A send() (no promise) was not confirmed: nacked, returned, or failed with the connection. */
  onSendFailed?: (err: unknown) => void;
}

const noop = (): void => {};
/** writable() with room: one shared settled promise, nothing allocated per call. */
const RESOLVED = Promise.resolve();

export class Publisher {
  private transport: Transport | undefined;
  private nextSeq = 1;
  /** Lowest seq whose ring slot may still be occupied. */
  private base = 1;
  // The ring, by seq & mask: what an unconfirmed publish needs to settle or be re-sent.
  private resolves: (Resolve | undefined)[];
  private rejects: (Reject | undefined)[];
  private exchanges: (string | undefined)[];
  private routingKeys: (string | undefined)[];
  private flagsRing: Uint8Array;
  private props: (MessageProperties | null | undefined)[];
  private bodies: (Buffer | undefined)[];
  private tickets: (Ticket | undefined)[];
  private mask: number;
  /** Publishes sent on this link and not yet confirmed or nacked. */
  private unconfirmed = 0;
  private queue: Entry[] = [];
  private queueHead = 0;
  /** Entries in the queue whose promise was already settled by abort or timeout. */
  private cancelledQueued = 0;
  private waitingForDrain = false;
  private blocked = false;
  /** RETURN arrives before the CONFIRM of the same seq; hold it until then. Rare. */
  private returned: Map<number, ReturnedMessage> | undefined;
  private idleWaiters: (() => void)[] = [];
  /** writable() callers, woken when the buffer has room (or rejected when the connection fails). */
  private roomWaiters: { resolve: Resolve; reject: Reject }[] = [];
  private failure: WarrenError | undefined;
  private readonly window: number;
  /** Publishes held unsent (buffer plus waiting line) at most. */
  private readonly maxHeld: number;
  private readonly sendFailed: Reject;
  private readonly maxBuffered: number;
  private readonly rejectWhenFull: boolean;
  private readonly resend: boolean;
  /** publish()'s Promise executor: it only hands resolve/reject over through these two fields. */
  private capturedResolve: Resolve | undefined;
  private capturedReject: Reject | undefined;
  private readonly capture = (resolve: Resolve, reject: Reject): void => {
    this.capturedResolve = resolve;
    this.capturedReject = reject;
  };
  private readonly pumpBound = (): void => {
    this.waitingForDrain = false;
    this.pump();
  };

  constructor(options: PublisherOptions) {
    this.window = options.window;
    this.maxBuffered = options.maxBuffered;
    this.rejectWhenFull = options.whenFull === 'reject';
    this.resend = options.recovery === 'resend';
    this.maxHeld = this.rejectWhenFull ? this.maxBuffered : 2 * this.maxBuffered;
    this.sendFailed = options.onSendFailed ?? noop;
    let capacity = 16;
    while (capacity < this.window) capacity *= 2;
    this.resolves = new Array<Resolve | undefined>(capacity);
    this.rejects = new Array<Reject | undefined>(capacity);
    this.exchanges = new Array<string | undefined>(capacity);
    this.routingKeys = new Array<string | undefined>(capacity);
    this.flagsRing = new Uint8Array(capacity);
    this.props = new Array<MessageProperties | null | undefined>(capacity);
    this.bodies = new Array<Buffer | undefined>(capacity);
    this.tickets = new Array<Ticket | undefined>(capacity);
    this.mask = capacity - 1;
  }

  /** Publishes buffered or unconfirmed (not counting ones already settled by abort or timeout while buffered). */
  get outstanding(): number {
    return this.unconfirmed + this.buffered;
  }

  /** Publishes in the buffer, waiting to be written (never more than maxBuffered). */
  get buffered(): number {
    return Math.min(this.held, this.maxBuffered);
  }

  /** 'wait' mode: publishes that found the buffer full and wait for room in it. */
  get waiting(): number {
    return Math.max(0, this.held - this.maxBuffered);
  }

  /** True when a publish or send made now would not have to wait for room in the buffer. */
  get hasRoom(): boolean {
    return this.held < this.maxBuffered;
  }

  /** Publishes held unsent: the buffer and the waiting line (one FIFO). */
  private get held(): number {
    return this.queue.length - this.queueHead - this.cancelledQueued;
  }

  /**
   * Resolves when the buffer has room for one more publish (at once when it has);
   * rejects when the connection has failed for good.
   */
  writable(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.hasRoom) return RESOLVED;
    return new Promise<void>((resolve, reject) => this.roomWaiters.push({ resolve, reject }));
  }

  /** A new link is up (and its topology recovered): send what the buffer holds. */
  attach(transport: Transport): void {
    this.transport = transport;
    this.pump();
  }

  /**
   * The link is gone. Written-but-unconfirmed publishes go back to the front
   * of the buffer ('resend') or fail with `err` ('reject'). Numbering starts
   * again at 1 on the next link.
   */
  detach(err: WarrenError): void {
    this.transport = undefined;
    this.waitingForDrain = false;
    this.blocked = false;
    this.returned = undefined;
    const resend: Entry[] = [];
    const failed: Reject[] = [];
    for (let s = this.base; s < this.nextSeq; s++) {
      const slot = s & this.mask;
      const resolve = this.resolves[slot];
      if (resolve === undefined) continue;
      const reject = this.rejects[slot]!;
      const ticket = this.tickets[slot];
      const e: Entry = {
        exchange: this.exchanges[slot]!,
        routingKey: this.routingKeys[slot]!,
        flags: this.flagsRing[slot]!,
        properties: this.props[slot]!,
        body: this.bodies[slot]!,
        resolve,
        reject,
        ticket,
      };
      this.clearSlot(slot);
      if (ticket !== undefined) {
        ticket.seq = 0;
        if (ticket.cancelled) continue;
      }
      if (this.resend) resend.push(e);
      else failed.push(reject);
    }
    this.nextSeq = 1;
    this.base = 1;
    this.unconfirmed = 0;
    if (resend.length > 0) {
      this.queue = resend.concat(this.queueHead === 0 ? this.queue : this.queue.slice(this.queueHead));
      this.queueHead = 0;
    }
    for (const reject of failed) reject(err);
    this.notifyIdle();
  }

  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    properties: MessageProperties | null,
    mandatory: boolean,
    limits?: PublishLimits,
  ): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const flags = mandatory ? PublishFlags.MANDATORY : 0;
    // One shared executor hands over the settle functions: no closure (and context) per publish.
    const promise = new Promise<void>(this.capture);
    const resolve = this.capturedResolve!;
    const reject = this.capturedReject!;
    this.capturedResolve = undefined;
    this.capturedReject = undefined;
    try {
      if (this.queueHead === this.queue.length && this.canSend()) {
        if (limits === undefined) {
          this.send1(exchange, routingKey, flags, properties, body, resolve, reject, undefined);
        } else {
          const e: Entry = { exchange, routingKey, flags, properties, body, resolve, reject, ticket: undefined };
          this.arm(e, limits);
          this.send1(exchange, routingKey, flags, properties, body, e.resolve, e.reject, e.ticket);
        }
        return promise;
      }
      if (this.held >= this.maxHeld) {
        reject(new PublishBufferFullError(this.maxBuffered));
        return promise;
      }
      const e: Entry = { exchange, routingKey, flags, properties, body, resolve, reject, ticket: undefined };
      if (limits !== undefined) this.arm(e, limits);
      this.queue.push(e);
      this.waitForRoom();
    } catch (err) {
      // As a throw inside a Promise executor: the promise rejects, publish() does not throw.
      reject(err);
    }
    return promise;
  }

  /**
   * Fire-and-forget: publishes without a promise. Returns true while the buffer
   * has room for more, false once the caller should wait for writable(). Throws
   * PublishBufferFullError (nothing sent) when the buffer is already full, and
   * the connection's failure when it has failed for good.
   */
  send(exchange: string, routingKey: string, body: Buffer, properties: MessageProperties | null, mandatory: boolean): boolean {
    if (this.failure !== undefined) throw this.failure;
    const flags = mandatory ? PublishFlags.MANDATORY : 0;
    if (this.queueHead === this.queue.length && this.canSend()) {
      this.send1(exchange, routingKey, flags, properties, body, noop, this.sendFailed, undefined);
      return true;
    }
    if (!this.hasRoom) throw new PublishBufferFullError(this.maxBuffered);
    this.queue.push({ exchange, routingKey, flags, properties, body, resolve: noop, reject: this.sendFailed, ticket: undefined });
    this.waitForRoom();
    return this.hasRoom;
  }

  /** CONFIRM: settles seq, or every outstanding seq up to it when `multiple`. */
  confirm(seq: number, multiple: boolean): void {
    if (multiple) {
      const end = Math.min(seq, this.nextSeq - 1);
      for (let s = this.base; s <= end; s++) this.settle(s, undefined);
    } else {
      this.settle(seq, undefined);
    }
    this.afterSettle();
  }

  /** PUBLISH_NACK: rejects one seq with the server's reason. */
  nack(seq: number, code: number, name: string, message: string): void {
    if (this.settle(seq, new PublishNackedError(code, name, message))) this.afterSettle();
  }

  /** RETURN: remembered until the CONFIRM of the same seq, which then rejects. */
  returnMessage(seq: number, msg: ReturnedMessage): void {
    if (seq < this.base || seq >= this.nextSeq) return;
    (this.returned ??= new Map()).set(seq, msg);
  }

  /** Resolves when nothing is buffered or unconfirmed (at once if already so). */
  whenIdle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects everything buffered or unconfirmed, and every later publish. */
  failAll(err: WarrenError): void {
    this.failure ??= err;
    const queue = this.queue;
    const head = this.queueHead;
    this.queue = [];
    this.queueHead = 0;
    this.cancelledQueued = 0;
    for (let s = this.base; s < this.nextSeq; s++) this.settle(s, err);
    for (let i = head; i < queue.length; i++) {
      const e = queue[i]!;
      if (e.ticket === undefined || !e.ticket.cancelled) e.reject(err);
    }
    this.returned = undefined;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w.reject(err);
    this.notifyIdle();
  }

  /** FLOW: while blocked the server reads nothing, so publishes wait here rather than in socket buffers. */
  setBlocked(blocked: boolean): void {
    this.blocked = blocked;
    if (!blocked) this.pump();
  }

  /** Fails buffered publishes for which `tooLarge` returns an error (the new link negotiated a smaller frameMax). */
  rejectBuffered(tooLarge: (e: { exchange: string; routingKey: string; properties: MessageProperties | null; body: Buffer }) => WarrenError | undefined): void {
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if (e.ticket?.cancelled === true) continue;
      const err = tooLarge(e);
      if (err === undefined) continue;
      (e.ticket ??= { seq: 0, cancelled: false }).cancelled = true;
      this.cancelledQueued++;
      e.reject(err);
    }
    this.notifyIdle();
  }

  private canSend(): boolean {
    const t = this.transport;
    return t !== undefined && !this.blocked && this.unconfirmed < this.window && !t.overHighWater;
  }

  private send1(
    exchange: string,
    routingKey: string,
    flags: number,
    properties: MessageProperties | null,
    body: Buffer,
    resolve: Resolve,
    reject: Reject,
    ticket: Ticket | undefined,
  ): void {
    const seq = this.nextSeq;
    if (seq - this.base > this.mask) this.grow();
    this.nextSeq = seq + 1;
    const slot = seq & this.mask;
    this.resolves[slot] = resolve;
    this.rejects[slot] = reject;
    this.exchanges[slot] = exchange;
    this.routingKeys[slot] = routingKey;
    this.flagsRing[slot] = flags;
    this.props[slot] = properties;
    this.bodies[slot] = body;
    this.tickets[slot] = ticket;
    if (ticket !== undefined) ticket.seq = seq;
    this.unconfirmed++;
    this.transport!.writer.publish(seq, exchange, routingKey, flags, properties, body);
  }

  /**
   * Empties a slot. Only what could pin memory is cleared (the caller's
   * properties and body, the promise's functions); exchange, routing key,
   * flags and ticket are overwritten by the next send into the slot and never
   * read while `resolves[slot]` is undefined.
   */
  private clearSlot(slot: number): void {
    this.resolves[slot] = undefined;
    this.rejects[slot] = undefined;
    this.props[slot] = undefined;
    this.bodies[slot] = undefined;
  }

  /** Settles one seq if still outstanding; err undefined = confirmed. */
  private settle(seq: number, err: WarrenError | undefined): boolean {
    if (seq < this.base || seq >= this.nextSeq) return false;
    const slot = seq & this.mask;
    const resolve = this.resolves[slot];
    if (resolve === undefined) return false;
    const reject = this.rejects[slot]!;
    const ticket = this.tickets[slot];
    this.clearSlot(slot);
    this.unconfirmed--;
    if (this.returned !== undefined) {
      const msg = this.returned.get(seq);
      if (msg !== undefined) {
        this.returned.delete(seq);
        err ??= new MessageReturnedError(msg);
      }
    }
    if (ticket !== undefined && ticket.cancelled) return true;
    if (err === undefined) resolve();
    else reject(err);
    return true;
  }

  private afterSettle(): void {
    // Advance base past settled slots so the ring span stays small.
    while (this.base < this.nextSeq && this.resolves[this.base & this.mask] === undefined) this.base++;
    if (this.queueHead < this.queue.length) this.pump();
    else this.notifyIdle();
  }

  /** Sends buffered publishes while there is room. */
  private pump(): void {
    const queue = this.queue;
    while (this.queueHead < queue.length && this.failure === undefined) {
      const q = queue[this.queueHead]!;
      if (q.ticket !== undefined && q.ticket.cancelled) {
        queue[this.queueHead++] = undefined as unknown as Entry;
        this.cancelledQueued--;
        continue;
      }
      if (!this.canSend()) {
        this.waitForRoom();
        break;
      }
      queue[this.queueHead++] = undefined as unknown as Entry;
      this.send1(q.exchange, q.routingKey, q.flags, q.properties, q.body, q.resolve, q.reject, q.ticket);
    }
    if (this.queueHead === queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > queue.length) {
      this.queue = queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.notifyIdle();
  }

  /** A confirm, an unblock or a new link will call pump(); only a full socket buffer needs 'drain'. */
  private waitForRoom(): void {
    const t = this.transport;
    if (t === undefined || this.waitingForDrain || this.blocked || this.unconfirmed >= this.window) return;
    if (t.overHighWater) {
      this.waitingForDrain = true;
      t.onceDrained(this.pumpBound);
    }
  }

  /**
   * Wraps the entry's settle functions with a deadline and/or an abort signal.
   * When either fires first the promise rejects and the entry is marked
   * cancelled: dropped if still buffered, ignored when its confirm arrives,
   * never re-sent after a reconnect.
   */
  private arm(e: Entry, limits: PublishLimits): void {
    const { signal, timeoutMs } = limits;
    const resolve = e.resolve;
    const reject = e.reject;
    const ticket: Ticket = { seq: 0, cancelled: false };
    e.ticket = ticket;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const cancel = (err: WarrenError): void => {
      if (ticket.cancelled) return;
      ticket.cancelled = true;
      cleanup();
      if (ticket.seq === 0 && this.failure === undefined) this.cancelledQueued++;
      reject(err);
      this.notifyIdle();
    };
    const onAbort = (): void => cancel(new AbortError(signal!.reason));
    e.resolve = () => {
      cleanup();
      resolve();
    };
    e.reject = (err) => {
      cleanup();
      reject(err);
    };
    if (timeoutMs !== undefined && timeoutMs > 0) {
      timer = setTimeout(() => cancel(new TimeoutError(`publish not confirmed within ${timeoutMs} ms`)), timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  }

  private notifyIdle(): void {
    if (this.roomWaiters.length > 0 && this.hasRoom) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const w of waiters) w.resolve();
    }
    if (this.idleWaiters.length === 0 || this.outstanding !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private grow(): void {
    const oldMask = this.mask;
    const capacity = (oldMask + 1) * 2;
    const mask = capacity - 1;
    const move = <T>(from: T[]): T[] => {
      const to = new Array<T>(capacity);
      for (let s = this.base; s < this.nextSeq; s++) to[s & mask] = from[s & oldMask]!;
      return to;
    };
    const flags = new Uint8Array(capacity);
    for (let s = this.base; s < this.nextSeq; s++) flags[s & mask] = this.flagsRing[s & oldMask]!;
    this.resolves = move(this.resolves);
    this.rejects = move(this.rejects);
    this.exchanges = move(this.exchanges);
    this.routingKeys = move(this.routingKeys);
    this.props = move(this.props);
    this.bodies = move(this.bodies);
    this.tickets = move(this.tickets);
    this.flagsRing = flags;
    this.mask = mask;
  }
}
