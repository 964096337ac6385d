/**
 * The decoder's fast paths for PUBLISH, DELIVER and ACK (decoder.ts) build
 * exactly the frame the general path builds, reuse the strings of a repeated
 * name, and leave every other shape, valid or not, to the general path (so
 * profile violations and wrong field types are still refused).
 */
import { describe, it, expect } from 'vitest';
import { FrameDecoder, FrameType, encodeFrame, pack, type AckFrame, type DeliverFrame, type Frame, type PublishFrame } from '@warren/protocol';
import { decodeChunks, expectDecodedBothWays, rawFrame } from './helpers.js';

function publish(o: Partial<PublishFrame>): PublishFrame {
  return { type: FrameType.PUBLISH, seq: 1, exchange: '', routingKey: 'orders', flags: 0, properties: null, body: Buffer.from('hello'), ...o };
}

function deliver(o: Partial<DeliverFrame>): DeliverFrame {
  return {
    type: FrameType.DELIVER,
    consumerTag: 'ctag-1',
    deliveryTag: 7,
    redelivered: false,
    deliveryCount: 1,
    exchange: '',
    routingKey: 'orders',
    properties: null,
    body: Buffer.from('hello'),
    ...o,
  };
}

function ack(o: Partial<AckFrame>): AckFrame {
  return { type: FrameType.ACK, deliveryTag: 7, multiple: false, ...o };
}


describe('PUBLISH, DELIVER and ACK fast decode', () => {
  it('decodes the usual shapes and every other one to the same frame as encoded', () => {
    const frames: Frame[] = [
      publish({}),
      publish({ seq: 0x80, flags: 3 }),
      publish({ seq: 70_000, exchange: 'amq.topic', routingKey: 'a.b.c' }),
      publish({ seq: 2 ** 32 + 5 }),
      publish({ seq: 0x12345678 }),
      publish({ seq: 0xdeadbeef }),
      publish({ seq: 0xdead_beef_cafe }),
      publish({ seq: Number.MAX_SAFE_INTEGER }),
      publish({ exchange: 'y'.repeat(32), routingKey: 'z'.repeat(255) }),
      publish({ routingKey: 'z'.repeat(256) }),
      publish({ routingKey: 'commandé', exchange: 'ü' }),
      publish({ properties: {} }),
      publish({ properties: { persistent: true, headers: { region: 'eu' } } }),
      publish({ body: Buffer.alloc(0) }),
      publish({ body: Buffer.alloc(100_000, 3) }),
      deliver({}),
      deliver({ redelivered: true, deliveryCount: 3, deliveryTag: 2 ** 40 }),
      deliver({ deliveryTag: 0x12_3456_789a, deliveryCount: 0x12345678 }),
      deliver({ consumerTag: 'x'.repeat(31), exchange: 'y'.repeat(200), routingKey: '' }),
      deliver({ consumerTag: 'étiquette' }),
      deliver({ properties: { contentType: 'text/plain' } }),
      deliver({ body: Buffer.alloc(0) }),
      ack({}),
      ack({ deliveryTag: 0, multiple: true }),
      ack({ deliveryTag: 2 ** 33 }),
    ];
    expectDecodedBothWays(frames, (got, want) => expect(got).toEqual(want));
  });

  it('gives a repeated name back as the same string, and a changed one anew', () => {
    const decoder = new FrameDecoder(1 << 20);
    const got: PublishFrame[] = [];
    const keys = ['orders', 'orders', 'orderz', 'order', 'orders', '', 'orders'];
    decoder.push(Buffer.concat(keys.map((routingKey, i) => encodeFrame(publish({ seq: i + 1, routingKey })))), (f) => got.push(f as PublishFrame));
    expect(got.map((f) => f.routingKey)).toEqual(keys);
    expect(got.map((f) => f.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('ignores extra trailing fields like the general path', () => {
    const p = pack([1, '', 'q', 0, null, 'extra']);
    expect(decodeChunks([rawFrame(FrameType.PUBLISH, p, Buffer.from('b'))])).toEqual([publish({ routingKey: 'q', body: Buffer.from('b') })]);
    const a = pack([5, true, 'extra']);
    expect(decodeChunks([rawFrame(FrameType.ACK, a)])).toEqual([ack({ deliveryTag: 5, multiple: true })]);
  });

  it('still refuses invalid UTF-8, wrong field types and an ACK with a body', () => {
    const badUtf8 = Buffer.concat([Buffer.from([0x95, 0x01, 0xa0, 0xa2, 0xff, 0xfe]), pack(0), Buffer.from([0xc0])]);
    expect(() => decodeChunks([rawFrame(FrameType.PUBLISH, badUtf8)])).toThrow(/UTF-8/);
    expect(() => decodeChunks([rawFrame(FrameType.PUBLISH, pack([-1, '', 'q', 0, null]))])).toThrow();
    expect(() => decodeChunks([rawFrame(FrameType.PUBLISH, pack([1, '', 'q', 0, 5]))])).toThrow();
    expect(() => decodeChunks([rawFrame(FrameType.DELIVER, pack(['t', 1, 0, 1, '', 'q', null]))])).toThrow();
    expect(() => decodeChunks([rawFrame(FrameType.ACK, pack([1, 1]))])).toThrow();
    expect(() => decodeChunks([rawFrame(FrameType.ACK, pack([1, false]), Buffer.from('x'))])).toThrow(/body/);
  });
});
