import { describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { ErrorCodes, FrameType, WarrenError, PRE_AUTH_FRAME_MAX } from '@warren/protocol';
import { connect, kTopology } from '../src/connection.js';
import { AbortError, ConnectionClosedError, TimeoutError } from '../src/errors.js';
import { fakeServer, openPair } from './helpers.js';
import { settle } from '../../../test-support/wait.js';

describe('handshake', () => {
  it('sends OPEN with version, credentials, frameMax, heartbeat and properties; exposes OPEN_OK', async () => {
    const server = await fakeServer();
    const connecting = connect({
      reconnect: false,
      url: `warren://al%40ice:p%3Ass@127.0.0.1:${server.port}`,
      name: 'orders-api',
      frameMax: 1 << 20,
      heartbeatMs: 5000,
      properties: { team: 'payments' },
    });
    const peer = await server.nextPeer();
    const open = await peer.handshake({ connectionId: 'c-42', frameMax: 65536, heartbeatMs: 0, properties: { product: 'warren', version: '9' } });
    const conn = await connecting;

    expect(open.version).toBe(1);
    expect(open.credentials).toEqual({ mechanism: 'PLAIN', username: 'al@ice', password: 'p:ss' });
    expect(open.frameMax).toBe(1 << 20);
    expect(open.heartbeatMs).toBe(5000);
    expect(open.properties).toMatchObject({ product: 'warren-client', name: 'orders-api', team: 'payments' });
    expect(conn.connectionId).toBe('c-42');
    expect(conn.serverProperties).toEqual({ product: 'warren', version: '9' });
    expect(conn.frameMax).toBe(65536);
  });

  it('uses the negotiated frameMax for frames from the server (pre-auth limit lifted)', async () => {
    const body = Buffer.alloc(PRE_AUTH_FRAME_MAX * 2, 7);
    const { peer, conn } = await openPair({}, { frameMax: 1 << 20 });
    const got = settle(conn.get('q'));
    const req = await peer.take(FrameType.GET);
    peer.send({
      type: FrameType.GET_OK,
      requestId: req.requestId,
      deliveryTag: 1,
      redelivered: false,
      deliveryCount: 1,
      exchange: '',
      routingKey: 'q',
      properties: null,
      messageCount: 0,
      body,
    });
    const r = await got;
    expect(r.ok && r.value?.body.length).toBe(body.length);
  });

  it('rejects with the server ERROR as a typed WarrenError', async () => {
    const server = await fakeServer();
    const connecting = settle(connect({ port: server.port, username: 'x', password: 'y' }));
    const peer = await server.nextPeer();
    await peer.take(FrameType.OPEN);
    peer.send(
      { type: FrameType.ERROR, requestId: 0, code: ErrorCodes.ACCESS_REFUSED, name: 'ACCESS_REFUSED', message: 'bad credentials', details: null },
      { type: FrameType.CLOSE, code: ErrorCodes.ACCESS_REFUSED, name: 'ACCESS_REFUSED', message: 'bad credentials' },
    );
    const r = await connecting;
    expect(r.ok).toBe(false);
    const err = (r as { error: WarrenError }).error;
    expect(err).toBeInstanceOf(WarrenError);
    expect(err.code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect(err.name).toBe('ACCESS_REFUSED');
    expect(err.message).toBe('bad credentials');
    await peer.closedPromise;
  });

  it('times out a server that never answers OPEN', async () => {
    const server = await fakeServer();
    const r = await settle(connect({ port: server.port, timeoutMs: 50 }));
    expect(r.ok).toBe(false);
    expect((r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    expect(((r as { error: WarrenError }).error).code).toBe(ErrorCodes.TIMEOUT);
  });

  it('aborts with AbortError carrying signal.reason', async () => {
    const server = await fakeServer();
    const ac = new AbortController();
    const connecting = settle(connect({ port: server.port, signal: ac.signal }));
    await (await server.nextPeer()).take(FrameType.OPEN);
    const reason = new Error('stop');
    ac.abort(reason);
    const r = (await connecting) as { ok: false; error: AbortError };
    expect(r.ok).toBe(false);
    expect(r.error).toBeInstanceOf(AbortError);
    expect(r.error).toBeInstanceOf(WarrenError);
    expect(r.error.name).toBe('AbortError');
    expect(r.error.cause).toBe(reason);
    expect(r.error.retriable).toBe(false);
    const pre = new AbortController();
    pre.abort(reason);
    const r2 = (await settle(connect({ port: server.port, signal: pre.signal }))) as { ok: false; error: AbortError };
    expect(r2.error).toBeInstanceOf(AbortError);
    expect(r2.error.cause).toBe(reason);
  });

  it('a refused connection rejects with ConnectionClosedError', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const r = await settle(connect({ port }));
    expect((r as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
    expect(((r as { error: WarrenError }).error).retriable).toBe(true);
  });

  it('frames sent right behind OPEN_OK reach the connection', async () => {
    const server = await fakeServer();
    const connecting = connect({ port: server.port, reconnect: false });
    const peer = await server.nextPeer();
    await peer.handshake({}, [{ type: FrameType.FLOW, blocked: true, reason: 'memory' }]);
    const conn = await connecting;
    expect(conn.blocked).toBe(true);
  });
});

describe('requests', () => {
  it('matches replies to requests by id, in any order', async () => {
    const { peer, conn } = await openPair();
    const a = conn.declareQueue('a');
    const b = conn.declareQueue('b', { durable: true });
    const reqA = await peer.take(FrameType.QUEUE_DECLARE);
    const reqB = await peer.take(FrameType.QUEUE_DECLARE);
    expect(reqA.requestId).not.toBe(reqB.requestId);
    expect(reqA.requestId).toBeGreaterThan(0);
    expect(reqB.options).toEqual({ durable: true });
    peer.ok(reqB.requestId, { queue: 'b', messageCount: 2, consumerCount: 1 });
    peer.ok(reqA.requestId, { queue: 'a', messageCount: 0, consumerCount: 0 });
    expect(await a).toEqual({ queue: 'a', messageCount: 0, consumerCount: 0 });
    expect(await b).toEqual({ queue: 'b', messageCount: 2, consumerCount: 1 });
  });

  it('turns ERROR into a WarrenError with the server code, name, message and details; the connection stays usable', async () => {
    const { peer, conn } = await openPair();
    const p = settle(conn.declareExchange('x', 'topic', { durable: true }));
    const req = await peer.take(FrameType.EXCHANGE_DECLARE);
    expect(req).toMatchObject({ exchange: 'x', exchangeType: 'topic', options: { durable: true } });
    peer.send({
      type: FrameType.ERROR,
      requestId: req.requestId,
      code: ErrorCodes.PRECONDITION_FAILED,
      name: 'PRECONDITION_FAILED',
      message: 'exchange x exists with type direct',
      details: { existingType: 'direct' },
    });
    const r = await p;
    const err = (r as { error: WarrenError }).error;
    expect(err).toBeInstanceOf(WarrenError);
    expect(err.code).toBe(ErrorCodes.PRECONDITION_FAILED);
    expect(err.name).toBe('PRECONDITION_FAILED');
    expect(err.message).toBe('exchange x exists with type direct');
    expect(err.details).toEqual({ existingType: 'direct' });

    const purge = conn.purgeQueue('q');
    peer.ok((await peer.take(FrameType.QUEUE_PURGE)).requestId, { messageCount: 5 });
    expect(await purge).toEqual({ messageCount: 5 });
  });

  it('keeps an unknown server error name', async () => {
    const { peer, conn } = await openPair();
    const p = settle(conn.deleteQueue('q'));
    const req = await peer.take(FrameType.QUEUE_DELETE);
    peer.send({ type: FrameType.ERROR, requestId: req.requestId, code: 599, name: 'FUTURE_THING', message: 'm', details: null });
    const err = ((await p) as { error: WarrenError }).error;
    expect(err.code).toBe(599);
    expect(err.name).toBe('FUTURE_THING');
  });

  it('sends every topology request with its fields and records confirmed topology', async () => {
    const { peer, conn } = await openPair();
    const answer = async (type: number) => {
      const f = (await peer.take(type)) as { requestId: number };
      peer.ok(f.requestId, type === FrameType.QUEUE_DECLARE ? { queue: 'srv.q1', messageCount: 0, consumerCount: 0 } : { messageCount: 3 });
      return f;
    };
    const steps: [Promise<unknown>, number][] = [
      [conn.declareExchange('ex', 'direct'), FrameType.EXCHANGE_DECLARE],
      [conn.declareQueue(), FrameType.QUEUE_DECLARE],
      [conn.bindQueue('srv.q1', 'ex', 'rk', { a: 1 }), FrameType.QUEUE_BIND],
      [conn.bindExchange('ex2', 'ex'), FrameType.EXCHANGE_BIND],
      [conn.unbindExchange('ex2', 'ex'), FrameType.EXCHANGE_UNBIND],
      [conn.deleteExchange('gone', { ifUnused: true }), FrameType.EXCHANGE_DELETE],
      [conn.unbindQueue('other', 'ex'), FrameType.QUEUE_UNBIND],
    ];
    const frames = [];
    for (const [p, type] of steps) {
      frames.push(await answer(type));
      await p;
    }
    expect(frames[1]).toMatchObject({ queue: '' });
    expect(frames[2]).toMatchObject({ queue: 'srv.q1', exchange: 'ex', routingKey: 'rk', arguments: { a: 1 } });
    expect(frames[3]).toMatchObject({ destination: 'ex2', source: 'ex', routingKey: '', arguments: null });
    expect(frames[5]).toMatchObject({ exchange: 'gone', options: { ifUnused: true } });

    const topo = conn[kTopology];
    expect([...topo.exchanges.keys()]).toEqual(['ex']);
    expect(topo.queues.get('srv.q1')).toMatchObject({ serverNamed: true });
    expect([...topo.bindings.values()]).toEqual([{ kind: 'queue', destination: 'srv.q1', source: 'ex', routingKey: 'rk', arguments: { a: 1 } }]);

    const del = conn.deleteQueue('srv.q1', { ifEmpty: true });
    expect(await answer(FrameType.QUEUE_DELETE)).toMatchObject({ queue: 'srv.q1', options: { ifEmpty: true } });
    expect(await del).toEqual({ messageCount: 3 });
    expect(topo.queues.size).toBe(0);
    expect(topo.bindings.size).toBe(0);
  });
});

describe('connection-level events', () => {
  it('emits blocked/unblocked on FLOW', async () => {
    const { peer, conn } = await openPair();
    const events: unknown[] = [];
    conn.on('blocked', (e) => events.push(['blocked', e.reason]));
    conn.on('unblocked', (e) => events.push([e.type]));
    peer.send({ type: FrameType.FLOW, blocked: true, reason: 'disk' });
    await new Promise((resolve) => conn.once('blocked', resolve));
    peer.send({ type: FrameType.FLOW, blocked: false, reason: '' });
    await new Promise<void>((resolve) => conn.once('unblocked', () => resolve()));
    expect(events).toEqual([['blocked', 'disk'], ['unblocked']]);
  });

  it('reports a non-fatal ERROR with requestId 0 as serverError and stays open', async () => {
    const { peer, conn } = await openPair();
    const seen = new Promise<WarrenError>((resolve) => conn.once('serverError', resolve));
    peer.send({ type: FrameType.ERROR, requestId: 0, code: ErrorCodes.PRECONDITION_FAILED, name: 'PRECONDITION_FAILED', message: 'unknown delivery tag 9', details: null });
    expect((await seen).code).toBe(ErrorCodes.PRECONDITION_FAILED);
    const p = conn.purgeQueue('q');
    peer.ok((await peer.take(FrameType.QUEUE_PURGE)).requestId, { messageCount: 0 });
    await p;
  });

  it('a throwing listener does not break frame handling', async () => {
    const { peer, conn } = await openPair();
    conn.on('blocked', () => {
      throw new Error('listener bug');
    });
    const reported = new Promise<unknown>((resolve) => conn.once('handlerError', resolve));
    peer.send({ type: FrameType.FLOW, blocked: true, reason: 'x' });
    expect(((await reported) as Error).message).toBe('listener bug');
    const p = conn.purgeQueue('q');
    peer.ok((await peer.take(FrameType.QUEUE_PURGE)).requestId, 1);
    expect(await p).toEqual({ messageCount: 1 });
  });
});

describe('connection loss', () => {
  it('rejects pending requests and publishes with ConnectionClosedError, then rejects new calls at once', async () => {
    const { peer, conn } = await openPair();
    const closeEvent = new Promise<WarrenError | undefined>((resolve) => conn.once('close', resolve));
    const req = settle(conn.declareQueue('q'));
    const pubs = [settle(conn.publish('', 'q', 'a')), settle(conn.publish('', 'q', 'b'))];
    await peer.take(FrameType.PUBLISH);
    await peer.take(FrameType.PUBLISH);
    peer.socket.destroy();

    for (const r of [await req, ...(await Promise.all(pubs))]) {
      expect(r.ok).toBe(false);
      const err = (r as { error: WarrenError }).error;
      expect(err).toBeInstanceOf(ConnectionClosedError);
      expect(err.retriable).toBe(true);
    }
    expect(await closeEvent).toBeInstanceOf(ConnectionClosedError);
    expect(await conn.closed).toBeInstanceOf(ConnectionClosedError);
    for (const later of [conn.publish('', 'q', 'x'), conn.declareQueue('z'), conn.get('q'), conn.consume('q')]) {
      expect((await settle(later as Promise<unknown>)).ok).toBe(false);
      await expect(later).rejects.toBeInstanceOf(ConnectionClosedError);
    }
    await conn.close(); // already closed: resolves
  });

  it('server CLOSE: replies CLOSE_OK, emits close with the server error, fails pending work', async () => {
    const { peer, conn } = await openPair();
    const closeEvent = new Promise<WarrenError | undefined>((resolve) => conn.once('close', resolve));
    const req = settle(conn.purgeQueue('q'));
    await peer.take(FrameType.QUEUE_PURGE);
    peer.send({ type: FrameType.CLOSE, code: ErrorCodes.CONNECTION_FORCED, name: 'CONNECTION_FORCED', message: 'broker shutting down' });
    await peer.take(FrameType.CLOSE_OK);
    const err = await closeEvent;
    expect(err?.code).toBe(ErrorCodes.CONNECTION_FORCED);
    expect(err?.message).toBe('broker shutting down');
    const r = await req;
    expect((r as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
    expect(((r as { error: Error }).error).cause).toBe(err);
  });

  it('server CLOSE with code 0 is a normal close; pending work still fails', async () => {
    const { peer, conn } = await openPair();
    const closeEvent = new Promise<unknown[]>((resolve) => conn.once('close', (...args) => resolve(args)));
    const req = settle(conn.purgeQueue('q'));
    await peer.take(FrameType.QUEUE_PURGE);
    peer.send({ type: FrameType.CLOSE, code: 0, name: 'OK', message: '' });
    await peer.take(FrameType.CLOSE_OK);
    expect(await closeEvent).toEqual([undefined]);
    expect(await conn.closed).toBeNull();
    expect((await req as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
  });

  it('answers an unexpected frame type with CLOSE (COMMAND_INVALID) and closes', async () => {
    const { peer, conn } = await openPair();
    peer.send({ type: FrameType.QUEUE_PURGE, requestId: 1, queue: 'q' });
    const close = await peer.take(FrameType.CLOSE);
    expect(close.code).toBe(ErrorCodes.COMMAND_INVALID);
    peer.socket.end();
    expect((await conn.closed)?.code).toBe(ErrorCodes.COMMAND_INVALID);
  });
});

describe('heartbeats', () => {
  it('sends HEARTBEAT when idle', async () => {
    const { peer } = await openPair({ heartbeatMs: 40 }, { heartbeatMs: 40 });
    await peer.take(FrameType.HEARTBEAT);
    await peer.take(FrameType.HEARTBEAT);
  });

  it('declares a silent server dead: close with TimeoutError, pending work fails with ConnectionClosedError', async () => {
    const { peer, conn } = await openPair({ heartbeatMs: 20 }, { heartbeatMs: 20 });
    const req = settle(conn.purgeQueue('q'));
    await peer.take(FrameType.QUEUE_PURGE);
    const err = await conn.closed;
    expect(err).toBeInstanceOf(TimeoutError);
    const r = await req;
    expect((r as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
    expect(((r as { error: Error }).error).cause).toBe(err);
  });

  it('a server that keeps talking is not declared dead', async () => {
    const { peer, conn } = await openPair({ heartbeatMs: 30 }, { heartbeatMs: 30 });
    // Answer each client heartbeat with one; outlive several 2 x heartbeat windows.
    for (let i = 0; i < 6; i++) {
      await peer.take(FrameType.HEARTBEAT);
      peer.send({ type: FrameType.HEARTBEAT });
    }
    const p = conn.purgeQueue('q');
    peer.ok((await peer.take(FrameType.QUEUE_PURGE)).requestId, 0);
    await p;
  });
});

describe('close', () => {
  it('sends CLOSE, waits for CLOSE_OK, then resolves; close event has no error', async () => {
    const { peer, conn } = await openPair();
    let closeArgs: unknown[] | undefined;
    conn.on('close', (...args) => (closeArgs = args));
    const closing = conn.close();
    expect(conn.close()).toBe(closing);
    await peer.take(FrameType.CLOSE);
    peer.send({ type: FrameType.CLOSE_OK });
    await closing;
    expect(closeArgs).toEqual([undefined]);
    expect(await conn.closed).toBeNull();
    await expect(conn.purgeQueue('q')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('waits for outstanding confirms before sending CLOSE', async () => {
    const { peer, conn } = await openPair({ heartbeatMs: 20 }, { heartbeatMs: 20 });
    const pub = conn.publish('', 'q', 'last words');
    const closing = conn.close();
    await expect(conn.publish('', 'q', 'too late')).rejects.toBeInstanceOf(ConnectionClosedError);
    const publish = await peer.take(FrameType.PUBLISH);
    // The client has been idle long enough to heartbeat: had it sent CLOSE, it would be here first.
    const next = await peer.take(FrameType.HEARTBEAT, FrameType.CLOSE);
    expect(next.type).toBe(FrameType.HEARTBEAT);
    peer.send({ type: FrameType.CONFIRM, seq: publish.seq, multiple: false });
    await pub;
    await peer.take(FrameType.CLOSE);
    peer.send({ type: FrameType.CLOSE_OK });
    await closing;
  });

  it('ignores everything but CLOSE/CLOSE_OK after sending CLOSE', async () => {
    const { peer, conn } = await openPair();
    const got: unknown[] = [];
    const req = await peer.acceptConsume(conn.consume('q', (m) => void got.push(m)));
    conn.on('blocked', () => got.push('blocked'));
    const closing = conn.close();
    // close() drains: it cancels consumers before sending CLOSE.
    peer.ok((await peer.take(FrameType.CANCEL)).requestId);
    await peer.take(FrameType.CLOSE);
    peer.send(
      { type: FrameType.DELIVER, consumerTag: req.options.consumerTag!, deliveryTag: 1, redelivered: false, deliveryCount: 1, exchange: '', routingKey: 'q', properties: null, body: Buffer.from('late') },
      { type: FrameType.FLOW, blocked: true, reason: 'late' },
      { type: FrameType.CLOSE_OK },
    );
    await closing;
    expect(got).toEqual([]);
    expect(peer.all(FrameType.REJECT, FrameType.ACK, FrameType.NACK)).toEqual([]);
  });

  it('Symbol.asyncDispose closes the connection (await using)', async () => {
    const server = await fakeServer();
    let peerRef: Awaited<ReturnType<typeof server.nextPeer>> | undefined;
    const answer = (async () => {
      const peer = await server.nextPeer();
      peerRef = peer;
      await peer.handshake();
      await peer.take(FrameType.CLOSE);
      peer.send({ type: FrameType.CLOSE_OK });
    })();
    let conn;
    {
      await using c = await connect({ port: server.port });
      conn = c;
    }
    await answer;
    expect(await conn.closed).toBeNull();
    expect(peerRef!.all(FrameType.CLOSE)).toHaveLength(1);
  });
});
