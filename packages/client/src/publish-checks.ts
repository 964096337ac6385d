/**
 * Checks a publish before it is encoded. Both failures would otherwise cost
 * the whole connection: a known property with a wrongly typed value is a
 * FRAME_ERROR, and so is a frame over frameMax (protocol-spec 6.2, 9.1). The
 * property rules are the protocol's own (invalidProperty, the one the server
 * parses with); here they only become the caller's INVALID_ARGUMENT.
 */
import { FrameType, NO_BODY, PRELUDE_SIZE, errors, headerOf, invalidProperty, pack, propertiesShapeProblem, type MessageProperties, type WarrenError } from '@warren/protocol';
import { MessageTooLargeError } from './errors.js';

/** INVALID_ARGUMENT for a known property of the wrong type, or properties the broker would refuse for their shape; unknown keys pass (the server keeps them). */
export function checkProperties(properties: MessageProperties): WarrenError | undefined {
  const invalid = invalidProperty(properties);
  if (invalid !== undefined) return errors.invalidArgument(`message property "${invalid.key}" must be ${invalid.expected}`);
  const shape = propertiesShapeProblem(properties);
  return shape === undefined ? undefined : errors.invalidArgument(`message properties ${shape}`);
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
  const header = headerOf({ type: FrameType.PUBLISH, seq: 0xffff_ffff, exchange, routingKey, flags: 1, properties, body: NO_BODY });
  const headerSize = pack(header).length;
  if (headerSize <= room) return undefined;
  return new MessageTooLargeError(PRELUDE_SIZE + headerSize + bodyLength, frameMax);
}
