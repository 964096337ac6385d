/** FrameWriter.sendWithEncodedTail: a header made of fresh fields plus an already-encoded array, byte-identical to sendRaw. */
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
