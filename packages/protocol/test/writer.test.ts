import { describe, it, expect } from 'vitest';
import { FrameWriter, FrameType, encodeFrame, type Frame, type FrameSink } from '@warren/protocol';
import { sampleFrames, decodeChunks, sameFrames, publishFrame as publish } from './helpers.js';
import { nextTurn } from '../../../test-support/wait.js';

/** Records what the writer hands to the socket. Keeps references, never copies. */
class RecordingSink implements FrameSink {
  writes: Buffer[] = [];
  corks = 0;
  uncorks = 0;
  destroyed = false;
  write(chunk: Buffer): boolean {
    this.writes.push(chunk);
    return true;
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    this.uncorks++;
  }
}

/** Lets the writer's queued microtask flush run. Ordering, not timing. */


describe('FrameWriter', () => {
  it('output decodes to the same frames, byte-identical to encodeFrame', async () => {
    const sink = new RecordingSink();
    const writer = new FrameWriter(sink);
    const frames = sampleFrames();
    for (const f of frames) writer.send(f);
    await nextTurn();
    const bytes = Buffer.concat(sink.writes);
    expect(bytes.equals(Buffer.concat(frames.map(encodeFrame)))).toBe(true);
    expect(decodeChunks(sink.writes)).toStrictEqual(frames);
  });

  it('sends one turn of frames in one corked write, from a microtask', async () => {
    const sink = new RecordingSink();
    const writer = new FrameWriter(sink);
    writer.send(publish(1, Buffer.alloc(10)));
    writer.send(publish(2, Buffer.alloc(9000))); // own chunk, so several writes
    writer.send(publish(3, Buffer.alloc(10)));
    expect(sink.writes).toHaveLength(0);
    expect(writer.pendingBytes).toBeGreaterThan(9000);
    await nextTurn();
    expect(sink.corks).toBe(1);
    expect(sink.uncorks).toBe(1);
    expect(sink.writes.length).toBe(3);
    expect(writer.pendingBytes).toBe(0);
  });

  it('bodies >= 8 KiB are written as their own chunk (no copy); smaller ones are copied', async () => {
    const sink = new RecordingSink();
    const writer = new FrameWriter(sink);
    const big = Buffer.alloc(8 * 1024, 0xab);
    const small = Buffer.alloc(8 * 1024 - 1, 0xcd);
    const frames = [publish(1, big), publish(2, small), publish(3, Buffer.alloc(100_000, 0xef))];
    for (const f of frames) writer.send(f);
    await nextTurn();
    expect(sink.writes.some((w) => w === big)).toBe(true);
    expect(sink.writes.some((w) => w === small)).toBe(false);
    expect(sameFrames(decodeChunks(sink.writes), frames)).toBe(true);
  });

  it('overflows the 64 KiB slab with many small frames, and never rewrites bytes already handed out', async () => {
    const sink = new RecordingSink();
    const writer = new FrameWriter(sink);
    const frames: Frame[] = [];
    // ~150 KiB across several turns; the sink keeps references only, so any reuse
    // of a slab region after it was written would corrupt an earlier chunk.
    for (let turn = 0; turn < 3; turn++) {
      for (let i = 0; i < 100; i++) {
        const f = publish(turn * 1000 + i, Buffer.alloc(500, (turn * 100 + i) & 0xff));
        frames.push(f);
        writer.send(f);
      }
      await nextTurn();
    }
    expect(sink.writes.length).toBeGreaterThan(3);
    expect(sameFrames(decodeChunks(sink.writes), frames)).toBe(true);
  });

  it('handles one frame whose header alone is larger than a slab', async () => {
    const sink = new RecordingSink();
    const writer = new FrameWriter(sink);
    const frames: Frame[] = [
      publish(1, Buffer.from('before')),
      {
        type: FrameType.PUBLISH,
        seq: 2,
        exchange: 'ex',
        routingKey: 'rk',
        flags: 0,
        properties: { headers: { big: 'h'.repeat(70 * 1024) } },
        body: Buffer.from('x'),
      },
      publish(3, Buffer.from('after')),
    ];
    for (const f of frames) writer.send(f);
    await nextTurn();
    expect(decodeChunks(sink.writes)).toStrictEqual(frames);
  });

  it('flushes inline once 256 KiB are pending', () => {
    const sink = new RecordingSink();
    const writer = new FrameWriter(sink);
    for (let i = 0; i < 3; i++) writer.send(publish(i + 1, Buffer.alloc(100 * 1024)));
    expect(sink.writes.length).toBeGreaterThan(0);
    expect(writer.pendingBytes).toBe(0);
  });

  it('writes nothing to a destroyed sink', async () => {
    const sink = new RecordingSink();
    sink.destroyed = true;
    const writer = new FrameWriter(sink);
    writer.send(publish(1, Buffer.from('x')));
    await nextTurn();
    expect(sink.writes).toHaveLength(0);
    expect(writer.pendingBytes).toBe(0);
  });

  it('sendRaw writes the same bytes as send', async () => {
    const sink = new RecordingSink();
    const writer = new FrameWriter(sink);
    writer.sendRaw(FrameType.CONFIRM, [7, true]);
    writer.sendRaw(FrameType.PUBLISH, [1, 'ex', 'rk', 0, null], Buffer.from('hi'));
    writer.flush();
    expect(Buffer.concat(sink.writes).equals(
      Buffer.concat([encodeFrame({ type: FrameType.CONFIRM, seq: 7, multiple: true }), encodeFrame(publish(1, Buffer.from('hi')))]),
    )).toBe(true);
  });
});

describe('frameLimit (spec 2, rule 8)', () => {
  it('sends nothing and returns false for a frame longer than the limit; exactly the limit is sent', () => {
    const chunks: Buffer[] = [];
    const w = new FrameWriter({ write: (c: Buffer) => (chunks.push(Buffer.from(c)), true), cork() {}, uncork() {} });
    w.frameLimit = 100;
    // DELIVER header ["c", 1, false, 1, "", "k", nil] is 10 bytes: 9 + 10 + 81 = 100.
    expect(w.deliver('c', 1, false, 1, '', 'k', null, Buffer.alloc(81))).toBe(true);
    expect(w.deliver('c', 2, false, 1, '', 'k', null, Buffer.alloc(82))).toBe(false);
    w.flush();
    expect(Buffer.concat(chunks).length).toBe(100);
  });
});
