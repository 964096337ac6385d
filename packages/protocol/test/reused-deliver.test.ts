/**
 * FrameDecoder's reuseDeliverFrame (the client's sockets): DELIVER frames of the
 * fast path are one object, rewritten per frame; every field it hands out
 * (strings, properties, body) is that frame's own and stays intact after the
 * next frames are decoded, as a client's Delivery keeps them.
 */
import { describe, it, expect } from 'vitest';
import { FrameDecoder, FrameType, encodeFrame, type DeliverFrame, type Frame, type MessageProperties } from '@warren/protocol';
import { copiesEvery } from './helpers.js';

function delivers(n: number): DeliverFrame[] {
  const out: DeliverFrame[] = [];
  for (let i = 0; i < n; i++) {
    const properties: MessageProperties | null = i % 3 === 0 ? null : { messageId: `m-${i}`, priority: i % 10, persistent: i % 2 === 0 };
    out.push({
      type: FrameType.DELIVER,
      consumerTag: i % 5 < 3 ? 'c1' : `c-${i % 4}`,
      deliveryTag: i + 1,
      redelivered: i % 6 === 0,
      deliveryCount: 1 + (i % 3),
      exchange: i % 7 < 4 ? '' : `ex-${i % 5}`,
      routingKey: i % 4 === 0 ? 'same' : `key.${i}`,
      properties,
      body: Buffer.alloc(i % 11 === 0 ? 0 : 1 + ((i * 37) % 600), i & 0xff),
    });
  }
  return out;
}

/** Each frame's fields as a Delivery keeps them, and the frame object they came in. */
function decodeKeepingFields(chunks: Buffer[], reuseDeliverFrame: boolean): { frame: Frame; fields: Omit<DeliverFrame, 'type'> }[] {
  // The production path, whatever WARREN_FRAME_GUARD says (frame-guard.test.ts covers the guard).
  const d = new FrameDecoder(1 << 20, { copyBodiesBelow: 4096, reuseDeliverFrame, guardReusedFrames: false });
  const kept: { frame: Frame; fields: Omit<DeliverFrame, 'type'> }[] = [];
  for (const chunk of chunks) {
    d.push(chunk, (f) => {
      const { type: _type, ...fields } = f as DeliverFrame;
      kept.push({ frame: f, fields });
    });
  }
  return kept;
}

function expectFields(kept: { fields: Omit<DeliverFrame, 'type'> }[], want: DeliverFrame[]): void {
  expect(kept.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const { body, ...rest } = kept[i]!.fields;
    const { type: _type, body: wantBody, ...wantRest } = want[i]!;
    expect(rest).toEqual(wantRest);
    expect(body.equals(wantBody)).toBe(true);
  }
}

describe('reuseDeliverFrame', () => {
  it('hands out one frame object for every fast DELIVER, and each frame\'s fields stay its own', () => {
    const want = delivers(400);
    const kept = decodeKeepingFields([Buffer.concat(want.map(encodeFrame))], true);
    expect(new Set(kept.map((k) => k.frame)).size).toBe(1);
    const props = kept.map((k) => k.fields.properties).filter((p) => p !== null);
    expect(new Set(props).size).toBe(props.length);
    expectFields(kept, want);
  });

  it('keeps fields intact across chunks that split frames', () => {
    const want = delivers(300);
    const all = Buffer.concat(want.map(encodeFrame));
    const chunks = copiesEvery(all, 1013);
    expectFields(decodeKeepingFields(chunks, true), want);
  });

  it('keeps neither the last body nor its properties alive after the frame was handled', () => {
    const d = new FrameDecoder(1 << 20, { reuseDeliverFrame: true, guardReusedFrames: false });
    let frame: DeliverFrame | undefined;
    d.push(encodeFrame(delivers(2)[1]!), (f) => (frame = f as DeliverFrame));
    expect(frame!.body.length).toBe(0);
    expect(frame!.properties).toBeNull();
  });

  it('is off by default; general-path frames (nested properties) are new objects', () => {
    const want = delivers(6);
    expect(new Set(decodeKeepingFields([Buffer.concat(want.map(encodeFrame))], false).map((k) => k.frame)).size).toBe(6);
    want[2] = { ...want[2]!, properties: { headers: { region: 'eu', n: 2 } } };
    const kept = decodeKeepingFields([Buffer.concat(want.map(encodeFrame))], true);
    expect(kept[2]!.frame).not.toBe(kept[1]!.frame);
    expect(kept[3]!.frame).toBe(kept[1]!.frame);
    expectFields(kept, want);
  });
});
