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
 * allocates nothing but its bytes. The three sent once per message (deliver,
 * publish, ack) are written by hand below, straight into the slab, for their
 * usual shape.
 */
import { FrameType, type Frame, type BodyFrame, type MessageProperties } from './frames.js';
import { headerOf, hasBody } from './frame-schema.js';
import { PRELUDE_SIZE } from './codec.js';
import { packScratch } from './msgpack.js';
import { installFrameSends, type FrameSends } from './frame-sends.js';
import { propsSize, writeProps } from './props-fast.js';

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
  /**
   * The receiver's frame maximum. A frame longer than this is not sent: the
   * send returns false and the caller decides (protocol-spec 2, rule 8: the
   * server never sends a frame above what the receiver negotiated).
   * Infinity until set.
   */
  frameLimit = Infinity;
  // The last string each per-message field carried, with its encoding: a stream of publishes or
  // deliveries repeats the same exchange, routing key and consumer tag, so they are checked once.
  private readonly tagStr = new StrSlot();
  private readonly exStr = new StrSlot();
  private readonly rkStr = new StrSlot();

  constructor(private readonly sink: FrameSink) {}

  /** Bytes encoded but not yet handed to the socket. */
  get pendingBytes(): number {
    return this.pending;
  }

  send(frame: Frame): boolean {
    return this.sendRaw(frame.type, headerOf(frame), hasBody(frame.type) ? (frame as BodyFrame).body : undefined);
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

  /**
   * Encodes a frame from its type, header array and optional body; `header`
   * may be reused once this returns. Returns false, and sends nothing, when
   * the frame would be longer than `frameLimit`.
   */
  sendRaw(type: number, header: unknown[], body?: Buffer): boolean {
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    return this.put(type, packScratch(header), null, body);
  }

  /**
   * Sends a frame whose header array is the elements of `head` followed by the
   * elements of `tail`, a MessagePack fixarray that is already encoded (stream
   * deliveries reuse the stored `[exchange, routingKey, properties]` bytes as they
   * are, without decoding them). Together they must hold at most 15 elements.
   * Returns false, and sends nothing, when the frame would be longer than `frameLimit`.
   */
  sendWithEncodedTail(type: number, head: unknown[], tail: Buffer, body?: Buffer): boolean {
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    const headBytes = packScratch(head);
    if (headBytes[0]! >> 4 !== 0x9 || tail[0]! >> 4 !== 0x9 || head.length + (tail[0]! & 0x0f) > 15) {
      throw new RangeError('sendWithEncodedTail needs fixarrays of 15 elements at most');
    }
    return this.put(type, headBytes, tail, body);
  }

  /**
   * A frame straight from stored bytes (stream replay): its header array is `headCount`
   * elements already encoded in `head` (no array prefix), then the uints `a` and `b`,
   * then the elements of the MessagePack fixarray at src[tailStart, bodyStart); the body
   * is src[bodyStart, end). Everything is copied into the slab, so `src` may be reused
   * as soon as this returns. For STREAM_DELIVER: head = the consumer tag, a = offset,
   * b = timestamp, tail = the stored [exchange, routingKey, properties]. Byte for byte
   * what sendWithEncodedTail sends. Returns false, and sends nothing, when the frame
   * would be longer than `frameLimit`.
   */
  sendSpliced(type: number, head: Buffer, headCount: number, a: number, b: number, src: Buffer, tailStart: number, bodyStart: number, end: number): boolean {
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    const t = src[tailStart]!;
    const count = headCount + 2 + (t & 0x0f);
    if (t >> 4 !== 0x9 || count > 15) throw new RangeError('sendSpliced needs a fixarray tail and 15 elements at most');
    const headerLength = 1 + head.length + uintSize(a) + uintSize(b) + (bodyStart - tailStart - 1);
    const bodyLength = end - bodyStart;
    const total = PRELUDE_SIZE + headerLength + bodyLength;
    if (total > this.frameLimit) return false;
    let p = this.prelude(total, type, headerLength, bodyLength);
    const slab = this.slab;
    slab[p++] = 0x90 | count;
    p += head.copy(slab, p);
    p = writeUint(slab, p, a);
    p = writeUint(slab, p, b);
    p += src.copy(slab, p, tailStart + 1, end);
    this.slabPos = p;
    this.queued(total);
    return true;
  }

  /** Makes room for `inSlab` bytes in the slab and writes a frame's prelude there; returns where its header starts. */
  private prelude(inSlab: number, type: number, headerLength: number, bodyLength: number): number {
    this.sentSinceTick = true;
    if (this.slab.length - this.slabPos < inSlab) this.newSlab(inSlab);
    const slab = this.slab;
    const p = this.slabPos;
    // By hand, not writeUInt32BE: this runs once per frame and the lengths are known to fit.
    const size = 5 + headerLength + bodyLength;
    slab[p] = size >>> 24;
    slab[p + 1] = size >>> 16;
    slab[p + 2] = size >>> 8;
    slab[p + 3] = size;
    slab[p + 4] = type;
    slab[p + 5] = headerLength >>> 24;
    slab[p + 6] = headerLength >>> 16;
    slab[p + 7] = headerLength >>> 8;
    slab[p + 8] = headerLength;
    return p + PRELUDE_SIZE;
  }

  /** `bytes` more are pending: flush now past the threshold, else once this turn ends. */
  private queued(bytes: number): void {
    this.pending += bytes;
    if (this.pending >= FLUSH_THRESHOLD) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  /** Writes prelude, header (`first`, then `tail`'s elements when given) and body into the slab or the chunk list. */
  private put(type: number, first: Buffer, tail: Buffer | null, body: Buffer | undefined): boolean {
    const headerLength = first.length + (tail === null ? 0 : tail.length - 1);
    let p = this.begin(type, headerLength, body);
    if (p < 0) return false;
    const slab = this.slab;
    p += first.copy(slab, p);
    if (tail !== null) {
      // One array: the head's fixarray count becomes the sum, the tail's own prefix is skipped.
      slab[p - first.length] = 0x90 | ((first[0]! & 0x0f) + (tail[0]! & 0x0f));
      p += tail.copy(slab, p, 1);
    }
    this.finish(p, headerLength, body);
    return true;
  }

  /**
   * Makes room for a frame with a header of `headerLength` bytes and writes its
   * prelude; returns where the header goes, or -1 (nothing written) when the
   * frame would be longer than frameLimit. The caller writes the header, then finish().
   */
  private begin(type: number, headerLength: number, body: Buffer | undefined): number {
    const bodyLength = body === undefined ? 0 : body.length;
    if (PRELUDE_SIZE + headerLength + bodyLength > this.frameLimit) return -1;
    const inSlab = PRELUDE_SIZE + headerLength + (bodyLength < COPY_THRESHOLD ? bodyLength : 0);
    return this.prelude(inSlab, type, headerLength, bodyLength);
  }

  /** The header ends at `p`: the body goes into the slab (or the chunk list when large) and the frame is queued. */
  private finish(p: number, headerLength: number, body: Buffer | undefined): void {
    const bodyLength = body === undefined ? 0 : body.length;
    if (body !== undefined && bodyLength > 0) {
      if (bodyLength < COPY_THRESHOLD) {
        // TypedArray set: what Buffer.copy ends in, without its argument checks.
        this.slab.set(body, p);
        p += bodyLength;
      } else {
        this.chunks.push(this.slab.subarray(this.slabStart, p));
        this.slabStart = p;
        this.chunks.push(body);
      }
    }
    this.slabPos = p;
    this.queued(PRELUDE_SIZE + headerLength + bodyLength);
  }

  // The frames sent once per message, encoded straight into the slab when their properties are
  // null or a small flat map (props-fast.ts) and their names ASCII (the usual case): byte for byte what the general encoder writes (a test compares them),
  // without its scratch buffer's view per frame. They replace the generated methods of the same
  // name (frame-sends.ts), which they call for any other shape.

  deliver(
    consumerTag: string,
    deliveryTag: number,
    redelivered: boolean,
    deliveryCount: number,
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    body: Buffer,
  ): boolean {
    // The hook first: a frame it sends may reuse the name slots and the properties scratch.
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    const cs = this.tagStr.of(consumerTag);
    const es = this.exStr.of(exchange);
    const rs = this.rkStr.of(routingKey);
    const pl = propsSize(properties); // nil, or a small flat map (props-fast.ts); -1: the general encoder
    if (pl < 0 || (cs.length | es.length | rs.length) < 0 || !isSafeUint(deliveryTag) || !isSafeUint(deliveryCount)) {
      return generatedDeliver.call(this, consumerTag, deliveryTag, redelivered, deliveryCount, exchange, routingKey, properties, body);
    }
    const headerLength = 1 + cs.bytes.length + uintSize(deliveryTag) + 1 + uintSize(deliveryCount) + es.bytes.length + rs.bytes.length + pl;
    let p = this.begin(FrameType.DELIVER, headerLength, body);
    if (p < 0) return false;
    const slab = this.slab;
    slab[p++] = 0x97;
    p = putBytes(slab, p, cs.bytes);
    p = writeUint(slab, p, deliveryTag);
    slab[p++] = redelivered ? 0xc3 : 0xc2;
    p = writeUint(slab, p, deliveryCount);
    p = putBytes(slab, p, es.bytes);
    p = putBytes(slab, p, rs.bytes);
    p = writeProps(slab, p, properties);
    this.finish(p, headerLength, body);
    return true;
  }

  publish(seq: number, exchange: string, routingKey: string, flags: number, properties: MessageProperties | null, body: Buffer): boolean {
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend(); // first, as in deliver
    const es = this.exStr.of(exchange);
    const rs = this.rkStr.of(routingKey);
    const pl = propsSize(properties); // as deliver
    if (pl < 0 || (es.length | rs.length) < 0 || !isSafeUint(seq) || !isSafeUint(flags)) {
      return generatedPublish.call(this, seq, exchange, routingKey, flags, properties, body);
    }
    const headerLength = 1 + uintSize(seq) + es.bytes.length + rs.bytes.length + uintSize(flags) + pl;
    let p = this.begin(FrameType.PUBLISH, headerLength, body);
    if (p < 0) return false;
    const slab = this.slab;
    slab[p++] = 0x95;
    p = writeUint(slab, p, seq);
    p = putBytes(slab, p, es.bytes);
    p = putBytes(slab, p, rs.bytes);
    p = writeUint(slab, p, flags);
    p = writeProps(slab, p, properties);
    this.finish(p, headerLength, body);
    return true;
  }

  ack(deliveryTag: number, multiple: boolean): boolean {
    if (!isSafeUint(deliveryTag)) return generatedAck.call(this, deliveryTag, multiple);
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    const headerLength = 1 + uintSize(deliveryTag) + 1;
    let p = this.begin(FrameType.ACK, headerLength, undefined);
    if (p < 0) return false;
    const slab = this.slab;
    slab[p++] = 0x92;
    p = writeUint(slab, p, deliveryTag);
    slab[p++] = multiple ? 0xc3 : 0xc2;
    this.finish(p, headerLength, undefined);
    return true;
  }

  /**
   * CONFIRM, by hand like ack: the broker sends one per publisher read at low rates (a read per
   * publish), where the general encoder's msgpack pack was a measurable share of the broker's turn.
   */
  confirm(seq: number, multiple: boolean): boolean {
    if (!isSafeUint(seq)) return generatedConfirm.call(this, seq, multiple);
    if (this.beforeNextSend !== undefined) this.runBeforeNextSend();
    const headerLength = 1 + uintSize(seq) + 1;
    let p = this.begin(FrameType.CONFIRM, headerLength, undefined);
    if (p < 0) return false;
    const slab = this.slab;
    slab[p++] = 0x92;
    p = writeUint(slab, p, seq);
    slab[p++] = multiple ? 0xc3 : 0xc2;
    this.finish(p, headerLength, undefined);
    return true;
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

// The generated methods, kept for the shapes the hand-written ones above do not take; the class's own stay.
const hand = { deliver: FrameWriter.prototype.deliver, publish: FrameWriter.prototype.publish, ack: FrameWriter.prototype.ack, confirm: FrameWriter.prototype.confirm };
installFrameSends(FrameWriter.prototype);
const generatedDeliver = FrameWriter.prototype.deliver;
const generatedPublish = FrameWriter.prototype.publish;
const generatedAck = FrameWriter.prototype.ack;
const generatedConfirm = FrameWriter.prototype.confirm;
Object.assign(FrameWriter.prototype, hand);

/** A value the hand-written sends encode as a uint (the general encoder takes anything else, and checks nothing either). */
export function isSafeUint(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** The length of s when it is all ASCII (one byte per character), else -1 (the general encoder writes it). */
export function asciiLength(s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return -1;
  return n;
}

const NO_BYTES = new Uint8Array(0);

/**
 * One string field's last value: its ASCII length (-1 when not all ASCII) and,
 * when ASCII, its MessagePack str encoding (prefix included). A different string
 * replaces it; the same string again (usually the very same object) costs a comparison.
 */
class StrSlot {
  str = '';
  length = 0;
  bytes: Uint8Array = new Uint8Array([0xa0]);

  of(s: string): this {
    if (s === this.str) return this;
    const n = asciiLength(s);
    this.str = s;
    this.length = n;
    if (n < 0) {
      this.bytes = NO_BYTES;
    } else {
      const b = Buffer.allocUnsafe(strSize(n));
      writeStr(b, 0, s, n);
      this.bytes = new Uint8Array(b.buffer, b.byteOffset, b.length);
    }
    return this;
  }
}

/** Copies `src` into `b` at `p`; returns the position after it. A loop for the short names, set() beyond. */
function putBytes(b: Buffer, p: number, src: Uint8Array): number {
  const n = src.length;
  if (n <= 32) {
    for (let i = 0; i < n; i++) b[p + i] = src[i]!;
  } else {
    b.set(src, p);
  }
  return p + n;
}

/** Bytes of a MessagePack str of n bytes, prefix included (fixstr, str8, str16, str32 as msgpackr writes them). */
export function strSize(n: number): number {
  return n + (n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

/** Writes the ASCII string s (n bytes) as a MessagePack str; returns the position after it. */
export function writeStr(b: Buffer, p: number, s: string, n: number): number {
  p = writeStrHeader(b, p, n);
  if (n <= 64) {
    for (let i = 0; i < n; i++) b[p + i] = s.charCodeAt(i);
  } else {
    b.write(s, p, n, 'latin1');
  }
  return p + n;
}

/** Writes the header of a MessagePack str of n bytes (the smallest, as msgpackr writes it); returns the position after it. */
export function writeStrHeader(b: Buffer, p: number, n: number): number {
  if (n < 0x20) b[p++] = 0xa0 | n;
  else if (n < 0x100) {
    b[p++] = 0xd9;
    b[p++] = n;
  } else if (n < 0x10000) {
    b[p++] = 0xda;
    b.writeUInt16BE(n, p);
    p += 2;
  } else {
    b[p++] = 0xdb;
    b.writeUInt32BE(n, p);
    p += 4;
  }
  return p;
}

const TWO_32 = 2 ** 32;

/** Bytes of the smallest MessagePack encoding of a non-negative integer (as msgpackr plus integralFloatsToInts write it). */
export function uintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : v < TWO_32 ? 5 : 9;
}

/** Writes a non-negative safe integer as the smallest MessagePack uint; returns the position after it. */
export function writeUint(b: Buffer, p: number, v: number): number {
  if (v < 0x80) {
    b[p] = v;
    return p + 1;
  }
  if (v < 0x100) {
    b[p] = 0xcc;
    b[p + 1] = v;
    return p + 2;
  }
  // By hand, not b.writeUInt16BE/writeUInt32BE: a method looked up on the Buffer per call, and
  // delivery tags and publish sequence numbers pass 0xffff early (the caller sized the room).
  if (v < 0x10000) {
    b[p] = 0xcd;
    b[p + 1] = v >>> 8;
    b[p + 2] = v;
    return p + 3;
  }
  if (v < TWO_32) {
    b[p] = 0xce;
    put32(b, p + 1, v);
    return p + 5;
  }
  const hi = Math.floor(v / TWO_32);
  b[p] = 0xcf;
  put32(b, p + 1, hi);
  put32(b, p + 5, v - hi * TWO_32);
  return p + 9;
}

/** The uint32 v big-endian at b[p, p + 4). */
function put32(b: Buffer, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}
