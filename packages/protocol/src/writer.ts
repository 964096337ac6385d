/**
 * Batches outgoing frames into few socket writes.
 *
 * Small frames are encoded back to back into a slab; large bodies are queued
 * as their own chunk (no copy). Everything queued during one turn of the event
 * loop goes out in one corked write (writev) from a microtask, or earlier once
 * enough bytes are pending. A slab region is never rewritten after it is
 * handed to the socket: a full slab is replaced, not reused.
 */
import { type Frame, headerOf, hasBody, type BodyFrame } from './frames.js';
import { PRELUDE_SIZE } from './codec.js';
import { packScratch } from './msgpack.js';

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

export class FrameWriter {
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

  /** Encodes a frame from its type, header array and optional body. */
  sendRaw(type: number, header: unknown[], body?: Buffer): void {
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
