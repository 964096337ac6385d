/**
 * Fuzzing the decoder with random bytes and mutated valid streams, fed in
 * random splits. Invariants: the only thing ever thrown is a ProtocolError
 * (FRAME_ERROR or FRAME_TOO_LARGE); every push returns; buffered bytes never
 * exceed the maximum frame size; a failure leaves no shared state behind
 * (the MessagePack decoder is a module singleton).
 * Seeded: a failure message names the seed and case to replay.
 */
import { describe, it, expect } from 'vitest';
import {
  encodeFrame,
  ErrorCodes,
  FrameDecoder,
  FrameType,
  frameTypeNames,
  ProtocolError,
  type Frame,
} from '@warren/protocol';
import { sampleFrames, splitAt } from './helpers.js';
import { rng, type Rng } from '../../../test-support/prng.js';

const MAX = 4096;
const SEED = Number(process.env.FUZZ_SEED ?? 0xc0ffee);
const CASES = Number(process.env.FUZZ_CASES ?? 3000);

const valid = sampleFrames().filter((f) => encodeFrame(f).length <= MAX);
const validBytes = valid.map(encodeFrame);
const reference = encodeFrame(valid.find((f) => f.type === FrameType.DELIVER)!);
const referenceHex = reference.toString('hex');

/** Splits into 1..8 random chunks (sometimes single bytes). */
function randomSplit(r: Rng, buf: Buffer): Buffer[] {
  if (buf.length > 1 && r.next() < 0.05) return Array.from(buf, (_, i) => buf.subarray(i, i + 1));
  const cuts = Array.from({ length: r.int(0, 7) }, () => r.int(0, buf.length)).sort((a, b) => a - b);
  return splitAt(buf, cuts);
}

/** A random stream of valid frames, then 1..4 mutations. */
function mutatedStream(r: Rng): Buffer {
  let buf = Buffer.concat(Array.from({ length: r.int(1, 6) }, () => r.pick(validBytes)));
  for (let m = r.int(1, 4); m > 0; m--) {
    const at = r.int(0, buf.length - 1);
    switch (r.int(0, 5)) {
      case 0: // bit flip
        buf = Buffer.from(buf);
        buf[at] = buf[at]! ^ (1 << r.int(0, 7));
        break;
      case 1: // random byte
        buf = Buffer.from(buf);
        buf[at] = r.int(0, 255);
        break;
      case 2: // truncation
        buf = buf.subarray(0, at);
        break;
      case 3: // insertion
        buf = Buffer.concat([buf.subarray(0, at), r.bytes(r.int(1, 16)), buf.subarray(at)]);
        break;
      case 4: // deletion
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(buf.length, at + r.int(1, 16)))]);
        break;
      case 5: // interesting value in a length field or MessagePack prefix
        buf = Buffer.from(buf);
        buf[at] = r.pick([0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xcf, 0xd4, 0xd6, 0xd7, 0xd8, 0xdb, 0xdd, 0xdf, 0xff]);
        break;
    }
    if (buf.length === 0) break;
  }
  return buf;
}

/** Random bytes behind a plausible prelude, so the header parser gets exercised too. */
function randomFrameish(r: Rng): Buffer {
  const body = r.bytes(r.int(0, 300));
  if (r.next() < 0.3) return body; // pure noise: usually a huge length prefix
  const prelude = Buffer.alloc(9);
  prelude.writeUInt32BE(r.next() < 0.8 ? 5 + body.length : r.int(0, 0xffffffff), 0);
  prelude[4] = r.next() < 0.8 ? r.pick(Object.values(FrameType)) : r.int(0, 255);
  prelude.writeUInt32BE(r.next() < 0.8 ? r.int(0, body.length) : r.int(0, 0xffffffff), 5);
  return Buffer.concat([prelude, body]);
}

function check(bytes: Buffer, r: Rng, label: string): 'ok' | 'error' {
  const decoder = new FrameDecoder(MAX);
  let outcome: 'ok' | 'error' = 'ok';
  for (const chunk of randomSplit(r, bytes)) {
    try {
      decoder.push(chunk, (frame: Frame) => {
        if (frameTypeNames[frame.type] === undefined) throw new Error(`${label}: decoded an unknown frame type`);
      });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw new Error(`${label}: threw a non-ProtocolError: ${String(err)}`, { cause: err });
      if (err.code !== ErrorCodes.FRAME_ERROR && err.code !== ErrorCodes.FRAME_TOO_LARGE) {
        throw new Error(`${label}: unexpected code ${err.code}`);
      }
      outcome = 'error';
      break;
    }
    if (decoder.bufferedBytes > MAX) throw new Error(`${label}: buffered ${decoder.bufferedBytes} > ${MAX}`);
  }
  if (outcome === 'error') {
    // A failed decoder must keep failing.
    let again: unknown;
    try {
      decoder.push(reference, () => {});
    } catch (err) {
      again = err;
    }
    if (!(again instanceof ProtocolError)) throw new Error(`${label}: failed decoder accepted input again`);
  }
  // No shared state may leak from this input into the next connection's decoding.
  const out: Frame[] = [];
  new FrameDecoder(MAX).push(reference, (f) => out.push(f));
  if (out.length !== 1 || encodeFrame(out[0]!).toString('hex') !== referenceHex) {
    throw new Error(`${label}: a fresh decoder no longer decodes the reference frame`);
  }
  return outcome;
}

describe(`decoder fuzz (seed ${SEED}, ${CASES} cases per kind)`, () => {
  it('random byte strings', () => {
    const r = rng(SEED);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < CASES; i++) outcomes[check(randomFrameish(r), r, `random case ${i} seed ${SEED}`)]++;
    // Sanity: the generator produces both accepted and refused inputs.
    expect(outcomes.error).toBeGreaterThan(CASES / 2);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it('mutations of valid streams', () => {
    const r = rng(SEED ^ 0x9e3779b9);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < CASES; i++) outcomes[check(mutatedStream(r), r, `mutation case ${i} seed ${SEED}`)]++;
    expect(outcomes.error).toBeGreaterThan(CASES / 4);
    expect(outcomes.ok).toBeGreaterThan(CASES / 20);
  });

  it('unmutated random streams always decode completely', () => {
    const r = rng(SEED + 1);
    for (let i = 0; i < 200; i++) {
      const picks = Array.from({ length: r.int(1, 10) }, () => r.int(0, valid.length - 1));
      const bytes = Buffer.concat(picks.map((p) => validBytes[p]!));
      const decoder = new FrameDecoder(MAX);
      const out: Frame[] = [];
      for (const chunk of randomSplit(r, bytes)) decoder.push(chunk, (f) => out.push(f));
      expect(Buffer.concat(out.map(encodeFrame)).equals(bytes), `case ${i}`).toBe(true);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });
});
