/**
 * One TCP (or TLS) socket to the server: a FrameSocket (from @warren/protocol: arena
 * reads, decoder, batching writer with typed sends, heartbeats, drain) plus
 * the client's reading of its events. A fault tells the server why (CLOSE)
 * before the socket ends; heartbeat silence drops it; whatever closes the
 * socket first sets the reason the close handler receives. Knows nothing
 * about requests, publishes or consumers: the connection above it supplies
 * a frame handler and a close handler.
 */
import { FrameSocket, WarrenError, type Frame, type FrameSocketHandlers, type FrameSocketTarget, type FrameWriter } from '@warren/protocol';
import type { Socket } from 'node:net';
import { ConnectionClosedError, TimeoutError } from './errors.js';

export interface TransportHandlers {
  /** Called synchronously for every decoded frame, in order. */
  frame(frame: Frame): void;
  /** Called once, when the socket is gone; `err` says why (never undefined). */
  close(err: WarrenError): void;
}

export class Transport {
  private readonly fs: FrameSocket;
  /** The typed sends: `transport.writer.open(...)`, `.ack(tag, multiple)`, `.publish(...)`, ... */
  readonly writer: FrameWriter;
  private readonly socketHandlers: FrameSocketHandlers;
  private onClosed: (err: WarrenError) => void;
  /** Why the socket is being closed, set by whoever closes it first. */
  private closeReason: WarrenError | undefined;

  /** Connects to host:port (over TLS when the target has `tls`); frames go to `handlers.frame`. */
  constructor(target: FrameSocketTarget, handlers: TransportHandlers) {
    this.onClosed = handlers.close;
    this.socketHandlers = {
      frame: handlers.frame,
      fault: (err) => this.onFault(err),
      silent: (heartbeatMs) => this.destroy(new TimeoutError(`no frames from the server for ${2 * heartbeatMs} ms (heartbeat timeout)`)),
      closed: (socketError) => this.onClose(socketError),
    };
    // dispatchFrame keeps no DELIVER frame, only its fields (a Delivery): one frame object per socket.
    this.fs = new FrameSocket(target, this.socketHandlers, { reuseDeliverFrame: true });
    this.writer = this.fs.writer;
  }

  /** The underlying socket (for 'connect' and addresses). */
  get rawSocket(): Socket {
    return this.fs.socket;
  }

  /** Calls `cb` once the socket is ready for frames: connected, and over TLS the handshake done. */
  onceReady(cb: () => void): void {
    this.fs.socket.once(this.fs.readyEvent, cb);
  }

  /** True once the socket has closed (or is being destroyed). */
  get closed(): boolean {
    return this.fs.closed;
  }

  /** Bytes handed to the socket but not yet written to the kernel, plus bytes still batched. */
  get bufferedBytes(): number {
    return this.fs.bufferedBytes;
  }

  /** More than WRITE_HIGH_WATER waits to be written: hold publishes until onceDrained. */
  get overHighWater(): boolean {
    return this.fs.overHighWater;
  }

  setHandlers(handlers: TransportHandlers): void {
    this.onClosed = handlers.close;
    this.fs.setHandlers({ ...this.socketHandlers, frame: handlers.frame });
  }

  /** The largest frame accepted from the peer (raised from PRE_AUTH_FRAME_MAX after OPEN_OK). */
  setFrameMax(frameMax: number): void {
    this.fs.setFrameMax(frameMax);
  }

  /** Calls `cb` once the socket's write buffer drains (or the socket closes). */
  onceDrained(cb: () => void): void {
    this.fs.onceDrained(cb);
  }

  /** See FrameSocket.startHeartbeat; silence drops the socket with a TimeoutError. */
  startHeartbeat(heartbeatMs: number): void {
    this.fs.startHeartbeat(heartbeatMs);
  }

  /**
   * Flushes what is batched and half-closes; the peer's FIN then closes the
   * socket. A peer that never closes its side is dropped after END_GRACE_MS.
   */
  end(reason: WarrenError): void {
    this.closeReason ??= reason;
    this.fs.end();
  }

  /** Drops the socket now; queued frames are discarded. */
  destroy(reason: WarrenError): void {
    this.closeReason ??= reason;
    this.fs.destroy();
  }

  private onFault(err: unknown): void {
    if (err instanceof WarrenError) {
      // Tell the server why before dropping; best effort.
      this.writer.close(err);
      this.end(err);
    } else {
      this.destroy(new ConnectionClosedError(`internal client error: ${(err as Error).message}`, { cause: err }));
    }
  }

  private onClose(socketError: Error | undefined): void {
    const reason =
      this.closeReason ??
      (socketError === undefined
        ? new ConnectionClosedError('connection closed by the server')
        : new ConnectionClosedError(`connection lost: ${socketError.message}`, { cause: socketError }));
    this.onClosed(reason);
  }
}
