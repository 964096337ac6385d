/**
 * Checks a publish before it is encoded. Both failures would otherwise cost
 * the whole connection: a known property with a wrongly typed value is a
 * FRAME_ERROR, and so is a frame over frameMax (protocol-spec 6.2, 9.1).
 */
import { PRELUDE_SIZE, errors, pack, type MessageProperties, type WarrenError } from '@warren/protocol';
import { MessageTooLargeError } from './errors.js';

const isString = (v: unknown): boolean => typeof v === 'string';
const isPlainObject = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && !(v instanceof Map);

const checks: Record<string, [(v: unknown) => boolean, string]> = {
  persistent: [(v) => typeof v === 'boolean', 'a boolean'],
  contentType: [isString, 'a string'],
  contentEncoding: [isString, 'a string'],
  headers: [isPlainObject, 'a plain object'],
  messageId: [isString, 'a string'],
  correlationId: [isString, 'a string'],
  replyTo: [isString, 'a string'],
  expiration: [(v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0, 'a non-negative integer (ms)'],
  priority: [(v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255, 'an integer from 0 to 255'],
  timestamp: [(v) => typeof v === 'number' && Number.isSafeInteger(v), 'an integer (ms since the epoch)'],
  type: [isString, 'a string'],
  appId: [isString, 'a string'],
  userId: [isString, 'a string'],
};

/** INVALID_ARGUMENT for a known property of the wrong type; unknown keys pass (the server keeps them). */
export function checkProperties(properties: MessageProperties): WarrenError | undefined {
  for (const key in properties) {
    const value = (properties as Record<string, unknown>)[key];
    if (value === undefined || value === null) continue; // travels as nil, dropped by the server
    const check = checks[key];
    if (check !== undefined && !check[0](value)) return errors.invalidArgument(`message property "${key}" must be ${check[1]}`);
  }
  return undefined;
}

/** An upper bound on the MessagePack size of a value, without encoding it. */
function sizeBound(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'string':
      return 5 + 3 * v.length;
    case 'number':
    case 'bigint':
      return 9;
    case 'boolean':
    case 'undefined':
      return 1;
    case 'object': {
      if (v === null) return 1;
      if (depth > 16) return Infinity;
      if (v instanceof Uint8Array) return 5 + v.byteLength;
      if (v instanceof Date) return 15;
      let n = 5;
      if (Array.isArray(v)) {
        for (const item of v) n += sizeBound(item, depth + 1);
      } else {
        for (const key in v) n += 5 + 3 * key.length + sizeBound((v as Record<string, unknown>)[key], depth + 1);
      }
      return n;
    }
    default:
      return Infinity;
  }
}

/**
 * MessageTooLargeError when the PUBLISH frame would exceed frameMax. A cheap
 * upper bound settles almost every call; the header is encoded (once more)
 * only when the bound says it might not fit.
 */
export function checkFrameSize(
  frameMax: number,
  exchange: string,
  routingKey: string,
  properties: MessageProperties | null,
  bodyLength: number,
): MessageTooLargeError | undefined {
  const room = frameMax - PRELUDE_SIZE - bodyLength;
  // array + seq + flags + two strings + properties
  const bound = 1 + 9 + 9 + 10 + 3 * (exchange.length + routingKey.length) + sizeBound(properties, 0);
  if (room >= bound) return undefined;
  const headerSize = pack([0xffff_ffff, exchange, routingKey, 1, properties]).length;
  if (headerSize <= room) return undefined;
  return new MessageTooLargeError(PRELUDE_SIZE + headerSize + bodyLength, frameMax);
}
