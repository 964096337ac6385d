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
  it('stops comparing after a run of properties that never repeat, and shares again once they do', () => {
    const unique = Array.from({ length: 40 }, (_, i) => publish(i + 1, { ...TASK, messageId: `m-${i}` }));
    const same = Array.from({ length: 200 }, (_, i) => publish(100 + i, TASK));
    const out = decode([...unique, ...same], true);
    const repeated = out.slice(unique.length);
    // Still skipping right after the unique run: the first repeats are decoded afresh, not shared.
    expect(repeated[1]).not.toBe(repeated[0]);
    expect(Object.isFrozen(repeated[1])).toBe(false);
    // Within one retry period sharing is back: the rest are one frozen object.
    const tail = repeated.slice(100);
    expect(new Set(tail).size).toBe(1);
    expect(Object.isFrozen(tail[0])).toBe(true);
    expect(tail[0]).toEqual(TASK);
  });

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

// Review (s2cpu): the broker's delivered properties bytes must not depend on whether the decoder
// shares properties. A publisher may encode a flat map in forms fastProperties accepts but the
// broker's encoder never writes (str8 for a short string, a wider integer than needed, nil-valued
// keys, a repeated key): without sharing the broker delivers its own encoding of the decoded object
// (as after a restart, a spill or dead-lettering, which all encode again); sharing must not
// forward the publisher's bytes instead.
/** A PUBLISH frame whose properties field is exactly `raw` (spliced over a canonical placeholder of the same length). */
function publishRaw(seq: number, raw: Buffer): Buffer {
  const filler = 'x'.repeat(raw.length - 4); // {a: 'xx..'}: 0x81, 0xa1 'a', 0xa0|n, n bytes
  const placeholder: MessageProperties = { a: filler } as unknown as MessageProperties;
  const frame = encodeFrame({ type: FrameType.PUBLISH, seq, exchange: 'ex', routingKey: 'rk', flags: 0, properties: placeholder, body: Buffer.from(`body-${seq}`) });
  const at = frame.indexOf(Buffer.concat([Buffer.from([0x81, 0xa1, 0x61, 0xa0 | filler.length]), Buffer.from(filler)]));
  if (at < 0 || filler.length >= 32) throw new Error('placeholder not found');
  raw.copy(frame, at);
  return frame;
}

const str = (s: string): Buffer => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
const str8 = (s: string): Buffer => Buffer.concat([Buffer.from([0xd9, s.length]), Buffer.from(s)]);

/** Flat maps the fast decoder takes, none of them as the broker would encode the decoded object. */
const NON_CANONICAL: Array<[string, Buffer]> = [
  ['str8 for a short key', Buffer.concat([Buffer.from([0x81]), str8('persistent'), Buffer.from([0xc3])])],
  ['uint8 for a fixint priority', Buffer.concat([Buffer.from([0x82]), str('persistent'), Buffer.from([0xc3]), str('priority'), Buffer.from([0xcc, 0x05])])],
  ['int64 for a small number', Buffer.concat([Buffer.from([0x82]), str('persistent'), Buffer.from([0xc3]), str('n'), Buffer.from([0xd3, 0, 0, 0, 0, 0, 0, 0, 7])])],
  ['a nil-valued key', Buffer.concat([Buffer.from([0x82]), str('persistent'), Buffer.from([0xc3]), str('messageId'), Buffer.from([0xc0])])],
  ['a repeated key', Buffer.concat([Buffer.from([0x82]), str('priority'), Buffer.from([0x09]), str('priority'), Buffer.from([0x01])])],
];

describe('sharePublishProperties with properties bytes the broker would not write itself', () => {
  for (const [name, raw] of NON_CANONICAL) {
    it(`${name}: decoded and delivered as without sharing`, () => {
      const frames = [publishRaw(1, raw), publishRaw(2, raw)];
      const shared = decode(frames, true);
      const plain = decode(frames, false);
      expect(shared).toEqual(plain);
      for (let i = 0; i < frames.length; i++) {
        expect(delivered(shared[i]!).toString('hex')).toBe(delivered(plain[i]!).toString('hex'));
        // and as a plain copy of the same object (what a restart, a spill or dead-lettering delivers)
        expect(delivered(shared[i]!).toString('hex')).toBe(delivered({ ...plain[i]! }).toString('hex'));
      }
    });
  }
});
