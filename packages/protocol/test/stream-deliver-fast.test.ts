/**
 * The decoder's fast path for STREAM_DELIVER (decoder.ts, fastStreamDeliver) builds
 * exactly the frame the general path builds, and leaves every other shape, valid or
 * not, to the general path (so profile violations are still refused).
 */
import { describe, it, expect } from 'vitest';
import { FrameType, pack, type StreamDeliverFrame } from '@warren/protocol';
import { decodeChunks, expectDecodedBothWays, rawFrame } from './helpers.js';

function deliver(o: Partial<StreamDeliverFrame>): StreamDeliverFrame {
  return {
    type: FrameType.STREAM_DELIVER,
    consumerTag: 'stag-1',
    offset: 7,
    timestamp: 1_767_225_600_123,
    exchange: '',
    routingKey: 'orders',
    properties: null,
    body: Buffer.from('hello'),
    ...o,
  };
}

describe('STREAM_DELIVER fast decode', () => {
  it('decodes the usual shapes and every other one to the same frame as encoded', () => {
    const frames = [
      deliver({}),
      deliver({ properties: {} }),
      deliver({ offset: 0, timestamp: 0 }),
      deliver({ offset: 200, timestamp: 70_000 }),
      deliver({ offset: 2 ** 32 + 5, timestamp: Number.MAX_SAFE_INTEGER }),
      deliver({ consumerTag: 'x'.repeat(31), exchange: 'y'.repeat(32), routingKey: 'z'.repeat(255) }),
      deliver({ routingKey: 'z'.repeat(256) }),
      deliver({ routingKey: 'commandé', exchange: 'ü' }),
      deliver({ properties: { headers: { region: 'eu' }, contentType: 'text/plain' } }),
      deliver({ body: Buffer.alloc(0) }),
      deliver({ body: Buffer.alloc(100_000, 3) }),
    ];
    expectDecodedBothWays(frames, (got, want) => expect(got).toEqual(want));
  });

  it('ignores extra trailing fields like the general path', () => {
    const header = pack(['t', 1, 2, '', 'q', null, 'extra']);
    expect(decodeChunks([rawFrame(FrameType.STREAM_DELIVER, header, Buffer.from('b'))])).toEqual([
      deliver({ consumerTag: 't', offset: 1, timestamp: 2, routingKey: 'q', body: Buffer.from('b') }),
    ]);
  });

  it('still refuses invalid UTF-8 and wrong field types', () => {
    const badUtf8 = Buffer.concat([Buffer.from([0x96, 0xa2, 0xff, 0xfe]), pack(1).subarray(0), pack(2), pack(''), pack('q'), Buffer.from([0xc0])]);
    expect(() => decodeChunks([rawFrame(FrameType.STREAM_DELIVER, badUtf8)])).toThrow(/UTF-8/);
    const negative = pack(['t', -1, 2, '', 'q', null]);
    expect(() => decodeChunks([rawFrame(FrameType.STREAM_DELIVER, negative)])).toThrow();
    const properties = pack(['t', 1, 2, '', 'q', 5]);
    expect(() => decodeChunks([rawFrame(FrameType.STREAM_DELIVER, properties)])).toThrow();
  });
});
