/**
 * One TCP socket speaking Warren frames: decoding, batched writes and
 * heartbeats. Knows nothing about requests, publishes or consumers; the
 * connection above it supplies a frame handler and a close handler.
 */
import * as net from 'node:net';
import {
  ARENA_COPY_BELOW,
  FrameDecoder,
  ReadArena,
  FrameWriter,
  FrameType,
  PRE_AUTH_FRAME_MAX,
  WarrenError,
  type Frame,
} from '@warren/protocol';
import { ConnectionClosedError, TimeoutError } from './errors.js';

export interface TransportHandlers {
  /** Called synchronously for every decoded frame, in order. */
  frame(frame: Frame): void;
  /** Called once, when the socket is gone; `err` says why (never undefined). */
  close(err: WarrenError): void;
}

const HEARTBEAT_HEADER: unknown[] = [];
/** How long a half-closed socket waits for the peer's FIN before it is destroyed. */
const END_GRACE_MS = 5000;

export class Transport {
  private readonly decoder = new FrameDecoder(PRE_AUTH_FRAME_MAX, { copyBodiesBelow: ARENA_COPY_BELOW });
  private readonly socket: net.Socket;
  private readonly writer: FrameWriter;
  private handlers: TransportHandlers;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  // Flags instead of timestamps: the hot paths only set a boolean.
  private sentSinceTick = false;
  private receivedSinceTick = false;
  private silentTicks = 0;
  /** Why the socket is being closed, set by whoever closes it first. */
  private closeReason: WarrenError | undefined;
  private socketError: Error | undefined;
  private closedFlag = false;
  private ending = false;
  private drainCallbacks: (() => void)[] = [];
  private beforeNextSend: (() => void) | undefined;
  // Stable function: handlers may be swapped in the middle of one chunk's frames.
  private readonly dispatch = (frame: Frame): void => this.handlers.frame(frame);

  /** Connects to host:port; reads go into arenas (ReadArena), frames to `handlers.frame`. */
  constructor(host: string, port: number, handlers: TransportHandlers) {
    this.handlers = handlers;
    const arena = new ReadArena(this.decoder, (chunk) => this.onData(chunk));
    const socket = net.connect({ host, port, noDelay: true, onread: arena.onread });
    this.socket = socket;
    this.writer = new FrameWriter(socket);
    socket.on('error', (err) => {
      this.socketError ??= err;
    });
    socket.on('drain', () => this.onDrain());
    socket.on('close', () => this.onClose());
  }

  /** The underlying socket (for 'connect' and addresses). */
  get rawSocket(): net.Socket {
    return this.socket;
  }

  /** True once the socket has closed (or is being destroyed). */
  get closed(): boolean {
    return this.closedFlag || this.socket.destroyed;
  }

  /** Bytes handed to the socket but not yet written to the kernel, plus bytes still batched. */
  get bufferedBytes(): number {
    return this.socket.writableLength + this.writer.pendingBytes;
  }

  setHandlers(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  /** The largest frame accepted from the peer (raised from PRE_AUTH_FRAME_MAX after OPEN_OK). */
  setFrameMax(frameMax: number): void {
    this.decoder.maxFrameSize = frameMax;
  }

  send(frame: Frame): void {
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    this.sentSinceTick = true;
    this.writer.send(frame);
  }

  /** Hot-path send: `header` may be a reused array, it is encoded before this returns. */
  sendRaw(type: number, header: unknown[], body?: Buffer): void {
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    this.sentSinceTick = true;
    this.writer.sendRaw(type, header, body);
  }

  /**
   * Runs `fn` once, right before the next frame is sent: the session's acks
   * that wait for the end of the turn go out ahead of anything sent after them.
   */
  setBeforeNextSend(fn: (() => void) | undefined): void {
    this.beforeNextSend = fn;
  }

  private runBeforeNextSend(): void {
    const fn = this.beforeNextSend!;
    this.beforeNextSend = undefined;
    fn();
  }

  /** Calls `cb` once the socket's write buffer drains (or the socket closes). */
  onceDrained(cb: () => void): void {
    this.drainCallbacks.push(cb);
  }

  /**
   * Sends a heartbeat when nothing was sent for heartbeatMs/2, and declares the
   * peer dead after 2 x heartbeatMs without receiving anything. Ticks every
   * heartbeatMs/2, so the checks are one tick coarse; that is fine for liveness.
   */
  startHeartbeat(heartbeatMs: number): void {
    if (heartbeatMs <= 0 || this.heartbeatTimer !== undefined || this.closed) return;
    const tick = Math.max(1, Math.floor(heartbeatMs / 2));
    this.heartbeatTimer = setInterval(() => {
      if (this.receivedSinceTick) {
        this.receivedSinceTick = false;
        this.silentTicks = 0;
      } else if (++this.silentTicks >= 4) {
        this.destroy(new TimeoutError(`no frames from the server for ${2 * heartbeatMs} ms (heartbeat timeout)`));
        return;
      }
      if (!this.sentSinceTick) this.writer.sendRaw(FrameType.HEARTBEAT, HEARTBEAT_HEADER);
      this.sentSinceTick = false;
    }, tick);
    // The socket, not the timer, decides whether the process stays alive.
    this.heartbeatTimer.unref();
  }

  /**
   * Flushes what is batched and half-closes; the peer's FIN then closes the
   * socket. A peer that never closes its side is dropped after END_GRACE_MS.
   */
  end(reason: WarrenError): void {
    this.closeReason ??= reason;
    if (this.socket.destroyed || this.ending) return;
    this.ending = true;
    this.writer.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
  }

  /** Drops the socket now; queued frames are discarded. */
  destroy(reason: WarrenError): void {
    this.closeReason ??= reason;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.receivedSinceTick = true;
    try {
      this.decoder.push(chunk, this.dispatch);
    } catch (err) {
      if (err instanceof WarrenError) {
        // Tell the server why before dropping; best effort.
        this.send({ type: FrameType.CLOSE, code: err.code, name: err.name, message: err.message });
        this.end(err);
      } else {
        this.destroy(new ConnectionClosedError(`internal client error: ${(err as Error).message}`, { cause: err }));
      }
    }
  }

  private onDrain(): void {
    const callbacks = this.drainCallbacks;
    if (callbacks.length === 0) return;
    this.drainCallbacks = [];
    for (const cb of callbacks) cb();
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    const reason =
      this.closeReason ??
      (this.socketError === undefined
        ? new ConnectionClosedError('connection closed by the server')
        : new ConnectionClosedError(`connection lost: ${this.socketError.message}`, { cause: this.socketError }));
    this.onDrain();
    this.handlers.close(reason);
  }
}
