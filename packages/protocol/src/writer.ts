/**
 * Batches outgoing frames into few socket writes.
 *
 * Small frames are encoded back to back into a slab; large bodies are queued
 * as their own chunk (no copy). Everything queued during one turn of the event
 * loop goes out in one corked write (writev) from a microtask, or earlier once
 * enough bytes are pending. A slab region is never rewritten after it is
 * handed to the socket: a full slab is replaced, not reused.
 *
 * Besides `send(frame)` and `sendRaw(type, header, body)` the writer has one
 * typed method per frame type, derived from FRAME_SCHEMA (frame-sends.ts):
 * `writer.deliver(consumerTag, deliveryTag, ...)`, `writer.confirm(seq, multiple)`,
 * `writer.error(requestId, err)`. They fill a reused header array, so a send
 * allocates nothing but its bytes.
 */
import type { Frame, BodyFrame } from './frames.js';
import { headerOf, hasBody } from './frame-schema.js';
import { PRELUDE_SIZE } from './codec.js';
import { packScratch } from './msgpack.js';
import { installFrameSends, type FrameSends } from './frame-sends.js';

export interface FrameSink {
  write(chunk: Buffer): boolean;
  cork(): void;
  uncork(): void;
  readonly destroyed?: boolean;
}

/** Slabs start small (idle connections cost little) and double up to this. */
const FIRST_SLAB_SIZE = 4 * 1024;
const SLAB_SIZE = 64 * 1024;
/** Bodies at least this large are written as their own chunk instead of copied. */
const COPY_THRESHOLD = 8 * 1024;
/** Flush inline once this much is pending, without waiting for the microtask. */
const FLUSH_THRESHOLD = 256 * 1024;

// The typed send methods, installed on the prototype below.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface FrameWriter extends FrameSends {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class FrameWriter {
  /**
   * Set by every send. Whoever sends heartbeats clears it each tick: a tick
   * that finds it still false knows nothing went out since the last one.
   */
  sentSinceTick = false;
  /** See setBeforeNextSend. */
  private beforeNextSend: (() => void) | undefined = undefined;
  /** Allocated on the first send. */
  private slab: Buffer = Buffer.alloc(0);
  private slabSize = 0;
  /** Start of the slab region not yet queued as a chunk. */
  private slabStart = 0;
  private slabPos = 0;
  private chunks: Buffer[] = [];
  private pending = 0;
  private scheduled = false;
  private readonly flushBound = () => this.flush();

  constructor(private readonly sink: FrameSink) {}

  /** Bytes encoded but not yet handed to the socket. */
  get pendingBytes(): number {
    return this.pending;
  }

  send(frame: Frame): void {
    this.sendRaw(frame.type, headerOf(frame), hasBody(frame.type) ? (frame as BodyFrame).body : undefined);
  }

  /**
   * Runs `fn` once, right before the next frame is encoded (or never, when
   * replaced or cleared with undefined first). The client's session uses it
   * so that acks waiting for the end of the turn go out ahead of anything
   * sent after them.
   */
  setBeforeNextSend(fn: (() => void) | undefined): void {
    this.beforeNextSend = fn;
  }

  /** Runs the setBeforeNextSend hook if one is waiting (the typed sends call it before they fill their header). */
  runBeforeNextSend(): void {
    const fn = this.beforeNextSend;
    if (fn === undefined) return;
    this.beforeNextSend = undefined;
    fn();
  }

  /** Encodes a frame from its type, header array and optional body; `header` may be reused once this returns. */
  sendRaw(type: number, header: unknown[], body?: Buffer): void {
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    this.sentSinceTick = true;
    const headerBytes = packScratch(header);
    const bodyLength = body === undefined ? 0 : body.length;
    const copyBody = bodyLength < COPY_THRESHOLD;
    const inSlab = PRELUDE_SIZE + headerBytes.length + (copyBody ? bodyLength : 0);
    if (this.slab.length - this.slabPos < inSlab) this.newSlab(inSlab);
    const slab = this.slab;
    let p = this.slabPos;
    slab.writeUInt32BE(5 + headerBytes.length + bodyLength, p);
    slab[p + 4] = type;
    slab.writeUInt32BE(headerBytes.length, p + 5);
    p += PRELUDE_SIZE;
    p += headerBytes.copy(slab, p);
    if (body !== undefined && bodyLength > 0) {
      if (copyBody) {
        p += body.copy(slab, p);
      } else {
        this.chunks.push(slab.subarray(this.slabStart, p));
        this.slabStart = p;
        this.chunks.push(body);
      }
    }
    this.slabPos = p;
    this.pending += inSlab + (copyBody ? 0 : bodyLength);
    if (this.pending >= FLUSH_THRESHOLD) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  /** Hands everything pending to the socket in one corked write. */
  flush(): void {
    this.scheduled = false;
    if (this.slabPos > this.slabStart) {
      this.chunks.push(this.slab.subarray(this.slabStart, this.slabPos));
      this.slabStart = this.slabPos;
    }
    const chunks = this.chunks;
    if (chunks.length === 0) return;
    this.chunks = [];
    this.pending = 0;
    if (this.sink.destroyed) return;
    if (chunks.length === 1) {
      this.sink.write(chunks[0]!);
      return;
    }
    this.sink.cork();
    for (const chunk of chunks) this.sink.write(chunk);
    this.sink.uncork();
  }

  private newSlab(minSize: number): void {
    if (this.slabPos > this.slabStart) this.chunks.push(this.slab.subarray(this.slabStart, this.slabPos));
    this.slabSize = this.slabSize === 0 ? FIRST_SLAB_SIZE : Math.min(SLAB_SIZE, this.slabSize * 2);
    this.slab = Buffer.allocUnsafeSlow(Math.max(this.slabSize, minSize));
    this.slabStart = 0;
    this.slabPos = 0;
  }
}

installFrameSends(FrameWriter.prototype);
