/**
 * Consumers: a subscription to one queue, fed by the connection's DELIVER
 * frames, either into a handler (callback) or into a buffer read with
 * `for await`. The broker's prefetch bounds how many unacknowledged messages
 * can be in flight, so it also bounds that buffer (for noAck consumers nothing
 * does: use a handler, or keep up).
 *
 * A consumer outlives the socket: when the connection is lost and comes back,
 * the connection subscribes it again (same tag, same options) and deliveries
 * resume without user code. Messages buffered for the iterator when the link
 * dropped are discarded (the broker requeued them; they come again).
 */
import { ErrorCodes, WarrenError, type ConsumeOptions as WireConsumeOptions } from '@warren/protocol';
import type { Delivery, Message } from './message.js';

/** Options for {@link Connection.consume}: the CONSUME options plus per-call limits. */
export interface ConsumeOptions extends WireConsumeOptions {
  /**
   * Aborting cancels the consumer (like {@link Consumer.cancel}); if it fires
   * before the broker confirmed the subscription, consume() rejects with
   * AbortError.
   */
  signal?: AbortSignal;
  /** Deadline in ms for the broker to confirm the subscription (TimeoutError; the consumer is then cancelled). 0 = none. */
  timeoutMs?: number;
}

/**
 * Called once per delivery, without waiting for earlier calls to finish (the
 * consumer's prefetch bounds the concurrency). Settle each message with
 * ack/nack/reject; nothing is acknowledged automatically.
 *
 * If the handler throws or its promise rejects while the message is still
 * unsettled (and the consumer is not noAck), the message is nacked with
 * `requeue: !msg.redelivered`: a first failure puts it back once, a message
 * that fails again is dead-lettered or dropped instead of looping forever.
 * The error is then reported on the connection's 'handlerError' event; it
 * never crashes the process.
 */
export type MessageHandler = (msg: Message) => void | Promise<void>;

/** What a consumer needs from its connection. */
export interface ConsumerHost {
  cancelConsumer(consumer: Consumer): Promise<void>;
  reportHandlerError(err: unknown, msg: Message): void;
}

/**
 * A subscription to a queue. With no handler, iterate it:
 * `for await (const msg of consumer) { ...; msg.ack() }`. The loop ends when
 * the consumer is cancelled by you or the connection is closed by you; it
 * throws when the broker cancels the consumer, or when the connection is lost
 * for good (a lost link that the client reconnects is invisible here: the
 * loop just waits for the next delivery).
 * Leaving the loop early (`break`) cancels the consumer and requeues messages
 * buffered but not yet handed to you.
 */
export class Consumer implements AsyncIterable<Message> {
  /**
   * Resolves when the consumer stops receiving for good: null when cancelled
   * by you or by a graceful close, else the reason (the broker cancelled it,
   * re-subscribing after a reconnect failed, or the connection closed for
   * good). Never rejects.
   */
  readonly cancelled: Promise<WarrenError | null>;
  readonly noAck: boolean;
  /** The CONSUME options it was created with (tag included), replayed after a reconnect. */
  readonly options: Readonly<WireConsumeOptions>;

  /** @internal The broker confirmed this subscription at least once: recovery re-subscribes it. */
  established = false;
  /** @internal CONSUME was written to the current link (the broker may know this tag). */
  consumeSent = false;
  /** @internal cancel() was called: recovery must not re-subscribe it. */
  cancelRequested = false;

  private queueName: string;
  private currentTag: string;
  private readonly handler: MessageHandler | undefined;
  private readonly host: ConsumerHost;
  private endResolve!: (err: WarrenError | null) => void;
  private ended = false;
  private endError: WarrenError | null = null;
  private cancelPromise: Promise<void> | undefined;
  // Iterator state, used only without a handler.
  private buffer: Delivery[] = [];
  private head = 0;
  private waiting: { resolve: (r: IteratorResult<Message>) => void; reject: (err: unknown) => void } | undefined;
  private iterating = false;
  private iteratorDone = false;
  // Handler calls whose promise has not settled yet; close() waits for them.
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly handlerDone = (): void => {
    if (--this.inflight === 0 && this.idleWaiters.length > 0) this.notifyIdle();
  };

  /** @internal Created by Connection.consume. */
  constructor(host: ConsumerHost, tag: string, queue: string, options: WireConsumeOptions, handler: MessageHandler | undefined) {
    this.host = host;
    this.currentTag = tag;
    this.queueName = queue;
    this.options = options;
    this.noAck = options.noAck === true;
    this.handler = handler;
    this.cancelled = new Promise((resolve) => {
      this.endResolve = resolve;
    });
  }

  /** The consumer tag: yours if you passed one, else generated by the client. Kept across reconnects. */
  get tag(): string {
    return this.currentTag;
  }

  /**
   * The queue it consumes from. For a server-named queue this changes after a
   * reconnect (the connection's 'queueRenamed' event says so).
   */
  get queue(): string {
    return this.queueName;
  }

  /** @internal The server-named queue got a new name on a new link. */
  renameQueue(name: string): void {
    this.queueName = name;
  }

  /** @internal The link is gone: what the iterator buffered can no longer be settled (the broker requeued it). */
  linkLost(): void {
    this.consumeSent = false;
    this.buffer = [];
    this.head = 0;
  }

  /** @internal Resolves when no handler call is still running. */
  whenIdle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops deliveries to this consumer. Idempotent; resolves at once if the connection is already gone. */
  cancel(): Promise<void> {
    return (this.cancelPromise ??= this.host.cancelConsumer(this));
  }

  /** @internal */
  get isEnded(): boolean {
    return this.ended;
  }

  /** @internal The server confirmed a different tag than the one asked for. */
  retag(tag: string): void {
    this.currentTag = tag;
  }

  /** @internal Hands a delivery to the handler or the iterator buffer. */
  deliver(msg: Delivery): void {
    const handler = this.handler;
    if (handler !== undefined) {
      let result: void | Promise<void>;
      try {
        result = handler(msg);
      } catch (err) {
        this.handlerFailed(err, msg);
        return;
      }
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
        this.inflight++;
        (result as Promise<void>).then(this.handlerDone, (err: unknown) => {
          this.handlerFailed(err, msg);
          this.handlerDone();
        });
      }
      return;
    }
    if (this.iteratorDone) {
      // The loop was left: give the message back rather than strand it unacked.
      msg.nack({ requeue: true });
      return;
    }
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      waiting.resolve({ value: msg, done: false });
    } else {
      this.buffer.push(msg);
    }
  }

  /**
   * @internal No more deliveries. `err` null = cancelled by the user or a
   * graceful close. `discardBuffered`: the connection is gone, so buffered
   * messages can no longer be settled (the broker requeues them).
   */
  end(err: WarrenError | null, discardBuffered: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = err;
    if (discardBuffered) {
      this.buffer = [];
      this.head = 0;
    }
    const waiting = this.waiting;
    if (waiting !== undefined && this.head === this.buffer.length) {
      this.waiting = undefined;
      this.finishIteration(waiting);
    }
    this.endResolve(err);
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    if (this.handler !== undefined) {
      throw new WarrenError(ErrorCodes.INVALID_ARGUMENT, 'a consumer created with a handler cannot also be iterated');
    }
    if (this.iterating) throw new WarrenError(ErrorCodes.INVALID_ARGUMENT, 'a consumer can be iterated only once');
    this.iterating = true;
    return {
      next: () => this.next(),
      return: () => this.stopIterating(),
    };
  }

  private next(): Promise<IteratorResult<Message>> {
    if (this.head < this.buffer.length) {
      const msg = this.buffer[this.head]!;
      this.buffer[this.head++] = undefined as unknown as Delivery;
      if (this.head === this.buffer.length) {
        this.buffer = [];
        this.head = 0;
      }
      return Promise.resolve({ value: msg, done: false });
    }
    return new Promise((resolve, reject) => {
      if (this.ended || this.iteratorDone) this.finishIteration({ resolve, reject });
      else this.waiting = { resolve, reject };
    });
  }

  /** Ends the iteration: done, or the reason the consumer was lost (reported once). */
  private finishIteration(w: { resolve: (r: IteratorResult<Message>) => void; reject: (err: unknown) => void }): void {
    const err = this.iteratorDone ? null : this.endError;
    this.iteratorDone = true;
    if (err !== null) w.reject(err);
    else w.resolve({ value: undefined, done: true });
  }

  private async stopIterating(): Promise<IteratorResult<Message>> {
    this.iteratorDone = true;
    for (let i = this.head; i < this.buffer.length; i++) this.buffer[i]!.nack({ requeue: true });
    this.buffer = [];
    this.head = 0;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve({ value: undefined, done: true });
    if (!this.ended) {
      try {
        await this.cancel();
      } catch {
        // The loop is over either way; a failed cancel surfaces on `cancelled` or 'close'.
      }
    }
    return { value: undefined, done: true };
  }

  private handlerFailed(err: unknown, msg: Delivery): void {
    if (!msg.settled) msg.nack({ requeue: !msg.redelivered });
    this.host.reportHandlerError(err, msg);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
