import { describe, it, expect, afterEach } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import {
  adoptArenaReads,
  ARENA_COPY_BELOW,
  ARENA_SIZE,
  encodeFrame,
  FrameDecoder,
  FrameType,
  ReadArena,
  type Frame,
  type PublishFrame,
} from '@warren/protocol';
import { sameFrames, splitAt, publishFrame as publish } from './helpers.js';
import { rng } from '../../../test-support/prng.js';


/**
 * Plays the kernel: copies the stream into whatever buffer the arena hands
 * out, `sizes()` bytes per read (never more than the buffer holds).
 */
function readThroughArena(stream: Buffer, sizes: () => number, decoder = new FrameDecoder(64 * 1024 * 1024)): Frame[] {
  const frames: Frame[] = [];
  const arena = new ReadArena(decoder, (chunk) => decoder.push(chunk, (f) => frames.push(f)));
  let pos = 0;
  let buf = arena.nextBuffer();
  while (pos < stream.length) {
    const n = Math.min(sizes(), buf.length, stream.length - pos);
    stream.copy(buf, 0, pos, pos + n);
    pos += n;
    arena.onRead(n, buf);
    buf = arena.nextBuffer();
  }
  return frames;
}

describe('FrameDecoder over contiguous reads', () => {
  it('merges a chunk that continues the previous one in memory: a split frame is decoded in place', () => {
    const frame = publish(1, Buffer.alloc(100_000, 7));
    const bytes = encodeFrame(frame);
    const arena = Buffer.allocUnsafeSlow(bytes.length + 10);
    bytes.copy(arena);
    const decoder = new FrameDecoder(1 << 20);
    const got: Frame[] = [];
    for (const part of splitAt(arena.subarray(0, bytes.length), [30_000, 65_536])) decoder.push(part, (f) => got.push(f));
    expect(got).toHaveLength(1);
    const body = (got[0] as PublishFrame).body;
    expect(body.equals(frame.body)).toBe(true);
    // A view into the arena, not a copy.
    expect(body.buffer).toBe(arena.buffer);
  });

  it('still copies a frame split across unrelated chunks', () => {
    const frame = publish(1, Buffer.alloc(50_000, 3));
    const bytes = encodeFrame(frame);
    const a = Buffer.from(bytes.subarray(0, 20_000));
    const b = Buffer.from(bytes.subarray(20_000));
    const got: Frame[] = [];
    const decoder = new FrameDecoder(1 << 20);
    decoder.push(a, (f) => got.push(f));
    decoder.push(b, (f) => got.push(f));
    const body = (got[0] as PublishFrame).body;
    expect(body.equals(frame.body)).toBe(true);
    expect(body.buffer).not.toBe(a.buffer);
    expect(body.buffer).not.toBe(b.buffer);
  });

  it('copies bodies below copyBodiesBelow out of the chunk, and keeps larger ones as views', () => {
    const small = publish(1, Buffer.alloc(200, 1));
    const large = publish(2, Buffer.alloc(ARENA_COPY_BELOW, 2));
    const chunk = Buffer.concat([encodeFrame(small), encodeFrame(large)]);
    const got: PublishFrame[] = [];
    new FrameDecoder(1 << 20, { copyBodiesBelow: ARENA_COPY_BELOW }).push(chunk, (f) => got.push(f as PublishFrame));
    expect(got[0]!.body.equals(small.body)).toBe(true);
    expect(got[0]!.body.buffer).not.toBe(chunk.buffer);
    expect(got[1]!.body.equals(large.body)).toBe(true);
    expect(got[1]!.body.buffer).toBe(chunk.buffer);
    // The copy does not alias the input.
    chunk.fill(0);
    expect(got[0]!.body.equals(small.body)).toBe(true);
  });

  it('copies small bodies in runs of 8 KiB: one buffer for the bodies inside a run, none aliasing the chunk or each other', () => {
    // 100 small frames, 300-byte bodies, then one of 9,000 bytes (over a run, under copyBodiesBelow), then small ones again.
    const frames = [
      ...Array.from({ length: 100 }, (_, i) => publish(i + 1, Buffer.alloc(300, i + 1))),
      publish(101, Buffer.alloc(9000, 0xee)),
      ...Array.from({ length: 5 }, (_, i) => publish(102 + i, Buffer.alloc(10, 0xf0 + i))),
    ];
    const chunk = Buffer.concat(frames.map(encodeFrame));
    const got: PublishFrame[] = [];
    new FrameDecoder(1 << 20, { copyBodiesBelow: ARENA_COPY_BELOW }).push(chunk, (f) => got.push(f as PublishFrame));
    expect(got).toHaveLength(frames.length);
    const runs = new Set<ArrayBufferLike>();
    for (let i = 0; i < frames.length; i++) {
      const body = got[i]!.body;
      expect(body.equals(frames[i]!.body)).toBe(true);
      expect(body.buffer).not.toBe(chunk.buffer);
      runs.add(body.buffer);
      // A run holds at most 8 KiB: no body pins more.
      expect(body.buffer.byteLength).toBeLessThanOrEqual(9000);
    }
    // ~27 bodies of 300 bytes (plus headers) per run: far fewer buffers than bodies.
    expect(runs.size).toBeLessThan(10);
    // Bodies of one run do not overlap.
    const spans = got.map((f) => [f.body.buffer, f.body.byteOffset, f.body.byteOffset + f.body.length] as const).sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : 0));
    for (let i = 1; i < spans.length; i++) if (spans[i]![0] === spans[i - 1]![0]) expect(spans[i]![1]).toBeGreaterThanOrEqual(spans[i - 1]![2]);
    chunk.fill(0);
    for (let i = 0; i < frames.length; i++) expect(got[i]!.body.equals(frames[i]!.body)).toBe(true);
  });

  it('starts a new run for every push: a chunk reused by the caller is not read from an old run', () => {
    // Small pushes share one 8 KiB pool (written front to back): the second body must not be the first's bytes.
    const decoder = new FrameDecoder(1 << 20, { copyBodiesBelow: ARENA_COPY_BELOW });
    const chunk = encodeFrame(publish(1, Buffer.alloc(100, 1)));
    const got: PublishFrame[] = [];
    decoder.push(chunk, (f) => got.push(f as PublishFrame));
    // Same buffer object, new content (a caller recycling its read buffer).
    encodeFrame(publish(2, Buffer.alloc(100, 2))).copy(chunk);
    decoder.push(chunk, (f) => got.push(f as PublishFrame));
    expect(got.map((f) => f.body[0])).toEqual([1, 2]);
    expect(got[0]!.body.equals(Buffer.alloc(100, 1))).toBe(true);
    expect(got[1]!.body.equals(Buffer.alloc(100, 2))).toBe(true);
  });

  it('binary header values are copied out too: they do not alias the received bytes', () => {
    const frame: PublishFrame = { ...publish(1, Buffer.alloc(ARENA_COPY_BELOW, 1)), properties: { headers: { blob: Buffer.from('abcdef') } } };
    const chunk = encodeFrame(frame);
    const got: PublishFrame[] = [];
    new FrameDecoder(1 << 20).push(chunk, (f) => got.push(f as PublishFrame));
    const blob = got[0]!.properties!.headers!['blob'] as Uint8Array;
    expect(Buffer.from(blob).toString()).toBe('abcdef');
    expect(blob.buffer).not.toBe(chunk.buffer);
  });

  it('moveBufferedTo gathers pending bytes from several chunks, consumed offset included', () => {
    const frames = [publish(1, Buffer.alloc(10, 1)), publish(2, Buffer.alloc(3000, 2))];
    const bytes = Buffer.concat(frames.map(encodeFrame));
    const firstLen = encodeFrame(frames[0]!).length;
    const decoder = new FrameDecoder(1 << 20);
    const got: Frame[] = [];
    // Unrelated chunks: the first holds frame 1 and the start of frame 2.
    for (const part of splitAt(bytes, [firstLen + 5, firstLen + 700, firstLen + 1500])) {
      decoder.push(Buffer.from(part), (f) => got.push(f));
      if (got.length === 1 && decoder.bufferedBytes > 0) break;
    }
    expect(got).toHaveLength(1);
    const pending = decoder.bufferedBytes;
    expect(decoder.missingBytes).toBe(bytes.length - firstLen - pending);
    const target = Buffer.alloc(bytes.length);
    expect(decoder.moveBufferedTo(target)).toBe(pending);
    expect(target.subarray(0, pending).equals(bytes.subarray(firstLen, firstLen + pending))).toBe(true);
    decoder.push(bytes.subarray(firstLen + pending), (f) => got.push(f));
    expect(sameFrames(got, frames)).toBe(true);
  });
});

describe('ReadArena', () => {
  it('decodes any mix of frame sizes and read sizes (seeded)', () => {
    const r = rng(0xa4e7a);
    for (let round = 0; round < 30; round++) {
      const tiny = round < 5; // byte-sized reads: small frames only, or the test crawls
      const frames: Frame[] = [];
      for (let i = 0; i < 40; i++) {
        const size = r.pick(tiny ? [0, 1, 200, 4000] : [0, 1, 200, 4000, ARENA_COPY_BELOW - 1, 65_536, 200_000, 700_000]);
        const body = Buffer.alloc(size, i);
        if (size > 0) body[size - 1] = r.int(0, 255);
        frames.push(r.next() < 0.1 ? { type: FrameType.HEARTBEAT } : publish(i + 1, body));
      }
      const stream = Buffer.concat(frames.map(encodeFrame));
      const readMax = tiny ? r.pick([1, 3, 7]) : r.pick([100, 1000, 65_536, 1 << 20]);
      const got = readThroughArena(stream, () => r.int(1, readMax));
      if (!sameFrames(got, frames)) expect.fail(`round ${round} (reads up to ${readMax} bytes) decoded differently`);
    }
  });

  it('keeps 64 KiB frames in place: bodies are views into shared arenas, several frames per arena', () => {
    const frames = Array.from({ length: 40 }, (_, i) => publish(i + 1, Buffer.alloc(65_536, i)));
    const stream = Buffer.concat(frames.map(encodeFrame));
    const got = readThroughArena(stream, () => 65_536) as PublishFrame[];
    expect(sameFrames(got, frames)).toBe(true);
    const arenas = new Set(got.map((f) => f.body.buffer));
    // Three or four frames per 256 KiB arena once the arenas have grown, never one buffer per frame.
    expect(arenas.size).toBeLessThanOrEqual(frames.length / 2);
    for (const f of got.slice(10)) expect(f.body.buffer.byteLength).toBeGreaterThanOrEqual(ARENA_SIZE);
  });

  it('ends reads at frame boundaries while large frames flow: a frame is almost never moved half-read', () => {
    const r = rng(0x64);
    const frames = Array.from({ length: 60 }, (_, i) => publish(i + 1, Buffer.alloc(65_536, i)));
    const stream = Buffer.concat(frames.map(encodeFrame));
    const decoder = new FrameDecoder(1 << 20);
    let moved = 0;
    const move = decoder.moveBufferedTo.bind(decoder);
    decoder.moveBufferedTo = (target: Buffer) => {
      const n = move(target);
      moved += n;
      return n;
    };
    // The kernel fills as much of each buffer as it has: anything from a few bytes to all of it.
    const got = readThroughArena(stream, () => r.int(1, 300_000), decoder);
    expect(sameFrames(got, frames)).toBe(true);
    // Only while the first, small arenas grow; without the boundary rule it is about a third of the stream.
    expect(moved).toBeLessThan(65_536);
  });

  it('starts with a small arena: an idle connection does not hold 256 KiB', () => {
    const decoder = new FrameDecoder(1 << 20);
    const arena = new ReadArena(decoder, (chunk) => decoder.push(chunk, () => {}));
    expect(arena.nextBuffer().buffer.byteLength).toBeLessThanOrEqual(4 * 1024);
  });

  /** Small frames read one per read through an arena on a fake clock; the ArrayBuffer of each read. */
  function smallReads(count: number, msPerRead: number): ArrayBuffer[] {
    let clock = 0;
    const decoder = new FrameDecoder(1 << 20);
    const arena = new ReadArena(decoder, (chunk) => decoder.push(chunk, () => {}), ARENA_SIZE, () => clock);
    const frame = encodeFrame(publish(1, Buffer.alloc(60, 1)));
    const used: ArrayBuffer[] = [];
    for (let i = 0; i < count; i++) {
      const buf = arena.nextBuffer();
      frame.copy(buf);
      arena.onRead(frame.length, buf);
      used.push(buf.buffer as ArrayBuffer);
      clock += msPerRead;
    }
    return used;
  }

  it('serves many small reads from one arena: a quiet connection allocates one 4 KiB arena per ~3 KiB read', () => {
    // Handshake, heartbeats, close: one small frame per read, seconds apart.
    const used = smallReads(400, 5000);
    const frameLength = encodeFrame(publish(1, Buffer.alloc(60, 1))).length;
    const distinct = new Set(used);
    for (const b of distinct) expect(b.byteLength).toBeLessThanOrEqual(4 * 1024);
    // Each arena is used until less than a quarter of it is left.
    expect(distinct.size).toBeLessThanOrEqual(Math.ceil((400 * frameLength) / (3 * 1024)) + 1);
    expect(used.slice(0, 20).every((b) => b === used[0])).toBe(true);
  });

  it('grows the arenas of a busy connection, and shrinks them again when it quiets down', () => {
    const busy = smallReads(20_000, 0);
    expect(busy.at(-1)!.byteLength).toBe(ARENA_SIZE);
    let clock = 0;
    const decoder = new FrameDecoder(1 << 20);
    const arena = new ReadArena(decoder, (chunk) => decoder.push(chunk, () => {}), ARENA_SIZE, () => clock);
    const frame = encodeFrame(publish(1, Buffer.alloc(4000, 1)));
    const sizes: number[] = [];
    const read = () => {
      const buf = arena.nextBuffer();
      const n = Math.min(frame.length, buf.length);
      frame.copy(buf, 0, 0, n);
      arena.onRead(n, buf);
      sizes.push(buf.buffer.byteLength);
    };
    // Busy: the arenas double up to ARENA_SIZE.
    while (sizes.at(-1) !== ARENA_SIZE) read();
    // Quiet (a frame a second): each arena lasts longer than a second, so the next one is half the size.
    for (let i = 0; i < 2000 && sizes.at(-1)! > 4 * 1024; i++) {
      clock += 1000;
      read();
    }
    expect(sizes.at(-1)).toBe(4 * 1024);
  });

  it('reads a frame larger than an arena into a buffer of its own size', () => {
    const big = publish(1, Buffer.alloc(3 * ARENA_SIZE, 9));
    const tail = publish(2, Buffer.alloc(100, 1));
    const stream = Buffer.concat([encodeFrame(big), encodeFrame(tail)]);
    const got = readThroughArena(stream, () => 65_536) as PublishFrame[];
    expect(sameFrames(got, [big, tail])).toBe(true);
    const frameLength = encodeFrame(big).length;
    expect(got[0]!.body.buffer.byteLength).toBeLessThanOrEqual(frameLength + 64 * 1024);
  });
});

describe('adoptArenaReads on accepted sockets', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.length = 0;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /** A server whose connection handler gets each accepted socket; resolves with the port. */
  function listen(pauseOnConnect: boolean, onSocket: (s: Socket) => void): Promise<number> {
    server = createServer({ pauseOnConnect }, (s) => {
      sockets.push(s);
      onSocket(s);
    });
    return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve((server!.address() as { port: number }).port)));
  }

  it('switches a paused accepted socket to arena reads on this Node, and frames arrive intact', async () => {
    const frames = Array.from({ length: 30 }, (_, i) => publish(i + 1, Buffer.alloc(i % 2 === 0 ? 100_000 : 50, i)));
    let adopted: boolean | undefined;
    const got: Frame[] = [];
    const done = new Promise<void>((resolve) => {
      void listen(true, (s) => {
        const decoder = new FrameDecoder(1 << 20);
        adopted = adoptArenaReads(
          s,
          new ReadArena(decoder, (chunk) =>
            decoder.push(chunk, (f) => {
              got.push(f);
              if (got.length === frames.length) resolve();
            }),
          ),
        );
      }).then((port) => {
        const c = connect(port, '127.0.0.1', () => c.end(Buffer.concat(frames.map(encodeFrame))));
        sockets.push(c);
      });
    });
    await done;
    expect(adopted).toBe(true);
    expect(sameFrames(got, frames)).toBe(true);
    // The 100 KB bodies are views into shared arenas, not one buffer per frame.
    const big = got.filter((f): f is PublishFrame => f.type === FrameType.PUBLISH && f.body.length === 100_000);
    expect(new Set(big.map((f) => f.body.buffer)).size).toBeLessThan(big.length);
  });

  it('declines a socket that is already reading, and leaves it working', async () => {
    let adopted: boolean | undefined;
    const received = new Promise<Buffer>((resolve) => {
      void listen(false, (s) => {
        adopted = adoptArenaReads(s, new ReadArena(new FrameDecoder(1 << 20), () => {}));
        const parts: Buffer[] = [];
        s.on('data', (d: Buffer) => parts.push(d));
        s.on('end', () => resolve(Buffer.concat(parts)));
      }).then((port) => {
        const c = connect(port, '127.0.0.1', () => c.end('hello'));
        sockets.push(c);
      });
    });
    expect((await received).toString()).toBe('hello');
    expect(adopted).toBe(false);
  });
});
