/**
 * Connection status: what {@link Connection.statusEvents} yields and what the
 * connection emits as events of the same names.
 */
import type { WarrenError } from '@warren/protocol';

/** A link to the broker is up: after the first connect, and after each successful reconnect (topology already recovered). */
export interface ConnectedEvent {
  type: 'connected';
  /** The server's name for this link. */
  connectionId: string;
  /** False for the first connection, true after a reconnect. */
  reconnected: boolean;
  /** Reconnect attempts it took (0 for the first connection). */
  attempts: number;
  /**
   * Topology items that could not be re-declared on this link (each was also
   * reported on 'recoveryError' and dropped from the recorded topology).
   */
  recoveryErrors: WarrenError[];
}

/** An established link was lost. */
export interface DisconnectedEvent {
  type: 'disconnected';
  /** Why (ConnectionClosedError for a dropped socket, TimeoutError for a silent peer, the server's error for its CLOSE). */
  error: WarrenError;
  /** True when the client will try to reconnect; false when 'closed' follows. */
  willReconnect: boolean;
}

/** A reconnect attempt is scheduled. */
export interface ReconnectingEvent {
  type: 'reconnecting';
  /** 1 for the first attempt after a loss. */
  attempt: number;
  /** Delay before this attempt, in ms (back-off with jitter). */
  delayMs: number;
  /** Why the link (or the previous attempt) failed. */
  error: WarrenError;
}

/** The broker stopped reading from this connection (memory or disk alarm): publishes wait in the client. */
export interface BlockedEvent {
  type: 'blocked';
  reason: string;
}

/** Publishing may go on: the broker lifted its FLOW block, or the blocked link was lost. */
export interface UnblockedEvent {
  type: 'unblocked';
}

/** The connection is closed for good. */
export interface ClosedEvent {
  type: 'closed';
  /** undefined after a normal close; else why (including "gave up reconnecting"). */
  error: WarrenError | undefined;
}

export type StatusEvent = ConnectedEvent | DisconnectedEvent | ReconnectingEvent | BlockedEvent | UnblockedEvent | ClosedEvent;

/** A server-named queue was declared again after a reconnect and got a new name. */
export interface QueueRenamedEvent {
  oldName: string;
  newName: string;
}

/** A recorded topology item that recovery re-declares. */
export type RecoveryItem =
  | { kind: 'exchange'; name: string }
  | { kind: 'queue'; name: string }
  | { kind: 'binding'; destinationKind: 'queue' | 'exchange'; destination: string; source: string; routingKey: string }
  | { kind: 'consumer'; tag: string; queue: string }
  | { kind: 'kv-bucket'; name: string }
  | { kind: 'kv-watch'; bucket: string }
  | { kind: 'stream-consumer'; tag: string; stream: string };

/** Status events kept per iterator when it is not read; older ones are dropped first. */
const MAX_QUEUED = 1000;

class StatusSubscription implements AsyncIterableIterator<StatusEvent> {
  private readonly queue: StatusEvent[] = [];
  private waiting: ((r: IteratorResult<StatusEvent>) => void) | undefined;
  private done = false;

  constructor(private readonly owner: StatusStream) {}

  push(e: StatusEvent): void {
    if (this.done) return;
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w({ value: e, done: false });
    } else {
      if (this.queue.length >= MAX_QUEUED) this.queue.shift();
      this.queue.push(e);
    }
  }

  /** No more events after what is queued. */
  finish(): void {
    this.done = true;
    if (this.waiting !== undefined && this.queue.length === 0) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<StatusEvent>> {
    const e = this.queue.shift();
    if (e !== undefined) return Promise.resolve({ value: e, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<StatusEvent>> {
    this.queue.length = 0;
    this.finish();
    this.owner.unsubscribe(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StatusEvent> {
    return this;
  }
}

/** Fans status events out to every open iterator. */
export class StatusStream {
  private readonly subs = new Set<StatusSubscription>();
  /** The latest connected/disconnected/reconnecting/closed event: where a new iterator starts. */
  private current: StatusEvent | undefined;
  private ended = false;

  push(e: StatusEvent): void {
    if (this.ended) return;
    if (e.type !== 'blocked' && e.type !== 'unblocked') this.current = e;
    for (const s of this.subs) s.push(e);
    if (e.type === 'closed') {
      this.ended = true;
      for (const s of this.subs) s.finish();
      this.subs.clear();
    }
  }

  subscribe(): AsyncIterableIterator<StatusEvent> {
    const sub = new StatusSubscription(this);
    if (this.current !== undefined) sub.push(this.current);
    if (this.ended) sub.finish();
    else this.subs.add(sub);
    return sub;
  }

  unsubscribe(sub: StatusSubscription): void {
    this.subs.delete(sub);
  }
}
