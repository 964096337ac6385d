/**
 * The hand-written KV_PUT, KV_APPLIED and OK {revision} (kv-fast.ts): the sends
 * write byte for byte what the general encoder writes, the decoder builds
 * exactly the frame the general path builds (or refuses what it refuses), and
 * both skip the general MessagePack code for the usual shapes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameType, FrameWriter, KvRevision, parseFrame, pack, unpack, type Frame } from '../src/index.js';
import { packr, unpackr } from '../src/msgpack.js';
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

const UINTS = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
const ODD_NUMBERS = [1.5, -1, 2 ** 53, NaN];
const STRINGS = ['', 't.1', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'é', 'clé'];
const OPTIONS: Array<Record<string, unknown>> = [
  {},
  { ttl: 0 },
  { ttl: 86_400_000, expect: 12, wait: 'applied' },
  { expect: 0, applied: true },
  { ttl: 2 ** 40, expect: 2 ** 32, wait: 'stored', applied: false },
  { purge: true },
  { ttl: -1 },
  { ttl: 1.5 },
  { wait: 'x'.repeat(40) },
  { wait: 'é' },
  { ['k'.repeat(32)]: 1 },
  { clé: 1 },
  { nested: { a: 1 } },
  { nil: null },
  { und: undefined },
  Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
];
const BODIES = [Buffer.alloc(0), Buffer.from('{"status":"SUCCESS"}'), Buffer.alloc(20_000, 7)];

afterEach(() => {
  vi.restoreAllMocks();
});

describe('KV_PUT, KV_APPLIED and OK {revision} sends', () => {
  it('write what the general encoder writes, for every width and shape', () => {
    for (const u of [...UINTS, ...ODD_NUMBERS]) {
      for (const s of STRINGS) {
        for (const o of OPTIONS) {
          for (const body of BODIES) {
            same(written((w) => w.kvPut(u, s, s, o, body)).bytes, written((w) => w.sendRaw(FrameType.KV_PUT, [u, s, s, o], body)).bytes);
          }
        }
      }
      for (const r of [...UINTS, ...ODD_NUMBERS]) {
        same(written((w) => w.kvApplied(u, r)).bytes, written((w) => w.sendRaw(FrameType.KV_APPLIED, [u, r])).bytes);
        same(written((w) => w.ok(u, new KvRevision(r))).bytes, written((w) => w.sendRaw(FrameType.OK, [u, { revision: r }])).bytes);
      }
      // Any other result takes the general path.
      for (const result of [null, { revision: u }, { revision: u, created: true }, [1, 2], 'x']) {
        same(written((w) => w.ok(u, result)).bytes, written((w) => w.sendRaw(FrameType.OK, [u, result])).bytes);
      }
    }
  });

  it('leave options that are not plain objects to the general encoder (inherited keys, arrays, Maps)', () => {
    const inherited = Object.create({ ttl: 5 }) as Record<string, unknown>;
    inherited.expect = 1;
    const odd: unknown[] = [inherited, ['a', 1], new Map([['ttl', 5]]), Object.assign(Object.create(null), { ttl: 5 }), Buffer.from('ab')];
    for (const o of odd) {
      same(written((w) => w.kvPut(1, 'b', 'k', o as Record<string, unknown>, Buffer.alloc(0))).bytes, written((w) => w.sendRaw(FrameType.KV_PUT, [1, 'b', 'k', o], Buffer.alloc(0))).bytes);
    }
  });

  it('use no general MessagePack encoding for the usual shapes', () => {
    const spy = vi.spyOn(packr, 'pack');
    written((w) => w.kvPut(7, 'tasks', 't.0d6c3c1e-6a55-4b36-a5a7-1f0f2c5d4e11', { ttl: 0, expect: 1234, wait: 'applied' }, Buffer.from('{}')));
    written((w) => w.kvApplied(7, 1234));
    written((w) => w.ok(7, new KvRevision(1234)));
    expect(spy).not.toHaveBeenCalled();
    written((w) => w.ok(7, { revision: 1 }));
    expect(spy).toHaveBeenCalled();
  });

  it('send nothing and return false past the frame limit, like the general encoder', () => {
    const body = Buffer.alloc(100);
    const exact = written((w) => w.kvPut(1, 'b', 'k', { ttl: 5 }, body)).bytes.length;
    expect(written((w) => w.kvPut(1, 'b', 'k', { ttl: 5 }, body), exact)).toMatchObject({ sent: true });
    expect(written((w) => w.kvPut(1, 'b', 'k', { ttl: 5 }, body), exact - 1)).toEqual({ sent: false, bytes: Buffer.alloc(0) });
    const ok = written((w) => w.ok(1, new KvRevision(300))).bytes.length;
    expect(written((w) => w.ok(1, new KvRevision(300)), ok - 1)).toEqual({ sent: false, bytes: Buffer.alloc(0) });
    const applied = written((w) => w.kvApplied(1, 300)).bytes.length;
    expect(written((w) => w.kvApplied(1, 300), applied - 1)).toEqual({ sent: false, bytes: Buffer.alloc(0) });
  });
});

/** What the general path makes of a header (or the error it throws). */
function general(type: number, header: Buffer, body: Buffer): Frame | Error {
  try {
    return parseFrame(type, unpack(header), body);
  } catch (err) {
    return err as Error;
  }
}

function decoded(type: number, header: Buffer, body: Buffer): Frame | Error {
  try {
    const frames = decodeChunks([rawFrame(type, header, body)]);
    expect(frames).toHaveLength(1);
    return frames[0]!;
  } catch (err) {
    return err as Error;
  }
}

function expectSameAsGeneral(type: number, header: Buffer, body = Buffer.alloc(0)): void {
  const want = general(type, header, body);
  const got = decoded(type, header, body);
  if (want instanceof Error) expect(got).toBeInstanceOf(Error);
  else expect(got).toEqual(want);
}

describe('KV_PUT, KV_APPLIED and OK fast decode', () => {
  it('builds the frame the general path builds, and refuses what it refuses', () => {
    for (const u of [...UINTS, -1, 1.5]) {
      for (const s of STRINGS) {
        for (const o of [...OPTIONS, null]) {
          expectSameAsGeneral(FrameType.KV_PUT, pack([u, s, s, o]), BODIES[1]!);
        }
      }
      for (const r of [...UINTS, -1, 1.5, 'x']) {
        expectSameAsGeneral(FrameType.KV_APPLIED, pack([u, r]));
        expectSameAsGeneral(FrameType.OK, pack([u, { revision: r }]));
      }
      for (const result of [null, { revision: 1, created: true }, { revisioN: 1 }, { rev: 1 }, [1], 'revision']) expectSameAsGeneral(FrameType.OK, pack([u, result]));
    }
    for (const body of BODIES) expectSameAsGeneral(FrameType.KV_PUT, pack([1, 'tasks', 't.1', { ttl: 0 }]), body);
    // Extra trailing fields are ignored by the general path: the fast one leaves them to it.
    expectSameAsGeneral(FrameType.KV_PUT, pack([1, 'b', 'k', {}, 'extra']), Buffer.from('v'));
    expectSameAsGeneral(FrameType.KV_APPLIED, pack([1, 2, 'extra']));
    expectSameAsGeneral(FrameType.OK, pack([1, { revision: 2 }, 'extra']));
    // A key that would set the prototype, and one given twice.
    expectSameAsGeneral(FrameType.KV_PUT, Buffer.concat([Buffer.from([0x94, 0x01, 0xa1, 0x62, 0xa1, 0x6b, 0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x05])]), Buffer.from('v'));
    expectSameAsGeneral(FrameType.KV_PUT, Buffer.from([0x94, 0x01, 0xa1, 0x62, 0xa1, 0x6b, 0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]), Buffer.from('v'));
    // Frames without a body that carry one, and a truncated header.
    expectSameAsGeneral(FrameType.KV_APPLIED, pack([1, 2]), Buffer.from('x'));
    expectSameAsGeneral(FrameType.OK, pack([1, { revision: 2 }]), Buffer.from('x'));
    expectSameAsGeneral(FrameType.OK, Buffer.from([0x92, 0x01, 0x81, 0xa8, 0x72, 0x65, 0x76]));
  });

  it('reads names it keeps (the last bucket, usual option names and values) exactly: near misses and alternating buckets decode as the general path does', () => {
    const buckets = ['tasks', 'taskz', 'tasks', 'Tasks', 'task', 'tasks2', 'tasks', 'a', 'b', 'a'];
    const options = [
      { ttl: 1 },
      { tt1: 1 },
      { ttL: 1, expect: 2 },
      { expecT: 2 },
      { wait: 'applied' },
      { wait: 'applieD' },
      { wait: 'stored' },
      { wait: 'store' },
      { wai: 'stored' },
      { applied: true, appliedx: false },
      { purge: 'purge' },
      { stored: 'ttl' },
    ];
    for (const b of buckets) for (const o of options) expectSameAsGeneral(FrameType.KV_PUT, pack([3, b, 'k.1', o]), Buffer.from('v'));
    const frames = decodeChunks(buckets.map((b) => rawFrame(FrameType.KV_PUT, pack([3, b, 'k', { wait: 'stored' }]), Buffer.from('v'))));
    expect(frames.map((f) => (f as { bucket: string }).bucket)).toEqual(buckets);
  });

  it('uses no general MessagePack decoding for the usual shapes', () => {
    const spy = vi.spyOn(unpackr, 'unpack');
    const frames = decodeChunks([
      rawFrame(FrameType.KV_PUT, pack([7, 'tasks', 't.abc', { ttl: 86_400_000, expect: 1234, wait: 'applied', applied: true }]), Buffer.from('{}')),
      rawFrame(FrameType.KV_APPLIED, pack([7, 1234])),
      rawFrame(FrameType.OK, pack([7, { revision: 1235 }])),
    ]);
    expect(spy).not.toHaveBeenCalled();
    expect(frames).toEqual([
      { type: FrameType.KV_PUT, requestId: 7, bucket: 'tasks', key: 't.abc', options: { ttl: 86_400_000, expect: 1234, wait: 'applied', applied: true }, body: Buffer.from('{}') },
      { type: FrameType.KV_APPLIED, requestId: 7, revision: 1234 },
      { type: FrameType.OK, requestId: 7, result: { revision: 1235 } },
    ]);
  });
});
