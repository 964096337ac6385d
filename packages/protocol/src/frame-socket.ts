/**
 * One TCP socket speaking Warren frames, the layer the broker's connections
 * and the client's transport both sit on: reads into arenas (ReadArena), the
 * frame decoder, the batching writer with its typed sends (`fs.writer`),
 * heartbeats and silence detection (protocol-spec 4.4), reads paused for
 * named reasons, the write high-water mark and 'drain', and ending or
 * dropping the socket. It knows nothing about handshakes, requests, publishes
 * or consumers: the owner supplies handlers and decides what every event
 * means (the broker answers a fault with ERROR + CLOSE, the client with CLOSE).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ARENA_COPY_BELOW, ReadArena, adoptArenaReads } from './reader.js';
import { FrameDecoder } from './decoder.js';
import { FrameWriter } from './writer.js';
import { PRE_AUTH_FRAME_MAX } from './codec.js';
import type { Frame } from './frames.js';

/** Bytes waiting to be written above which senders hold back until 'drain'. */
export const WRITE_HIGH_WATER = 1024 * 1024;
/** How long an ended socket waits for the peer's FIN before it is destroyed, unless end() is told otherwise. */
export const END_GRACE_MS = 5000;

export interface FrameSocketHandlers {
  /** Every decoded frame, in order, synchronously. */
  frame(frame: Frame): void;
  /**
   * The stream cannot go on: the decoder refused the bytes (a ProtocolError)
   * or `frame` threw. No further frame of this socket is decoded.
   */
  fault(err: unknown): void;
  /** Nothing was received for 2 x heartbeatMs while reads were not paused. */
  silent(heartbeatMs: number): void;
  /** The socket closed; `error` is its first 'error' event, if any. Called once. */
  closed(error: Error | undefined): void;
}

export interface FrameSocketOptions {
  /**
   * PUBLISH frames are one object rewritten per frame (FrameDecoder's
   * reusePublishFrame): `frame` must keep their fields, not the frame. The broker
   * does (a message copies them); a receiver that holds frames must not set it.
   */
  reusePublishFrame?: boolean;
  /** The same for DELIVER frames (FrameDecoder's reuseDeliverFrame): the client sets it (a Delivery copies the fields). */
  reuseDeliverFrame?: boolean;
  /** FrameDecoder's sharePublishProperties: repeated PUBLISH properties are one frozen object (the broker; never a client). */
  sharePublishProperties?: boolean;
  /** FrameDecoder's maxHeaderValues: a received header holding more map entries and array elements is FRAME_ERROR (the broker). */
  maxHeaderValues?: number;
  /** FrameDecoder's maxHeaderNesting: a received header nested deeper is FRAME_ERROR (the broker). */
  maxHeaderNesting?: number;
  /**
   * After a read of at least this many bytes, stop reading this socket until the event loop's next
   * turn (reads paused for the reason 'turn', resumed by setImmediate). libuv reads a socket again and
   * again while each read fills its buffer, up to 32 reads in one go, so a peer that keeps its socket
   * full (a fast publisher answered by confirms as it goes) was read for up to 32 x 256 KiB before the
   * loop got to any other socket: a consumer's acks, and so its deliveries, waited behind ~10,000
   * publishes at a time (the broker sets it; bench/results/evening-2026-12-04/s1dyn.md). Default: never.
   */
  yieldAfterBytes?: number;
}

/** Where a FrameSocket connects to; with `tls`, over TLS with those options (ca, cert, key, servername, ...). */
export interface FrameSocketTarget {
  host: string;
  port: number;
  tls?: tls.ConnectionOptions;
}

export class FrameSocket {
  readonly socket: net.Socket;
  /** The typed sends: `fs.writer.deliver(...)`, `fs.writer.confirm(seq, multiple)`, ... */
  readonly writer: FrameWriter;
  /** Reads land in arenas; false when this Node only allowed 'data' events on an accepted socket (TLS ones among them). */
  readonly readsIntoArenas: boolean;
  /**
   * The event that says a socket we connected is ready for frames: 'connect',
   * or 'secureConnect' once the TLS handshake (server certificate checked) is done.
   */
  readonly readyEvent: 'connect' | 'secureConnect';
  private readonly decoder: FrameDecoder;
  private handlers: FrameSocketHandlers;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  // A flag, not a timestamp: the read path only sets a boolean.
  private receivedSinceTick = false;
  private silentTicks = 0;
  /** Reasons reads are paused for; reads resume when none is left. */
  private readonly pauses = new Set<string>();
  private drainCallbacks: (() => void)[] = [];
  private socketError: Error | undefined;
  private closedFlag = false;
  private ending = false;
  // Stable function: handlers may be swapped in the middle of one chunk's frames.
  private readonly dispatch = (frame: Frame): void => this.handlers.frame(frame);
  /** FrameSocketOptions.yieldAfterBytes (Infinity: never). */
  private readonly yieldAfterBytes: number;
  private readonly endTurn = (): void => this.resume('turn');

  /**
   * Connects to host:port, over TLS when the target has `tls` (reads go into
   * arenas through `onread`), or takes an accepted socket that has not
   * started reading (a server created with `pauseOnConnect`) and starts
   * reading it; an accepted TLS socket, already reading, is read by 'data' events.
   */
  constructor(target: net.Socket | FrameSocketTarget, handlers: FrameSocketHandlers, options: FrameSocketOptions = {}) {
    this.handlers = handlers;
    this.yieldAfterBytes = options.yieldAfterBytes !== undefined && options.yieldAfterBytes > 0 ? options.yieldAfterBytes : Infinity;
    this.decoder = new FrameDecoder(PRE_AUTH_FRAME_MAX, { copyBodiesBelow: ARENA_COPY_BELOW, reusePublishFrame: options.reusePublishFrame === true, reuseDeliverFrame: options.reuseDeliverFrame === true, sharePublishProperties: options.sharePublishProperties === true, ...(options.maxHeaderValues !== undefined ? { maxHeaderValues: options.maxHeaderValues } : {}), ...(options.maxHeaderNesting !== undefined ? { maxHeaderNesting: options.maxHeaderNesting } : {}) });
    const onData = (chunk: Buffer): void => this.onData(chunk);
    const arena = new ReadArena(this.decoder, onData);
    let socket: net.Socket;
    if (target instanceof net.Socket) {
      socket = target;
      socket.setNoDelay(true);
      this.readsIntoArenas = adoptArenaReads(socket, arena);
      if (!this.readsIntoArenas) socket.on('data', onData);
      this.readyEvent = 'connect';
    } else if (target.tls !== undefined) {
      // Node's tls.connect takes `onread` like net.connect (its types omit it).
      socket = tls.connect({ ...target.tls, host: target.host, port: target.port, onread: arena.onread } as tls.ConnectionOptions);
      socket.setNoDelay(true);
      this.readsIntoArenas = true;
      this.readyEvent = 'secureConnect';
    } else {
      socket = net.connect({ host: target.host, port: target.port, noDelay: true, onread: arena.onread });
      this.readsIntoArenas = true;
      this.readyEvent = 'connect';
    }
    this.socket = socket;
    this.writer = new FrameWriter(socket);
    socket.on('error', (err) => {
      this.socketError ??= err;
    });
    socket.on('drain', () => this.onDrain());
    socket.on('close', () => this.onClose());
  }

  /** True once the socket has closed (or is being destroyed). */
  get closed(): boolean {
    return this.closedFlag || this.socket.destroyed;
  }

  /** Bytes handed to the socket but not yet written to the kernel, plus bytes still batched. */
  get bufferedBytes(): number {
    return this.socket.writableLength + this.writer.pendingBytes;
  }

  /** More than WRITE_HIGH_WATER is waiting to be written: hold back until onceDrained. */
  get overHighWater(): boolean {
    return this.bufferedBytes > WRITE_HIGH_WATER;
  }

  setHandlers(handlers: FrameSocketHandlers): void {
    this.handlers = handlers;
  }

  /** The largest frame accepted from the peer (PRE_AUTH_FRAME_MAX until the handshake raises it). */
  setFrameMax(frameMax: number): void {
    this.decoder.maxFrameSize = frameMax;
  }

  /** Calls `cb` once the socket's write buffer drains (or the socket closes). */
  onceDrained(cb: () => void): void {
    this.drainCallbacks.push(cb);
  }

  /** Stops reading the socket for `reason` (more than one reason may hold at once). */
  pause(reason: string): void {
    if (this.pauses.size === 0) this.socket.pause();
    this.pauses.add(reason);
  }

  /** Drops one pause reason; reading resumes when none is left. */
  resume(reason: string): void {
    if (this.pauses.delete(reason) && this.pauses.size === 0 && !this.closedFlag) this.socket.resume();
  }

  isPausedFor(reason: string): boolean {
    return this.pauses.has(reason);
  }

  /**
   * Heartbeats (protocol-spec 4.4): every heartbeatMs/2 a tick sends HEARTBEAT
   * if nothing was sent since the last tick, and calls `handlers.silent` after
   * four ticks in a row received nothing (2 x heartbeatMs). Ticks while reads
   * are paused do not count: the peer's silence is then ours. One tick coarse,
   * which is fine for liveness. 0 means no heartbeats.
   */
  startHeartbeat(heartbeatMs: number): void {
    if (heartbeatMs <= 0 || this.heartbeatTimer !== undefined || this.closed) return;
    const tick = Math.max(1, Math.floor(heartbeatMs / 2));
    const writer = this.writer;
    this.heartbeatTimer = setInterval(() => {
      if (this.receivedSinceTick || this.pauses.size > 0) {
        this.receivedSinceTick = false;
        this.silentTicks = 0;
      } else if (++this.silentTicks >= 4) {
        this.handlers.silent(heartbeatMs);
        return;
      }
      if (!writer.sentSinceTick && writer.pendingBytes === 0) writer.heartbeat();
      writer.sentSinceTick = false;
    }, tick);
    // The socket, not the timer, decides whether the process stays alive.
    this.heartbeatTimer.unref();
  }

  /**
   * Flushes what is batched and half-closes; the peer's FIN then closes the
   * socket. A peer that never closes its side is dropped after graceMs
   * (null: wait for it).
   */
  end(graceMs: number | null = END_GRACE_MS): void {
    if (this.socket.destroyed || this.ending) return;
    this.ending = true;
    this.writer.flush();
    this.socket.end();
    if (graceMs !== null) setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  /** Drops the socket now; batched frames are discarded. */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.receivedSinceTick = true;
    if (this.closedFlag) return;
    if (chunk.length >= this.yieldAfterBytes && !this.pauses.has('turn')) {
      // A full read: let the loop serve the other sockets before this one is read again (yieldAfterBytes).
      this.pause('turn');
      setImmediate(this.endTurn);
    }
    try {
      this.decoder.push(chunk, this.dispatch);
    } catch (err) {
      this.handlers.fault(err);
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
    this.onDrain();
    this.handlers.closed(this.socketError);
  }
}
