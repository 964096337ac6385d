/**
 * The handshake of one link: TCP connect, OPEN (client properties and
 * credentials), then OPEN_OK, or the server's ERROR or CLOSE as a typed
 * rejection. Used for the first connect and for every reconnect.
 */
import { ErrorCodes, FrameType, PROTOCOL_VERSION, ProtocolError, type OpenOkFrame, type WarrenError } from '@warren/protocol';
import { AbortError, ConnectionClosedError, TimeoutError, remoteError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { Transport } from './transport.js';

export const CLIENT_VERSION = '0.1.0';

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
    const transport = new Transport(options.host, options.port, {
      frame: (frame) => {
        if (settled) return;
        switch (frame.type) {
          case FrameType.OPEN_OK: {
            if (frame.version !== PROTOCOL_VERSION) {
              fail(new ProtocolError(ErrorCodes.UNSUPPORTED_VERSION, `server speaks protocol version ${frame.version}, client ${PROTOCOL_VERSION}`), false);
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
      close: (err) => fail(err, true),
    });
    if (options.timeoutMs > 0) {
      timer = setTimeout(
        () => fail(new TimeoutError(`connecting to ${options.host}:${options.port} timed out after ${options.timeoutMs} ms`), true),
        options.timeoutMs,
      );
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    transport.rawSocket.once('connect', () => {
      const properties: Record<string, unknown> = {
        product: 'warren-client',
        version: CLIENT_VERSION,
        platform: `Node.js ${process.version}`,
        ...options.properties,
      };
      if (options.name !== undefined) properties.name = options.name;
      const credentials = { mechanism: 'PLAIN', username: options.username, password: options.password } as const;
      transport.writer.open(PROTOCOL_VERSION, properties, credentials, options.frameMax, options.heartbeatMs);
    });
  });
}
