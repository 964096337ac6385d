import { describe, it, expect } from 'vitest';
import {
  encodeFrame,
  ErrorCodes,
  FrameDecoder,
  FrameType,
  frameTypeNames,
  headerOf,
  pack,
  ProtocolError,
  type Frame,
} from '@warren/protocol';
import { SCHEMA, sampleFrames, rawFrame, type FieldKind } from './helpers.js';

/** Pushes the chunks; returns the frames seen and the error thrown (if any). */
function feed(decoder: FrameDecoder, ...chunks: Buffer[]): { frames: Frame[]; error: unknown } {
  const frames: Frame[] = [];
  try {
    for (const c of chunks) decoder.push(c, (f) => frames.push(f));
  } catch (error) {
    return { frames, error };
  }
  return { frames, error: undefined };
}

function expectProtocolError(error: unknown, code: number): void {
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).code).toBe(code);
}

const heartbeat = encodeFrame({ type: FrameType.HEARTBEAT });

describe('frame size limits', () => {
  const MAX = 4096;
  const prefix = (size: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(size);
    return b;
  };

  it('a frame of exactly the maximum (length prefix included) is accepted; one byte more is refused', () => {
    const header = pack([1, 'e', 'k', 0, null]);
    const atMax = rawFrame(FrameType.PUBLISH, header, Buffer.alloc(MAX - 9 - header.length));
    expect(atMax.length).toBe(MAX);
    expect(feed(new FrameDecoder(MAX), atMax).frames).toHaveLength(1);
    const over = rawFrame(FrameType.PUBLISH, header, Buffer.alloc(MAX - 8 - header.length));
    expectProtocolError(feed(new FrameDecoder(MAX), over).error, ErrorCodes.FRAME_TOO_LARGE);
  });

  it('refuses an oversized frame as soon as its 4-byte prefix arrives', () => {
    const decoder = new FrameDecoder(MAX);
    expectProtocolError(feed(decoder, prefix(MAX - 3)).error, ErrorCodes.FRAME_TOO_LARGE);
  });

  it('refuses it when the prefix arrives split over chunks', () => {
    const decoder = new FrameDecoder(MAX);
    const p = prefix(0xffffffff);
    expect(feed(decoder, p.subarray(0, 1), p.subarray(1, 3)).error).toBeUndefined();
    expectProtocolError(feed(decoder, p.subarray(3)).error, ErrorCodes.FRAME_TOO_LARGE);
  });

  it('delivers the valid frames before an oversized one in the same chunk', () => {
    const { frames, error } = feed(new FrameDecoder(MAX), Buffer.concat([heartbeat, heartbeat, prefix(1 << 30)]));
    expect(frames).toHaveLength(2);
    expectProtocolError(error, ErrorCodes.FRAME_TOO_LARGE);
  });

  it('refuses non-Warren peers at once: HTTP and TLS openings look like huge frames', () => {
    expectProtocolError(feed(new FrameDecoder(65536), Buffer.from('GET / HTTP/1.1\r\n')).error, ErrorCodes.FRAME_TOO_LARGE);
    expectProtocolError(feed(new FrameDecoder(65536), Buffer.from('160301020001', 'hex')).error, ErrorCodes.FRAME_TOO_LARGE);
  });

  it('maxFrameSize can be raised after the handshake', () => {
    const decoder = new FrameDecoder(64);
    expect(feed(decoder, heartbeat).frames).toHaveLength(1);
    decoder.maxFrameSize = 1 << 20;
    const big = encodeFrame({ type: FrameType.OK, requestId: 1, result: 'x'.repeat(1000) });
    expect(feed(decoder, big).frames).toHaveLength(1);
  });

  it('truncated input yields no frame and no error, whatever the cut', () => {
    const frame = encodeFrame(sampleFrames()[0]!);
    for (let cut = 0; cut < frame.length; cut++) {
      const decoder = new FrameDecoder(MAX);
      const { frames, error } = feed(decoder, frame.subarray(0, cut));
      expect(error).toBeUndefined();
      expect(frames).toHaveLength(0);
      expect(decoder.bufferedBytes).toBe(cut);
    }
  });
});

describe('malformed frames are FRAME_ERROR', () => {
  const cases: [string, Buffer][] = [
    ['size below the minimum (6)', Buffer.from('000000050500000001', 'hex')],
    ['size 0', Buffer.from('00000000', 'hex')],
    ['header_size 0', rawFrame(FrameType.HEARTBEAT, Buffer.from('90', 'hex'), undefined, { headerSize: 0 })],
    ['header_size larger than the frame', rawFrame(FrameType.HEARTBEAT, Buffer.from('90', 'hex'), undefined, { headerSize: 2 })],
    ['header_size 0xffffffff', rawFrame(FrameType.HEARTBEAT, Buffer.from('90', 'hex'), undefined, { headerSize: 0xffffffff })],
    ['header that is not MessagePack (truncated str32)', rawFrame(FrameType.HEARTBEAT, Buffer.from('dbffffffff', 'hex'))],
    ['header with trailing bytes after the array', rawFrame(FrameType.HEARTBEAT, Buffer.from('9090', 'hex'))],
    // The decoder parses the header in place inside the received chunk: a length
    // inside the header must not be able to read on into the body.
    // Both would be valid frames if the parser read past header_size.
    ['header string running into the body', rawFrame(FrameType.PUBLISH, Buffer.from('9501a0a4', 'hex'), Buffer.from('6a6f627300c0', 'hex'))],
    ['header array running into the body', rawFrame(FrameType.DELIVER, Buffer.from('97a0', 'hex'), Buffer.from('01c201a0a0c0', 'hex'))],
    ['header that is a map, not an array', rawFrame(FrameType.HEARTBEAT, pack({}))],
    ['header that is a string', rawFrame(FrameType.CONFIRM, pack('1,true'))],
    ['header that is nil', rawFrame(FrameType.HEARTBEAT, Buffer.from('c0', 'hex'))],
    ['map with a non-string key', rawFrame(FrameType.OK, Buffer.from('920181800102', 'hex'))],
    ['unknown frame type 0x00', rawFrame(0x00, pack([]))],
    ['unknown frame type 0x09', rawFrame(0x09, pack([]))],
    ['unknown frame type 0xff', rawFrame(0xff, pack([1]))],
    ['body on a non-body frame (ACK)', rawFrame(FrameType.ACK, pack([1, false]), Buffer.from('x'))],
    ['body on HEARTBEAT', rawFrame(FrameType.HEARTBEAT, pack([]), Buffer.from('x'))],
    ['missing required field', rawFrame(FrameType.CONFIRM, pack([1]))],
    ['uint64 beyond 2^53', rawFrame(FrameType.ACK, Buffer.from('92cfffffffffffffffffc2', 'hex'))],
    ['a request with requestId 0', rawFrame(FrameType.QUEUE_DECLARE, pack([0, 'q', {}]))],
    ['a request with requestId 2^32', rawFrame(FrameType.QUEUE_DECLARE, Buffer.from('93cf0000000100000000a17180', 'hex'))],
    ['header nested 100k arrays deep (stack overflow inside the parser)', rawFrame(FrameType.OK, Buffer.concat([Buffer.from('9201', 'hex'), Buffer.alloc(100_000, 0x91), Buffer.from('90', 'hex')]))],
  ];

  it('maxHeaderValues bounds the map entries and array elements of a header, at every depth', () => {
    // [1, {a: [nil x 7]}]: 2 + 1 + 7 = 10 values.
    const header = Buffer.concat([Buffer.from('9201', 'hex'), Buffer.from('81a16197', 'hex'), Buffer.alloc(7, 0xc0)]);
    expect(feed(new FrameDecoder(1 << 20, { maxHeaderValues: 10 }), rawFrame(FrameType.OK, header)).frames).toHaveLength(1);
    expectProtocolError(feed(new FrameDecoder(1 << 20, { maxHeaderValues: 9 }), rawFrame(FrameType.OK, header)).error, ErrorCodes.FRAME_ERROR);
    // No bound by default (a client reads long lists).
    const long = Buffer.concat([Buffer.from('9201dd00030d40', 'hex'), Buffer.alloc(200_000, 0xc0)]);
    expect(feed(new FrameDecoder(1 << 20), rawFrame(FrameType.OK, long)).frames).toHaveLength(1);
  });

  // Spec 3, "Nesting": the broker's limit (decodable, but not encodable again for delivery); clients read deeper lists.
  it('maxHeaderNesting: a header nested 64 levels deep is read, 65 is FRAME_ERROR (arrays and maps); no bound by default', () => {
    const arrays = (levels: number): Buffer => rawFrame(FrameType.OK, Buffer.concat([Buffer.from('9201', 'hex'), Buffer.alloc(levels - 2, 0x91), Buffer.from('90', 'hex')]));
    const maps = (levels: number): Buffer =>
      rawFrame(FrameType.OK, Buffer.concat([Buffer.from('9201', 'hex'), Buffer.concat(Array.from({ length: levels - 2 }, () => Buffer.from('81a161', 'hex'))), Buffer.from('80', 'hex')]));
    for (const make of [arrays, maps]) {
      expect(feed(new FrameDecoder(1 << 20, { maxHeaderNesting: 64 }), make(64)).frames).toHaveLength(1);
      expectProtocolError(feed(new FrameDecoder(1 << 20, { maxHeaderNesting: 64 }), make(65)).error, ErrorCodes.FRAME_ERROR);
      expect(feed(new FrameDecoder(1 << 20), make(200)).frames).toHaveLength(1);
    }
  });

  it.each(cases)('%s', (_, bytes) => {
    expectProtocolError(feed(new FrameDecoder(1 << 20), bytes).error, ErrorCodes.FRAME_ERROR);
  });

  it.each(cases.filter(([, b]) => b.length < 1000))('%s (one byte at a time)', (_, bytes) => {
    const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    expectProtocolError(feed(new FrameDecoder(1 << 20), ...chunks).error, ErrorCodes.FRAME_ERROR);
  });

  // A wrong-typed value for every field of every frame type, from the schema.
  const wrong: Record<FieldKind, unknown[]> = {
    uint: ['1', -1, 1.5, true, null, [1], { n: 1 }],
    str: [1, true, null, ['s'], { s: 's' }, Buffer.from('s')],
    'str/nil': [1, true, ['s'], { s: 's' }, Buffer.from('s')],
    bool: [0, 1, 'true', null],
    'map/nil': [1, 'map', true, [1], Buffer.from('m')],
    // A wrongly typed known property is not a frame error (spec 9.1): properties.test.ts.
    'properties/nil': [1, 'p', []],
    'credentials/nil': ['guest:guest', {}, { mechanism: 5 }, { mechanism: 'PLAIN', username: 'u' }, { mechanism: 'PLAIN', username: 1, password: 'p' }, { mechanism: 'EXTERNAL', username: 5 }],
    any: [],
  };
  const fieldCases = sampleFrames()
    .filter((f, i, all) => all.findIndex((g) => g.type === f.type) === i)
    .flatMap((frame) => {
      const name = frameTypeNames[frame.type]!;
      return SCHEMA[name].flatMap(([field, kind], index) =>
        wrong[kind].map((value) => [`${name}.${field} = ${JSON.stringify(value)}`, frame, index, value] as const),
      );
    });

  it.each(fieldCases)('%s', (_, frame, index, value) => {
    const header = headerOf(frame).slice();
    header[index] = value;
    const body = 'body' in frame ? frame.body : undefined;
    expectProtocolError(feed(new FrameDecoder(65536), rawFrame(frame.type, pack(header), body)).error, ErrorCodes.FRAME_ERROR);
  });
});

describe('after a failure the decoder stays failed', () => {
  it('push throws FRAME_ERROR again, even for valid input, and holds no bytes', () => {
    const decoder = new FrameDecoder(65536);
    const bad = rawFrame(0x09, pack([]));
    expect(feed(decoder, Buffer.concat([heartbeat.subarray(0, 5)]), heartbeat.subarray(5), bad).error).toBeInstanceOf(ProtocolError);
    expect(decoder.bufferedBytes).toBe(0);
    for (let i = 0; i < 2; i++) expectProtocolError(feed(decoder, heartbeat).error, ErrorCodes.FRAME_ERROR);
  });

  it('also after FRAME_TOO_LARGE', () => {
    const decoder = new FrameDecoder(16);
    expectProtocolError(feed(decoder, Buffer.from('0000ffff', 'hex')).error, ErrorCodes.FRAME_TOO_LARGE);
    expectProtocolError(feed(decoder, heartbeat).error, ErrorCodes.FRAME_ERROR);
  });
});

describe('EXTERNAL credentials (spec 4.2)', () => {
  it('parse without a username or password: both empty', () => {
    const { frames, error } = feed(new FrameDecoder(65536), rawFrame(FrameType.OPEN, pack([1, {}, { mechanism: 'EXTERNAL' }, 0, 0])));
    expect(error).toBeUndefined();
    expect(frames[0]).toMatchObject({ credentials: { mechanism: 'EXTERNAL', username: '', password: '' } });
  });
});
