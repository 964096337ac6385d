import { describe, it, expect } from 'vitest';
import { encodeFrame, FrameType, type Frame, type PublishFrame } from '@warren/protocol';
import { sampleFrames, decodeChunks, splitAt, sameFrames } from './helpers.js';
import { rng } from '../../../test-support/prng.js';

// Every sample once, plus a few bodies around chunk-boundary sizes: ~3.5 KB.
const frames: Frame[] = [
  ...sampleFrames(),
  { type: FrameType.PUBLISH, seq: 9, exchange: 'e', routingKey: 'k', flags: 0, properties: null, body: Buffer.alloc(700, 1) },
  { type: FrameType.HEARTBEAT },
  { type: FrameType.PUBLISH, seq: 10, exchange: 'e', routingKey: 'k', flags: 0, properties: null, body: Buffer.alloc(3, 2) },
];
const stream = Buffer.concat(frames.map(encodeFrame));

describe('decoding is independent of how the stream is chunked', () => {
  it('every two-way split point', () => {
    for (let i = 0; i <= stream.length; i++) {
      if (!sameFrames(decodeChunks(splitAt(stream, [i])), frames)) expect.fail(`split at ${i} decodes differently`);
    }
  });

  it('random multi-way splits (seeded)', () => {
    const r = rng(0x5eed);
    for (let round = 0; round < 300; round++) {
      const cuts = new Set<number>();
      const n = r.int(2, 40);
      for (let i = 0; i < n; i++) cuts.add(r.int(0, stream.length));
      const offsets = [...cuts].sort((a, b) => a - b);
      if (!sameFrames(decodeChunks(splitAt(stream, offsets)), frames)) expect.fail(`round ${round}: splits ${offsets.join(',')}`);
    }
  });

  it('single-byte chunks', () => {
    const chunks = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    expect(decodeChunks(chunks)).toStrictEqual(frames);
  });

  it('empty chunks in between change nothing', () => {
    const empty = Buffer.alloc(0);
    const parts = splitAt(stream, [3, 100, 101, 2000]).flatMap((p) => [empty, p, empty]);
    expect(decodeChunks(parts)).toStrictEqual(frames);
  });

  it('a frame straddling chunks is copied once and does not alias later input', () => {
    const frame = frames.find((f): f is PublishFrame => f.type === FrameType.PUBLISH && f.body.length === 700)!;
    const buf = encodeFrame(frame);
    const a = Buffer.from(buf.subarray(0, 300));
    const b = Buffer.from(buf.subarray(300));
    const [got] = decodeChunks([a, b]) as [typeof frame];
    a.fill(0);
    b.fill(0);
    expect(got.body.equals(frame.body)).toBe(true);
  });
});
