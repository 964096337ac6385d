/**
 * FrameDecoder's reusePublishFrame (the broker's connections): PUBLISH frames of
 * the fast path are one object, rewritten per frame, while every field it hands
 * out (strings, properties, body) is that frame's own and stays intact after the
 * next frames are decoded.
 */
import { describe, it, expect } from 'vitest';
import { FrameDecoder, FrameType, encodeFrame, type Frame, type MessageProperties, type PublishFrame } from '@warren/protocol';
import { copiesEvery } from './helpers.js';

function publishes(n: number): PublishFrame[] {
  const out: PublishFrame[] = [];
  for (let i = 0; i < n; i++) {
    const properties: MessageProperties | null = i % 3 === 0 ? null : { messageId: `m-${i}`, priority: i % 10, persistent: i % 2 === 0 };
    out.push({
      type: FrameType.PUBLISH,
      seq: i + 1,
      // Runs of repeated names (the decoder's RepeatedString) and changes between them.
      exchange: i % 7 < 4 ? '' : `ex-${i % 5}`,
      routingKey: i % 4 === 0 ? 'same' : `key.${i}`,
      flags: i % 2,
      properties,
      body: Buffer.alloc(i % 11 === 0 ? 0 : 1 + ((i * 37) % 600), i & 0xff),
    });
  }
  return out;
}

/** A publish's fields as a receiver keeps them, and the frame object they came in. */
type Kept = Omit<PublishFrame, 'type'> & { frame: Frame };

function decodeKeepingFields(chunks: Buffer[], reusePublishFrame: boolean, wipe = true): Kept[] {
  // The production path, whatever WARREN_FRAME_GUARD says (frame-guard.test.ts covers the guard).
  const d = new FrameDecoder(1 << 20, { copyBodiesBelow: 4096, reusePublishFrame, guardReusedFrames: false });
  const kept: Kept[] = [];
  for (const chunk of chunks) {
    d.push(chunk, (f) => {
      const p = f as PublishFrame;
      kept.push({ frame: f, seq: p.seq, exchange: p.exchange, routingKey: p.routingKey, flags: p.flags, properties: p.properties, body: p.body });
    });
    // The reader reuses its buffer: kept small bodies must not be views of it (whole frames only: a partial one is still pending).
    if (wipe) chunk.fill(0xee);
  }
  return kept;
}

function expectFields(kept: Kept[], want: PublishFrame[]): void {
  expect(kept.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const k = kept[i]!;
    const w = want[i]!;
    expect({ seq: k.seq, exchange: k.exchange, routingKey: k.routingKey, flags: k.flags, properties: k.properties }).toEqual({
      seq: w.seq, exchange: w.exchange, routingKey: w.routingKey, flags: w.flags, properties: w.properties,
    });
    expect(k.body.equals(w.body)).toBe(true);
  }
}

describe('reusePublishFrame', () => {
  it('hands out one frame object for every fast PUBLISH, and each frame\'s fields stay its own', () => {
    const want = publishes(400);
    const kept = decodeKeepingFields([Buffer.concat(want.map(encodeFrame))], true);
    expect(new Set(kept.map((k) => k.frame)).size).toBe(1);
    // Distinct properties objects, even where the values repeat.
    expect(new Set(kept.filter((k) => k.properties !== null).map((k) => k.properties)).size).toBe(kept.filter((k) => k.properties !== null).length);
    expectFields(kept, want);
  });

  it('keeps fields intact across chunks that split frames', () => {
    const want = publishes(300);
    const all = Buffer.concat(want.map(encodeFrame));
    const chunks = copiesEvery(all, 1013);
    expectFields(decodeKeepingFields(chunks, true, false), want);
  });

  it('does not keep the last body alive after the frame was handled', () => {
    const d = new FrameDecoder(1 << 20, { reusePublishFrame: true, guardReusedFrames: false });
    let frame: PublishFrame | undefined;
    d.push(encodeFrame(publishes(2)[1]!), (f) => (frame = f as PublishFrame));
    expect(frame!.body.length).toBe(0);
  });

  it('is off by default: a new frame per PUBLISH', () => {
    const want = publishes(50);
    const kept = decodeKeepingFields([Buffer.concat(want.map(encodeFrame))], false);
    expect(new Set(kept.map((k) => k.frame)).size).toBe(50);
    expectFields(kept, want);
  });

  it('frames of the general path (nested properties) are new objects, the fast ones still reused', () => {
    const want = publishes(6);
    want[2] = { ...want[2]!, properties: { headers: { region: 'eu', n: 2 } } };
    const kept = decodeKeepingFields([Buffer.concat(want.map(encodeFrame))], true);
    expect(kept[2]!.frame).not.toBe(kept[1]!.frame);
    expect(kept[3]!.frame).toBe(kept[1]!.frame);
    expectFields(kept, want);
  });
});
