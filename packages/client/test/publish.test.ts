import { describe, expect, it } from 'vitest';
import { ErrorCodes, FrameType, PublishFlags, WRITE_HIGH_WATER } from '@warren/protocol';
import { MessageReturnedError, MessageTooLargeError, PublishNackedError, type ReturnedMessage } from '../src/errors.js';
import { openPair } from './helpers.js';
import { settle } from '../../../test-support/wait.js';

describe('publish', () => {
  it('sends PUBLISH with seq from 1, exchange, routing key, properties and body; resolves on CONFIRM', async () => {
    const { peer, conn } = await openPair();
    const p1 = conn.publish('ex', 'rk', 'hello', { persistent: true, contentType: 'text/plain', headers: { a: 1 } });
    const p2 = conn.publish('', 'q', new Uint8Array([1, 2, 3]));
    const f1 = await peer.take(FrameType.PUBLISH);
    const f2 = await peer.take(FrameType.PUBLISH);
    expect(f1).toMatchObject({ seq: 1, exchange: 'ex', routingKey: 'rk', flags: 0, properties: { persistent: true, contentType: 'text/plain', headers: { a: 1 } } });
    expect(f1.body.toString()).toBe('hello');
    expect(f2).toMatchObject({ seq: 2, exchange: '', routingKey: 'q', properties: null });
    expect([...f2.body]).toEqual([1, 2, 3]);
    peer.send({ type: FrameType.CONFIRM, seq: 2, multiple: false }, { type: FrameType.CONFIRM, seq: 1, multiple: false });
    await Promise.all([p1, p2]);
  });

  it('a cumulative CONFIRM resolves every publish up to its seq, and only those', async () => {
    const { peer, conn } = await openPair();
    const done: number[] = [];
    const pubs = [1, 2, 3, 4, 5].map((i) => conn.publish('', 'q', String(i)).then(() => done.push(i)));
    for (let i = 0; i < 5; i++) await peer.take(FrameType.PUBLISH);
    peer.send({ type: FrameType.CONFIRM, seq: 2, multiple: false }); // out of order first
    peer.send({ type: FrameType.CONFIRM, seq: 4, multiple: true });
    await Promise.all(pubs.slice(0, 4));
    expect(done.sort()).toEqual([1, 2, 3, 4]);
    peer.send({ type: FrameType.CONFIRM, seq: 5, multiple: true });
    await pubs[4];
    expect(done).toHaveLength(5);
  });

  it('PUBLISH_NACK rejects that publish with PublishNackedError carrying the code; others unaffected', async () => {
    const { peer, conn } = await openPair();
    const a = settle(conn.publish('', 'q', 'a'));
    const b = settle(conn.publish('', 'q', 'b'));
    await peer.take(FrameType.PUBLISH);
    await peer.take(FrameType.PUBLISH);
    peer.send(
      { type: FrameType.PUBLISH_NACK, seq: 1, code: ErrorCodes.RESOURCE_LIMIT, name: 'RESOURCE_LIMIT', message: 'queue q is full' },
      { type: FrameType.CONFIRM, seq: 2, multiple: true },
    );
    const ra = await a;
    const err = (ra as { error: PublishNackedError }).error;
    expect(err).toBeInstanceOf(PublishNackedError);
    expect(err.code).toBe(ErrorCodes.RESOURCE_LIMIT);
    expect(err.name).toBe('RESOURCE_LIMIT');
    expect(err.message).toBe('queue q is full');
    expect(err.retriable).toBe(true);
    expect((await b).ok).toBe(true);
  });

  it('mandatory + RETURN rejects with MessageReturnedError holding the message, and emits return', async () => {
    const { peer, conn } = await openPair();
    const events: ReturnedMessage[] = [];
    conn.on('return', (m) => events.push(m));
    const p = settle(conn.publish('ex', 'nowhere', 'lost', { mandatory: true, messageId: 'm1' }));
    const f = await peer.take(FrameType.PUBLISH);
    expect(f.flags).toBe(PublishFlags.MANDATORY);
    expect(f.properties).toEqual({ messageId: 'm1' }); // `mandatory` is a flag, not a property
    peer.send(
      {
        type: FrameType.RETURN,
        seq: f.seq,
        code: ErrorCodes.NO_ROUTE,
        name: 'NO_ROUTE',
        exchange: 'ex',
        routingKey: 'nowhere',
        properties: { messageId: 'm1' },
        body: Buffer.from('lost'),
      },
      { type: FrameType.CONFIRM, seq: f.seq, multiple: false },
    );
    const r = await p;
    const err = (r as { error: MessageReturnedError }).error;
    expect(err).toBeInstanceOf(MessageReturnedError);
    expect(err.code).toBe(ErrorCodes.NO_ROUTE);
    expect(err.returned.body.toString()).toBe('lost');
    expect(err.returned).toMatchObject({ exchange: 'ex', routingKey: 'nowhere', properties: { messageId: 'm1' }, reason: 'NO_ROUTE' });
    expect(events).toHaveLength(1);
    expect(err).not.toBeInstanceOf(PublishNackedError);
  });

  it('with a full window, the next publish is not sent until a confirm arrives (order kept)', async () => {
    const { peer, conn } = await openPair({ publishWindow: 2 });
    const pubs = ['a', 'b', 'c', 'd'].map((s) => conn.publish('', 'q', s));
    // A request issued after the publishes overtakes the held ones on the wire.
    const purge = conn.purgeQueue('q');
    const purgeFrame = await peer.take(FrameType.QUEUE_PURGE);
    expect(peer.all(FrameType.PUBLISH).map((f) => f.body.toString())).toEqual(['a', 'b']);
    peer.ok(purgeFrame.requestId, 0);
    await purge;

    await peer.take(FrameType.PUBLISH); // a
    await peer.take(FrameType.PUBLISH); // b
    peer.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    const c = await peer.take(FrameType.PUBLISH);
    expect(c).toMatchObject({ seq: 3 });
    expect(c.body.toString()).toBe('c');
    const purge2 = conn.purgeQueue('q');
    peer.ok((await peer.take(FrameType.QUEUE_PURGE)).requestId, 0);
    await purge2;
    expect(peer.all(FrameType.PUBLISH)).toHaveLength(3);

    peer.send({ type: FrameType.CONFIRM, seq: 3, multiple: true });
    const d = await peer.take(FrameType.PUBLISH);
    expect(d.body.toString()).toBe('d');
    peer.send({ type: FrameType.CONFIRM, seq: 4, multiple: false });
    await Promise.all(pubs);
  });

  it('stops handing publishes to the socket while its buffer is over the high-water mark', async () => {
    const { peer, conn } = await openPair();
    peer.socket.pause(); // the server stops reading: the client's socket buffer fills
    const body = Buffer.alloc(256 * 1024, 1);
    const pubs = Array.from({ length: 40 }, () => conn.publish('', 'q', body));
    const transport = (conn as unknown as { transport: { bufferedBytes: number } }).transport;
    // 10 MiB were "published"; at most the high-water mark plus one body went to the socket.
    expect(transport.bufferedBytes).toBeLessThanOrEqual(WRITE_HIGH_WATER + body.length);
    peer.socket.resume();
    for (let seq = 1; seq <= 40; seq++) {
      const f = await peer.take(FrameType.PUBLISH);
      expect(f.seq).toBe(seq);
    }
    peer.send({ type: FrameType.CONFIRM, seq: 40, multiple: true });
    await Promise.all(pubs);
  });

  it('rejects with MessageTooLargeError before sending when the frame would exceed frameMax', async () => {
    const { peer, conn } = await openPair({}, { frameMax: 4096 });
    const big = settle(conn.publish('', 'q', Buffer.alloc(4096)));
    const bigHeaders = settle(conn.publish('', 'q', Buffer.alloc(100), { headers: { blob: 'x'.repeat(4000) } }));
    const fits = conn.publish('', 'q', Buffer.alloc(4000));
    for (const r of [await big, await bigHeaders]) {
      const err = (r as { error: MessageTooLargeError }).error;
      expect(err).toBeInstanceOf(MessageTooLargeError);
      expect(err.code).toBe(ErrorCodes.FRAME_TOO_LARGE);
      expect(err.max).toBe(4096);
    }
    const f = await peer.take(FrameType.PUBLISH);
    expect(f.seq).toBe(1);
    expect(f.body.length).toBe(4000);
    peer.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    await fits;
    expect(peer.all(FrameType.PUBLISH)).toHaveLength(1);
  });

  it('a body that fits only without the worst-case header estimate is still sent', async () => {
    const { peer, conn } = await openPair({}, { frameMax: 4096 });
    // 9-byte prelude + 32-byte header + 4050 fits, though the cheap bound (~100 bytes) says it might not.
    const p = conn.publish('', 'q', Buffer.alloc(4050), { messageId: 'abcdefghij' });
    const f = await peer.take(FrameType.PUBLISH);
    expect(f.body.length).toBe(4050);
    peer.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    await p;
  });

  it('rejects a body that is neither bytes, a string, nor a value the codec can encode', async () => {
    const { conn } = await openPair();
    await expect(conn.publish('', 'q', undefined as unknown as string)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(conn.publish('', 'q', (() => 1) as unknown as string)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
  });

  it('rejects mistyped known properties with INVALID_ARGUMENT before sending; unknown keys pass', async () => {
    const { peer, conn } = await openPair();
    const bad = [{ priority: 300 }, { expiration: '1000' }, { persistent: 'yes' }, { headers: [1] }, { timestamp: 1.5 }];
    for (const props of bad) {
      await expect(conn.publish('', 'q', 'x', props as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    }
    const ok = conn.publish('', 'q', 'x', { priority: 0, expiration: 1000, messageId: undefined, custom: 'kept' } as never);
    const f = await peer.take(FrameType.PUBLISH);
    expect(f.seq).toBe(1);
    expect(f.properties).toMatchObject({ priority: 0, expiration: 1000, custom: 'kept' });
    peer.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    await ok;
  });

  it('rejects headers the broker would refuse for their shape (nested past 64 levels, more than 65536 values) with INVALID_ARGUMENT, and keeps the connection', async () => {
    const { peer, conn } = await openPair();
    const nested = (levels: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < levels; i++) v = { a: v };
      return v;
    };
    const refusal = (p: Promise<void>): Promise<{ code: number; message: string }> =>
      p.then(
        () => ({ code: 0, message: 'sent' }),
        (e: { code: number; message: string }) => ({ code: e.code, message: e.message }),
      );
    // Header array 1, properties 2, headers 3: 62 nested maps reach 64.
    const deep = await refusal(conn.publish('', 'q', 'x', { headers: nested(63) as never }));
    expect(deep).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(/nest more than 63 levels/) });
    // 5 values in the header array; here 1 (headers) + 1 (a) + 65530.
    const wide = await refusal(conn.publish('', 'q', 'x', { headers: { a: new Array(65_530).fill(null) } }));
    expect(wide).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(/more than 65531 values/) });
    expect(peer.all(FrameType.PUBLISH)).toHaveLength(0);
    const ok = conn.publish('', 'q', 'x', { headers: { deep: nested(61), list: new Array(65_000).fill(null) } as never });
    expect((await peer.take(FrameType.PUBLISH)).seq).toBe(1);
    peer.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    await ok;
  });

  it('holds publishes while the server has flow-blocked the connection', async () => {
    const { peer, conn } = await openPair();
    peer.send({ type: FrameType.FLOW, blocked: true, reason: 'memory alarm' });
    await new Promise((resolve) => conn.once('blocked', resolve));
    const p = conn.publish('', 'q', 'held');
    const purge = conn.purgeQueue('q');
    peer.ok((await peer.take(FrameType.QUEUE_PURGE)).requestId, 0);
    await purge;
    expect(peer.all(FrameType.PUBLISH)).toHaveLength(0);
    peer.send({ type: FrameType.FLOW, blocked: false, reason: '' });
    const f = await peer.take(FrameType.PUBLISH);
    expect(f.body.toString()).toBe('held');
    peer.send({ type: FrameType.CONFIRM, seq: f.seq, multiple: false });
    await p;
  });
});
