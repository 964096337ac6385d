/**
 * Every error the broker raises comes from here: the protocol's shorthand
 * constructors plus the codes only a server raises (timeouts, storage,
 * internal faults, full queues). One place gives each code its wording, so a
 * client sees the same text for the same failure wherever it happened.
 */
import { ErrorCodes, WarrenError, errors as protocolErrors } from '@warren/protocol';

export const errors = {
  ...protocolErrors,
  /** A deadline passed (handshake, heartbeats, an unacknowledged delivery). */
  timeout: (message: string, details?: Record<string, unknown>) =>
    new WarrenError(ErrorCodes.TIMEOUT, message, details === undefined ? undefined : { details }),
  /** Storage failed or refused; the broker may be stopping. */
  storage: (message: string, cause?: unknown) =>
    new WarrenError(ErrorCodes.STORAGE_ERROR, message, cause === undefined ? undefined : { cause }),
  /** A bug on our side: the details are logged, never sent. */
  internal: () => new WarrenError(ErrorCodes.INTERNAL_ERROR, 'internal error'),
  unsupportedVersion: (message: string) => new WarrenError(ErrorCodes.UNSUPPORTED_VERSION, message),
  resourceLimit: (message: string) => new WarrenError(ErrorCodes.RESOURCE_LIMIT, message),
  /** An unroutable mandatory publish whose RETURN would exceed the publisher's frameMax. */
  noRoute: (message: string) => new WarrenError(ErrorCodes.NO_ROUTE, message),
  /** OPEN named a mechanism this server does not offer; details list the ones it does. */
  unknownMechanism: (mechanism: string, mechanisms: readonly string[]) =>
    new WarrenError(ErrorCodes.ACCESS_REFUSED, `authentication mechanism '${mechanism}' is not supported`, { details: { mechanisms: [...mechanisms] } }),
  /** OPEN asked for EXTERNAL on a connection without a verified TLS client certificate. */
  externalNotOffered: (mechanisms: readonly string[]) =>
    new WarrenError(ErrorCodes.ACCESS_REFUSED, `authentication mechanism 'EXTERNAL' needs a TLS connection with a verified client certificate`, {
      details: { mechanisms: [...mechanisms] },
    }),
  /** A queue at its length limit with x-overflow reject-publish(-dlx) refused a message. */
  queueFull: (queue: string, overflow: string) => new WarrenError(ErrorCodes.RESOURCE_LIMIT, `queue '${queue}' is full (x-overflow ${overflow})`),
  /** The store has no message with this id (already settled and compacted). */
  notStored: (id: number) => new WarrenError(ErrorCodes.NOT_FOUND, `message ${id} is not in the store`),
  /** A stream record whose STREAM_DELIVER would exceed the subscriber's frameMax: the subscription ends (spec 8.6). */
  streamRecordTooLarge: (stream: string, offset: number, frameMax: number) =>
    new WarrenError(
      ErrorCodes.FRAME_TOO_LARGE,
      `the message at offset ${offset} of stream '${stream}' does not fit this connection's frameMax of ${frameMax} bytes; ` +
        `subscribe with a larger frameMax, or from offset ${offset + 1} (a named consumer: commit ${offset}) to go past it`,
    ),
  /** A queue was deleted under its consumers (the reason says how). */
  queueGone: (reason: string) => new WarrenError(ErrorCodes.NOT_FOUND, reason),
  /** A server-initiated close with a given code (shutdown: CONNECTION_FORCED). */
  closing: (code: number, reason: string) => new WarrenError(code, reason),
};
