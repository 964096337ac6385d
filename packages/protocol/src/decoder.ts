/**
 * Incremental frame decoder over a list of received chunks.
 *
 * Frames that arrive whole inside one chunk are decoded in place: the body is a
 * view into that chunk, never copied. A chunk that continues the previous one in
 * memory (consecutive reads into one arena, see ReadArena) is merged with it, so
 * a frame split across such reads is still decoded in place. Only a frame that
 * straddles unrelated chunks is copied, once, into a buffer of exactly its size.
 * The size limit is checked as soon as the 4-byte length is known, before
 * anything is allocated.
 *
 * Bodies smaller than `copyBodiesBelow` are copied out of the chunk: a small
 * message kept for long (queued, or held by the application) must not keep a
 * whole read buffer alive. Larger bodies stay views, which bounds what any
 * retained body can pin to a small multiple of its own size. The small ones are
 * copied in runs: the first needing a copy copies the chunk from its body on
 * (the frames after it, already received), as much as fits, into the free tail
 * of an 8 KiB pool, and the bodies that lie inside that run are views of the
 * pool. One copy per run instead of one per body; a retained small body pins
 * at most its 8 KiB pool, as one from Buffer.allocUnsafe pins Node's.
 *
 * Every body handed out as a view of a chunk is counted (viewsHandedOut):
 * ReadArena reuses an arena only while that count has not moved, so bytes of a
 * chunk must never leave the decoder uncounted. Header values are copies
 * (strings, and binary values through msgpackr's copyBuffers).
 */
import { errors, ProtocolError } from './errors.js';
import { parseFrame } from './frame-schema.js';
import { PRELUDE_SIZE, MIN_FRAME_SIZE } from './codec.js';
import { unpackRange } from './msgpack.js';
import { checkProfile, type HeaderLimits } from './profile.js';
import { fastKvFrame, KV_APPLIED, KV_PUT, OK } from './kv-fast.js';
import { FrameType, type AckFrame, type DeliverFrame, type Frame, type PublishFrame, type StreamDeliverFrame } from './frames.js';
import { fastProperties, newSharedProperties, sharedProperties, type SharedProperties } from './props-fast.js';
import { frameGuardFromEnv, poisonFrame } from './frame-guard.js';

const STREAM_DELIVER = FrameType.STREAM_DELIVER;
const PUBLISH = FrameType.PUBLISH;
const DELIVER = FrameType.DELIVER;
const ACK = FrameType.ACK;
/** Bytes copied at once for small bodies (see above): Node's Buffer.poolSize. */
const COPY_RUN = 8 * 1024;
const NO_RUN = Buffer.alloc(0);

export type FrameHandler = (frame: Frame) => void;

export class FrameDecoder {
  /**
   * Chunks not yet consumed; the first may be partly consumed (see offset).
   * One array for the decoder's life, emptied with `length = 0`, never replaced
   * by a fresh `[]`: a fresh empty array has the Smi-elements map, and the
   * optimized push() in decodeFromChunk, compiled for the object-elements map,
   * bailed out ("wrong map") on it again and again, hundreds of times a run.
   */
  private readonly chunks: Buffer[] = bufferList();
  /** Bytes already consumed from chunks[0]. */
  private offset = 0;
  /** Unconsumed bytes across all chunks. */
  private buffered = 0;
  /** Set after a protocol error: the stream cannot be resynchronised. */
  private failed = false;
  /** Total length of the last frame decoded (ReadArena sizes its reads by it). */
  lastFrameSize = 0;
  /**
   * Views into received chunks handed out so far: bodies returned as subarrays
   * of a chunk instead of copies (bodyOf). ReadArena reuses an arena only when
   * this has not moved since the arena began: no caller can then hold bytes of
   * it. Every place where bytes of a chunk escape without a copy must count here.
   */
  viewsHandedOut = 0;
  /** The frame decodeFromList copied out of several chunks: bodies in it are not views of a chunk. */
  private ownFrame: Buffer = NO_RUN;

  /** Largest accepted frame, length prefix included. */
  maxFrameSize: number;
  /** Bodies shorter than this are copied out of the chunk, in runs (see above); 0 = never. */
  private readonly copyBodiesBelow: number;
  /** The last strings the fast paths decoded, per field: a repeated name is not decoded again. */
  private readonly exchanges = new RepeatedString();
  private readonly routingKeys = new RepeatedString();
  private readonly consumerTags = new RepeatedString();

  /**
   * With `reusePublishFrame`: the one PublishFrame the fast path rewrites for every
   * PUBLISH. It is valid only while onFrame runs; a receiver keeps the fields (the
   * strings, properties and body are each the frame's own), never the object.
   */
  private readonly publishFrame: PublishFrame | null;
  /** With `reuseDeliverFrame`: the same for DELIVER (a client's Delivery copies the fields). */
  private readonly deliverFrame: DeliverFrame | null;
  /** The options as given: receivers must treat PUBLISH / DELIVER frames as reused (whether guarded or not). */
  readonly reusePublishFrame: boolean;
  readonly reuseDeliverFrame: boolean;
  /** With `sharePublishProperties`: a PUBLISH repeating the last one's properties bytes gets the same frozen object (props-fast sharedProperties). */
  private readonly sharedProps: SharedProperties | null;

  /** Where small bodies are copied to (COPY_RUN bytes, filled front to back, then replaced). */
  private pool: Buffer = NO_RUN;
  /** The pool's ArrayBuffer, read once per pool: the TypedArray `buffer` getter is a runtime call, too slow for once per body. */
  private poolBuffer: ArrayBuffer = new ArrayBuffer(0);
  private poolPos = 0;
  /** The current copy run: pool[runAt + i] holds runSource[runFrom + i] for i < runLength; valid during one push() only. */
  private runSource: Buffer = NO_RUN;
  private readonly headerLimits: HeaderLimits;
  private runFrom = 0;
  private runLength = 0;
  private runAt = 0;

  constructor(
    maxFrameSize: number,
    options: {
      copyBodiesBelow?: number;
      reusePublishFrame?: boolean;
      reuseDeliverFrame?: boolean;
      /** Test/dev guard of the reused frames (frame-guard.ts); default: WARREN_FRAME_GUARD=1. */
      guardReusedFrames?: boolean;
      /**
       * PUBLISH properties repeating the previous frame's bytes are the previous frame's object,
       * frozen and carrying its encoding (props-fast sharedProperties): for a receiver that never
       * mutates properties (the broker), not for one that hands them to applications.
       */
      sharePublishProperties?: boolean;
      /** Most map entries and array elements one header may hold (profile.ts checkProfile); more is FRAME_ERROR. Default: no bound. */
      maxHeaderValues?: number;
      /** Deepest nesting of maps and arrays in a header, the header array being 1; deeper is FRAME_ERROR. Default: no bound but the stack. */
      maxHeaderNesting?: number;
    } = {},
  ) {
    this.maxFrameSize = maxFrameSize;
    this.headerLimits = { maxValues: options.maxHeaderValues ?? Infinity, maxNesting: options.maxHeaderNesting ?? Infinity };
    this.sharedProps = options.sharePublishProperties === true ? newSharedProperties() : null;
    this.copyBodiesBelow = options.copyBodiesBelow ?? 0;
    const reusePublish = (this.reusePublishFrame = options.reusePublishFrame === true);
    const reuseDeliver = (this.reuseDeliverFrame = options.reuseDeliverFrame === true);
    if ((reusePublish || reuseDeliver) && (options.guardReusedFrames ?? frameGuardFromEnv())) {
      // Fresh frames, each poisoned once its handler returns; the plain push is shadowed.
      this.publishFrame = null;
      this.deliverFrame = null;
      this.push = guardedPush(reusePublish, reuseDeliver);
      return;
    }
    this.publishFrame = reusePublish ? { type: PUBLISH, seq: 0, exchange: '', routingKey: '', flags: 0, properties: null, body: NO_RUN } : null;
    this.deliverFrame = reuseDeliver
      ? { type: DELIVER, consumerTag: '', deliveryTag: 0, redelivered: false, deliveryCount: 0, exchange: '', routingKey: '', properties: null, body: NO_RUN }
      : null;
  }

  /** Bytes received but not yet decoded into a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Bytes still missing to complete the frame that has started arriving, or 0
   * when nothing is pending or its length is not known yet.
   */
  get missingBytes(): number {
    if (this.buffered < 4 || this.failed) return 0;
    return Math.max(0, this.peekUInt32() + 4 - this.buffered);
  }

  /**
   * Copies the pending bytes to the start of `target` and continues from there
   * (used by ReadArena to keep a partial frame contiguous with the next reads).
   * Returns how many bytes were moved.
   */
  moveBufferedTo(target: Buffer): number {
    const n = this.buffered;
    if (n === 0) return 0;
    if (target.length < n) throw new RangeError(`moveBufferedTo: ${n} bytes do not fit ${target.length}`);
    let written = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      const from = i === 0 ? this.offset : 0;
      written += chunk.copy(target, written, from);
    }
    this.chunks.length = 0;
    this.chunks.push(target.subarray(0, n));
    this.offset = 0;
    return n;
  }

  /**
   * As moveBufferedTo, when `arena` is the buffer being read into again from
   * its start (ReadArena reusing it): the pending bytes, if they lie in
   * `arena`, move to its start with copyWithin (overlap-safe within one
   * chunk). Returns false, moving nothing, when they span several chunks
   * (moving one could overwrite another still to be moved).
   */
  moveBufferedWithin(arena: Buffer): boolean {
    const n = this.buffered;
    if (n === 0) {
      this.chunks.length = 0;
      this.offset = 0;
      return true;
    }
    if (this.chunks.length !== 1 || arena.length < n) return false;
    const chunk = this.chunks[0]!;
    if (chunk.buffer !== arena.buffer) {
      this.moveBufferedTo(arena);
      return true;
    }
    const from = chunk.byteOffset - arena.byteOffset + this.offset;
    if (from < 0 || from + n > arena.length) return false;
    if (from !== 0) arena.copyWithin(0, from, from + n);
    this.chunks[0] = arena.subarray(0, n);
    this.offset = 0;
    return true;
  }

  /**
   * Feeds one chunk; calls onFrame for every complete frame, in order.
   * Throws ProtocolError (and stays failed) on invalid input.
   */
  push(chunk: Buffer, onFrame: FrameHandler): void {
    if (this.failed) throw errors.frameError('decoder already failed');
    if (chunk.length === 0) return;
    try {
      if (this.buffered === 0) {
        this.decodeFromChunk(chunk, onFrame);
      } else {
        const chunks = this.chunks;
        const last = chunks[chunks.length - 1]!;
        if (last.buffer === chunk.buffer && last.byteOffset + last.length === chunk.byteOffset) {
          // The next read into the same arena: one contiguous chunk.
          chunks[chunks.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + chunk.length);
        } else {
          chunks.push(chunk);
        }
        this.buffered += chunk.length;
        this.decodeFromList(onFrame);
      }
    } catch (err) {
      this.failed = true;
      this.chunks.length = 0;
      this.buffered = 0;
      throw err;
    } finally {
      // A run only serves the chunks of this push: the caller may reuse its buffers afterwards.
      this.runSource = NO_RUN;
      this.runLength = 0;
    }
  }

  /**
   * The body at b[start, end): a view of the chunk when it is empty or at least
   * copyBodiesBelow long, else a view of the current copy run (a new run when
   * the body is outside it), or its own copy when longer than a run.
   */
  private bodyOf(b: Buffer, start: number, end: number): Buffer {
    const length = end - start;
    if (length === 0) return b.subarray(start, end);
    if (length >= this.copyBodiesBelow) {
      // The one place a chunk's bytes leave without a copy (a copied-out frame is the decoder's own).
      if (b !== this.ownFrame) this.viewsHandedOut++;
      return b.subarray(start, end);
    }
    if (length > COPY_RUN) {
      const body = Buffer.allocUnsafe(length);
      b.copy(body, 0, start, end);
      return body;
    }
    if (b !== this.runSource || start < this.runFrom || end > this.runFrom + this.runLength) this.newRun(b, start, length);
    // The view pool.subarray(at, at + length) would give, made from the pool's ArrayBuffer (an
    // allocUnsafeSlow pool starts at byteOffset 0) without reading it from the pool per body.
    return Buffer.from(this.poolBuffer, this.runAt + (start - this.runFrom), length);
  }

  /**
   * Copies b[start, ...) into the free tail of the pool: as much of the chunk as
   * fits, up to COPY_RUN bytes, and at least `length` (a fresh pool when the
   * tail is shorter). The pool is written once, front to back, never reused:
   * bytes handed out as bodies never change.
   */
  private newRun(b: Buffer, start: number, length: number): void {
    let free = this.pool.length - this.poolPos;
    if (free < length) {
      this.pool = Buffer.allocUnsafeSlow(COPY_RUN);
      this.poolBuffer = this.pool.buffer as ArrayBuffer;
      this.poolPos = 0;
      free = COPY_RUN;
    }
    const n = Math.min(b.length - start, free);
    b.copy(this.pool, this.poolPos, start, start + n);
    this.runSource = b;
    this.runFrom = start;
    this.runLength = n;
    this.runAt = this.poolPos;
    this.poolPos += n;
  }

  /** Fast path: nothing pending, decode frames straight out of this chunk. */
  private decodeFromChunk(chunk: Buffer, onFrame: FrameHandler): void {
    let pos = 0;
    const end = chunk.length;
    while (end - pos >= 4) {
      const total = this.checkSize(u32(chunk, pos));
      if (end - pos < total) break;
      this.emit(chunk, pos, total, onFrame);
      pos += total;
    }
    if (pos < end) {
      this.chunks.push(pos === 0 ? chunk : chunk.subarray(pos));
      this.offset = 0;
      this.buffered = end - pos;
    }
  }

  /** Slow path: frames may straddle the chunks in the list. */
  private decodeFromList(onFrame: FrameHandler): void {
    while (this.buffered >= 4) {
      const total = this.checkSize(this.peekUInt32());
      if (this.buffered < total) return;
      const first = this.chunks[0]!;
      if (first.length - this.offset >= total) {
        // Whole frame in the first chunk: decode in place.
        const start = this.offset;
        this.consume(total);
        this.emit(first, start, total, onFrame);
      } else {
        const frame = Buffer.allocUnsafeSlow(total);
        this.copyOut(frame, total);
        this.ownFrame = frame;
        try {
          this.emit(frame, 0, total, onFrame);
        } finally {
          this.ownFrame = NO_RUN;
        }
      }
      if (this.chunks.length === 1 && this.buffered > 0) {
        // Back to one chunk: let the fast path take the rest.
        const rest = this.chunks[0]!.subarray(this.offset);
        this.chunks.length = 0;
        this.buffered = 0;
        this.offset = 0;
        this.decodeFromChunk(rest, onFrame);
        return;
      }
    }
  }

  /** Validates the length field; returns the frame's total length. */
  private checkSize(size: number): number {
    const total = size + 4;
    if (total > this.maxFrameSize) throw errors.frameTooLarge(total, this.maxFrameSize);
    if (total < MIN_FRAME_SIZE) throw errors.frameError(`frame size ${size} is below the minimum of ${MIN_FRAME_SIZE - 4}`);
    return total;
  }

  private emit(buf: Buffer, start: number, total: number, onFrame: FrameHandler): void {
    this.lastFrameSize = total;
    const type = buf[start + 4]!;
    const headerSize = u32(buf, start + 5);
    if (headerSize < 1 || headerSize > total - PRELUDE_SIZE) {
      throw errors.frameError(`header size ${headerSize} does not fit a frame of ${total} bytes`);
    }
    const headerStart = start + PRELUDE_SIZE;
    const bodyStart = headerStart + headerSize;
    const end = start + total;
    if (type === KV_PUT || type === OK || type === KV_APPLIED) {
      // A bucket write and its answers (kv-fast.ts).
      const frame = fastKvFrame(type, buf, headerStart, bodyStart, end);
      if (frame !== null) {
        if (frame.type === KV_PUT) frame.body = this.bodyOf(buf, bodyStart, end);
        return onFrame(frame);
      }
    }
    if (type === PUBLISH) {
      const frame = this.fastPublish(buf, headerStart, bodyStart, end);
      if (frame !== null) {
        onFrame(frame);
        // A reused frame does not keep the last body's buffer alive.
        if (frame === this.publishFrame) frame.body = NO_RUN;
        return;
      }
    } else if (type === DELIVER) {
      const frame = this.fastDeliver(buf, headerStart, bodyStart, end);
      if (frame !== null) {
        onFrame(frame);
        // A reused frame keeps neither the last body's buffer nor its properties alive.
        if (frame === this.deliverFrame) {
          frame.body = NO_RUN;
          frame.properties = null;
        }
        return;
      }
    } else if (type === ACK) {
      const frame = fastAck(buf, headerStart, bodyStart, end);
      if (frame !== null) return onFrame(frame);
    } else if (type === STREAM_DELIVER) {
      const frame = fastStreamDeliver(buf, headerStart, bodyStart, end);
      if (frame !== null) {
        frame.body = this.bodyOf(buf, bodyStart, end);
        return onFrame(frame);
      }
    }
    let header: unknown;
    try {
      checkProfile(buf, headerStart, bodyStart, this.headerLimits);
      header = unpackRange(buf, headerStart, bodyStart);
    } catch (err) {
      throw errors.frameError(`frame header is not valid MessagePack: ${(err as Error).message}`, err);
    }
    onFrame(parseFrame(type, header, this.bodyOf(buf, bodyStart, end)));
  }

  /**
   * PUBLISH in its usual shape, decoded without the general MessagePack reader:
   * exactly [seq, exchange, routingKey, flags, properties] with uints, ASCII strings
   * of up to 255 bytes and nil or small flat properties (props-fast.ts). Anything else
   * (nested properties, non-ASCII names, extra fields) returns null and takes the
   * general path, which builds the same frame. With `reusePublishFrame` the
   * frame is the decoder's one publishFrame, rewritten.
   */
  private fastPublish(b: Buffer, p: number, bodyStart: number, end: number): PublishFrame | null {
    if (b[p] !== 0x95) return null;
    const seq = uintAt(b, p + 1, bodyStart);
    if (seq < 0) return null;
    let s = strSpan(b, uintEnd, bodyStart);
    if (s < 0) return null;
    const exchange = this.exchanges.get(b, spanStart, s);
    s = strSpan(b, s, bodyStart);
    if (s < 0) return null;
    const routingKey = this.routingKeys.get(b, spanStart, s);
    const flags = uintAt(b, s, bodyStart);
    // nil, or a small flat map (props-fast.ts); undefined: the general path.
    const shared = this.sharedProps;
    const properties = flags < 0 ? undefined : shared !== null ? sharedProperties(shared, b, uintEnd, bodyStart) : fastProperties(b, uintEnd, bodyStart);
    if (properties === undefined) return null;
    const body = this.bodyOf(b, bodyStart, end);
    const f = this.publishFrame;
    if (f === null) return { type: PUBLISH, seq, exchange, routingKey, flags, properties, body };
    f.seq = seq;
    f.exchange = exchange;
    f.routingKey = routingKey;
    f.flags = flags;
    f.properties = properties;
    f.body = body;
    return f;
  }

  /**
   * DELIVER in its usual shape: exactly [consumerTag, deliveryTag, redelivered,
   * deliveryCount, exchange, routingKey, properties], as fastPublish (with
   * `reuseDeliverFrame`, the decoder's one deliverFrame, rewritten).
   */
  private fastDeliver(b: Buffer, p: number, bodyStart: number, end: number): DeliverFrame | null {
    if (b[p] !== 0x97) return null;
    let s = strSpan(b, p + 1, bodyStart);
    if (s < 0) return null;
    const consumerTag = this.consumerTags.get(b, spanStart, s);
    const deliveryTag = uintAt(b, s, bodyStart);
    if (deliveryTag < 0) return null;
    p = uintEnd;
    const r = b[p];
    if (r !== 0xc2 && r !== 0xc3) return null;
    const deliveryCount = uintAt(b, p + 1, bodyStart);
    if (deliveryCount < 0) return null;
    s = strSpan(b, uintEnd, bodyStart);
    if (s < 0) return null;
    const exchange = this.exchanges.get(b, spanStart, s);
    s = strSpan(b, s, bodyStart);
    if (s < 0) return null;
    const routingKey = this.routingKeys.get(b, spanStart, s);
    const properties = fastProperties(b, s, bodyStart); // as fastPublish
    if (properties === undefined) return null;
    const body = this.bodyOf(b, bodyStart, end);
    const f = this.deliverFrame;
    if (f === null) return { type: DELIVER, consumerTag, deliveryTag, redelivered: r === 0xc3, deliveryCount, exchange, routingKey, properties, body };
    f.consumerTag = consumerTag;
    f.deliveryTag = deliveryTag;
    f.redelivered = r === 0xc3;
    f.deliveryCount = deliveryCount;
    f.exchange = exchange;
    f.routingKey = routingKey;
    f.properties = properties;
    f.body = body;
    return f;
  }

  private peekUInt32(): number {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= 4) return first.readUInt32BE(this.offset);
    let value = 0;
    let chunkIndex = 0;
    let pos = this.offset;
    for (let i = 0; i < 4; i++) {
      let chunk = this.chunks[chunkIndex]!;
      while (pos >= chunk.length) {
        chunk = this.chunks[++chunkIndex]!;
        pos = 0;
      }
      value = value * 256 + chunk[pos++]!;
    }
    return value;
  }

  /** Drops n bytes from the front (they have been read in place). */
  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const left = first.length - this.offset;
      if (left > n) {
        this.offset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Copies n bytes from the front into target and drops them. */
  private copyOut(target: Buffer, n: number): void {
    let written = 0;
    while (written < n) {
      const first = this.chunks[0]!;
      const take = Math.min(first.length - this.offset, n - written);
      first.copy(target, written, this.offset, this.offset + take);
      written += take;
      this.consume(take);
    }
  }
}

export { ProtocolError };

/** An empty Buffer[] that already has the object-elements map (see FrameDecoder.chunks). */
function bufferList(): Buffer[] {
  const list = [NO_RUN];
  list.length = 0;
  return list;
}

/**
 * The push of a guarded decoder (frame-guard.ts): the plain push, with a handler that
 * poisons each PUBLISH (and/or DELIVER) frame once the receiver's handler returns.
 */
function guardedPush(publish: boolean, deliver: boolean): FrameDecoder['push'] {
  const plain = FrameDecoder.prototype.push;
  let handler: FrameHandler | null = null;
  let wrapped: FrameHandler = () => undefined;
  return function (this: FrameDecoder, chunk: Buffer, onFrame: FrameHandler): void {
    if (onFrame !== handler) {
      handler = onFrame;
      wrapped = (frame) => {
        try {
          onFrame(frame);
        } finally {
          if (publish && frame.type === PUBLISH) poisonFrame(frame, 'PUBLISH');
          else if (deliver && frame.type === DELIVER) poisonFrame(frame, 'DELIVER');
        }
      };
    }
    plain.call(this, chunk, wrapped);
  };
}

/**
 * STREAM_DELIVER, the frame a stream replay sends by the hundred thousand, decoded
 * without the general MessagePack reader when it has its usual shape: exactly six
 * fields, ASCII strings of up to 255 bytes, and nil or empty properties. Anything else
 * (properties with values, non-ASCII names, extra fields) returns null and takes the
 * general path, which checks the profile and builds the same frame.
 */
function fastStreamDeliver(b: Buffer, p: number, bodyStart: number, end: number): StreamDeliverFrame | null {
  if (b[p] !== 0x96) return null;
  p++;
  let s = strSpan(b, p, bodyStart);
  if (s < 0) return null;
  const consumerTag = b.toString('latin1', spanStart, s);
  p = s;
  const offset = uintAt(b, p, bodyStart);
  if (offset < 0) return null;
  p = uintEnd;
  const timestamp = uintAt(b, p, bodyStart);
  if (timestamp < 0) return null;
  p = uintEnd;
  s = strSpan(b, p, bodyStart);
  if (s < 0) return null;
  const exchange = b.toString('latin1', spanStart, s);
  p = s;
  s = strSpan(b, p, bodyStart);
  if (s < 0) return null;
  const routingKey = b.toString('latin1', spanStart, s);
  p = s;
  const t = b[p];
  if (p + 1 !== bodyStart || (t !== 0xc0 && t !== 0x80)) return null;
  // The caller sets the body.
  return { type: STREAM_DELIVER, consumerTag, offset, timestamp, exchange, routingKey, properties: t === 0xc0 ? null : {}, body: NO_RUN };
}

/** ACK as [deliveryTag, multiple] exactly, without a body; anything else takes the general path. */
function fastAck(b: Buffer, p: number, bodyStart: number, end: number): AckFrame | null {
  if (b[p] !== 0x92 || bodyStart !== end) return null;
  const deliveryTag = uintAt(b, p + 1, bodyStart);
  if (deliveryTag < 0 || uintEnd + 1 !== bodyStart) return null;
  const m = b[uintEnd];
  if (m !== 0xc2 && m !== 0xc3) return null;
  return { type: ACK, deliveryTag, multiple: m === 0xc3 };
}

/**
 * The last ASCII string decoded for one header field, with its bytes: the same
 * bytes again (one routing key, one consumer tag, message after message) give
 * the same string back instead of a new one.
 */
class RepeatedString {
  private readonly bytes = Buffer.allocUnsafeSlow(255);
  private length = -1;
  private value = '';

  /** The string of the ASCII bytes b[start, end) (at most 255, as strSpan found them). */
  get(b: Buffer, start: number, end: number): string {
    const n = end - start;
    const bytes = this.bytes;
    if (n === this.length) {
      let i = 0;
      while (i < n && bytes[i] === b[start + i]) i++;
      if (i === n) return this.value;
    }
    for (let i = 0; i < n; i++) bytes[i] = b[start + i]!;
    this.length = n;
    this.value = n === 0 ? '' : b.toString('latin1', start, end);
    return this.value;
  }
}

/** Where the string found by strSpan starts. */
export let spanStart = 0;
/** The end of an ASCII fixstr/str8 at p (its start in spanStart), or -1. */
export function strSpan(b: Buffer, p: number, limit: number): number {
  if (p >= limit) return -1;
  const t = b[p]!;
  let len: number;
  if (t >= 0xa0 && t <= 0xbf) {
    len = t & 0x1f;
    p += 1;
  } else if (t === 0xd9 && p + 1 < limit) {
    len = b[p + 1]!;
    p += 2;
  } else return -1;
  const e = p + len;
  if (e > limit) return -1;
  for (let i = p; i < e; i++) if (b[i]! >= 0x80) return -1;
  spanStart = p;
  return e;
}

/**
 * The big-endian uint32 at b[p, p + 4), which the caller has checked is in range. By hand, not
 * b.readUInt32BE: that is a property load on the Buffer per call, and these run several times per frame.
 */
function u32(b: Buffer, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/** Where the uint read by uintAt ends. */
export let uintEnd = 0;
/** A MessagePack uint (up to 2^53 - 1) at p, or -1 for anything else. */
export function uintAt(b: Buffer, p: number, limit: number): number {
  if (p >= limit) return -1;
  const t = b[p]!;
  if (t <= 0x7f) {
    uintEnd = p + 1;
    return t;
  }
  let n: number;
  let v: number;
  if (t === 0xcc) {
    n = 1;
    if (p + 2 > limit) return -1;
    v = b[p + 1]!;
  } else if (t === 0xcd) {
    n = 2;
    if (p + 3 > limit) return -1;
    v = (b[p + 1]! << 8) | b[p + 2]!;
  } else if (t === 0xce) {
    n = 4;
    if (p + 5 > limit) return -1;
    v = u32(b, p + 1);
  } else if (t === 0xcf) {
    n = 8;
    if (p + 9 > limit) return -1;
    const hi = u32(b, p + 1);
    if (hi >= 0x200000) return -1; // beyond 2^53: the general path reads it as a BigInt
    v = hi * 2 ** 32 + u32(b, p + 5);
  } else return -1;
  uintEnd = p + 1 + n;
  return v;
}
