/**
 * Message properties in their usual shape (props-fast.ts) on the PUBLISH and
 * DELIVER fast paths: the writer writes byte for byte what the general encoder
 * writes, the decoder builds exactly what the general path builds (key order
 * and the invalid-property mark included) or refuses what it refuses, every
 * other shape is left to the general path, and the usual shapes never reach msgpackr.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameType, FrameWriter, INVALID_PROPERTY, parseFrame, pack, unpack, type Frame, type MessageProperties } from '../src/index.js';
import { packr, unpackr } from '../src/msgpack.js';
import { checkProfile } from '../src/profile.js';
import { CollectingSink, decodeChunks, rawFrame } from './helpers.js';

function written(send: (w: FrameWriter) => boolean, frameLimit = Infinity): { sent: boolean; bytes: Buffer } {
  const sink = new CollectingSink();
  const w = new FrameWriter(sink);
  w.frameLimit = frameLimit;
  const sent = send(w);
  w.flush();
  return { sent, bytes: Buffer.concat(sink.writes) };
}

function same(got: Buffer, want: Buffer): void {
  if (!got.equals(want)) expect(got).toEqual(want);
}

/** Every integer width at its boundaries, both signs, and what must fall back. */
const INTS = [
  0, -0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER,
  -1, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 40), Number.MIN_SAFE_INTEGER,
];
const FALLBACK_NUMBERS = [1.5, -0.5, 2 ** 53, -(2 ** 53), 2 ** 64, NaN, Infinity];
const STRS = ['', 'a', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(255), 'application/json', '0d6c3c1e-6a55-4b36-a5a7-1f0f2c5d4e11'];
const FALLBACK_STRS = ['x'.repeat(256), 'é', 'commandé', '日本', '\ud800', '😀'];
const VALUES: unknown[] = [true, false, null, undefined, ...INTS, ...STRS];
const FALLBACK_VALUES: unknown[] = [...FALLBACK_NUMBERS, ...FALLBACK_STRS, { a: 1 }, [1], Buffer.from([1]), new Date(0), 10n, new Map([['a', 1]])];

/** A fixed-seed generator, so a failure is reproducible. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
}

function shapes(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [
    {},
    { persistent: true },
    { persistent: false },
    { persistent: true, contentType: 'application/json', messageId: '0d6c3c1e-6a55-4b36-a5a7-1f0f2c5d4e11', priority: 5 },
    { persistent: true, contentType: 'application/json', messageId: 'm', priority: undefined },
    { persistent: true, headers: { 'x-delay': 5 } },
    { b: 1, a: 2, 10: 3, 2: 4 },
    { ['k'.repeat(31)]: 1, ['k'.repeat(32)]: 2, ['k'.repeat(255)]: 3 },
    { ['k'.repeat(256)]: 1 },
    { clé: 1 },
    { '': '' },
    { persistent: 1, priority: 300, expiration: -5, timestamp: 'now' },
    { expiration: 60_000, timestamp: 1_764_700_000_000, priority: 9, userId: 'guest', appId: 'app', type: 't', replyTo: 'r', correlationId: 'c' },
    Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i])),
    Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
    Object.assign(Object.create(null) as object, { persistent: true }) as Record<string, unknown>,
  ];
  for (const v of VALUES) out.push({ v }, { persistent: true, v, w: v });
  for (const v of FALLBACK_VALUES) out.push({ v }, { persistent: true, v });
  const r = rng(42);
  const pool = [...VALUES, ...VALUES, ...FALLBACK_VALUES];
  for (let i = 0; i < 400; i++) {
    const o: Record<string, unknown> = {};
    const n = Math.floor(r() * 10);
    for (let k = 0; k < n; k++) o[`key${Math.floor(r() * 12)}`] = pool[Math.floor(r() * pool.length)];
    out.push(o);
  }
  return out;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('PUBLISH and DELIVER with properties: sends', () => {
  it('write what the general encoder writes, for every width and shape', () => {
    let n = 0;
    const body = Buffer.from('hello');
    for (const props of shapes()) {
      const p = props as MessageProperties;
      same(written((w) => w.publish(7, '', 'orders', 0, p, body)).bytes, written((w) => w.sendRaw(FrameType.PUBLISH, [7, '', 'orders', 0, p], body)).bytes);
      same(
        written((w) => w.deliver('ctag', 300, true, 2, 'amq.direct', 'orders', p, body)).bytes,
        written((w) => w.sendRaw(FrameType.DELIVER, ['ctag', 300, true, 2, 'amq.direct', 'orders', p], body)).bytes,
      );
      n++;
    }
    expect(n).toBeGreaterThan(500);
  });

  it('use no general MessagePack encoding for small flat maps, and the general one for the rest', () => {
    const spy = vi.spyOn(packr, 'pack');
    const body = Buffer.from('{}');
    written((w) => w.publish(1, '', 'q', 0, { persistent: true }, body));
    written((w) => w.publish(2, '', 'q', 0, { persistent: true, contentType: 'application/json', messageId: '0d6c3c1e-6a55-4b36-a5a7-1f0f2c5d4e11', priority: 0 }, body));
    written((w) => w.deliver('c', 1, false, 1, '', 'q', { persistent: true, timestamp: 1_764_700_000_000, expiration: -1 } as MessageProperties, body));
    expect(spy).not.toHaveBeenCalled();
    written((w) => w.publish(3, '', 'q', 0, { persistent: true, headers: { a: 1 } }, body));
    expect(spy).toHaveBeenCalled();
  });

  it('write own keys only, in Object.keys order: inherited enumerable keys, integer-like keys, deleted keys, 15 and 16 keys', () => {
    const inherited = Object.create({ priority: 3, contentType: 'text/plain' }) as Record<string, unknown>;
    inherited['persistent'] = true;
    const deleted: Record<string, unknown> = { a: 1, b: 'x', c: true };
    delete deleted['b'];
    const many = (n: number): Record<string, unknown> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    const body = Buffer.from('hello');
    for (const props of [inherited, deleted, { b: 1, 2: true, a: 'x', 1: null }, many(15), many(16)]) {
      const p = props as MessageProperties;
      const fast = written((w) => w.publish(7, '', 'orders', 0, p, body)).bytes;
      same(fast, written((w) => w.sendRaw(FrameType.PUBLISH, [7, '', 'orders', 0, { ...props }], body)).bytes);
    }
  });

  it('one writer, alternating shapes, stays byte-identical (the measured keys are not reused for another object)', () => {
    const props = shapes().slice(0, 60) as MessageProperties[];
    const body = Buffer.from('b');
    const fast = written((w) => props.every((p) => w.publish(1, '', 'q', 0, p, body)));
    const general = written((w) => props.every((p) => w.sendRaw(FrameType.PUBLISH, [1, '', 'q', 0, p], body)));
    same(fast.bytes, general.bytes);
  });

  it('stay byte-identical when the beforeNextSend hook sends a frame with other properties in between', () => {
    const body = Buffer.from('b');
    const outer = { persistent: true, messageId: 'outer' };
    const inner = { persistent: false, contentType: 'inner/x', priority: 3 };
    const fast = written((w) => {
      w.setBeforeNextSend(() => w.publish(1, '', 'q', 0, inner, body));
      return w.publish(2, '', 'q', 0, outer, body);
    });
    const general = written((w) => {
      w.sendRaw(FrameType.PUBLISH, [1, '', 'q', 0, inner], body);
      return w.sendRaw(FrameType.PUBLISH, [2, '', 'q', 0, outer], body);
    });
    same(fast.bytes, general.bytes);
  });

  it('stay byte-identical when the hook sends a frame with other names (the cached name slots are not overwritten under the outer frame)', () => {
    const body = Buffer.from('b');
    const fast = written((w) => {
      w.publish(1, 'ex-a', 'key-a', 0, null, body); // warm the slots with the outer frame's names
      w.deliver('tag-a', 1, false, 1, 'ex-a', 'key-a', null, body);
      w.setBeforeNextSend(() => w.publish(2, 'ex-inner', 'key-inner', 0, null, body));
      w.publish(3, 'ex-a', 'key-a', 0, { persistent: true }, body);
      w.setBeforeNextSend(() => w.deliver('tag-inner', 2, true, 2, 'ex-inner', 'key-inner', null, body));
      return w.deliver('tag-a', 3, false, 1, 'ex-a', 'key-a', { persistent: true }, body);
    });
    const general = written((w) => {
      w.sendRaw(FrameType.PUBLISH, [1, 'ex-a', 'key-a', 0, null], body);
      w.sendRaw(FrameType.DELIVER, ['tag-a', 1, false, 1, 'ex-a', 'key-a', null], body);
      w.sendRaw(FrameType.PUBLISH, [2, 'ex-inner', 'key-inner', 0, null], body);
      w.sendRaw(FrameType.PUBLISH, [3, 'ex-a', 'key-a', 0, { persistent: true }], body);
      w.sendRaw(FrameType.DELIVER, ['tag-inner', 2, true, 2, 'ex-inner', 'key-inner', null], body);
      return w.sendRaw(FrameType.DELIVER, ['tag-a', 3, false, 1, 'ex-a', 'key-a', { persistent: true }], body);
    });
    same(fast.bytes, general.bytes);
  });

  it('send nothing and return false past the frame limit, like the general encoder', () => {
    const body = Buffer.alloc(100);
    const props = { persistent: true, messageId: 'm-1' };
    const exact = written((w) => w.publish(1, '', 'q', 0, props, body)).bytes.length;
    expect(written((w) => w.publish(1, '', 'q', 0, props, body), exact)).toMatchObject({ sent: true });
    expect(written((w) => w.publish(1, '', 'q', 0, props, body), exact - 1)).toEqual({ sent: false, bytes: Buffer.alloc(0) });
    const deliver = written((w) => w.deliver('c', 1, false, 1, '', 'q', props, body)).bytes.length;
    expect(written((w) => w.deliver('c', 1, false, 1, '', 'q', props, body), deliver)).toMatchObject({ sent: true });
    expect(written((w) => w.deliver('c', 1, false, 1, '', 'q', props, body), deliver - 1)).toEqual({ sent: false, bytes: Buffer.alloc(0) });
  });
});

/** What the decoder's general path makes of a header (or the error it throws). */
function general(type: number, header: Buffer, body: Buffer): Frame | Error {
  try {
    checkProfile(header, 0, header.length);
    return parseFrame(type, unpack(header), body);
  } catch (err) {
    return err as Error;
  }
}

function decoded(chunks: Buffer[]): Frame | Error {
  try {
    const frames = decodeChunks(chunks);
    expect(frames).toHaveLength(1);
    return frames[0]!;
  } catch (err) {
    return err as Error;
  }
}

function propsOf(f: Frame): MessageProperties | null | undefined {
  return (f as { properties?: MessageProperties | null }).properties;
}

function expectSameAsGeneral(type: number, header: Buffer, body = Buffer.from('hello'), split = true): void {
  const want = general(type, header, body);
  const raw = rawFrame(type, header, body);
  // Whole, and split across two chunks throughout the header (the slow path copies the frame out, then decodes it the same way).
  const cuts = [raw.length];
  if (split) for (let i = 1; i < 9 + header.length + 1 && i < raw.length; i += 1 + (header.length >> 4)) cuts.push(i);
  for (const cut of cuts) {
    const got = decoded(cut === raw.length ? [raw] : [raw.subarray(0, cut), raw.subarray(cut)]);
    if (want instanceof Error) {
      expect(got).toBeInstanceOf(Error);
      // The decoder reports a header that is not valid MessagePack or breaks the profile as FRAME_ERROR, as any field error.
      expect((got as { name?: unknown }).name).toBe('FRAME_ERROR');
      continue;
    }
    expect(got).toEqual(want);
    const p = propsOf(got as Frame);
    const q = propsOf(want);
    if (p && q) {
      expect(Object.keys(p)).toEqual(Object.keys(q));
      expect((p as { [INVALID_PROPERTY]?: string })[INVALID_PROPERTY]).toBe((q as { [INVALID_PROPERTY]?: string })[INVALID_PROPERTY]);
    }
  }
}

/** A fixmap header from raw key/value bytes. */
function map(...entries: Buffer[][]): Buffer {
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flat()]);
}
const str = (s: string): Buffer => pack(s);
const hex = (h: string): Buffer => Buffer.from(h.replace(/ /g, ''), 'hex');

describe('PUBLISH and DELIVER with properties: decode', () => {
  it('builds the frame the general path builds, for every shape', () => {
    let i = 0;
    for (const props of shapes()) {
      const split = i++ % 8 === 0;
      expectSameAsGeneral(FrameType.PUBLISH, pack([7, '', 'orders', 0, props]), undefined, split);
      expectSameAsGeneral(FrameType.DELIVER, pack(['ctag', 300, true, 2, 'amq.direct', 'orders', props]), undefined, split);
    }
  });

  it('matches the general path on hand-made maps: duplicate keys, nils, __proto__, int64 edges, wrong types', () => {
    const cases: Buffer[] = [
      map([str('a'), hex('01')], [str('a'), hex('02')]),
      map([str('a'), hex('01')], [str('a'), hex('c0')]),
      map([str('a'), hex('c0')], [str('b'), hex('01')], [str('a'), hex('02')]),
      map([str('a'), hex('c0')], [str('a'), hex('c0')]),
      map([str('__proto__'), hex('01')]),
      map([str('persistent'), hex('01')], [str('persistent'), hex('c3')]),
      map([str('persistent'), hex('c3')], [str('persistent'), hex('01')]),
      map([str('priority'), hex('cd 01 00')], [str('persistent'), str('yes')]),
      map([str('t'), hex('cf 00 1f ff ff ff ff ff ff')]),
      map([str('t'), hex('cf 00 20 00 00 00 00 00 00')]),
      map([str('t'), hex('cf ff ff ff ff ff ff ff ff')]),
      map([str('t'), hex('d3 ff e0 00 00 00 00 00 01')]),
      map([str('t'), hex('d3 ff e0 00 00 00 00 00 00')]),
      map([str('t'), hex('d3 80 00 00 00 00 00 00 00')]),
      map([str('t'), hex('d3 00 00 00 00 00 00 00 05')]),
      map([str('t'), hex('cf 00 00 00 00 00 00 00 05')]),
      map([str('t'), hex('ce 00 00 00 05')]),
      map([str('t'), hex('d0 05')], [str('u'), hex('d1 00 05')], [str('v'), hex('d2 00 00 00 05')]),
      map([str('f'), hex('ca 3f c0 00 00')]),
      map([str('f'), hex('cb 3f f8 00 00 00 00 00 00')]),
      map([str('b'), hex('c4 01 00')]),
      map([str('s'), hex('da 00 01 61')]),
      map([str('s'), hex('a2 c3 a9')]),
      map([hex('da 00 01 61'), hex('01')]),
      map([hex('a2 c3 a9'), hex('01')]),
      map([hex('01'), hex('01')]),
      map([str('s'), hex('a2 ff fe')]),
      map([str('e'), hex('d4 01 00')]),
      map([str('n'), hex('80')]),
      map([str('n'), hex('90')]),
      hex('de 00 01 a1 61 01'),
      hex('c3'),
      hex('90'),
      hex('a1 61'),
    ];
    for (const props of cases) {
      const head = pack([7, '', 'orders', 0]);
      head[0] = 0x95;
      expectSameAsGeneral(FrameType.PUBLISH, Buffer.concat([head, props]));
      const dhead = pack(['ctag', 300, true, 2, 'amq.direct', 'orders']);
      dhead[0] = 0x97;
      expectSameAsGeneral(FrameType.DELIVER, Buffer.concat([dhead, props]));
    }
  });

  it('refuses malformed properties with the general path\'s typed error', () => {
    const head = pack([7, '', 'orders', 0]);
    head[0] = 0x95;
    const good = map([str('persistent'), hex('c3')], [str('messageId'), str('m-1')]);
    // Every truncation of the map, and the map followed by a stray byte.
    for (let cut = 1; cut < good.length; cut++) {
      const header = Buffer.concat([head, good.subarray(0, cut)]);
      expect(general(FrameType.PUBLISH, header, Buffer.alloc(0))).toBeInstanceOf(Error);
      const got = decoded([rawFrame(FrameType.PUBLISH, header)]);
      expect(got).toBeInstanceOf(Error);
      expect((got as { name?: string }).name).toBe('FRAME_ERROR');
    }
    expectSameAsGeneral(FrameType.PUBLISH, Buffer.concat([head, good, hex('c0')]));
    const bad = decoded([rawFrame(FrameType.PUBLISH, Buffer.concat([head, map([str('s'), hex('a2 ff fe')])]))]);
    expect((bad as { name?: string }).name).toBe('FRAME_ERROR');
  });

  it('uses no general MessagePack decoding for the usual shapes', () => {
    const spy = vi.spyOn(unpackr, 'unpack');
    const task = { persistent: true, contentType: 'application/json', messageId: '0d6c3c1e-6a55-4b36-a5a7-1f0f2c5d4e11', priority: 5 };
    const frames = decodeChunks([
      rawFrame(FrameType.PUBLISH, pack([1, '', 'q', 0, { persistent: true }]), Buffer.from('a')),
      rawFrame(FrameType.PUBLISH, pack([2, '', 'q', 0, { ...task, expiration: undefined }]), Buffer.from('b')),
      rawFrame(FrameType.DELIVER, pack(['c', 1, false, 1, '', 'q', { persistent: true, timestamp: 1_764_700_000_000 }]), Buffer.from('c')),
    ]);
    expect(spy).not.toHaveBeenCalled();
    expect(frames).toEqual([
      { type: FrameType.PUBLISH, seq: 1, exchange: '', routingKey: 'q', flags: 0, properties: { persistent: true }, body: Buffer.from('a') },
      { type: FrameType.PUBLISH, seq: 2, exchange: '', routingKey: 'q', flags: 0, properties: task, body: Buffer.from('b') },
      {
        type: FrameType.DELIVER,
        consumerTag: 'c',
        deliveryTag: 1,
        redelivered: false,
        deliveryCount: 1,
        exchange: '',
        routingKey: 'q',
        properties: { persistent: true, timestamp: 1_764_700_000_000 },
        body: Buffer.from('c'),
      },
    ]);
    decodeChunks([rawFrame(FrameType.PUBLISH, pack([3, '', 'q', 0, { headers: { a: 1 } }]), Buffer.from('d'))]);
    expect(spy).toHaveBeenCalled();
  });

  it('decodes repeated strings to equal values across frames (the string cache)', () => {
    const chunks: Buffer[] = [];
    const want: MessageProperties[] = [];
    for (let i = 0; i < 300; i++) {
      const p = { persistent: i % 2 === 0, messageId: `m-${i % 7}`, contentType: i % 3 === 0 ? 'a' : 'b', [`k${i % 5}`]: `v${i}` };
      want.push(p as MessageProperties);
      chunks.push(rawFrame(FrameType.PUBLISH, pack([i, '', 'q', 0, p]), Buffer.from('x')));
    }
    const got = decodeChunks([Buffer.concat(chunks)]).map((f) => propsOf(f));
    expect(got).toEqual(want);
  });
});
