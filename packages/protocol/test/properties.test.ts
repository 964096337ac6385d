/**
 * The property validator is the one the frame parser uses: whatever it
 * refuses, a received PUBLISH is marked with (invalidPropertyOf: the server
 * nacks that publish with INVALID_ARGUMENT, spec 9.1), and the reverse.
 */
import { describe, it, expect } from 'vitest';
import { FrameDecoder, FrameType, invalidProperty, invalidPropertyOf, isPlainObject, pack, propertyExpectation, type Frame, type PublishFrame } from '@warren/protocol';
import { rawFrame } from './helpers.js';

const wrong: [string, unknown, string][] = [
  ['persistent', 1, 'a boolean'],
  ['contentType', 5, 'a string'],
  ['contentEncoding', true, 'a string'],
  ['headers', [1], 'a plain object'],
  ['headers', Buffer.from('x'), 'a plain object'],
  ['messageId', 1, 'a string'],
  ['correlationId', {}, 'a string'],
  ['replyTo', 2, 'a string'],
  ['expiration', -1, 'a non-negative integer (ms)'],
  ['expiration', 1.5, 'a non-negative integer (ms)'],
  ['priority', 256, 'an integer from 0 to 255'],
  ['priority', -1, 'an integer from 0 to 255'],
  ['timestamp', '2024', 'an integer (ms since the epoch)'],
  ['type', 1, 'a string'],
  ['appId', false, 'a string'],
  ['userId', 3, 'a string'],
];
const right: [string, unknown][] = [
  ['persistent', true],
  ['headers', { a: 1 }],
  ['expiration', 0],
  ['priority', 255],
  ['timestamp', -5],
  ['x-unknown', [1, 2]],
  ['contentType', null],
  ['priority', undefined],
];

/** true when the parser found the properties valid; a wrong one is marked, never a frame error. */
function parsedByServer(properties: Record<string, unknown>): boolean {
  let frame: Frame | undefined;
  new FrameDecoder(65536).push(rawFrame(FrameType.PUBLISH, pack([1, 'e', 'k', 0, properties]), Buffer.from('x')), (f) => (frame = f));
  const parsed = (frame as PublishFrame).properties;
  return parsed === null || invalidPropertyOf(parsed) === undefined;
}

describe('property validator', () => {
  it.each(wrong)('%s = %j is refused as %s, by the validator and by the parser', (key, value, expected) => {
    expect(propertyExpectation(key, value)).toBe(expected);
    expect(invalidProperty({ contentType: 'ok', [key]: value })).toEqual({ key, expected });
    expect(parsedByServer({ [key]: value })).toBe(false);
  });

  it.each(right)('%s = %j passes both', (key, value) => {
    expect(invalidProperty({ [key]: value })).toBeUndefined();
    expect(parsedByServer({ [key]: value })).toBe(true);
  });

  it.each(['hasOwnProperty', 'constructor', 'toString', 'valueOf', '__defineGetter__'])('a property named %s is an unknown key, kept as is (not a crash on Object.prototype)', (key) => {
    expect(propertyExpectation(key, 1)).toBeUndefined();
    expect(invalidProperty({ [key]: 1 })).toBeUndefined();
    expect(parsedByServer({ [key]: 1, contentType: 'text/plain' })).toBe(true);
    // Both decoder paths: the general one (nested headers) and the small flat map fast path.
    for (const properties of [{ [key]: 1, headers: { a: { b: 1 } } }, { [key]: 1 }]) {
      let frame: Frame | undefined;
      new FrameDecoder(65536).push(rawFrame(FrameType.PUBLISH, pack([1, 'e', 'k', 0, properties]), Buffer.from('x')), (f) => (frame = f));
      expect({ ...(frame as PublishFrame).properties }).toEqual(properties);
    }
  });

  it('isPlainObject: maps only', () => {
    expect(isPlainObject({})).toBe(true);
    for (const v of [null, [], new Uint8Array(1), Buffer.alloc(1), new Date(), new Map(), 'x', 1]) expect(isPlainObject(v)).toBe(false);
  });
});
