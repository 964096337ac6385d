import { describe, it, expect } from 'vitest';
import {
  encodeFrame,
  FrameDecoder,
  FrameType,
  frameTypeNames,
  headerOf,
  hasBody,
  pack,
  type Frame,
  type FrameTypeName,
} from '@warren/protocol';
import { SCHEMA, sampleFrames, decodeChunks, rawFrame } from './helpers.js';

const decodeOne = (buf: Buffer): Frame => {
  const frames = decodeChunks([buf]);
  expect(frames).toHaveLength(1);
  return frames[0]!;
};

describe('round trip', () => {
  const samples = sampleFrames();

  it('the samples cover every frame type', () => {
    const covered = new Set(samples.map((f) => f.type));
    for (const code of Object.values(FrameType)) expect(covered.has(code), frameTypeNames[code]).toBe(true);
  });

  it.each(samples.map((f, i) => [`${i} ${frameTypeNames[f.type]}`, f] as const))('%s: encodeFrame -> FrameDecoder', (_, frame) => {
    expect(decodeOne(encodeFrame(frame))).toStrictEqual(frame);
  });

  it('the whole sample set decodes from one chunk in order', () => {
    const stream = Buffer.concat(samples.map(encodeFrame));
    expect(decodeChunks([stream])).toStrictEqual(samples);
  });

  it('headerOf follows the schema field order (what the spec tables document)', () => {
    for (const frame of samples) {
      const name = frameTypeNames[frame.type]!;
      const fields = SCHEMA[name];
      const header = headerOf(frame);
      expect(header, name).toHaveLength(fields.length);
      fields.forEach(([field], i) => {
        expect(header[i], `${name}.${field}`).toStrictEqual((frame as unknown as Record<string, unknown>)[field]);
      });
    }
  });

  it('only PUBLISH, RETURN, DELIVER, GET_OK, STREAM_DELIVER and KV_PUT, KV_EVENT, KV_ENTRY carry a body', () => {
    const bodyTypes = Object.entries(FrameType)
      .filter(([, code]) => hasBody(code))
      .map(([name]) => name);
    expect(bodyTypes.sort()).toEqual(['DELIVER', 'GET_OK', 'KV_ENTRY', 'KV_EVENT', 'KV_PUT', 'PUBLISH', 'RETURN', 'STREAM_DELIVER']);
  });

  it('decoded bodies are views into the received chunk, not copies', () => {
    const frame = samples.find((f) => f.type === FrameType.PUBLISH)!;
    const buf = encodeFrame(frame);
    const got = decodeOne(buf) as typeof frame;
    expect(got.body.buffer).toBe(buf.buffer);
  });
});

describe('decoding leniency that the spec promises', () => {
  it('ignores extra trailing header fields (minor-version additions)', () => {
    const header = pack([5, true, 'a new field', { more: 1 }]);
    expect(decodeOne(rawFrame(FrameType.CONFIRM, header))).toStrictEqual({ type: FrameType.CONFIRM, seq: 5, multiple: true });
  });

  it('keeps unknown property keys and drops nil-valued properties', () => {
    const header = pack([1, 'x', 'rk', 0, { contentType: 'text/plain', futureKey: [1], messageId: null }]);
    const frame = decodeOne(rawFrame(FrameType.PUBLISH, header, Buffer.from('b')));
    expect(frame).toMatchObject({ properties: { contentType: 'text/plain', futureKey: [1] } });
    expect(Object.keys((frame as { properties: object }).properties)).toEqual(['contentType', 'futureKey']);
  });

  it('reads nil options as {} and nil OPEN properties as {}', () => {
    expect(decodeOne(rawFrame(FrameType.QUEUE_DECLARE, pack([1, 'q', null])))).toStrictEqual({
      type: FrameType.QUEUE_DECLARE,
      requestId: 1,
      queue: 'q',
      options: {},
    });
    expect(decodeOne(rawFrame(FrameType.OPEN, pack([1, null, null, 4096, 0])))).toMatchObject({ properties: {} });
  });

  it('accepts any standard integer encoding, and integral float64, for integer fields', () => {
    // Each is the value 300 or 2^40: uint16, uint32, uint64, int64, and float64.
    const encodings = [
      ['cd012c', 300],
      ['ce0000012c', 300],
      ['cf000000000000012c', 300],
      ['d3000000000000012c', 300],
      ['cf0000010000000000', 2 ** 40],
      ['cb4270000000000000', 2 ** 40],
    ] as const;
    for (const [hex, value] of encodings) {
      // ACK header: fixarray(2) [deliveryTag, multiple=false]
      const header = Buffer.from(`92${hex}c2`, 'hex');
      expect(decodeOne(rawFrame(FrameType.ACK, header)), hex).toStrictEqual({ type: FrameType.ACK, deliveryTag: value, multiple: false });
    }
  });

  it('accepts every standard string/map/array width (not only the shortest)', () => {
    // CANCEL [requestId=1, consumerTag="ab"] with array16 and str16; OK with map32 result.
    expect(decodeOne(rawFrame(FrameType.CANCEL, Buffer.from('dc000201da00026162', 'hex')))).toStrictEqual({
      type: FrameType.CANCEL,
      requestId: 1,
      consumerTag: 'ab',
    });
    expect(decodeOne(rawFrame(FrameType.OK, Buffer.from('9201df00000001a16101', 'hex')))).toStrictEqual({
      type: FrameType.OK,
      requestId: 1,
      result: { a: 1 },
    });
  });

  it('encodes every integer as a msgpack int of the smallest width, uint64 beyond 32 bits (spec 3, "Integers")', () => {
    const header = (f: Frame) => encodeFrame(f).subarray(9).toString('hex');
    expect(header({ type: FrameType.CONFIRM, seq: 0xffffffff, multiple: false })).toBe('92ceffffffffc2');
    expect(header({ type: FrameType.CONFIRM, seq: 2 ** 32, multiple: false })).toBe('92cf0000000100000000c2');
  });

  it('decodes the body as everything after the header', () => {
    for (const name of ['PUBLISH', 'RETURN', 'DELIVER', 'GET_OK'] as FrameTypeName[]) {
      const frame = sampleFrames().find((f) => f.type === FrameType[name])!;
      const body = Buffer.alloc(1000, 7);
      const got = decodeOne(encodeFrame({ ...frame, body } as Frame));
      expect((got as { body: Buffer }).body.equals(body), name).toBe(true);
    }
  });

  it('a decoder with the exact frame size as its limit accepts the frame', () => {
    const buf = encodeFrame(sampleFrames()[0]!);
    const out: Frame[] = [];
    new FrameDecoder(buf.length).push(buf, (f) => out.push(f));
    expect(out).toHaveLength(1);
  });
});

describe('OPEN from a client older than vhosts (spec 11)', () => {
  it('a header without the vhost field reads as vhost null (the default vhost)', () => {
    const open = decodeOne(rawFrame(FrameType.OPEN, pack([1, {}, { mechanism: 'PLAIN', username: 'u', password: 'p' }, 0, 0])));
    expect(open).toMatchObject({ type: FrameType.OPEN, vhost: null });
  });
});
