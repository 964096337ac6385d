import { describe, expect, it } from 'vitest';
import { ErrorCodes, FrameType, WarrenError } from '@warren/protocol';
import type { Message } from '../src/message.js';
import { ConnectionClosedError } from '../src/errors.js';
import { openPair } from './helpers.js';
import { settle } from '../../../test-support/wait.js';

describe('consume with a handler', () => {
  it('sends CONSUME with options and a client-chosen tag; hands deliveries to the handler', async () => {
    const { peer, conn } = await openPair();
    const got: Message[] = [];
    const consuming = conn.consume('jobs', (m) => void got.push(m), { prefetch: 10, exclusive: true });
    const req = await peer.acceptConsume(consuming);
    const consumer = await consuming;
    expect(req.queue).toBe('jobs');
    expect(req.options).toMatchObject({ prefetch: 10, exclusive: true });
    expect(req.options.consumerTag).toBe(consumer.tag);
    expect(consumer.queue).toBe('jobs');

    peer.deliver(consumer.tag, 7, 'payload', { redelivered: true, deliveryCount: 3, properties: { messageId: 'm' } });
    await peer.sync(conn);
    expect(got).toHaveLength(1);
    const m = got[0]!;
    expect(m.body.toString()).toBe('payload');
    expect(m).toMatchObject({ exchange: 'ex', routingKey: 'rk', redelivered: true, deliveryCount: 3, deliveryTag: 7, consumerTag: consumer.tag, properties: { messageId: 'm' }, settled: false });
  });

  it('messages from one write keep their own fields once later ones arrive (the decoder rewrites one DELIVER frame)', async () => {
    const { peer, conn } = await openPair();
    const got: Message[] = [];
    const consuming = conn.consume('q', (m) => void got.push(m), { prefetch: 100 });
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    await consuming;
    const frames = Array.from({ length: 50 }, (_, i) => ({
      type: FrameType.DELIVER,
      consumerTag: tag,
      deliveryTag: i + 1,
      redelivered: i % 2 === 0,
      deliveryCount: 1 + (i % 3),
      exchange: `ex${i % 4}`,
      routingKey: `rk.${i}`,
      properties: i % 5 === 0 ? null : { messageId: `m${i}` },
      body: Buffer.from(`body ${i}`),
    }));
    peer.send(...frames);
    await peer.sync(conn);
    expect(got).toHaveLength(50);
    got.forEach((m, i) => {
      const f = frames[i]!;
      expect(m.body.toString()).toBe(`body ${i}`);
      expect(m).toMatchObject({ deliveryTag: f.deliveryTag, redelivered: f.redelivered, deliveryCount: f.deliveryCount, exchange: f.exchange, routingKey: f.routingKey, consumerTag: tag });
      expect(m.properties).toEqual(f.properties ?? {});
    });
    expect(got[3]!.ack()).toBe(true);
    await peer.sync(conn);
    expect(peer.all(FrameType.ACK).map((f) => f.deliveryTag)).toEqual([4]);
  });

  it('routes deliveries that arrive before the CONSUME reply', async () => {
    const { peer, conn } = await openPair();
    const got: string[] = [];
    const consuming = conn.consume('q', (m) => void got.push(m.body.toString()));
    const req = await peer.take(FrameType.CONSUME);
    peer.deliver(req.options.consumerTag!, 1, 'early');
    peer.ok(req.requestId, { consumerTag: req.options.consumerTag });
    await consuming;
    expect(got).toEqual(['early']);
  });

  it('ack, nack and reject send the right frames; each message settles once', async () => {
    const { peer, conn } = await openPair();
    const got: Message[] = [];
    const consuming = conn.consume('q', (m) => void got.push(m));
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    for (let i = 1; i <= 5; i++) peer.deliver(tag, i, String(i));
    await peer.sync(conn);
    const [m1, m2, m3, m4, m5] = got as [Message, Message, Message, Message, Message];
    m1.ack();
    m1.ack();
    m1.nack();
    m2.nack();
    m3.nack({ requeue: false });
    m4.reject();
    m4.ack();
    m5.reject({ requeue: false });
    expect([m1, m2, m3, m4, m5].every((m) => m.settled)).toBe(true);
    await peer.sync(conn);
    expect(peer.all(FrameType.ACK)).toEqual([{ type: FrameType.ACK, deliveryTag: 1, multiple: false }]);
    expect(peer.all(FrameType.NACK)).toEqual([
      { type: FrameType.NACK, deliveryTag: 2, multiple: false, requeue: true },
      { type: FrameType.NACK, deliveryTag: 3, multiple: false, requeue: false },
    ]);
    expect(peer.all(FrameType.REJECT)).toEqual([
      { type: FrameType.REJECT, deliveryTag: 4, requeue: true },
      { type: FrameType.REJECT, deliveryTag: 5, requeue: false },
    ]);
  });

  it('a multiple ack settles earlier messages too, so their own ack is a no-op', async () => {
    const { peer, conn } = await openPair();
    const got: Message[] = [];
    const consuming = conn.consume('q', (m) => void got.push(m));
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    for (let i = 1; i <= 4; i++) peer.deliver(tag, i, String(i));
    await peer.sync(conn);
    got[2]!.ack({ multiple: true });
    got[0]!.ack();
    got[1]!.nack({ multiple: true });
    got[3]!.nack({ multiple: true, requeue: false });
    await peer.sync(conn);
    expect(peer.all(FrameType.ACK)).toEqual([{ type: FrameType.ACK, deliveryTag: 3, multiple: true }]);
    expect(peer.all(FrameType.NACK)).toEqual([{ type: FrameType.NACK, deliveryTag: 4, multiple: true, requeue: false }]);
  });

  it('a failing handler: unsettled message nacked with requeue = !redelivered, error reported via handlerError', async () => {
    const { peer, conn } = await openPair();
    const reported: [unknown, Message | undefined][] = [];
    conn.on('handlerError', (err, msg) => reported.push([err, msg]));
    const consuming = conn.consume('q', async (m) => {
      const body = m.body.toString();
      if (body === 'ack-then-throw') m.ack();
      if (body === 'sync-throw') throw new Error(body);
      await Promise.resolve();
      throw new Error(body);
    });
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    peer.deliver(tag, 1, 'first-time');
    peer.deliver(tag, 2, 'poison', { redelivered: true, deliveryCount: 2 });
    peer.deliver(tag, 3, 'ack-then-throw');
    await peer.sync(conn);
    await new Promise((r) => setImmediate(r));
    await peer.sync(conn);
    expect(peer.all(FrameType.NACK)).toEqual([
      { type: FrameType.NACK, deliveryTag: 1, multiple: false, requeue: true },
      { type: FrameType.NACK, deliveryTag: 2, multiple: false, requeue: false },
    ]);
    expect(peer.all(FrameType.ACK)).toEqual([{ type: FrameType.ACK, deliveryTag: 3, multiple: false }]);
    expect(reported.map(([e, m]) => [(e as Error).message, m?.deliveryTag])).toEqual([
      ['first-time', 1],
      ['poison', 2],
      ['ack-then-throw', 3],
    ]);
  });

  it('a synchronous throw follows the same rule; noAck consumers send nothing', async () => {
    const { peer, conn } = await openPair();
    const reported: unknown[] = [];
    conn.on('handlerError', (err) => reported.push(err));
    const throwing = (): void => {
      throw new Error('sync');
    };
    const c1 = conn.consume('q', throwing);
    const tag1 = (await peer.acceptConsume(c1)).options.consumerTag!;
    const c2 = conn.consume('q2', throwing, { noAck: true });
    const tag2 = (await peer.acceptConsume(c2)).options.consumerTag!;
    peer.deliver(tag1, 1, 'a');
    peer.deliver(tag2, 2, 'b');
    await peer.sync(conn);
    expect(peer.all(FrameType.NACK)).toEqual([{ type: FrameType.NACK, deliveryTag: 1, multiple: false, requeue: true }]);
    expect(peer.all(FrameType.ACK, FrameType.REJECT)).toEqual([]);
    expect(reported).toHaveLength(2);
  });

  it('cancel sends CANCEL, resolves cancelled with null, and later deliveries for it are handed back', async () => {
    const { peer, conn } = await openPair();
    const got: string[] = [];
    const consuming = conn.consume('q', (m) => void got.push(m.body.toString()));
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    const consumer = await consuming;
    const cancelling = consumer.cancel();
    expect(consumer.cancel()).toBe(cancelling);
    const cancel = await peer.take(FrameType.CANCEL);
    expect(cancel.consumerTag).toBe(tag);
    peer.deliver(tag, 1, 'in flight'); // sent before the server saw CANCEL: still ours
    peer.ok(cancel.requestId);
    peer.deliver(tag, 2, 'stray');
    await cancelling;
    expect(await consumer.cancelled).toBeNull();
    await peer.sync(conn);
    expect(got).toEqual(['in flight']);
    expect(peer.all(FrameType.REJECT)).toEqual([{ type: FrameType.REJECT, deliveryTag: 2, requeue: true }]);
  });

  it('broker CANCELLED resolves cancelled with the reason', async () => {
    const { peer, conn } = await openPair();
    const consuming = conn.consume('q', () => {});
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    const consumer = await consuming;
    peer.send({ type: FrameType.CANCELLED, consumerTag: tag, code: ErrorCodes.NOT_FOUND, name: 'NOT_FOUND', message: 'queue q deleted' });
    const reason = await consumer.cancelled;
    expect(reason).toBeInstanceOf(WarrenError);
    expect(reason?.code).toBe(ErrorCodes.NOT_FOUND);
    await consumer.cancel(); // no-op now
    expect(peer.all(FrameType.CANCEL)).toEqual([]);
  });

  it('a refused CONSUME rejects with the server error', async () => {
    const { peer, conn } = await openPair();
    const consuming = settle(conn.consume('missing', () => {}));
    const req = await peer.take(FrameType.CONSUME);
    peer.send({ type: FrameType.ERROR, requestId: req.requestId, code: ErrorCodes.NOT_FOUND, name: 'NOT_FOUND', message: 'no queue', details: null });
    const r = await consuming;
    expect(((r as { error: WarrenError }).error).code).toBe(ErrorCodes.NOT_FOUND);
    // The tag is free again.
    const again = conn.consume('missing', () => {}, { consumerTag: req.options.consumerTag! });
    await peer.acceptConsume(again);
  });

  it('rejects a consumer tag already in use on this connection', async () => {
    const { peer, conn } = await openPair();
    const first = conn.consume('q', () => {}, { consumerTag: 'mine' });
    await peer.acceptConsume(first);
    await expect(conn.consume('q', () => {}, { consumerTag: 'mine' })).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
  });
});

describe('consume with for await', () => {
  it('yields deliveries in order; break cancels and requeues what was buffered', async () => {
    const { peer, conn } = await openPair();
    const consuming = conn.consume('q', { prefetch: 5 });
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    const consumer = await consuming;
    for (let i = 1; i <= 4; i++) peer.deliver(tag, i, String(i));
    await peer.sync(conn);
    const seen: string[] = [];
    const loop = (async () => {
      for await (const m of consumer) {
        seen.push(m.body.toString());
        m.ack();
        if (seen.length === 2) break;
      }
    })();
    const cancel = await peer.take(FrameType.CANCEL);
    peer.ok(cancel.requestId);
    await loop;
    expect(seen).toEqual(['1', '2']);
    await peer.sync(conn);
    expect(peer.all(FrameType.ACK).map((f) => f.deliveryTag)).toEqual([1, 2]);
    expect(peer.all(FrameType.NACK)).toEqual([
      { type: FrameType.NACK, deliveryTag: 3, multiple: false, requeue: true },
      { type: FrameType.NACK, deliveryTag: 4, multiple: false, requeue: true },
    ]);
    expect(await consumer.cancelled).toBeNull();
  });

  it('waits for deliveries, and ends cleanly when the consumer is cancelled', async () => {
    const { peer, conn } = await openPair();
    const consuming = conn.consume('q');
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    const consumer = await consuming;
    const seen: string[] = [];
    const loop = (async () => {
      for await (const m of consumer) seen.push(m.body.toString());
    })();
    peer.deliver(tag, 1, 'a');
    peer.deliver(tag, 2, 'b');
    await peer.sync(conn);
    const cancelling = consumer.cancel();
    peer.ok((await peer.take(FrameType.CANCEL)).requestId);
    await cancelling;
    await loop;
    expect(seen).toEqual(['a', 'b']);
  });

  it('drains buffered messages, then throws the reason when the broker cancels', async () => {
    const { peer, conn } = await openPair();
    const consuming = conn.consume('q');
    const tag = (await peer.acceptConsume(consuming)).options.consumerTag!;
    const consumer = await consuming;
    peer.deliver(tag, 1, 'a');
    peer.send({ type: FrameType.CANCELLED, consumerTag: tag, code: ErrorCodes.NOT_FOUND, name: 'NOT_FOUND', message: 'queue deleted' });
    await consumer.cancelled;
    const seen: string[] = [];
    const r = await settle(
      (async () => {
        for await (const m of consumer) seen.push(m.body.toString());
      })(),
    );
    expect(seen).toEqual(['a']);
    expect(((r as { error: WarrenError }).error).code).toBe(ErrorCodes.NOT_FOUND);
  });

  it('throws ConnectionClosedError when the connection is lost', async () => {
    const { peer, conn } = await openPair();
    const consuming = conn.consume('q');
    await peer.acceptConsume(consuming);
    const consumer = await consuming;
    const loop = settle(
      (async () => {
        for await (const m of consumer) void m;
      })(),
    );
    peer.socket.destroy();
    expect(((await loop) as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
    expect(await consumer.cancelled).toBeInstanceOf(ConnectionClosedError);
  });

  it('a handler consumer cannot be iterated', async () => {
    const { peer, conn } = await openPair();
    const consuming = conn.consume('q', () => {});
    await peer.acceptConsume(consuming);
    const consumer = await consuming;
    expect(() => consumer[Symbol.asyncIterator]()).toThrow(WarrenError);
  });
});

describe('get', () => {
  it('returns a message from GET_OK, null from OK; acks it', async () => {
    const { peer, conn } = await openPair();
    const got = conn.get('q');
    const req = await peer.take(FrameType.GET);
    expect(req).toMatchObject({ queue: 'q', options: {} });
    peer.send({
      type: FrameType.GET_OK,
      requestId: req.requestId,
      deliveryTag: 11,
      redelivered: false,
      deliveryCount: 1,
      exchange: '',
      routingKey: 'q',
      properties: { type: 'x' },
      messageCount: 4,
      body: Buffer.from('one'),
    });
    const m = await got;
    expect(m?.body.toString()).toBe('one');
    expect(m).toMatchObject({ deliveryTag: 11, consumerTag: undefined, properties: { type: 'x' } });
    m!.ack();

    const empty = conn.get('q', { noAck: true });
    const req2 = await peer.take(FrameType.GET);
    expect(req2.options).toEqual({ noAck: true });
    peer.ok(req2.requestId, null);
    expect(await empty).toBeNull();
    await peer.sync(conn);
    expect(peer.all(FrameType.ACK)).toEqual([{ type: FrameType.ACK, deliveryTag: 11, multiple: false }]);
  });

  it('settling after the connection is gone is a no-op', async () => {
    const { peer, conn } = await openPair();
    const got = conn.get('q');
    const req = await peer.take(FrameType.GET);
    peer.send({ type: FrameType.GET_OK, requestId: req.requestId, deliveryTag: 1, redelivered: false, deliveryCount: 1, exchange: '', routingKey: 'q', properties: null, messageCount: 0, body: Buffer.from('x') });
    const m = (await got)!;
    peer.socket.destroy();
    await conn.closed;
    expect(m.settled).toBe(true);
    expect(() => m.ack()).not.toThrow();
  });
});
