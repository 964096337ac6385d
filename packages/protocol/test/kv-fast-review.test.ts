/**
 * Review of kvbroker b8a0169 (KV_PUT decode keeps the last bucket name and interns the usual
 * option names and values): random KV_PUT headers, alone and as long streams through one
 * decoder (so the kept bucket name meets names that differ in one byte, in length, or are not
 * ASCII), and byte-corrupted copies of them, decode exactly as the general path decodes them,
 * or are refused when it refuses them.
 */
import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameType, pack, parseFrame, type Frame } from '../src/index.js';
import { unpackRange } from '../src/msgpack.js';
import { checkProfile } from '../src/profile.js';
import { rawFrame } from './helpers.js';
import { prng } from '../../../test-support/prng.js';

/** The decoder's general path (decoder.ts, after the fast ones): the profile check, the MessagePack reader, parseFrame. */
function general(header: Buffer, body: Buffer): Frame | Error {
  try {
    checkProfile(header, 0, header.length);
    return parseFrame(FrameType.KV_PUT, unpackRange(header, 0, header.length), body);
  } catch (err) {
    return err as Error;
  }
}

const BUCKETS = ['tasks', 'taskz', 'tasKs', 'task', 'tasks.', 'Tasks', 'taskś', 'tàsks', 'a', '', 'b'.repeat(31), 'b'.repeat(30) + 'c', 'b'.repeat(32), 'x'.repeat(200) + 'y', 'x'.repeat(201), 'é'];
const KEYS = ['ttl', 'expect', 'wait', 'applied', 'stored', 'purge', 'tt', 'ttl2', 'tTl', 'expecT', 'waiT', 'applieD', 'storeD', 'purgE', 'é', 'ttlé', '__proto__', 'constructor', 'x'.repeat(31), 'x'.repeat(40)];
const VALUES: unknown[] = [0, 1, 127, 128, 65_535, 2 ** 32, 2 ** 53 - 1, -1, 1.5, true, false, null, 'applied', 'stored', 'applieD', 'store', 'storedd', 'ttl', 'purge', 'é', 'appliéd', '', 'x'.repeat(40), [1], { a: 1 }];

describe('KV_PUT fast decode against the general path (review, random)', () => {
  for (const seed of [11, 12, 13, 14]) {
    it(`random headers, one stream and one by one, and corrupted copies (seed ${seed})`, () => {
      const r = prng(seed);
      const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
      const headers: Buffer[] = [];
      for (let i = 0; i < 600; i++) {
        const options: Record<string, unknown> = {};
        const n = Math.floor(r() * 5);
        for (let k = 0; k < n; k++) options[pick(KEYS)] = pick(VALUES);
        const o = r() < 0.05 ? null : r() < 0.03 ? 'notamap' : options;
        const bucket = r() < 0.03 ? 7 : pick(BUCKETS);
        headers.push(pack([1 + Math.floor(r() * 1000), bucket, pick(BUCKETS), o]));
      }
      // Corrupted copies: one byte changed.
      for (let i = 0; i < 300; i++) {
        const h = Buffer.from(pick(headers));
        h[Math.floor(r() * h.length)] = Math.floor(r() * 256);
        headers.push(h);
      }
      const body = Buffer.from('v');
      const want = headers.map((h) => general(h, body));
      // One by one, each through its own decoder.
      headers.forEach((h, i) => {
        const d = new FrameDecoder(1 << 20);
        let got: Frame | Error | undefined;
        try {
          d.push(rawFrame(FrameType.KV_PUT, h, body), (f) => (got = f));
        } catch (err) {
          got = err as Error;
        }
        const w = want[i]!;
        if (w instanceof Error) expect(got, `#${i} ${h.toString('hex')}`).toBeInstanceOf(Error);
        else expect(got, `#${i} ${h.toString('hex')}`).toEqual(w);
      });
      // The valid ones as one stream through one decoder: the kept bucket name meets every other.
      const valid = headers.filter((_, i) => !(want[i] instanceof Error));
      const d = new FrameDecoder(1 << 20);
      const got: Frame[] = [];
      d.push(Buffer.concat(valid.map((h) => rawFrame(FrameType.KV_PUT, h, body))), (f) => got.push(f));
      expect(got).toEqual(want.filter((w) => !(w instanceof Error)));
      // Interleaved with the general path's results: strings are equal, whatever their origin.
      for (const f of got) expect(typeof (f as { bucket: unknown }).bucket).toBe('string');
    });
  }
});
