/**
 * Frame layout (all integers big-endian):
 *
 *   u32 size         bytes that follow this field (type + header_size + header + body)
 *   u8  type         frame type, see FrameType
 *   u32 header_size  bytes of the MessagePack header
 *   ... header       one MessagePack array
 *   ... body         raw bytes (size - 5 - header_size), only for body frames
 *
 * A frame's total length is size + 4; limits apply to that total.
 */
import { errors } from './errors.js';
import { type Frame, type BodyFrame, NO_BODY } from './frames.js';
import { headerOf, hasBody } from './frame-schema.js';
import { packScratch } from './msgpack.js';

export const PRELUDE_SIZE = 9;
/** The smallest legal frame: prelude plus a one-byte header. */
export const MIN_FRAME_SIZE = PRELUDE_SIZE + 1;
/** Limit before authentication completes: enough for OPEN, too small to hurt. */
export const PRE_AUTH_FRAME_MAX = 64 * 1024;
/** Default negotiated frame maximum (and so the largest message body, minus its header). */
export const DEFAULT_FRAME_MAX = 16 * 1024 * 1024;
/** The largest frame maximum either side may propose. */
export const FRAME_MAX_LIMIT = 256 * 1024 * 1024;

/** Body of a frame, or an empty buffer. */
export function bodyOf(frame: Frame): Buffer {
  return hasBody(frame.type) ? (frame as BodyFrame).body : NO_BODY;
}

/** The total encoded size of a frame whose header encodes to headerSize bytes. */
export function frameSize(headerSize: number, bodySize: number): number {
  return PRELUDE_SIZE + headerSize + bodySize;
}

/** Encodes one frame into a fresh buffer. The writer has a faster path for streams. */
export function encodeFrame(frame: Frame): Buffer {
  const header = packScratch(headerOf(frame));
  const body = bodyOf(frame);
  const out = Buffer.allocUnsafe(PRELUDE_SIZE + header.length + body.length);
  out.writeUInt32BE(5 + header.length + body.length, 0);
  out[4] = frame.type;
  out.writeUInt32BE(header.length, 5);
  header.copy(out, PRELUDE_SIZE);
  body.copy(out, PRELUDE_SIZE + header.length);
  return out;
}

export function checkFrameMax(value: number): void {
  if (!Number.isSafeInteger(value) || value < 4096 || value > FRAME_MAX_LIMIT) {
    throw errors.invalidArgument(`frameMax must be an integer between 4096 and ${FRAME_MAX_LIMIT}`);
  }
}
