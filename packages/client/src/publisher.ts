/**
 * Publisher confirms and back-pressure.
 *
 * Each PUBLISH gets the next sequence number (from 1). Unconfirmed publishes
 * live in a ring indexed by seq, so a confirm is O(1), a cumulative confirm is
 * O(confirmed), and confirms are matched by number, never by arrival order.
 *
 * A publish is sent at once only when nothing is queued before it, the server
 * has not flow-blocked us, fewer than `window` publishes are unconfirmed and
 * the socket's write buffer is under WRITE_HIGH_WATER. Otherwise it waits in
 * a FIFO (keeping publish order) until a confirm, an unblock or a socket
 * 'drain' makes room: a tight loop of publishes then waits on the server
 * instead of growing the socket buffer without bound.
 */
import { FrameType, PublishFlags, type MessageProperties, type WarrenError } from '@warren/protocol';
import { MessageReturnedError, PublishNackedError, type ReturnedMessage } from './errors.js';
import type { Transport } from './transport.js';

/** Stop handing publishes to the socket while more than this is waiting to be written. */
export const WRITE_HIGH_WATER = 1024 * 1024;

interface Queued {
  exchange: string;
  routingKey: string;
  flags: number;
  properties: MessageProperties | null;
  body: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

type Resolve = () => void;
type Reject = (err: unknown) => void;

export class Publisher {
  private nextSeq = 1;
  /** Lowest seq whose ring slot may still be occupied. */
  private base = 1;
  private resolves: (Resolve | undefined)[];
  private rejects: (Reject | undefined)[];
  private mask: number;
  /** Publishes sent and not yet confirmed or nacked. */
  private unconfirmed = 0;
  private queue: Queued[] = [];
  private queueHead = 0;
  private waitingForDrain = false;
  private blocked = false;
  /** RETURN arrives before the CONFIRM of the same seq; hold it until then. Rare. */
  private returned: Map<number, ReturnedMessage> | undefined;
  private idleWaiters: (() => void)[] = [];
  private failure: WarrenError | undefined;
  // Reused header array: the writer encodes it before sendRaw returns.
  private readonly header: unknown[] = [0, '', '', 0, null];
  private readonly pumpBound = (): void => {
    this.waitingForDrain = false;
    this.pump();
  };

  constructor(
    private readonly transport: Transport,
    private readonly window: number,
  ) {
    let capacity = 16;
    while (capacity < window) capacity *= 2;
    this.resolves = new Array<Resolve | undefined>(capacity);
    this.rejects = new Array<Reject | undefined>(capacity);
    this.mask = capacity - 1;
  }

  /** Publishes queued or unconfirmed. */
  get outstanding(): number {
    return this.unconfirmed + this.queue.length - this.queueHead;
  }

  publish(exchange: string, routingKey: string, body: Buffer, properties: MessageProperties | null, mandatory: boolean): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const flags = mandatory ? PublishFlags.MANDATORY : 0;
    return new Promise<void>((resolve, reject) => {
      if (this.queueHead === this.queue.length && this.canSend()) {
        this.send(exchange, routingKey, flags, properties, body, resolve, reject);
      } else {
        this.queue.push({ exchange, routingKey, flags, properties, body, resolve, reject });
        this.waitForRoom();
      }
    });
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

  /** Resolves when nothing is queued or unconfirmed (at once if already so). */
  whenIdle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects everything queued or unconfirmed, and every later publish. */
  failAll(err: WarrenError): void {
    this.failure ??= err;
    const queue = this.queue;
    const head = this.queueHead;
    this.queue = [];
    this.queueHead = 0;
    for (let s = this.base; s < this.nextSeq; s++) this.settle(s, err);
    for (let i = head; i < queue.length; i++) queue[i]!.reject(err);
    this.returned = undefined;
    this.notifyIdle();
  }

  /** FLOW: while blocked the server reads nothing, so publishes wait here rather than in socket buffers. */
  setBlocked(blocked: boolean): void {
    this.blocked = blocked;
    if (!blocked) this.pump();
  }

  private canSend(): boolean {
    return !this.blocked && this.unconfirmed < this.window && this.transport.bufferedBytes <= WRITE_HIGH_WATER;
  }

  private send(
    exchange: string,
    routingKey: string,
    flags: number,
    properties: MessageProperties | null,
    body: Buffer,
    resolve: Resolve,
    reject: Reject,
  ): void {
    const seq = this.nextSeq;
    if (seq - this.base > this.mask) this.grow();
    this.nextSeq = seq + 1;
    const slot = seq & this.mask;
    this.resolves[slot] = resolve;
    this.rejects[slot] = reject;
    this.unconfirmed++;
    const h = this.header;
    h[0] = seq;
    h[1] = exchange;
    h[2] = routingKey;
    h[3] = flags;
    h[4] = properties;
    this.transport.sendRaw(FrameType.PUBLISH, h, body);
    h[4] = null; // do not pin the caller's properties object
  }

  /** Settles one seq if still outstanding; err undefined = confirmed. */
  private settle(seq: number, err: WarrenError | undefined): boolean {
    if (seq < this.base || seq >= this.nextSeq) return false;
    const slot = seq & this.mask;
    const resolve = this.resolves[slot];
    if (resolve === undefined) return false;
    const reject = this.rejects[slot]!;
    this.resolves[slot] = undefined;
    this.rejects[slot] = undefined;
    this.unconfirmed--;
    if (this.returned !== undefined) {
      const msg = this.returned.get(seq);
      if (msg !== undefined) {
        this.returned.delete(seq);
        err ??= new MessageReturnedError(msg);
      }
    }
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

  /** Sends queued publishes while there is room. */
  private pump(): void {
    const queue = this.queue;
    while (this.queueHead < queue.length && this.failure === undefined) {
      if (!this.canSend()) {
        this.waitForRoom();
        return;
      }
      const q = queue[this.queueHead]!;
      queue[this.queueHead++] = undefined as unknown as Queued;
      this.send(q.exchange, q.routingKey, q.flags, q.properties, q.body, q.resolve, q.reject);
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

  /** A confirm or unblock will call pump(); only a full socket buffer needs 'drain'. */
  private waitForRoom(): void {
    if (this.waitingForDrain || this.blocked || this.unconfirmed >= this.window) return;
    if (this.transport.bufferedBytes > WRITE_HIGH_WATER) {
      this.waitingForDrain = true;
      this.transport.onceDrained(this.pumpBound);
    }
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || this.outstanding !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private grow(): void {
    const oldMask = this.mask;
    const capacity = (oldMask + 1) * 2;
    const resolves = new Array<Resolve | undefined>(capacity);
    const rejects = new Array<Reject | undefined>(capacity);
    const mask = capacity - 1;
    for (let s = this.base; s < this.nextSeq; s++) {
      resolves[s & mask] = this.resolves[s & oldMask];
      rejects[s & mask] = this.rejects[s & oldMask];
    }
    this.resolves = resolves;
    this.rejects = rejects;
    this.mask = mask;
  }
}
