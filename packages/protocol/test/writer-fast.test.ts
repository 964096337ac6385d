/**
 * FrameWriter's hand-written deliver, publish, ack and confirm (writer.ts) write byte
 * for byte what the general encoder (sendRaw with the header array) writes,
 * for every width of integer and string, and leave properties, non-ASCII
 * names and values outside the uint range to it.
 */
import { describe, it, expect } from 'vitest';
import { FrameType, FrameWriter, type MessageProperties } from '@warren/protocol';
import { CollectingSink, decodeChunks } from './helpers.js';

class Sink extends CollectingSink {
  get bytes(): Buffer {
    return Buffer.concat(this.writes);
  }
}

function written(send: (w: FrameWriter) => boolean, frameLimit = Infinity): { sent: boolean; bytes: Buffer } {
  const sink = new Sink();
  const w = new FrameWriter(sink);
  w.frameLimit = frameLimit;
  const sent = send(w);
  w.flush();
  return { sent, bytes: sink.bytes };
}

/** Equal bytes (compared in one call; the diff only when they differ). */
function same(got: Buffer, want: Buffer): void {
  if (!got.equals(want)) expect(got).toEqual(want);
}

// Distinct bytes too (0x1234, 0x12345678, 0xdeadbeef, ...): the uint16/32/64 widths are written byte by byte.
const UINTS = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1234, 0xffff, 0x10000, 0x12345678, 0xdeadbeef, 2 ** 32 - 1, 2 ** 32, 0x12_3456_789a, 0xdead_beef_cafe, Number.MAX_SAFE_INTEGER];
const STRINGS = ['', 'q', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(255), 'x'.repeat(256), 'é', 'ü'.repeat(20), 'commandé', '日本'.repeat(40), '\ud800'];
const BODIES = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(8 * 1024, 5), Buffer.alloc(20_000, 6)];
const PROPS: (MessageProperties | null)[] = [null, {}, { persistent: true, headers: { a: 1 } }];

describe('FrameWriter deliver, publish, ack and confirm', () => {
  it('write what the general encoder writes', () => {
    let n = 0;
    for (const u of [...UINTS, 1.5, -1, 2 ** 53]) {
      for (const s of STRINGS) {
        for (const body of BODIES) {
          for (const props of PROPS) {
            const deliver = written((w) => w.deliver(s, u, u % 2 === 1, u, s, s, props, body));
            same(deliver.bytes, written((w) => w.sendRaw(FrameType.DELIVER, [s, u, u % 2 === 1, u, s, s, props], body)).bytes);
            const publish = written((w) => w.publish(u, s, s, u, props, body));
            same(publish.bytes, written((w) => w.sendRaw(FrameType.PUBLISH, [u, s, s, u, props], body)).bytes);
            n += 2;
          }
        }
      }
      for (const multiple of [false, true]) {
        same(written((w) => w.ack(u, multiple)).bytes, written((w) => w.sendRaw(FrameType.ACK, [u, multiple])).bytes);
        same(written((w) => w.confirm(u, multiple)).bytes, written((w) => w.sendRaw(FrameType.CONFIRM, [u, multiple])).bytes);
      }
    }
    expect(n).toBeGreaterThan(1000);
    for (const long of ['x'.repeat(0xffff), 'x'.repeat(70_000)]) {
      const body = Buffer.from('b');
      same(written((w) => w.deliver(long, 1, false, 1, long, long, null, body)).bytes, written((w) => w.sendRaw(FrameType.DELIVER, [long, 1, false, 1, long, long, null], body)).bytes);
      same(written((w) => w.publish(1, long, long, 0, null, body)).bytes, written((w) => w.sendRaw(FrameType.PUBLISH, [1, long, long, 0, null], body)).bytes);
    }
  });

  it('decode back to the frames sent, one after another in one write', () => {
    const sink = new Sink();
    const w = new FrameWriter(sink);
    w.publish(1, '', 'orders', 0, null, Buffer.from('a'));
    w.deliver('ctag', 2, true, 3, 'ex', 'rk', null, Buffer.from('b'));
    w.ack(9, true);
    w.confirm(7, false);
    w.flush();
    expect(sink.writes).toHaveLength(1);
    expect(decodeChunks(sink.writes)).toEqual([
      { type: FrameType.PUBLISH, seq: 1, exchange: '', routingKey: 'orders', flags: 0, properties: null, body: Buffer.from('a') },
      { type: FrameType.DELIVER, consumerTag: 'ctag', deliveryTag: 2, redelivered: true, deliveryCount: 3, exchange: 'ex', routingKey: 'rk', properties: null, body: Buffer.from('b') },
      { type: FrameType.ACK, deliveryTag: 9, multiple: true },
      { type: FrameType.CONFIRM, seq: 7, multiple: false },
    ]);
  });

  it('send nothing and return false past the frame limit, like the general encoder', () => {
    const body = Buffer.alloc(100);
    const exact = written((w) => w.deliver('c', 1, false, 1, '', 'q', null, body)).bytes.length;
    expect(written((w) => w.deliver('c', 1, false, 1, '', 'q', null, body), exact)).toEqual({ sent: true, bytes: expect.any(Buffer) });
    expect(written((w) => w.deliver('c', 1, false, 1, '', 'q', null, body), exact - 1)).toEqual({ sent: false, bytes: Buffer.alloc(0) });
    expect(written((w) => w.publish(1, '', 'q', 0, null, body), 10)).toEqual({ sent: false, bytes: Buffer.alloc(0) });
  });

  it('run the before-next-send hook first', () => {
    const sink = new Sink();
    const w = new FrameWriter(sink);
    w.setBeforeNextSend(() => w.ack(1, false));
    w.publish(1, '', 'q', 0, null, Buffer.from('x'));
    w.flush();
    expect(decodeChunks(sink.writes).map((f) => f.type)).toEqual([FrameType.ACK, FrameType.PUBLISH]);
  });
});

describe('FrameWriter names remembered between frames', () => {
  it('write what the general encoder writes when one writer sends names that change, repeat, or are equal copies', () => {
    // One writer for the whole sequence: each field keeps its last name and encoding (writer.ts StrSlot),
    // so a name that changes, comes back, turns non-ASCII or is an equal string built anew must still be written right.
    const names = ['q', 'q', 'orders', ['ord', 'ers'].join(''), '', 'é', 'é', 'q', 'x'.repeat(40), 'x'.repeat(40).slice(1) + 'x', '日本', 'orders', ''];
    const fast = new Sink();
    const general = new Sink();
    const wf = new FrameWriter(fast);
    const wg = new FrameWriter(general);
    const body = Buffer.from('body');
    let tag = 1;
    for (const a of names) {
      for (const b of names) {
        wf.deliver(b, tag, false, 1, a, b, null, body);
        wg.sendRaw(FrameType.DELIVER, [b, tag, false, 1, a, b, null], body);
        wf.publish(tag, b, a, 0, null, body);
        wg.sendRaw(FrameType.PUBLISH, [tag, b, a, 0, null], body);
        tag++;
      }
    }
    wf.flush();
    wg.flush();
    same(fast.bytes, general.bytes);
    expect(decodeChunks(fast.writes)).toHaveLength(2 * names.length * names.length);
  });
});
