/**
 * Review of ReadArena reuse (review-arena): adversarial streams through a
 * ReadArena + FrameDecoder pair played like the kernel would, every frame kind
 * that carries bytes (fast and general paths: PUBLISH, DELIVER, STREAM_DELIVER,
 * KV_PUT, RETURN, OK with a binary result), body sizes on every threshold
 * (0, 1, the 8 KiB copy run, ARENA_COPY_BELOW, half an arena, more than an
 * arena), reads of 1 to 3 bytes (a length prefix split across an arena switch)
 * as well as large ones, busy and idle clocks (arenas growing and shrinking).
 *
 * The "kernel" fills the whole buffer each read offers with junk before it
 * writes the real bytes: an escaped view of any byte the read may overwrite is
 * clobbered. Every decoded frame is kept as received (its body and header
 * buffers by reference, never copied) and compared byte for byte only after
 * the whole stream has passed.
 */
import { describe, it, expect } from 'vitest';
import {
  ARENA_COPY_BELOW,
  ARENA_SIZE,
  encodeFrame,
  FrameDecoder,
  FrameType,
  ReadArena,
  type DeliverFrame,
  type Frame,
  type KvPutFrame,
  type OkFrame,
  type PublishFrame,
  type ReturnFrame,
  type StreamDeliverFrame,
} from '@warren/protocol';
import { rng, type Rng } from '../../../test-support/prng.js';

const COPY_RUN = 8 * 1024;

/** A body unique to `i`. */
function bodyFor(i: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let k = 0; k < length; k++) b[k] = (i * 37 + k * 11 + (k >>> 8)) & 0xff;
  return b;
}

const SIZES = [
  0,
  1,
  2,
  COPY_RUN - 1,
  COPY_RUN,
  COPY_RUN + 1,
  ARENA_COPY_BELOW - 1,
  ARENA_COPY_BELOW,
  ARENA_COPY_BELOW + 1,
  ARENA_SIZE / 4 - 40,
  ARENA_SIZE / 2 - 40,
  ARENA_SIZE / 2 + 1,
  ARENA_SIZE + 1000,
];

function bodySize(r: Rng): number {
  const p = r.next();
  // Views (ARENA_COPY_BELOW and up) rare enough that arenas are reused between them.
  if (p < 0.8) return r.int(0, 700);
  if (p < 0.95) return r.int(700, ARENA_COPY_BELOW - 1);
  if (p < 0.995) return r.pick(SIZES.slice(0, 9));
  return r.pick(SIZES);
}

/** One frame of kind i % 8; fast-path and general-path shapes of the same types. */
function frameFor(i: number, body: Buffer): Frame {
  const headerBin = bodyFor(i + 1000, 1 + (i % 40));
  switch (i % 8) {
    case 0:
      return { type: FrameType.PUBLISH, seq: i, exchange: 'ex', routingKey: 'rk', flags: 0, properties: null, body } satisfies PublishFrame;
    case 1:
      // Nested headers with a binary value: the general path (msgpackr, copyBuffers).
      return { type: FrameType.PUBLISH, seq: i, exchange: 'ex', routingKey: `rk.${i}`, flags: 1, properties: { headers: { bin: headerBin, n: i } }, body } satisfies PublishFrame;
    case 2:
      return {
        type: FrameType.DELIVER,
        consumerTag: 'ctag',
        deliveryTag: i,
        redelivered: false,
        deliveryCount: 0,
        exchange: 'ex',
        routingKey: 'rk',
        properties: { contentType: 'x/y', priority: 3 },
        body,
      } satisfies DeliverFrame;
    case 3:
      return {
        type: FrameType.DELIVER,
        consumerTag: 'ctag',
        deliveryTag: i,
        redelivered: true,
        deliveryCount: 2,
        exchange: 'ex',
        routingKey: 'rk',
        properties: { headers: { bin: headerBin } },
        body,
      } satisfies DeliverFrame;
    case 4:
      return { type: FrameType.STREAM_DELIVER, consumerTag: 's', offset: i, timestamp: 1_700_000_000_000 + i, exchange: '', routingKey: 'st', properties: null, body } satisfies StreamDeliverFrame;
    case 5:
      return { type: FrameType.KV_PUT, requestId: i + 1, bucket: 'b', key: `k${i}`, options: { ttl: 5 }, body } satisfies KvPutFrame;
    case 6:
      return { type: FrameType.RETURN, seq: i, code: 312, name: 'NO_ROUTE', exchange: 'ex', routingKey: 'rk', properties: { headers: { bin: headerBin } }, body } satisfies ReturnFrame;
    default:
      // A kv read's answer: the value is a binary in the header (no body).
      return { type: FrameType.OK, requestId: i + 1, result: { value: Buffer.concat([headerBin, body.subarray(0, 3000)]), revision: i } } satisfies OkFrame;
  }
}

/** What a receiver keeps of a frame: its fields (the object may be the decoder's reused one), buffers by reference. */
function keep(f: Frame): Frame {
  return { ...f } as Frame;
}

interface Run {
  seed: number;
  count: number;
  /** Bytes per read. */
  readSize: (r: Rng) => number;
  /** Clock step per read (0: busy connection, arenas grow; large: idle, arenas shrink). */
  clockStep: number;
  reuseFrames: boolean;
  /** Body sizes (default: mixed, all thresholds). */
  size?: (r: Rng) => number;
}

function play(run: Run): { arena: ReadArena; decoder: FrameDecoder } {
  const r = rng(run.seed);
  const frames: Frame[] = [];
  for (let i = 0; i < run.count; i++) frames.push(frameFor(i, bodyFor(i, (run.size ?? bodySize)(r))));
  const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
  const decoder = new FrameDecoder(64 * 1024 * 1024, { copyBodiesBelow: ARENA_COPY_BELOW, reusePublishFrame: run.reuseFrames, reuseDeliverFrame: run.reuseFrames, guardReusedFrames: false });
  const got: Frame[] = [];
  let clock = 0;
  const arena = new ReadArena(decoder, (chunk) => decoder.push(chunk, (f) => got.push(keep(f))), ARENA_SIZE, () => clock);
  let pos = 0;
  let buf = arena.nextBuffer();
  while (pos < stream.length) {
    // The kernel may write anywhere in the buffer it was given.
    buf.fill(0xee);
    const n = Math.min(Math.max(1, run.readSize(r)), buf.length, stream.length - pos);
    stream.copy(buf, 0, pos, pos + n);
    pos += n;
    arena.onRead(n, buf);
    clock += run.clockStep;
    buf = arena.nextBuffer();
  }
  buf.fill(0xee);
  expect(got).toHaveLength(frames.length);
  for (let i = 0; i < frames.length; i++) {
    const want = encodeFrame(frames[i]!);
    const have = encodeFrame(got[i]!);
    if (!have.equals(want)) expect.fail(`frame ${i} (kind ${i % 8}, body ${(frames[i] as { body?: Buffer }).body?.length}) changed after later reads`);
  }
  return { arena, decoder };
}

const tiny = (r: Rng): number => r.int(1, 3);
const mixed = (r: Rng): number => {
  const p = r.next();
  if (p < 0.25) return r.int(1, 3);
  if (p < 0.6) return r.int(4, 5000);
  if (p < 0.9) return r.int(5000, 70_000);
  return r.int(70_000, 400_000);
};
const big = (r: Rng): number => r.int(100_000, 600_000);

describe('ReadArena reuse, adversarial streams (review-arena)', () => {
  for (const reuseFrames of [false, true]) {
    for (const [name, readSize, clockStep] of [
      ['mixed reads, busy', mixed, 0],
      ['mixed reads, idle', mixed, 2000],
      ['mixed reads, alternating', mixed, 600],
      ['large reads, busy', big, 0],
    ] as const) {
      it(`${name}${reuseFrames ? ', reused frames' : ''}: every kept frame intact`, () => {
        const { arena } = play({ seed: 101 + clockStep + (reuseFrames ? 1 : 0), count: 5000, readSize, clockStep, reuseFrames });
        // Both happen: arenas reused (no view since they began) and replaced (a view escaped).
        expect(arena.arenasReused).toBeGreaterThan(0);
        expect(arena.arenasAllocated).toBeGreaterThan(5);
      });
    }
  }

  it('reads of 1 to 3 bytes (length prefixes split across arena switches): every kept frame intact, arenas reused', () => {
    const { arena } = play({ seed: 7, count: 300, readSize: tiny, clockStep: 2000, reuseFrames: true, size: (r) => r.int(0, 1500) });
    expect(arena.arenasReused).toBeGreaterThan(0);
  });

  it('small bodies only (below ARENA_COPY_BELOW, around the copy run): arenas reused, every kept frame intact', () => {
    const sizes = [0, 1, COPY_RUN - 1, COPY_RUN, COPY_RUN + 1, ARENA_COPY_BELOW - 1];
    const { arena, decoder } = play({ seed: 23, count: 6000, readSize: mixed, clockStep: 0, reuseFrames: true, size: (r) => (r.next() < 0.5 ? r.pick(sizes) : r.int(0, 3000)) });
    expect(decoder.viewsHandedOut).toBe(0);
    expect(arena.arenasReused).toBeGreaterThan(20);
  });
});

describe('FrameDecoder.moveBufferedWithin (review-arena)', () => {
  const frame = encodeFrame(frameFor(0, bodyFor(1, 3000)));

  it('moves an overlapping partial frame to the start of its own arena, then decodes it there', () => {
    const arena = Buffer.allocUnsafeSlow(4096);
    arena.fill(0xee);
    // 2500 pending bytes at 1000: source and destination overlap.
    frame.copy(arena, 1000, 0, 2500);
    const decoder = new FrameDecoder(1 << 20, { copyBodiesBelow: ARENA_COPY_BELOW });
    const got: Frame[] = [];
    decoder.push(arena.subarray(1000, 3500), (f) => got.push(f));
    expect(decoder.moveBufferedWithin(arena)).toBe(true);
    expect(arena.subarray(0, 2500).equals(frame.subarray(0, 2500))).toBe(true);
    // The rest lands right after it, as the next read into the reused arena would.
    arena.fill(0xee, 2500);
    frame.copy(arena, 2500, 2500);
    decoder.push(arena.subarray(2500, frame.length), (f) => got.push(f));
    expect(got).toHaveLength(1);
    expect(encodeFrame(got[0]!).equals(frame)).toBe(true);
  });

  it('copies pending bytes of another buffer into the arena (as moveBufferedTo)', () => {
    const decoder = new FrameDecoder(1 << 20);
    const other = Buffer.from(frame.subarray(0, 700));
    decoder.push(other, () => {});
    const arena = Buffer.allocUnsafeSlow(8192).fill(0xee);
    expect(decoder.moveBufferedWithin(arena)).toBe(true);
    other.fill(0);
    const got: Frame[] = [];
    frame.copy(arena, 700, 700);
    decoder.push(arena.subarray(700, frame.length), (f) => got.push(f));
    expect(got).toHaveLength(1);
    expect(encodeFrame(got[0]!).equals(frame)).toBe(true);
  });
});
