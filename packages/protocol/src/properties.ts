/**
 * The one validator of message properties, used where a frame is parsed (a
 * wrong type there is a FRAME_ERROR, protocol-spec 6.2) and by the client
 * before it encodes a publish (so the mistake fails that publish instead of
 * costing the connection). Unknown keys are valid: peers keep them for
 * forward compatibility.
 */
import { MAX_HEADER_VALUES, MAX_NESTING } from './profile.js';

/** A map in the MessagePack sense: not an array, binary, date or Map. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && !(v instanceof Map);
}

const isString = (v: unknown): boolean => typeof v === 'string';

/** A lookup table whose misses are undefined even for keys like hasOwnProperty or constructor. */
function withoutPrototype<T>(entries: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, entries);
}

/**
 * Per known property, the test its value must pass (the frame parser runs these for every received property).
 * No prototype: a property named hasOwnProperty or constructor is an unknown key, not Object's method.
 */
export const propertyChecks: Readonly<Record<string, (v: unknown) => boolean>> = withoutPrototype<(v: unknown) => boolean>({
  persistent: (v) => typeof v === 'boolean',
  contentType: isString,
  contentEncoding: isString,
  headers: isPlainObject,
  messageId: isString,
  correlationId: isString,
  replyTo: isString,
  expiration: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  priority: (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255,
  timestamp: (v) => typeof v === 'number' && Number.isSafeInteger(v),
  type: isString,
  appId: isString,
  userId: isString,
});

/** How to say what a known property should be. */
const expectations: Readonly<Record<string, string>> = withoutPrototype<string>({
  persistent: 'a boolean',
  headers: 'a plain object',
  expiration: 'a non-negative integer (ms)',
  priority: 'an integer from 0 to 255',
  timestamp: 'an integer (ms since the epoch)',
});

/**
 * What a non-nil property value should have been, or undefined when it is
 * fine (every value of an unknown key is).
 */
export function propertyExpectation(key: string, value: unknown): string | undefined {
  const check = propertyChecks[key];
  return check === undefined || check(value) ? undefined : (expectations[key] ?? 'a string');
}

/**
 * Set by the frame parser on a received properties map that has a known key
 * with a wrong value (symbol-keyed: never encoded, never enumerated). Such a
 * message is refused on its own (PUBLISH_NACK INVALID_ARGUMENT, spec 9.1),
 * the connection stays open.
 */
export const INVALID_PROPERTY: unique symbol = Symbol('warren.invalidProperty');

/** The first wrongly typed known property the parser found in a received map, or undefined. */
export function invalidPropertyOf(properties: object): { key: string; expected: string } | undefined {
  const key = (properties as { [INVALID_PROPERTY]?: string })[INVALID_PROPERTY];
  return key === undefined ? undefined : { key, expected: propertyExpectation(key, (properties as Record<string, unknown>)[key]) ?? 'valid' };
}

/** The first known property with a wrongly typed value, or undefined. Nil values pass (they travel as nil). */
export function invalidProperty(properties: object): { key: string; expected: string } | undefined {
  for (const key in properties) {
    const value = (properties as Record<string, unknown>)[key];
    if (value === undefined || value === null) continue;
    const expected = propertyExpectation(key, value);
    if (expected !== undefined) return { key, expected };
  }
  return undefined;
}

/**
 * Why a PUBLISH carrying these properties would break one of the bounds a
 * server applies to a received header (protocol-spec 3, "Nesting" and "Size":
 * MAX_NESTING levels, MAX_HEADER_VALUES map entries and array elements), or
 * undefined. The header array is one level and 5 values around the
 * properties: what is left for them. Used by the client (a local
 * INVALID_ARGUMENT instead of a closed connection) and by the broker's HTTP
 * publish (the same bounds as the wire).
 */
export function propertiesShapeProblem(properties: object): string | undefined {
  return shapeProblem(properties, 2, MAX_HEADER_VALUES - 5);
}

/**
 * The same for a whole frame header (the frame's fields in FRAME_SCHEMA order,
 * as headerOf builds it): the array itself is level 1 and its elements count
 * as values, so each field's maps are measured at the depth the layout puts
 * them (QUEUE_DECLARE's arguments at level 3, QUEUE_BIND's at level 2).
 */
export function headerShapeProblem(header: readonly unknown[]): string | undefined {
  return shapeProblem(header, 1, MAX_HEADER_VALUES);
}

/** `root` at level `rootDepth`, with `budget` values left for it and what it holds. */
function shapeProblem(root: object, rootDepth: number, budget: number): string | undefined {
  const levels = MAX_NESTING - rootDepth + 1;
  let values = budget;
  const stack: Array<[object, number]> = [[root, rootDepth]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > MAX_NESTING) return `nest more than ${levels} levels deep (the broker refuses a header nested more than ${MAX_NESTING})`;
    const children = Array.isArray(v) ? v : Object.values(v);
    values -= children.length;
    if (values < 0) return `hold more than ${budget} values (the broker refuses a header of more than ${MAX_HEADER_VALUES})`;
    for (const c of children) if (c !== null && typeof c === 'object' && !(c instanceof Uint8Array) && !(c instanceof Date)) stack.push([c, depth + 1]);
  }
  return undefined;
}
