/**
 * The reused-frame guard (frame-guard.ts): with it on, a decoder that reuses PUBLISH
 * (or DELIVER) frames hands out a fresh object each time and poisons it once the
 * handler returns, so code that keeps the frame instead of its fields throws (and
 * the access is recorded). Off, the decoder's push is the plain one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FRAME_GUARD_ENV, FrameDecoder, FrameType, encodeFrame, takeFrameGuardViolations, type DeliverFrame, type Frame, type PublishFrame } from '@warren/protocol';

const publish = (i: number, properties: PublishFrame['properties'] = null): PublishFrame => ({
  type: FrameType.PUBLISH,
  seq: i,
  exchange: 'ex',
  routingKey: `k${i}`,
  flags: 0,
  properties,
  body: Buffer.from(`body ${i}`),
});
const deliver = (i: number): DeliverFrame => ({
  type: FrameType.DELIVER,
  consumerTag: 'c',
  deliveryTag: i,
  redelivered: false,
  deliveryCount: 1,
  exchange: 'ex',
  routingKey: `k${i}`,
  properties: null,
  body: Buffer.from(`body ${i}`),
});

afterEach(() => {
  takeFrameGuardViolations();
});

function decodeAll(d: FrameDecoder, frames: Frame[]): { kept: Frame[]; seen: string[] } {
  const kept: Frame[] = [];
  const seen: string[] = [];
  d.push(Buffer.concat(frames.map(encodeFrame)), (f) => {
    kept.push(f);
    seen.push((f as PublishFrame | DeliverFrame).routingKey); // inside the handler: fine
  });
  return { kept, seen };
}

describe('reused-frame guard', () => {
  it('PUBLISH: a fresh frame each time, readable in its handler; reading or writing it later throws and is recorded', () => {
    const d = new FrameDecoder(1 << 20, { reusePublishFrame: true, guardReusedFrames: true });
    // The fast path (flat properties) and the general one (nested properties) alike.
    const { kept, seen } = decodeAll(d, [publish(1), publish(2, { headers: { a: { b: 1 } } }), publish(3)]);
    expect(seen).toEqual(['k1', 'k2', 'k3']);
    expect(new Set(kept).size).toBe(3);
    expect(() => (kept[0] as PublishFrame).body).toThrow(/PUBLISH frame used after its handler returned \(read \.body\)/);
    expect(() => (kept[1] as PublishFrame).routingKey).toThrow(/PUBLISH frame used after its handler returned/);
    expect(() => {
      (kept[2] as PublishFrame).seq = 9;
    }).toThrow(/write \.seq/);
    expect(takeFrameGuardViolations()).toHaveLength(3);
    expect(takeFrameGuardViolations()).toEqual([]);
  });

  it('DELIVER: the same, with reuseDeliverFrame; frames of other types stay keepable', () => {
    const d = new FrameDecoder(1 << 20, { reuseDeliverFrame: true, guardReusedFrames: true });
    const { kept } = decodeAll(d, [deliver(1), publish(2)]);
    expect(() => (kept[0] as DeliverFrame).deliveryTag).toThrow(/DELIVER frame used after its handler returned/);
    expect((kept[1] as PublishFrame).routingKey).toBe('k2'); // not a reused type here
    expect(takeFrameGuardViolations()).toHaveLength(1);
  });

  it('a late read is recorded even when something swallows the throw', async () => {
    const d = new FrameDecoder(1 << 20, { reusePublishFrame: true, guardReusedFrames: true });
    let late: Promise<unknown> = Promise.resolve();
    d.push(encodeFrame(publish(1)), (f) => {
      late = Promise.resolve().then(() => (f as PublishFrame).body); // kept past the handler
    });
    await late.catch(() => undefined);
    expect(takeFrameGuardViolations()).toEqual([expect.stringMatching(/read \.body/)]);
  });

  it('off: the plain push and one reused object (no per-frame cost)', () => {
    const d = new FrameDecoder(1 << 20, { reusePublishFrame: true, guardReusedFrames: false });
    expect(d.push).toBe(FrameDecoder.prototype.push);
    const { kept } = decodeAll(d, [publish(1), publish(2)]);
    expect(kept[0]).toBe(kept[1]);
    expect(takeFrameGuardViolations()).toEqual([]);
  });

  it(`defaults to ${FRAME_GUARD_ENV}=1, and only guards a decoder that reuses frames`, () => {
    const saved = process.env[FRAME_GUARD_ENV];
    try {
      process.env[FRAME_GUARD_ENV] = '1';
      expect(new FrameDecoder(1 << 20, { reusePublishFrame: true }).push).not.toBe(FrameDecoder.prototype.push);
      expect(new FrameDecoder(1 << 20, {}).push).toBe(FrameDecoder.prototype.push);
      delete process.env[FRAME_GUARD_ENV];
      expect(new FrameDecoder(1 << 20, { reusePublishFrame: true }).push).toBe(FrameDecoder.prototype.push);
    } finally {
      if (saved === undefined) delete process.env[FRAME_GUARD_ENV];
      else process.env[FRAME_GUARD_ENV] = saved;
    }
  });
});
