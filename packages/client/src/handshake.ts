/**
 * The handshake of one link: TCP connect (and TLS handshake), OPEN (client properties and
 * credentials), then OPEN_OK, or the server's ERROR or CLOSE as a typed
 * rejection. Used for the first connect and for every reconnect.
 */
import { ErrorCodes, FrameType, PROTOCOL_VERSION, ProtocolError, type OpenOkFrame, type WarrenError } from '@warren/protocol';
import { AbortError, ConnectionClosedError, NotWarrenBrokerError, TimeoutError, remoteError } from './errors.js';
import { DEFAULT_PORT, DEFAULT_TLS_PORT, DEFAULT_VHOST, type ResolvedOptions } from './options.js';
import { asRecord } from './replies.js';
import { Transport } from './transport.js';

export const CLIENT_VERSION = '0.1.0';

/** Said when a warren:// URL may point at a TLS port, and the other way round. */
const MAYBE_TLS_PORT = `if it is a TLS port (${DEFAULT_TLS_PORT} by default), use a warrens:// URL`;
const MAYBE_PLAIN_PORT = `if it is a plain port (${DEFAULT_PORT} by default), use a warren:// URL`;

/** A decoding error of the incoming byte stream (as opposed to a socket error or a server's error frame). */
function isFrameError(err: WarrenError): boolean {
  return err.code === ErrorCodes.FRAME_ERROR || err.code === ErrorCodes.FRAME_TOO_LARGE;
}

/**
 * TCP connect, OPEN, then OPEN_OK (or the server's ERROR, as a typed
 * rejection). On OPEN_OK, `adopt` is called synchronously, inside the frame
 * dispatch, so frames right behind OPEN_OK reach whatever handlers it
 * installs. `options.timeoutMs` bounds the whole handshake (TimeoutError);
 * `signal` aborts it (AbortError with `cause` = signal.reason).
 */
export function openLink(options: ResolvedOptions, signal: AbortSignal | undefined, adopt: (transport: Transport, openOk: OpenOkFrame) => void): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let connected = false;
    /** TCP is up (over TLS: the TLS handshake may still fail). */
    let tcpConnected = false;
    /** Some frame came back (a peer that closes without one may be a TLS listener). */
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => fail(new AbortError(signal!.reason), true);
    const fail = (err: WarrenError, destroy: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (destroy) transport.destroy(err);
      else transport.end(err);
      reject(err);
    };
    const target = { host: options.host, port: options.port, ...(options.tls !== undefined ? { tls: options.tls } : {}) };
    const transport = new Transport(target, {
      frame: (frame) => {
        if (settled) return;
        answered = true;
        switch (frame.type) {
          case FrameType.OPEN_OK: {
            if (frame.version !== PROTOCOL_VERSION) {
              fail(new ProtocolError(ErrorCodes.UNSUPPORTED_VERSION, `server speaks protocol version ${frame.version}, client ${PROTOCOL_VERSION}`), false);
              return;
            }
            // A server without vhosts ignores the field: it would have opened its only namespace, not the one asked for.
            if (options.vhost !== DEFAULT_VHOST && asRecord(frame.properties['capabilities'])['vhosts'] !== true) {
              fail(new ProtocolError(ErrorCodes.COMMAND_INVALID, `the server does not support vhosts; cannot open vhost '${options.vhost}'`), false);
              return;
            }
            settled = true;
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            try {
              adopt(transport, frame);
            } catch (err) {
              transport.destroy(new ConnectionClosedError(`internal client error: ${String(err)}`, { cause: err }));
              reject(err);
              return;
            }
            resolve();
            return;
          }
          case FrameType.ERROR:
            fail(remoteError(frame.code, frame.name, frame.message, frame.details), false);
            return;
          case FrameType.CLOSE:
            transport.writer.closeOk();
            fail(remoteError(frame.code, frame.name, frame.message), false);
            return;
          case FrameType.HEARTBEAT:
            return;
          default:
            fail(new ProtocolError(ErrorCodes.COMMAND_INVALID, `unexpected frame 0x${frame.type.toString(16)} before OPEN_OK`), false);
        }
      },
      // Undecodable bytes before OPEN_OK: the peer is something else (an HTTP server's "HTTP/1.1 400" read as a length, ...).
      close: (err) => {
        if (isFrameError(err)) return fail(new NotWarrenBrokerError(options.host, options.port, err), true);
        // The TLS handshake failed (the server's certificate is not trusted, the server wants ours, ...): say so.
        const where = `${options.host}:${options.port}`;
        if (options.tls !== undefined && tcpConnected && !connected && err instanceof ConnectionClosedError && err.cause instanceof Error) {
          // Not TLS at all on that port (a plain listener's bytes read as a TLS record).
          if ((err.cause as NodeJS.ErrnoException).code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
            return fail(new ConnectionClosedError(`TLS connection to ${where} failed: the server there does not speak TLS; ${MAYBE_PLAIN_PORT}`, { cause: err.cause }), true);
          }
          return fail(new ConnectionClosedError(`TLS connection to ${where} failed: ${err.cause.message}`, { cause: err.cause }), true);
        }
        // Closed on our OPEN without a word: a TLS listener drops a plain client so.
        if (options.tls === undefined && connected && !answered && err instanceof ConnectionClosedError) {
          return fail(new ConnectionClosedError(`${err.message} before answering the OPEN at ${where}: not a Warren broker? ${MAYBE_TLS_PORT}`, { cause: err }), true);
        }
        fail(err, true);
      },
    });
    if (options.timeoutMs > 0) {
      timer = setTimeout(() => {
        const where = `${options.host}:${options.port}`;
        const why = connected
          ? `no answer from ${where} within ${options.timeoutMs} ms of connecting: not a Warren broker, or one too busy to answer` +
            (options.tls === undefined ? `; ${MAYBE_TLS_PORT}` : '')
          : options.tls !== undefined && tcpConnected
            ? `TLS handshake with ${where} not completed within ${options.timeoutMs} ms: ${MAYBE_PLAIN_PORT}`
            : `connecting to ${where} timed out after ${options.timeoutMs} ms`;
        fail(new TimeoutError(why), true);
      }, options.timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    transport.rawSocket.once('connect', () => (tcpConnected = true));
    transport.onceReady(() => {
      connected = true;
      const properties: Record<string, unknown> = {
        product: 'warren-client',
        version: CLIENT_VERSION,
        platform: `Node.js ${process.version}`,
        ...options.properties,
      };
      if (options.name !== undefined) properties.name = options.name;
      const credentials =
        options.mechanism === 'EXTERNAL'
          ? { mechanism: 'EXTERNAL', username: options.username, password: '' }
          : ({ mechanism: 'PLAIN', username: options.username, password: options.password } as const);
      // The default vhost travels as nil, so older servers (which ignore the field) see the OPEN they know.
      const vhost = options.vhost === DEFAULT_VHOST ? null : options.vhost;
      transport.writer.open(PROTOCOL_VERSION, properties, credentials, options.frameMax, options.heartbeatMs, vhost);
    });
  });
}
