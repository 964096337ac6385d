/**
 * The MessagePack profile (spec 3) as the broker enforces it on received
 * headers: non-string map keys and invalid UTF-8 are FRAME_ERROR, and 64-bit
 * integers in application maps are kept exactly (BigInt), while a protocol
 * field above 2^53-1 is FRAME_ERROR. Hand-made header bytes over a raw socket.
 */
import { describe, expect, it } from 'vitest';
import { closedWith, conformanceHarness } from './harness.js';
import { T, hex } from './foreign-client.js';

const h = conformanceHarness();

describe('map keys must be strings', () => {
  const cases: [string, string][] = [
    // QUEUE_DECLARE [1, "q", {1: true}]
    ['options {1: true}', '93 01 a1 71 81 01 c3'],
    // QUEUE_DECLARE [1, "q", {arguments: {5: 1}}]
    ['arguments {5: 1}', '93 01 a1 71 81 a9 61 72 67 75 6d 65 6e 74 73 81 05 01'],
  ];
  for (const [label, bytes] of cases) {
    it(`${label} is FRAME_ERROR`, async () => {
      const c = await h.open();
      c.send(T.QUEUE_DECLARE, hex(bytes));
      await closedWith(c, 501);
    });
  }

  it('headers {7: "x"} in a PUBLISH is FRAME_ERROR', async () => {
    const c = await h.open();
    // PUBLISH [1, "", "q", 0, {headers: {7: "x"}}]
    c.send(T.PUBLISH, hex('95 01 a0 a1 71 00 81 a7 68 65 61 64 65 72 73 81 07 a1 78'), Buffer.from('b'));
    await closedWith(c, 501);
  });
});

describe('strings must be valid UTF-8', () => {
  it('a queue name ff fe is FRAME_ERROR (it is not rewritten to U+FFFD)', async () => {
    const c = await h.open();
    c.send(T.QUEUE_DECLARE, hex('93 01 a2 ff fe 80'));
    await closedWith(c, 501);
    const d = await h.open();
    // The same bytes never named a queue: ff fd cannot collide with it either.
    const list = (await d.ok(T.QUEUE_LIST, [])) as Array<{ name: string }>;
    expect(list.map((q) => q.name).filter((n) => n.includes('\ufffd'))).toEqual([]);
  });
});

describe('64-bit integers', () => {
  it('a header value of 2^53+1 comes back exactly, as a 64-bit integer', async () => {
    const c = await h.open();
    await c.ok(T.QUEUE_DECLARE, ['ints', {}]);
    // PUBLISH [1, "", "ints", 0, {headers: {n: uint64 2^53+1}}]
    c.send(T.PUBLISH, hex('95 01 a0 a4 69 6e 74 73 00 81 a7 68 65 61 64 65 72 73 81 a1 6e cf 00 20 00 00 00 00 00 01'), Buffer.from('b'));
    await c.next(T.CONFIRM);
    const got = await c.request(T.GET, ['ints', { noAck: true }]);
    const headers = (got.header[6] as { headers: { n: unknown } }).headers;
    expect(headers.n).toBe(2n ** 53n + 1n);
  });

  it('integers beyond 32 bits reach consumers as uint64 ints, never float64: header values, timestamp, x-death.time', async () => {
    const c = await h.open();
    await c.ok(T.QUEUE_DECLARE, ['wide', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'wide.dlq' } }]);
    await c.ok(T.QUEUE_DECLARE, ['wide.dlq', {}]);
    // PUBLISH [1, "", "wide", 0, {timestamp: uint64 1767225600000, headers: {n: uint64 2^40}}]
    c.send(
      T.PUBLISH,
      hex('95 01 a0 a4 77 69 64 65 00 82 a9 74 69 6d 65 73 74 61 6d 70 cf 00 00 01 9b 76 da a8 00 a7 68 65 61 64 65 72 73 81 a1 6e cf 00 00 01 00 00 00 00 00'),
      Buffer.from('b'),
    );
    await c.next(T.CONFIRM);
    const got = await c.request(T.GET, ['wide', { noAck: false }]);
    expect(got.type).toBe(T.GET_OK);
    // The same 9 bytes as sent: key "timestamp" then uint64, key "n" then uint64.
    expect(got.headerBytes.toString('hex')).toContain('a974696d657374616d70cf0000019b76daa800');
    expect(got.headerBytes.toString('hex')).toContain('a16ecf0000010000000000');
    expect(got.headerBytes.includes(0xcb)).toBe(false);
    // Rejected without requeue: dead-lettered with x-death, whose time is a broker timestamp in ms.
    c.send(T.REJECT, [got.header[1], false]);
    const dead = await c.request(T.GET, ['wide.dlq', { noAck: true }]);
    expect(dead.type).toBe(T.GET_OK);
    const death = (dead.header[6] as { headers: { 'x-death': Array<{ time: unknown }> } }).headers['x-death'][0]!;
    expect(typeof death.time).toBe('bigint'); // int64AsType 'bigint': it was an int on the wire
    expect(dead.headerBytes.toString('hex')).toContain('a474696d65cf'); // "time" then uint64
    expect(dead.headerBytes.includes(0xcb)).toBe(false);
  });

  it('a protocol field above 2^53-1 is FRAME_ERROR', async () => {
    const c = await h.open();
    // ACK [uint64 2^53, false]
    c.send(T.ACK, hex('92 cf 00 20 00 00 00 00 00 00 c2'));
    await closedWith(c, 501);
  });
});
