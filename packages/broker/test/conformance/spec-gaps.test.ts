/**
 * Behaviours the spec now states that a client author had to probe for:
 * close sequencing (4.5), EXCHANGE_DELETE ifUnused (8.2 = 9.3), the requeue
 * position (7.3), nil inside headers (3) and x-delay beside x-not-before
 * (9.8). Raw socket, hand-built frames.
 */
import { describe, expect, it } from 'vitest';
import { conformanceHarness } from './harness.js';
import { T, hex } from './foreign-client.js';

const h = conformanceHarness();

describe('close sequencing', () => {
  it('an ERROR id 0 that ends the connection is immediately followed by CLOSE', async () => {
    const c = await h.open();
    c.send(0x09, hex('90'));
    await c.closedBy();
    const types = c.frames.filter((f) => f.type !== T.HEARTBEAT).map((f) => f.type);
    expect(types).toEqual([T.ERROR, T.CLOSE]);
    expect(c.frames[0]!.header.slice(0, 2)).toEqual([0, 501]);
  });

  it('a client CLOSE carrying an error code gets CLOSE_OK and nothing else', async () => {
    const c = await h.open();
    c.send(T.CLOSE, [503, 'COMMAND_INVALID', 'unexpected frame']);
    await c.closedBy();
    expect(c.frames.filter((f) => f.type !== T.HEARTBEAT).map((f) => f.type)).toEqual([T.CLOSE_OK]);
  });
});

describe('EXCHANGE_DELETE ifUnused', () => {
  it('refuses while the exchange is the destination of a binding', async () => {
    const c = await h.open();
    await c.ok(T.EXCHANGE_DECLARE, ['src', 'fanout', {}]);
    await c.ok(T.EXCHANGE_DECLARE, ['dst', 'fanout', {}]);
    await c.ok(T.EXCHANGE_BIND, ['dst', 'src', '', null]);
    const reply = await c.request(T.EXCHANGE_DELETE, ['dst', { ifUnused: true }]);
    expect([reply.type, reply.header[1]]).toEqual([T.ERROR, 406]);
  });
});

describe('messages and headers', () => {
  it('a nacked message goes back to its original position; nil header values are kept', async () => {
    const c = await h.open();
    await c.ok(T.QUEUE_DECLARE, ['pos', {}]);
    await c.publish('', 'pos', { headers: { keep: null } }, Buffer.from('first'));
    await c.publish('', 'pos', null, Buffer.from('second'));
    const first = await c.request(T.GET, ['pos', {}]);
    expect(first.body.toString()).toBe('first');
    expect((first.header[6] as { headers: Record<string, unknown> }).headers).toHaveProperty('keep', null);
    c.send(T.NACK, [first.header[1], false, true]);
    const again = await c.request(T.GET, ['pos', { noAck: true }]);
    expect(again.body.toString()).toBe('first');
  });

  it('x-delay stays beside the x-not-before the server adds', async () => {
    const c = await h.open();
    await c.ok(T.QUEUE_DECLARE, ['later', {}]);
    const consumer = await h.open();
    await consumer.ok(T.CONSUME, ['later', { noAck: true }]);
    await c.publish('', 'later', { headers: { 'x-delay': 1 } }, Buffer.from('d'));
    const d = await consumer.next(T.DELIVER);
    const headers = (d.header[6] as { headers: Record<string, unknown> }).headers;
    expect(headers['x-delay']).toBe(1);
    // A timestamp in ms: a uint64 on the wire (spec 3, "Integers"), which this client reads as a BigInt.
    expect(typeof headers['x-not-before']).toBe('bigint');
    expect(d.headerBytes.toString('hex')).toContain(Buffer.from('x-not-before').toString('hex') + 'cf');
  });
});
