/**
 * ReadArena reuses an arena (reads start again at its offset 0) only when no
 * view of it escaped the decoder since it began; a reused arena overwrites its
 * old bytes, so a body still held that lived in it would change under its owner.
 */
import { describe, it, expect } from 'vitest';
import { ARENA_COPY_BELOW, ARENA_SIZE, encodeFrame, FrameDecoder, ReadArena, type Frame, type PublishFrame } from '@warren/protocol';
import { publishFrame as publish, sameFrames } from './helpers.js';
import { rng } from '../../../test-support/prng.js';

/** Plays the kernel on a fake clock that never advances (a busy connection): `sizes()` bytes per read. */
function readThrough(stream: Buffer, sizes: () => number, onFrame: (f: Frame) => void = () => {}) {
  const decoder = new FrameDecoder(64 * 1024 * 1024, { copyBodiesBelow: ARENA_COPY_BELOW });
  const arena = new ReadArena(decoder, (chunk) => decoder.push(chunk, onFrame), ARENA_SIZE, () => 0);
  const buffers = new Set<ArrayBufferLike>();
  let pos = 0;
  let buf = arena.nextBuffer();
  while (pos < stream.length) {
    buffers.add(buf.buffer);
    const n = Math.min(sizes(), buf.length, stream.length - pos);
    stream.copy(buf, 0, pos, pos + n);
    pos += n;
    arena.onRead(n, buf);
    buf = arena.nextBuffer();
  }
  return { arena, decoder, buffers };
}

/** Each body unique: its seq in every byte position mod 251, shifted. */
function bodyFor(seq: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (seq * 31 + i) % 251;
  return b;
}

describe('ReadArena reuse', () => {
  it('reuses the arena when only copied (small) bodies were handed out', () => {
    const frames = Array.from({ length: 20_000 }, (_, i) => publish(i + 1, bodyFor(i + 1, 100 + (i % 200))));
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
    const r = rng(7);
    const got: Frame[] = [];
    const { arena, decoder, buffers } = readThrough(stream, () => r.int(1, 70_000), (f) => got.push({ ...(f as PublishFrame) }));
    expect(sameFrames(got, frames)).toBe(true);
    expect(decoder.viewsHandedOut).toBe(0);
    // The stream is ~5 MB: without reuse, one 256 KiB arena per ~200 KiB read.
    expect(arena.arenasReused).toBeGreaterThan(10);
    // Only the growing arenas (4 KiB .. 256 KiB) are allocated.
    expect(arena.arenasAllocated).toBeLessThanOrEqual(8);
    expect(buffers.size).toBe(arena.arenasAllocated);
  });

  it('never reuses an arena a body view was handed out of, and every kept body stays intact', () => {
    const r = rng(11);
    // Mostly small bodies (copied out), a few above the copy threshold (views of the arena).
    const frames = Array.from({ length: 6000 }, (_, i) =>
      publish(i + 1, bodyFor(i + 1, i % 97 === 5 ? r.int(ARENA_COPY_BELOW, 3 * ARENA_COPY_BELOW) : r.int(0, 2000))),
    );
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
    const kept: Buffer[] = [];
    const { arena, decoder } = readThrough(stream, () => r.int(1, 300_000), (f) => kept.push((f as PublishFrame).body));
    expect(decoder.viewsHandedOut).toBeGreaterThan(0);
    // Checked after the whole stream passed: a reused arena would have overwritten the views.
    expect(kept).toHaveLength(frames.length);
    for (let i = 0; i < frames.length; i++) expect(kept[i]!.equals(frames[i]!.body), `body ${i + 1}`).toBe(true);
    expect(arena.arenasReused + arena.arenasAllocated).toBeGreaterThan(10);
  });

  it('moves a partial frame to the start of the reused arena (overlapping copy) and decodes it intact', () => {
    const r = rng(3);
    const frames = Array.from({ length: 8000 }, (_, i) => publish(i + 1, bodyFor(i + 1, r.int(0, 3000))));
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
    const got: Frame[] = [];
    // Reads that end anywhere: most arena switches carry a partial frame.
    const { arena } = readThrough(stream, () => r.int(1, 9000), (f) => got.push({ ...(f as PublishFrame) }));
    expect(sameFrames(got, frames)).toBe(true);
    expect(arena.arenasReused).toBeGreaterThan(10);
  });

  it('counts views handed out: bodies at or above copyBodiesBelow, not copies, empty bodies or copied-out frames', () => {
    const decoder = new FrameDecoder(1 << 20, { copyBodiesBelow: 1000 });
    const push = (b: Buffer) => decoder.push(b, () => {});
    push(encodeFrame(publish(1, Buffer.alloc(999, 1))));
    push(encodeFrame(publish(2, Buffer.alloc(0))));
    expect(decoder.viewsHandedOut).toBe(0);
    push(encodeFrame(publish(3, Buffer.alloc(1000, 1))));
    expect(decoder.viewsHandedOut).toBe(1);
    // Split across unrelated chunks: copied into a frame of its own, its body is no chunk's view.
    const split = encodeFrame(publish(4, Buffer.alloc(5000, 2)));
    push(Buffer.from(split.subarray(0, 100)));
    push(Buffer.from(split.subarray(100)));
    expect(decoder.viewsHandedOut).toBe(1);
  });

  it('moveBufferedWithin refuses pending bytes spread over several chunks', () => {
    const decoder = new FrameDecoder(1 << 20);
    const bytes = encodeFrame(publish(1, Buffer.alloc(500, 4)));
    const arena = Buffer.allocUnsafeSlow(4096);
    bytes.copy(arena, 1000, 0, 100);
    decoder.push(arena.subarray(1000, 1100), () => {});
    decoder.push(Buffer.from(bytes.subarray(100, 200)), () => {});
    expect(decoder.moveBufferedWithin(arena)).toBe(false);
    expect(decoder.bufferedBytes).toBe(200);
    // Still decodes after the refusal.
    const got: Frame[] = [];
    decoder.push(Buffer.from(bytes.subarray(200)), (f) => got.push(f));
    expect(sameFrames(got, [publish(1, Buffer.alloc(500, 4))])).toBe(true);
  });
});
