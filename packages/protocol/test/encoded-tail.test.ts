/** FrameWriter.sendWithEncodedTail and sendSpliced: a header made of fresh fields plus an already-encoded array, byte-identical to sendRaw. */
import { describe, it, expect } from 'vitest';
import { FrameType, FrameWriter, encodeFrame, pack, type StreamDeliverFrame } from '@warren/protocol';
import { decodeChunks } from './helpers.js';

function capture(): { writer: FrameWriter; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  const writer = new FrameWriter({ write: (c: Buffer) => (chunks.push(Buffer.from(c)), true), cork() {}, uncork() {} });
  return { writer, bytes: () => (writer.flush(), Buffer.concat(chunks)) };
}

describe('sendWithEncodedTail', () => {
  it('writes exactly the frame sendRaw writes for the joined header, small and large bodies alike', () => {
    for (const size of [0, 5, 100_000]) {
      const frame: StreamDeliverFrame = {
        type: FrameType.STREAM_DELIVER,
        consumerTag: 'stag-1',
        offset: 2 ** 40 + 3,
        timestamp: 1_767_225_600_123,
        exchange: 'shop',
        routingKey: 'order.created',
        properties: { headers: { region: 'eu' }, contentType: 'application/json' },
        body: Buffer.alloc(size, 7),
      };
      const { writer, bytes } = capture();
      const meta = pack([frame.exchange, frame.routingKey, frame.properties]);
      writer.sendWithEncodedTail(FrameType.STREAM_DELIVER, [frame.consumerTag, frame.offset, frame.timestamp], meta, frame.body);
      const out = bytes();
      expect(out.equals(encodeFrame(frame))).toBe(true);
      expect(decodeChunks([out])).toEqual([frame]);
    }
  });

  it('refuses arrays that are not fixarrays or would hold more than 15 elements', () => {
    const { writer } = capture();
    expect(() => writer.sendWithEncodedTail(FrameType.STREAM_DELIVER, new Array(14).fill(1), pack([1, 2]))).toThrow(RangeError);
    expect(() => writer.sendWithEncodedTail(FrameType.STREAM_DELIVER, ['a'], pack({ a: 1 }))).toThrow(RangeError);
  });
});

describe('sendSpliced', () => {
  it('writes exactly the frame sendRaw writes, for offsets and timestamps of every width', () => {
    for (const offset of [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      for (const size of [0, 5, 10_000]) {
        const frame: StreamDeliverFrame = {
          type: FrameType.STREAM_DELIVER,
          consumerTag: 'stag-1',
          offset,
          timestamp: 1_767_225_600_123,
          exchange: 'shop',
          routingKey: 'order.created',
          properties: size === 5 ? null : { headers: { region: 'eu' }, contentType: 'application/json' },
          body: Buffer.alloc(size, 7),
        };
        // A stored record: some bytes, the packed [exchange, routingKey, properties], the body, more bytes.
        const meta = pack([frame.exchange, frame.routingKey, frame.properties]);
        const src = Buffer.concat([Buffer.alloc(32, 1), meta, frame.body, Buffer.alloc(9, 2)]);
        const { writer, bytes } = capture();
        const tag = pack(frame.consumerTag);
        expect(writer.sendSpliced(FrameType.STREAM_DELIVER, tag, 1, frame.offset, frame.timestamp, src, 32, 32 + meta.length, 32 + meta.length + size)).toBe(true);
        src.fill(0); // copied: the source may be reused at once
        const out = bytes();
        expect(out.equals(encodeFrame(frame))).toBe(true);
        expect(decodeChunks([out])).toEqual([frame]);
      }
    }
  });

  it('refuses a frame above frameLimit and a tail that is not a fixarray', () => {
    const { writer, bytes } = capture();
    writer.frameLimit = 100;
    const meta = pack(['', 'q', null]);
    const src = Buffer.concat([meta, Buffer.alloc(200)]);
    expect(writer.sendSpliced(FrameType.STREAM_DELIVER, pack('t'), 1, 1, 2, src, 0, meta.length, src.length)).toBe(false);
    expect(bytes().length).toBe(0);
    expect(() => writer.sendSpliced(FrameType.STREAM_DELIVER, pack('t'), 1, 1, 2, pack({ a: 1 }), 0, 3, 3)).toThrow(RangeError);
  });
});
