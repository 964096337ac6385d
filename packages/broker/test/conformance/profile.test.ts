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

  it('a protocol field above 2^53-1 is FRAME_ERROR', async () => {
    const c = await h.open();
    // ACK [uint64 2^53, false]
    c.send(T.ACK, hex('92 cf 00 20 00 00 00 00 00 00 c2'));
    await closedWith(c, 501);
  });
});
