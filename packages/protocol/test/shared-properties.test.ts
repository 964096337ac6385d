/**
 * FrameDecoder's sharePublishProperties (the broker's connections): a PUBLISH whose properties
 * field repeats the previous one's bytes gets the previous frame's properties object, frozen,
 * and FrameWriter writes that object's own bytes on delivery instead of encoding it again.
 * What a receiver sees (the values, key order, the bytes delivered) is what it saw without sharing.
 */
import { describe, it, expect } from 'vitest';
import { FrameDecoder, FrameType, FrameWriter, encodeFrame, type MessageProperties, type PublishFrame } from '@warren/protocol';
import { CollectingSink } from './helpers.js';

function publish(seq: number, properties: MessageProperties | null): Buffer {
  return encodeFrame({ type: FrameType.PUBLISH, seq, exchange: 'ex', routingKey: 'rk', flags: 0, properties, body: Buffer.from(`body-${seq}`) });
}

function decode(frames: Buffer[], share: boolean): (MessageProperties | null)[] {
  const d = new FrameDecoder(1 << 20, { reusePublishFrame: true, guardReusedFrames: false, sharePublishProperties: share });
  const out: (MessageProperties | null)[] = [];
  for (const f of frames) d.push(f, (frame) => out.push((frame as PublishFrame).properties));
  return out;
}

function delivered(props: MessageProperties | null): Buffer {
  const sink = new CollectingSink();
  const w = new FrameWriter(sink);
  w.deliver('ctag', 7, false, 1, 'ex', 'rk', props, Buffer.from('b'));
  w.flush();
  return Buffer.concat(sink.writes);
}

const PERSISTENT: MessageProperties = { persistent: true };
const TASK: MessageProperties = { persistent: true, contentType: 'application/json', priority: 3 };

describe('sharePublishProperties', () => {
  it('gives repeated properties bytes the same frozen object, equal to what is decoded without sharing', () => {
    const seq = [PERSISTENT, PERSISTENT, PERSISTENT, TASK, TASK, null, PERSISTENT, { ...TASK, messageId: 'm-1' }, { ...TASK, messageId: 'm-2' }];
    const frames = seq.map((p, i) => publish(i + 1, p));
    const shared = decode(frames, true);
    const plain = decode(frames, false);
    expect(shared).toEqual(plain);
    for (let i = 0; i < seq.length; i++) expect(Object.keys(shared[i] ?? {})).toEqual(Object.keys(plain[i] ?? {}));
    expect(shared[1]).toBe(shared[0]);
    expect(shared[2]).toBe(shared[0]);
    expect(shared[4]).toBe(shared[3]);
    expect(shared[3]).not.toBe(shared[0]);
    expect(shared[5]).toBeNull();
    // Only the last bytes are remembered; different values are different objects.
    expect(shared[6]).not.toBe(shared[0]);
    expect(shared[6]).toEqual(PERSISTENT);
    expect(shared[8]).not.toBe(shared[7]);
    expect(shared[8]!.messageId).toBe('m-2');
    expect(Object.isFrozen(shared[0])).toBe(true);
    expect(() => {
      (shared[0] as { persistent?: boolean }).persistent = false;
    }).toThrow(TypeError);
    // A copy (as dead-lettering makes) is a plain, mutable object with the same keys only.
    const copy = { ...shared[0] };
    expect(Object.getOwnPropertySymbols(copy)).toEqual([]);
    expect(copy).toEqual(PERSISTENT);
    expect(JSON.stringify(shared[3])).toBe(JSON.stringify(TASK));
  });

  it('delivers a shared object byte for byte as the general encoder writes its properties', () => {
    const frames = [TASK, TASK, PERSISTENT, PERSISTENT].map((p, i) => publish(i + 1, p));
    const shared = decode(frames, true);
    for (const [i, want] of [TASK, TASK, PERSISTENT, PERSISTENT].entries()) {
      expect(delivered(shared[i]!).equals(delivered({ ...want }))).toBe(true);
      const sink = new CollectingSink();
      const w = new FrameWriter(sink);
      w.sendRaw(FrameType.DELIVER, ['ctag', 7, false, 1, 'ex', 'rk', want], Buffer.from('b'));
      w.flush();
      expect(delivered(shared[i]!).equals(Buffer.concat(sink.writes))).toBe(true);
    }
  });

  it('does not share properties with an invalid known key (the publish is refused for it)', () => {
    const bad = { persistent: 'yes' } as unknown as MessageProperties;
    const shared = decode([publish(1, bad), publish(2, bad)], true);
    expect(shared[1]).not.toBe(shared[0]);
    expect(Object.isFrozen(shared[0])).toBe(false);
  });
});
