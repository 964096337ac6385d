/**
 * Errors the client raises. Every one is a WarrenError with a stable numeric
 * `code` and string `name` (the wire catalogue's name for that code), so
 * callers can branch on `err.code` or on `instanceof`.
 */
import { WarrenError, ErrorCodes, errorNameOf, type MessageProperties } from '@warren/protocol';

export { WarrenError, ProtocolError, ErrorCodes, errorNameOf, type ErrorName, type ErrorCode } from '@warren/protocol';

type ErrorOptions = { cause?: unknown; details?: Record<string, unknown> };

/**
 * Brands a subclass with its own `Symbol.for` key so `instanceof` keeps working
 * when two copies of this package are loaded (one brand per class, so
 * subclasses do not all match each other).
 */
function brand(cls: abstract new (...args: never[]) => object, key: string): void {
  const sym = Symbol.for(key);
  Object.defineProperty(cls.prototype, sym, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (value: unknown) => typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[sym] === true,
  });
}

/**
 * An error that the server sent (ERROR, CLOSE, CANCELLED frames). Keeps the
 * server's name when the code is not in this client's catalogue.
 */
export function remoteError(code: number, name: string, message: string, details?: Record<string, unknown> | null): WarrenError {
  const err = new WarrenError(code, message, details ? { details } : undefined);
  if (name !== '' && err.name !== name && errorNameOf(code) === undefined) {
    Object.defineProperty(err, 'name', { value: name });
  }
  return err;
}

/**
 * The connection is gone (closed by either side, socket error, dead peer) or
 * was never established. Anything that was in flight may or may not have
 * reached the server: retry it on a new connection. Always `retriable`.
 */
export class ConnectionClosedError extends WarrenError {
  constructor(message = 'connection closed', options?: ErrorOptions) {
    super(ErrorCodes.CONNECTION_FORCED, message, options);
  }
}
brand(ConnectionClosedError, 'warren.client.ConnectionClosedError');

/** A deadline passed: connect/handshake, close handshake, or heartbeats from a silent server. */
/**
 * What waiting callers are failed with when a link or the connection closes:
 * `err` is why (undefined for a normal close, whose side `byClient` names).
 */
export function closedErrorFor(err: WarrenError | undefined, byClient: boolean): ConnectionClosedError {
  if (err === undefined) return new ConnectionClosedError(byClient ? 'connection closed by the client' : 'connection closed by the server');
  return err instanceof ConnectionClosedError ? err : new ConnectionClosedError(`connection closed: ${err.message}`, { cause: err });
}

export class TimeoutError extends WarrenError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCodes.TIMEOUT, message, options);
  }
}
brand(TimeoutError, 'warren.client.TimeoutError');

/** A message the server handed back instead of routing it (mandatory publish, no queue bound). */
export interface ReturnedMessage {
  body: Buffer;
  exchange: string;
  routingKey: string;
  properties: MessageProperties;
  /** Why it came back, e.g. ErrorCodes.NO_ROUTE. */
  code: number;
  /** The reason's name as the server sent it, e.g. "NO_ROUTE". */
  reason: string;
}

/** A mandatory publish could not be routed; `returned` is the message as the server sent it back. */
export class MessageReturnedError extends WarrenError {
  readonly returned: ReturnedMessage;
  constructor(returned: ReturnedMessage) {
    super(returned.code, `message to exchange "${returned.exchange}" with routing key "${returned.routingKey}" was returned: ${returned.reason}`);
    this.returned = returned;
  }
}
brand(MessageReturnedError, 'warren.client.MessageReturnedError');

/** The server refused to take responsibility for a publish; `code` is the server's reason. */
export class PublishNackedError extends WarrenError {
  constructor(code: number, name: string, message: string) {
    super(code, message);
    if (name !== '' && this.name !== name && errorNameOf(code) === undefined) Object.defineProperty(this, 'name', { value: name });
  }
}
brand(PublishNackedError, 'warren.client.PublishNackedError');

/** The publish would not fit in one frame of the negotiated frameMax; nothing was sent. */
export class MessageTooLargeError extends WarrenError {
  /** Encoded frame size of the publish, in bytes. */
  readonly size: number;
  /** The negotiated frame maximum. */
  readonly max: number;
  constructor(size: number, max: number) {
    super(ErrorCodes.FRAME_TOO_LARGE, `publish frame of ${size} bytes exceeds the negotiated frameMax of ${max} bytes`);
    this.size = size;
    this.max = max;
  }
}
brand(MessageTooLargeError, 'warren.client.MessageTooLargeError');

/**
 * Code of {@link AbortError}: client-side only, never sent on the wire, and
 * not in the protocol's catalogue (499 as in "client closed request").
 */
export const ABORTED = 499;

/**
 * The caller's AbortSignal fired before the operation finished. `cause` is
 * `signal.reason`. Its `name` is "AbortError" (not a catalogue name) so that
 * the usual `err.name === 'AbortError'` checks recognise it. Not retriable:
 * you asked for it. An aborted publish that had already been written to the
 * socket may still be delivered.
 */
export class AbortError extends WarrenError {
  constructor(reason?: unknown) {
    super(ABORTED, reason instanceof Error && reason.message !== '' ? `aborted: ${reason.message}` : 'the operation was aborted', {
      cause: reason,
    });
    Object.defineProperty(this, 'name', { value: 'AbortError' });
  }
}
brand(AbortError, 'warren.client.AbortError');

/**
 * `whenBufferFull: 'reject'` and the publish buffer (publishes accepted but not
 * yet written to a socket: while disconnected, flow-blocked or waiting for the
 * publish window) already holds `maxBufferedPublishes`. Nothing was sent.
 * Retriable (RESOURCE_LIMIT): try again once the connection catches up.
 */
export class PublishBufferFullError extends WarrenError {
  /** The configured maxBufferedPublishes. */
  readonly limit: number;
  constructor(limit: number) {
    super(ErrorCodes.RESOURCE_LIMIT, `the publish buffer is full (${limit} publishes waiting to be sent)`);
    this.limit = limit;
  }
}
brand(PublishBufferFullError, 'warren.client.PublishBufferFullError');
