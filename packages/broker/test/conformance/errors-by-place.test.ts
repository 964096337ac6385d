/**
 * One rule by where a bad value sits (spec 10.1), the request id range
 * (spec 5), name limits in UTF-8 bytes (spec 5.1), the heartbeat minimum
 * (spec 4.3) and unknown authentication mechanisms (spec 4.2): each driven
 * over a raw socket with hand-made frames.
 */
import { describe, expect, it } from 'vitest';
import { closedWith, conformanceHarness } from './harness.js';
import { T, hex } from './foreign-client.js';

const h = conformanceHarness();

describe('where a bad value sits decides its error', () => {
  it('a header field of the wrong type is FRAME_ERROR and closes', async () => {
    const c = await h.open();
    c.send(T.QUEUE_DECLARE, [1, 42, {}]);
    await closedWith(c, 501);
  });

  it('a message property out of range is PUBLISH_NACK INVALID_ARGUMENT; the connection stays open', async () => {
    const c = await h.open();
    await c.ok(T.QUEUE_DECLARE, ['p', {}]);
    const nack = await c.publish('', 'p', { priority: 300 }, Buffer.from('x'));
    expect(nack.type).toBe(T.PUBLISH_NACK);
    expect(nack.header.slice(1, 3)).toEqual([400, 'INVALID_ARGUMENT']);
    const nack2 = await c.publish('', 'p', { persistent: 'yes' }, Buffer.from('x'));
    expect(nack2.header.slice(1, 3)).toEqual([400, 'INVALID_ARGUMENT']);
    expect((await c.publish('', 'p', { priority: 3 }, Buffer.from('y'))).type).toBe(T.CONFIRM);
    expect(((await c.ok(T.QUEUE_DECLARE, ['p', { passive: true }])) as { messageCount: number }).messageCount).toBe(1);
  });

  it('an option out of range is ERROR INVALID_ARGUMENT on that request; the connection stays open', async () => {
    const c = await h.open();
    await c.ok(T.QUEUE_DECLARE, ['o', {}]);
    for (const prefetch of [-1, 1.5]) {
      const reply = await c.request(T.CONSUME, ['o', { prefetch }]);
      expect([reply.type, reply.header[1]]).toEqual([T.ERROR, 400]);
    }
    await c.ok(T.QUEUE_DECLARE, ['o', { passive: true }]);
  });
});

describe('requestId range', () => {
  for (const [label, bytes] of [
    ['0', '00'],
    ['2^32', 'cf 00 00 00 01 00 00 00 00'],
  ] as const) {
    it(`a request with requestId ${label} is FRAME_ERROR`, async () => {
      const c = await h.open();
      // [requestId, "", {}] as QUEUE_DECLARE
      c.send(T.QUEUE_DECLARE, hex(`93 ${bytes} a0 80`));
      await closedWith(c, 501);
    });
  }

  it('accepts 2^32 - 1 and echoes it', async () => {
    const c = await h.open();
    c.send(T.QUEUE_DECLARE, hex('93 ce ff ff ff ff a0 80'));
    const ok = await c.next(T.OK);
    expect(ok.header[0]).toBe(0xffffffff);
  });
});

describe('name limits count UTF-8 bytes', () => {
  it('a 255-byte name is fine, 256 bytes is INVALID_ARGUMENT, however few characters', async () => {
    const c = await h.open();
    const euro = '€'; // 3 UTF-8 bytes, 1 UTF-16 unit
    await c.ok(T.QUEUE_DECLARE, [euro.repeat(85), {}]);
    const reply = await c.request(T.QUEUE_DECLARE, [euro.repeat(85) + 'x', {}]);
    expect([reply.type, reply.header[1]]).toEqual([T.ERROR, 400]);
    const ex = await c.request(T.EXCHANGE_DECLARE, ['e'.repeat(256), 'direct', {}]);
    expect([ex.type, ex.header[1]]).toEqual([T.ERROR, 400]);
  });

  it('routing keys and consumer tags have the same 255-byte limit', async () => {
    const c = await h.open();
    await c.ok(T.QUEUE_DECLARE, ['rk', {}]);
    const bind = await c.request(T.QUEUE_BIND, ['rk', 'amq.direct', 'k'.repeat(256), null]);
    expect([bind.type, bind.header[1]]).toEqual([T.ERROR, 400]);
    const consume = await c.request(T.CONSUME, ['rk', { consumerTag: 't'.repeat(256) }]);
    expect([consume.type, consume.header[1]]).toEqual([T.ERROR, 400]);
    const nack = await c.publish('amq.direct', 'k'.repeat(256), null, Buffer.from('x'));
    expect(nack.header.slice(1, 3)).toEqual([400, 'INVALID_ARGUMENT']);
  });
});

describe('handshake', () => {
  it('raises a non-zero heartbeat proposal below 1000 ms to 1000 ms', async () => {
    const c = await h.open({ heartbeatMs: 1 });
    expect(c.openOk!.header[3]).toBe(1000);
    const off = await h.open({ heartbeatMs: 0 });
    expect(off.openOk!.header[3]).toBe(0);
  });

  it('refuses an unknown mechanism with ACCESS_REFUSED listing the mechanisms', async () => {
    const c = await h.connect();
    c.send(T.OPEN, [1, {}, { mechanism: 'SCRAM-SHA-256', username: 'guest' }, 0, 0]);
    const error = await c.next(T.ERROR);
    expect(error.header.slice(0, 3)).toEqual([0, 403, 'ACCESS_REFUSED']);
    expect(error.header[4]).toEqual({ mechanisms: ['PLAIN'] });
    expect((await c.next(T.CLOSE)).header[0]).toBe(403);
  });
});
