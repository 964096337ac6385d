/**
 * Stream consumers: a subscription to a stream (protocol-spec 8.6) read with
 * `for await` or a handler. Flow control is by credit: the broker sends at most
 * `credit` messages ahead, and the consumer grants more as messages are processed
 * (a message yielded by the iterator counts as processed when the loop asks for the
 * next one; a handler's message when the handler returns). A named consumer commits
 * offsets it has processed (`msg.commit()`, `consumer.commit()`, or `autoCommit`),
 * never merely received ones, so a consumer that comes back resumes with no gap.
 *
 * A stream consumer survives reconnects: when the link is lost, deliveries it had
 * received but not yet handed out are dropped, and once the connection is back it
 * subscribes again on the new link, from the offset after the last message it handed
 * out (for a named consumer the broker resumes after its last commit, and deliveries
 * up to what was already handed out are skipped here): the iterator or handler sees
 * no gap and no message twice. It ends when you cancel it, when the broker cancels
 * it (stream deleted, storage error, a message above frameMax), when subscribing
 * again is refused (reported as a `recoveryError` too) or when the connection
 * closes for good.
 */
import type { MessageProperties, StreamCancelledFrame, StreamDeliverFrame, StreamOffsetSpec, StreamSubscribeOptions, WarrenError } from '@warren/protocol';
import { remoteError } from './errors.js';
import type { KvRequest } from './kv.js';

/** Sends one request on the link being recovered. */
type StreamRequest = KvRequest;

/** A message read from a stream. */
export interface StreamMessage {
  readonly stream: string;
  /** Position in the stream: 0, 1, 2, … */
  readonly offset: number;
  /** When the broker stored it (ms since the epoch). */
  readonly timestamp: number;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: MessageProperties;
  readonly body: Buffer;
  /** Commits this message's offset for the consumer's name (resolves once durable). */
  commit(): Promise<void>;
}

/** A StreamMessage as delivered: one object per message, commit() on the prototype. */
class StreamDelivery implements StreamMessage {
  constructor(
    private readonly consumer: StreamConsumer,
    readonly offset: number,
    readonly timestamp: number,
    readonly exchange: string,
    readonly routingKey: string,
    readonly properties: MessageProperties,
    readonly body: Buffer,
  ) {}

  get stream(): string {
    return this.consumer.stream;
  }

  commit(): Promise<void> {
    return this.consumer.commit(this.offset);
  }
}

export interface StreamConsumeOptions {
  /** Where to start when the name has no committed offset: 'first', 'last', 'next' (default), an offset, or a Date. */
  offset?: StreamOffsetSpec | Date;
  /** Named consumer: resumes after its last committed offset. */
  name?: string;
  /** Only messages whose header `header` has one of `values`. */
  filter?: { header: string; values: unknown[] };
  /** Messages the broker may send ahead (default 1000). */
  credit?: number;
  /** With `name`: only one subscriber of this name reads at a time. */
  singleActive?: boolean;
  /** With `name`: commit processed offsets automatically (when credit is returned, when idle and on cancel). */
  autoCommit?: boolean;
  consumerTag?: string;
}

export type StreamMessageHandler = (msg: StreamMessage) => void | Promise<void>;

/** What a stream consumer needs from its connection. */
export interface StreamConsumerHost {
  grantCredit(tag: string, credit: number): void;
  commitStreamOffset(stream: string, name: string, offset: number): Promise<void>;
  unsubscribeStream(consumer: StreamConsumer): Promise<void>;
  reportHandlerError(err: unknown, msg: undefined): void;
}

export const DEFAULT_STREAM_CREDIT = 1000;

/** The wire options of a subscription. */
export function subscribeOptions(o: StreamConsumeOptions): StreamSubscribeOptions {
  const out: StreamSubscribeOptions = { credit: o.credit ?? DEFAULT_STREAM_CREDIT };
  if (o.offset instanceof Date) out.timestamp = o.offset.getTime();
  else if (o.offset !== undefined) out.offset = o.offset;
  if (o.name !== undefined) out.name = o.name;
  if (o.filter !== undefined) out.filter = o.filter;
  if (o.singleActive) out.singleActive = true;
  if (o.consumerTag !== undefined) out.consumerTag = o.consumerTag;
  return out;
}

export class StreamConsumer implements AsyncIterable<StreamMessage> {
  /** Resolves when the consumer ends: null when cancelled by you, else why. Never rejects. */
  readonly ended: Promise<WarrenError | null>;
  tag = '';
  /** Where the broker started it (null while waiting as an inactive single-active subscriber). */
  startOffset: number | null = null;
  /** @internal The first STREAM_SUBSCRIBE was answered: from now on recovery subscribes it again. */
  subscribed = false;
  private readonly buffer: StreamMessage[] = [];
  private waiter: (() => void) | null = null;
  private endReason: WarrenError | null | undefined = undefined;
  private resolveEnded!: (e: WarrenError | null) => void;
  private processed = 0;
  /** The highest offset handed to the handler or the iterator (-1: none yet). */
  private handedOut = -1;
  private lastProcessed = -1;
  private lastCommitted = -1;
  private handling = false;
  private readonly window: number;

  constructor(
    readonly stream: string,
    readonly options: StreamConsumeOptions,
    private readonly host: StreamConsumerHost,
    private readonly handler?: StreamMessageHandler,
  ) {
    this.window = options.credit ?? DEFAULT_STREAM_CREDIT;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get name(): string | undefined {
    return this.options.name;
  }

  /** @internal A STREAM_DELIVER for this consumer. */
  deliver(offset: number, timestamp: number, exchange: string, routingKey: string, properties: MessageProperties | null, body: Buffer): void {
    if (this.endReason !== undefined) return;
    if (offset <= this.handedOut) {
      // Sent again after a resubscription (a named consumer restarts after its commit): already handed out.
      this.countProcessed();
      return;
    }
    this.buffer.push(new StreamDelivery(this, offset, timestamp, exchange, routingKey, properties ?? {}, body));
    if (this.handler !== undefined) void this.runHandler();
    else this.wake();
  }

  private async runHandler(): Promise<void> {
    if (this.handling) return;
    this.handling = true;
    while (this.buffer.length > 0 && this.endReason === undefined) {
      const msg = this.buffer.shift()!;
      this.handedOut = msg.offset;
      try {
        await this.handler!(msg);
      } catch (err) {
        this.host.reportHandlerError(err, undefined);
      }
      this.done(msg.offset);
    }
    this.handling = false;
    this.idle();
  }

  /** One message processed: count it towards the next credit grant. */
  private done(offset: number): void {
    this.lastProcessed = offset;
    this.countProcessed();
  }

  /** Credit comes back in batches of half the window. */
  private countProcessed(): void {
    if (++this.processed >= Math.max(1, this.window >> 1)) {
      this.host.grantCredit(this.tag, this.processed);
      this.processed = 0;
      if (this.options.autoCommit) void this.autoCommit();
    }
  }

  private idle(): void {
    if (this.options.autoCommit && this.buffer.length === 0) void this.autoCommit();
  }

  private async autoCommit(): Promise<void> {
    if (this.options.name === undefined || this.lastProcessed <= this.lastCommitted) return;
    await this.commit(this.lastProcessed).catch((err) => this.host.reportHandlerError(err, undefined));
  }

  /** Commits `offset` (default: the last message processed) as this named consumer's position. */
  async commit(offset = this.lastProcessed): Promise<void> {
    const name = this.options.name;
    if (name === undefined) throw new TypeError('commit() needs a named consumer (the name option)');
    if (offset < 0) return;
    await this.host.commitStreamOffset(this.stream, name, offset);
    if (offset > this.lastCommitted) this.lastCommitted = offset;
  }

  /** Stops the subscription (with autoCommit, commits what was processed first). */
  async cancel(): Promise<void> {
    if (this.endReason !== undefined) return;
    if (this.options.autoCommit) await this.autoCommit();
    this.end(null);
    await this.host.unsubscribeStream(this);
  }

  /** @internal The link is gone: what was received but not handed out comes again after the resubscription. */
  linkLost(): void {
    this.buffer.length = 0;
    this.processed = 0;
  }

  /** @internal STREAM_SUBSCRIBE options for the next link: resume after what was handed out. */
  resubscribeOptions(): StreamSubscribeOptions {
    const o: StreamSubscribeOptions = { ...subscribeOptions(this.options), consumerTag: this.tag };
    const from = this.handedOut >= 0 ? this.handedOut + 1 : this.startOffset;
    if (from !== null) {
      delete o.timestamp;
      o.offset = from;
    }
    return o;
  }

  /** @internal Subscribed again on a new link. */
  resubscribed(offset: number | null): void {
    if (this.startOffset === null) this.startOffset = offset;
  }

  /** @internal Ends the consumer (cancelled, stream deleted, connection closed). */
  end(reason: WarrenError | null): void {
    if (this.endReason !== undefined) return;
    this.endReason = reason;
    this.buffer.length = 0;
    this.resolveEnded(reason);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /**
   * A hand-written iterator rather than an async generator: a message already buffered
   * costs one resolved promise, not the generator's queue of them (replays hand out
   * hundreds of thousands a second).
   */
  [Symbol.asyncIterator](): AsyncIterator<StreamMessage> {
    if (this.handler !== undefined) throw new TypeError('this stream consumer has a handler; it cannot also be iterated');
    let previous: StreamMessage | null = null;
    let finished = false;
    const take = (): IteratorResult<StreamMessage> => {
      previous = this.buffer.shift()!;
      this.handedOut = previous.offset;
      return { value: previous, done: false };
    };
    const finish = (): IteratorResult<StreamMessage> => {
      finished = true;
      if (this.endReason === null || this.endReason === undefined) return { value: undefined, done: true };
      throw this.endReason;
    };
    const wait = async (): Promise<IteratorResult<StreamMessage>> => {
      while (this.buffer.length === 0 && this.endReason === undefined) {
        this.idle();
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
      return this.endReason !== undefined ? finish() : take();
    };
    return {
      next: (): Promise<IteratorResult<StreamMessage>> => {
        if (finished) return Promise.resolve({ value: undefined, done: true });
        if (previous !== null) {
          this.done(previous.offset);
          previous = null;
        }
        if (this.endReason !== undefined) {
          try {
            return Promise.resolve(finish());
          } catch (err) {
            return Promise.reject(err as Error);
          }
        }
        if (this.buffer.length > 0) return Promise.resolve(take());
        return wait();
      },
      return: async (): Promise<IteratorResult<StreamMessage>> => {
        if (!finished) {
          finished = true;
          if (this.endReason === undefined) {
            if (previous !== null) this.lastProcessed = previous.offset;
            previous = null;
            await this.cancel();
          }
        }
        return { value: undefined, done: true };
      },
    };
  }
}

/** The stream consumers of the current link, by tag: STREAM_DELIVER and STREAM_CANCELLED find theirs here. */
export class StreamConsumers {
  private readonly byTag = new Map<string, StreamConsumer>();

  has(tag: string): boolean {
    return this.byTag.has(tag);
  }

  add(consumer: StreamConsumer): void {
    this.byTag.set(consumer.tag, consumer);
  }

  /** Forgets the consumer; false when it was not (or no longer) registered. */
  remove(consumer: StreamConsumer): boolean {
    if (this.byTag.get(consumer.tag) !== consumer) return false;
    this.byTag.delete(consumer.tag);
    return true;
  }

  deliver(f: StreamDeliverFrame): void {
    this.byTag.get(f.consumerTag)?.deliver(f.offset, f.timestamp, f.exchange, f.routingKey, f.properties, f.body);
  }

  cancelled(f: StreamCancelledFrame): void {
    const consumer = this.byTag.get(f.consumerTag);
    if (consumer === undefined) return;
    this.byTag.delete(f.consumerTag);
    consumer.end(remoteError(f.code, f.name, f.message));
  }

  /** The link is gone: every consumer waits for its resubscription (see {@link recover}). */
  linkLost(): void {
    for (const c of this.byTag.values()) c.linkLost();
  }

  /**
   * Subscribes every consumer again on a new link. A consumer whose subscription is
   * refused (its stream was deleted meanwhile) ends with that error.
   */
  recover(request: StreamRequest, failed: (c: StreamConsumer) => (err: unknown) => void): Promise<unknown>[] {
    return [...this.byTag.values()].filter((c) => c.subscribed).map((c) => {
      const options = c.resubscribeOptions();
      return request(
        (w, requestId) => w.streamSubscribe(requestId, c.stream, options),
        (r) => c.resubscribed(typeof (r as { offset?: unknown } | null)?.offset === 'number' ? ((r as { offset: number }).offset) : null),
      ).catch(failed(c));
    });
  }

  /** A consumer that could not be subscribed again: forgotten, ended with the refusal. */
  drop(c: StreamConsumer, err: WarrenError): void {
    if (this.byTag.get(c.tag) === c) this.byTag.delete(c.tag);
    c.end(err);
  }

  /** The connection closed for good (or a consumer could not be subscribed again). */
  endAll(err: WarrenError | null): void {
    const all = [...this.byTag.values()];
    this.byTag.clear();
    for (const c of all) c.end(err);
  }
}
