import { describe, it, expect } from 'vitest';
import { pack, unpack, encodeFrame, FrameType, FrameWriter } from '../src/index.js';
import { packScratch } from '../src/msgpack.js';

const hex = (b: Buffer) => b.toString('hex');

describe('integers beyond 32 bits are written as msgpack ints (spec 3, "Integers")', () => {
  it('writes 2^32 … 2^64 as uint64 and −2^31−1 … −2^63 as int64, with the exact bytes', () => {
    expect(hex(pack(2 ** 32))).toBe('cf0000000100000000');
    expect(hex(pack(2 ** 40))).toBe('cf0000010000000000');
    expect(hex(pack(2 ** 53 - 1))).toBe('cf001fffffffffffff');
    expect(hex(pack(1_767_225_600_000))).toBe('cf0000019b76daa800'); // a timestamp in ms
    expect(hex(pack(2 ** 64 - 2048))).toBe('cffffffffffffff800'); // the largest float64 below 2^64
    expect(hex(pack(-(2 ** 31) - 1))).toBe('d3ffffffff7fffffff');
    expect(hex(pack(-(2 ** 40)))).toBe('d3ffffff0000000000');
    expect(hex(pack(-(2 ** 63)))).toBe('d38000000000000000');
  });

  it('leaves 32-bit values as they were and real floats as float64', () => {
    expect(hex(pack(0xffffffff))).toBe('ceffffffff');
    expect(hex(pack(-(2 ** 31)))).toBe('d280000000');
    expect(hex(pack(1.5))).toBe('cb3ff8000000000000');
    expect(hex(pack(2 ** 64))).toBe('cb43f0000000000000'); // beyond uint64
    expect(hex(pack(-(2 ** 63) - 4096))).toBe('cbc3e0000000000002'); // below int64
    expect(hex(pack(Number.NaN)).slice(0, 2)).toBe('cb');
  });

  it('finds the numbers inside headers, arrays and nested maps, and leaves 0xcb bytes in strings and binaries alone', () => {
    const value = { s: 'ˁ', b: Buffer.from([0xcb, 1, 2, 3, 4, 5, 6, 7, 8]), n: [1, { t: 2 ** 40 }], x: -(2 ** 33) };
    expect(hex(pack(value))).toBe(
      '84' +
        'a173a2cb81' + // s: "ˁ" (UTF-8 cb 81)
        'a162c409cb0102030405060708' + // b: bin8 holding a 0xcb byte
        'a16e9201' + '81a174cf0000010000000000' + // n: [1, {t: 2^40}]
        'a178d3fffffffe00000000', // x: −2^33
    );
    expect(unpack(pack(value))).toStrictEqual(value);
  });

  it('the scratch encoder does the same', () => {
    expect(hex(packScratch([2 ** 40, 'a']))).toBe('92cf0000010000000000a161');
  });

  it('a header value is sent as an int and decoded to the same number (BigInt beyond 2^53)', () => {
    const frame = {
      type: FrameType.DELIVER,
      consumerTag: 'c',
      deliveryTag: 2 ** 33,
      redelivered: false,
      exchange: '',
      routingKey: 'q',
      properties: { timestamp: 2 ** 41, headers: { big: 2n ** 53n + 1n, n: 2 ** 40 } },
      body: Buffer.alloc(0),
    } as const;
    const bytes = encodeFrame(frame as never);
    expect(bytes.includes(Buffer.from('cf0000000200000000', 'hex'))).toBe(true); // deliveryTag 2^33
    expect(bytes.includes(Buffer.from('a974696d657374616d70cf0000020000000000', 'hex'))).toBe(true); // timestamp 2^41
    expect(bytes.includes(Buffer.from('a3626967d30020000000000001', 'hex'))).toBe(true); // big: BigInt as int64
    expect(bytes.includes(Buffer.from('a16ecf0000010000000000', 'hex'))).toBe(true); // n: 2^40
    expect(bytes.includes(0xcb)).toBe(false);
  });

  it('the frame writer (the broker hot path) writes the same bytes', () => {
    const chunks: Buffer[] = [];
    const w = new FrameWriter({ write: (c) => (chunks.push(Buffer.from(c)), true), cork() {}, uncork() {} });
    w.confirm(2 ** 40, false);
    w.flush();
    expect(hex(Buffer.concat(chunks))).toBe('00000010' + '21' + '0000000b' + '92cf0000010000000000c2');
  });
});
