/**
 * Message bodies to and from values. publish() sends bytes and strings as they
 * are (the hot path is unchanged); any other value goes through the
 * connection's codec, JSON unless `connect({ codec })` names another, and the
 * message gets the codec's `contentType` unless the publish gives one.
 * Received messages decode with `msg.json()` or `msg.decode()`.
 */
import { errors, WarrenError } from '@warren/protocol';

/** Turns values into bodies and back, for one content type (JSON, MessagePack, ...). */
export interface Codec<T = unknown> {
  /** Set as the message's `contentType` when a publish does not give one. */
  readonly contentType: string;
  encode(value: T): Buffer | Uint8Array | string;
  decode(body: Buffer): T;
}

/** The default codec: `application/json`, UTF-8. */
export const jsonCodec: Codec = Object.freeze({
  contentType: 'application/json',
  encode(value: unknown): string {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`a ${typeof value} has no JSON form`);
    return text;
  },
  decode(body: Buffer): unknown {
    return JSON.parse(body.toString('utf8')) as unknown;
  },
});

/** Checks a codec given to connect(); INVALID_ARGUMENT when it lacks a part. */
export function checkCodec(codec: Codec | undefined): Codec {
  if (codec === undefined) return jsonCodec;
  if (typeof codec !== 'object' || codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function' || typeof codec.contentType !== 'string') {
    throw errors.invalidArgument('codec must have a contentType string and encode and decode functions');
  }
  return codec;
}

/** A body that is not bytes or a string, encoded with `codec`; a WarrenError (INVALID_ARGUMENT) when it cannot be. */
export function encodeValue(value: unknown, codec: Codec): Buffer | WarrenError {
  if (value === undefined) return errors.invalidArgument('body is undefined: pass a Buffer, Uint8Array, string, or a value to encode');
  let encoded: Buffer | Uint8Array | string;
  try {
    encoded = codec.encode(value);
  } catch (err) {
    return errors.invalidArgument(`body could not be encoded as ${codec.contentType}: ${(err as Error).message}`);
  }
  if (typeof encoded === 'string') return Buffer.from(encoded, 'utf8');
  if (Buffer.isBuffer(encoded)) return encoded;
  if (encoded instanceof Uint8Array) return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  return errors.invalidArgument(`the ${codec.contentType} codec's encode() must return a Buffer, Uint8Array or string`);
}

/** Publish options with the codec's content type, unless they name one (a copy: the caller's object is not changed). */
export function withContentType<O extends { contentType?: string }>(opts: O | undefined, contentType: string): O {
  if (opts?.contentType !== undefined) return opts;
  return { ...opts, contentType } as O;
}
