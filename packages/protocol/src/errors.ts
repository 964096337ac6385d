/**
 * The protocol's error catalogue. Codes are stable numbers that travel on the
 * wire (ERROR, CLOSE, PUBLISH_NACK, CANCELLED, RETURN frames); names are the
 * stable strings applications match on. Never renumber: only add.
 */
export const ErrorCodes = {
  /** A mandatory message could not be routed to any queue (RETURN reason). */
  NO_ROUTE: 312,
  /** The server is shutting down or an operator closed the connection. */
  CONNECTION_FORCED: 320,
  /** An argument is malformed or out of range (bad name, unknown exchange type, ...). */
  INVALID_ARGUMENT: 400,
  /** Wrong credentials or not allowed from this address. */
  ACCESS_REFUSED: 403,
  /** The queue, exchange or consumer does not exist. */
  NOT_FOUND: 404,
  /** An exclusive queue or exclusive consumer belongs to someone else. */
  RESOURCE_LOCKED: 405,
  /** The request conflicts with current state (re-declare with other attributes, if-unused, ...). */
  PRECONDITION_FAILED: 406,
  /** A handshake or heartbeat deadline passed. */
  TIMEOUT: 408,
  /** A frame is larger than the negotiated (or pre-authentication) maximum. */
  FRAME_TOO_LARGE: 413,
  /** A limit was reached: connections, queue length (reject-publish), memory, disk. */
  RESOURCE_LIMIT: 429,
  /** Key-value compare-and-set: the key is not at the expected revision (`details.current` says where it is). */
  WRONG_REVISION: 460,
  /** Key-value put: the value is larger than the bucket's `maxValueSize`. */
  VALUE_TOO_LARGE: 461,
  /** Key-value put: the bucket would exceed its `maxBytes`. */
  BUCKET_FULL: 462,
  /** Bytes that are not a valid frame: bad length, bad header, wrong field types. */
  FRAME_ERROR: 501,
  /** A valid frame that is not allowed in the current connection state. */
  COMMAND_INVALID: 503,
  /** The peer speaks a protocol version this side does not support. */
  UNSUPPORTED_VERSION: 505,
  /** The operation is understood but not implemented by this server. */
  NOT_IMPLEMENTED: 540,
  /** A bug or an unexpected failure inside the server. */
  INTERNAL_ERROR: 541,
  /** The server's storage failed; the message was not stored. */
  STORAGE_ERROR: 542,
} as const;

export type ErrorName = keyof typeof ErrorCodes;
export type ErrorCode = (typeof ErrorCodes)[ErrorName];

const namesByCode = new Map<number, ErrorName>(
  (Object.entries(ErrorCodes) as [ErrorName, number][]).map(([name, code]) => [code, name]),
);

/** The name for a numeric code, or undefined when the code is not in this catalogue. */
export function errorNameOf(code: number): ErrorName | undefined {
  return namesByCode.get(code);
}

/** Codes that mean "try again later" rather than "this request is wrong". */
const retriableCodes = new Set<number>([
  ErrorCodes.CONNECTION_FORCED,
  ErrorCodes.TIMEOUT,
  ErrorCodes.RESOURCE_LIMIT,
  ErrorCodes.STORAGE_ERROR,
]);

const kWarrenError = Symbol.for('warren.error');

/**
 * Base class of every error Warren raises, on either side of the wire.
 * `code` is the numeric wire code, `name` its stable string form.
 */
export class WarrenError extends Error {
  readonly code: number;
  override readonly name: string;
  readonly retriable: boolean;
  /** Extra machine-readable context sent by the server, if any. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: number, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = errorNameOf(code) ?? 'UNKNOWN_ERROR';
    this.retriable = retriableCodes.has(code);
    this.details = options?.details;
  }

  /** Branded so `instanceof` works across duplicated copies of this package. */
  get [kWarrenError](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== WarrenError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kWarrenError] === true;
  }
}

/**
 * Raised by the frame decoder and validators: the byte stream is not valid
 * Warren protocol. The connection cannot continue after one of these.
 */
export class ProtocolError extends WarrenError {
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Shorthand constructors, one per code that callers raise often. */
export const errors = {
  notFound: (what: string) => new WarrenError(ErrorCodes.NOT_FOUND, `${what} not found`),
  preconditionFailed: (message: string, details?: Record<string, unknown>) =>
    new WarrenError(ErrorCodes.PRECONDITION_FAILED, message, { details }),
  invalidArgument: (message: string) => new WarrenError(ErrorCodes.INVALID_ARGUMENT, message),
  resourceLocked: (message: string) => new WarrenError(ErrorCodes.RESOURCE_LOCKED, message),
  accessRefused: (message: string) => new WarrenError(ErrorCodes.ACCESS_REFUSED, message),
  frameError: (message: string, cause?: unknown) => new ProtocolError(ErrorCodes.FRAME_ERROR, message, { cause }),
  frameTooLarge: (size: number, max: number) =>
    new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `frame of ${size} bytes exceeds the maximum of ${max} bytes`),
  commandInvalid: (message: string) => new ProtocolError(ErrorCodes.COMMAND_INVALID, message),
};
