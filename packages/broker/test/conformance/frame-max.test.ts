/**
 * Spec 2, rule 8: the server never sends a frame longer than the receiver's
 * negotiated frameMax. A message too large for a consumer goes to one that
 * can carry it, else it is dead-lettered with reason frame-too-large; a GET
 * skips it the same way; a RETURN that would not fit becomes PUBLISH_NACK
 * NO_ROUTE. Driven over a raw socket by a client that closes on any frame
 * above its frameMax, as a spec-following client must (before the fix this
 * looped: close, requeue, redeliver, close, ...).
 */
import { describe, expect, it } from 'vitest';
import { conformanceHarness } from './harness.js';
import { ForeignClient, T, frameBytes } from './foreign-client.js';

const h = conformanceHarness();

/** Queue `big` dead-letters through the default exchange into queue `dead`. */
async function declareQueues(c: ForeignClient): Promise<void> {
  await c.ok(T.QUEUE_DECLARE, ['dead', {}]);
  await c.ok(T.QUEUE_DECLARE, ['big', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' } }]);
}

/** The next message dead-lettered into `dead`, read by a consumer with the largest frameMax. */
async function deadLettered(): Promise<{ body: Buffer; reason: unknown }> {
  const reader = await h.open({ frameMax: 0 });
  await reader.ok(T.CONSUME, ['dead', { noAck: true }]);
  const d = await reader.next(T.DELIVER);
  const props = d.header[6] as { headers: { 'x-death': Array<{ reason: string }> } };
  return { body: d.body, reason: props.headers['x-death'][0]!.reason };
}

describe('frames never exceed the receiver frameMax', () => {
  it('negotiates 4096 for a consumer that asks for it', async () => {
    const small = await h.open({ frameMax: 4096 });
    expect(small.frameMax).toBe(4096);
  });

  it('dead-letters a message no consumer can carry (frame-too-large), with no endless loop', async () => {
    const publisher = await h.open({ frameMax: 0 });
    await declareQueues(publisher);
    const small = await h.open({ frameMax: 4096 });
    const tag = ((await small.ok(T.CONSUME, ['big', { consumerTag: 'small' }])) as { consumerTag: string }).consumerTag;
    const big = Buffer.alloc(10_000, 7);
    expect((await publisher.publish('', 'big', null, big)).type).toBe(T.CONFIRM);
    const dead = await deadLettered();
    expect(dead.reason).toBe('frame-too-large');
    expect(dead.body.equals(big)).toBe(true);
    // The small consumer is still open and still served.
    await publisher.publish('', 'big', null, Buffer.from('small'));
    const d = await small.next(T.DELIVER);
    expect(d.header[0]).toBe(tag);
    expect(d.body.toString()).toBe('small');
    expect(small.oversized).toEqual([]);
    expect(small.closed).toBe(false);
  });

  it('gives the message to a consumer whose frameMax can carry it', async () => {
    const publisher = await h.open({ frameMax: 0 });
    await declareQueues(publisher);
    const small = await h.open({ frameMax: 4096 });
    const large = await h.open({ frameMax: 0 });
    await small.ok(T.CONSUME, ['big', { consumerTag: 'small' }]);
    await large.ok(T.CONSUME, ['big', { consumerTag: 'large' }]);
    const big = Buffer.alloc(10_000, 1);
    for (let i = 0; i < 4; i++) await publisher.publish('', 'big', null, big);
    for (let i = 0; i < 4; i++) {
      const d = await large.next(T.DELIVER);
      expect(d.body.equals(big)).toBe(true);
      large.send(T.ACK, [d.header[1], false]);
    }
    expect(small.oversized).toEqual([]);
    expect(small.frames.filter((f) => f.type === T.DELIVER)).toEqual([]);
    expect((await publisher.ok(T.QUEUE_DECLARE, ['dead', { passive: true }])) as { messageCount: number }).toMatchObject({ messageCount: 0 });
  });

  it('keeps the exact case of the issue: a 65,536-byte PUBLISH on a 65,536 connection is never sent as a 65,539-byte DELIVER', async () => {
    const publisher = await h.open({ frameMax: 65536 });
    await declareQueues(publisher);
    const consumer = await h.open({ frameMax: 65536 });
    await consumer.ok(T.CONSUME, ['big', {}]);
    // The PUBLISH frame is exactly 65,536 bytes; its DELIVER header is longer.
    const body = Buffer.alloc(65536 - frameBytes(T.PUBLISH, [1, '', 'big', 0, null]).length, 2);
    expect((await publisher.publish('', 'big', null, body)).type).toBe(T.CONFIRM);
    expect((await deadLettered()).reason).toBe('frame-too-large');
    expect(consumer.oversized).toEqual([]);
  });

  it('GET dead-letters a message too large for the getter and answers with the next one', async () => {
    const publisher = await h.open({ frameMax: 0 });
    await declareQueues(publisher);
    await publisher.publish('', 'big', null, Buffer.alloc(10_000, 3));
    await publisher.publish('', 'big', null, Buffer.from('next'));
    const small = await h.open({ frameMax: 4096 });
    const reply = await small.request(T.GET, ['big', {}]);
    expect(reply.type).toBe(T.GET_OK);
    expect(reply.body.toString()).toBe('next');
    expect((await deadLettered()).reason).toBe('frame-too-large');
    const empty = await small.request(T.GET, ['big', {}]);
    expect([empty.type, empty.header[1]]).toEqual([T.OK, null]);
    expect(small.oversized).toEqual([]);
  });

  it('nacks NO_ROUTE a mandatory publish whose RETURN would not fit the publisher', async () => {
    const publisher = await h.open({ frameMax: 4096 });
    // A 4,096-byte PUBLISH frame; its RETURN header is longer.
    const body = Buffer.alloc(4096 - frameBytes(T.PUBLISH, [1, '', 'nowhere', 1, null]).length, 4);
    const outcome = await publisher.publish('', 'nowhere', null, body, 1);
    expect(outcome.type).toBe(T.PUBLISH_NACK);
    expect(outcome.header.slice(1, 3)).toEqual([312, 'NO_ROUTE']);
    expect(publisher.frames.filter((f) => f.type === T.RETURN)).toEqual([]);
    expect(publisher.oversized).toEqual([]);
    // A RETURN that fits still comes back, before the CONFIRM.
    const fits = await publisher.publish('', 'nowhere', null, Buffer.from('x'), 1);
    expect(fits.type).toBe(T.CONFIRM);
    expect((await publisher.next(T.RETURN)).body.toString()).toBe('x');
  });
});

describe('stream records above a subscriber frameMax (spec 8.6)', () => {
  const S = { STREAM_SUBSCRIBE: 0x50, STREAM_DELIVER: 0x52, STREAM_CANCELLED: 0x57 } as const;

  it('ends that subscription with STREAM_CANCELLED FRAME_TOO_LARGE naming the offset; no frame above 4096, no loop, nothing skipped silently', async () => {
    const publisher = await h.open({ frameMax: 0 });
    await publisher.ok(T.QUEUE_DECLARE, ['log', { durable: true, arguments: { 'x-queue-type': 'stream' } }]);
    for (const body of [Buffer.from('a'), Buffer.alloc(10_000, 7), Buffer.from('c')]) {
      expect((await publisher.publish('', 'log', null, body)).type).toBe(T.CONFIRM);
    }
    const small = await h.open({ frameMax: 4096 });
    await small.ok(S.STREAM_SUBSCRIBE, ['log', { offset: 'first', consumerTag: 's' }]);
    const first = await small.next(S.STREAM_DELIVER);
    expect([first.header[1], first.body.toString()]).toEqual([0, 'a']);
    const cancelled = await small.next(S.STREAM_CANCELLED);
    expect(cancelled.header.slice(0, 3)).toEqual(['s', 413, 'FRAME_TOO_LARGE']);
    expect(cancelled.header[3]).toContain('offset 1 ');
    // The connection stays open, received nothing oversized, and nothing for the tag follows.
    expect(small.oversized).toEqual([]);
    expect(small.closed).toBe(false);
    // Resubscribing past it continues with the next record.
    await small.ok(S.STREAM_SUBSCRIBE, ['log', { offset: 2, consumerTag: 's2' }]);
    const next = await small.next(S.STREAM_DELIVER);
    expect([next.header[0], next.header[1], next.body.toString()]).toEqual(['s2', 2, 'c']);
    expect(small.frames.filter((f) => f.type === S.STREAM_DELIVER && f.header[0] === 's')).toEqual([]);
    // A subscriber whose frameMax can carry it reads all three.
    const large = await h.open({ frameMax: 0 });
    await large.ok(S.STREAM_SUBSCRIBE, ['log', { offset: 'first' }]);
    const bodies = [];
    for (let i = 0; i < 3; i++) bodies.push((await large.next(S.STREAM_DELIVER)).body.length);
    expect(bodies).toEqual([1, 10_000, 1]);
  });
});

describe('key-value values above a reader frameMax (spec 2 rule 8, 8.7)', () => {
  const K = { KV_BUCKET_CREATE: 0x60, KV_PUT: 0x63, KV_GET: 0x64, KV_WATCH: 0x68, KV_EVENT: 0x6a, KV_WATCH_END: 0x6b } as const;

  it('KV_GET is answered ERROR RESOURCE_LIMIT and a watch ends with KV_WATCH_END FRAME_TOO_LARGE; the connection stays open', async () => {
    const writer = await h.open({ frameMax: 0 });
    await writer.ok(K.KV_BUCKET_CREATE, ['b', {}]);
    const small = await h.open({ frameMax: 4096 });
    const { watchId } = (await small.ok(K.KV_WATCH, ['b', null, {}])) as { watchId: number };
    writer.send(K.KV_PUT, [90, 'b', 'big', {}], Buffer.alloc(10_000, 7));
    const end = await small.next(K.KV_WATCH_END);
    expect(end.header.slice(0, 3)).toEqual([watchId, 413, 'FRAME_TOO_LARGE']);
    const got = await small.request(K.KV_GET, ['b', 'big', 0]);
    expect([got.type, got.header[1], got.header[2]]).toEqual([T.ERROR, 429, 'RESOURCE_LIMIT']);
    expect(small.oversized).toEqual([]);
    expect(small.closed).toBe(false);
    expect(small.frames.filter((f) => f.type === K.KV_EVENT)).toEqual([]);
  });
});
