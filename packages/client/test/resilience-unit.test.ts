/**
 * Reconnection, topology recovery, publish recovery, buffering, limits and
 * draining, against the scripted fake server: every frame the client sends
 * on the old and the new socket is checked, and the test decides when the
 * new socket's handshake completes, so no assertion depends on timing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, FrameType, WarrenError, type OpenOkFrame } from '@warren/protocol';
import { connect, kTopology, type Connection } from '../src/connection.js';
import { AbortError, ConnectionClosedError, MessageTooLargeError, PublishBufferFullError, PublishNackedError, TimeoutError } from '../src/errors.js';
import type { Message } from '../src/message.js';
import { backoffDelay, resolveOptions, type ConnectOptions } from '../src/options.js';
import type { ConnectedEvent, QueueRenamedEvent, RecoveryItem, StatusEvent } from '../src/status.js';
import { FakeServer, type FakePeer, type FrameOf } from './fake-server.js';
import { nextEvent, settle, tracked } from '../../../test-support/wait.js';

const FAST = { initialDelayMs: 1, maxDelayMs: 10, jitter: 0 };

const servers: FakeServer[] = [];
const conns: Connection[] = [];

afterEach(async () => {
  const closing = conns.splice(0).map((c) => c.close({ drainTimeoutMs: 0 }));
  // Dropping the server's sockets ends every link, so each close() finishes.
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(closing);
});

async function startServer(): Promise<FakeServer> {
  const s = await FakeServer.start();
  servers.push(s);
  return s;
}

async function reconnectingPair(opts: ConnectOptions = {}, openOk: Partial<OpenOkFrame> = {}) {
  const server = await startServer();
  const connecting = connect({ port: server.port, heartbeatMs: 0, reconnect: FAST, ...opts });
  const peer = await server.nextPeer();
  await peer.handshake({ connectionId: 'link-1', ...openOk });
  const conn = await connecting;
  conns.push(conn);
  return { server, peer, conn };
}

/** Takes the next frame of `type` and answers OK with `result` (or what `result(frame)` returns). */
async function answer<T extends number>(peer: FakePeer, type: T, result: unknown = null): Promise<FrameOf<T>> {
  const f = await peer.take(type);
  const r = typeof result === 'function' ? (result as (f: unknown) => unknown)(f) : result;
  peer.ok((f as unknown as { requestId: number }).requestId, r);
  return f;
}

const consumeOk = (f: { options: { consumerTag?: string } }) => ({ consumerTag: f.options.consumerTag });
const queueOk = (queue: string) => ({ queue, messageCount: 0, consumerCount: 0 });

/** Kills the current socket and completes the handshake on the client's next one. */
async function relink(server: FakeServer, peer: FakePeer, connectionId = 'link-2'): Promise<FakePeer> {
  peer.socket.destroy();
  const next = await server.nextPeer();
  await next.handshake({ connectionId });
  return next;
}

describe('status', () => {
  it('reports connected -> disconnected -> reconnecting -> connected -> closed, as a stream and as events', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const seen: StatusEvent[] = [];
    const emitted: string[] = [];
    for (const t of ['connected', 'disconnected', 'reconnecting', 'blocked', 'unblocked', 'closed'] as const) {
      conn.on(t, (e: StatusEvent) => emitted.push(e.type));
    }
    const iterating = (async () => {
      for await (const e of conn.statusEvents()) seen.push(e);
    })();
    const reconnected = nextEvent<ConnectedEvent>(conn, 'connected');
    const peer2 = await relink(server, peer);
    await reconnected;
    expect(conn.connectionId).toBe('link-2');
    expect(conn.isConnected).toBe(true);

    const closing = conn.close();
    await peer2.take(FrameType.CLOSE);
    peer2.send({ type: FrameType.CLOSE_OK });
    await closing;
    await iterating; // the stream ends after 'closed'

    expect(seen.map((e) => e.type)).toEqual(['connected', 'disconnected', 'reconnecting', 'connected', 'closed']);
    expect(seen[0]).toMatchObject({ reconnected: false, connectionId: 'link-1', attempts: 0 });
    expect(seen[1]).toMatchObject({ willReconnect: true });
    expect((seen[1] as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
    expect(seen[2]).toMatchObject({ attempt: 1, delayMs: 1 });
    expect(seen[3]).toMatchObject({ reconnected: true, connectionId: 'link-2', attempts: 1, recoveryErrors: [] });
    expect(seen[4]).toEqual({ type: 'closed', error: undefined });
    expect(emitted).toEqual(['disconnected', 'reconnecting', 'connected', 'closed']);

    const late: string[] = [];
    for await (const e of conn.statusEvents()) late.push(e.type);
    expect(late).toEqual(['closed']);
  });

  it('FLOW blocking belongs to one socket: a lost link unblocks, the new link is blocked again only when the broker says so', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const events: string[] = [];
    conn.on('blocked', (e) => events.push(`blocked:${e.reason}`));
    conn.on('unblocked', () => events.push('unblocked'));
    peer.send({ type: FrameType.FLOW, blocked: true, reason: 'memory alarm' });
    await new Promise((r) => conn.once('blocked', r));
    const held = conn.publish('', 'q', 'held');
    await peer.sync(conn);
    expect(peer.all(FrameType.PUBLISH)).toHaveLength(0);

    const peer2 = await relink(server, peer);
    const f = await peer2.take(FrameType.PUBLISH);
    expect(f.body.toString()).toBe('held');
    peer2.send({ type: FrameType.CONFIRM, seq: f.seq, multiple: false });
    await held;
    expect(conn.blocked).toBe(false);

    peer2.send({ type: FrameType.FLOW, blocked: true, reason: 'disk alarm' });
    await new Promise((r) => conn.once('blocked', r));
    const held2 = conn.publish('', 'q', 'held again');
    await peer2.sync(conn);
    expect(peer2.all(FrameType.PUBLISH)).toHaveLength(1);
    peer2.send({ type: FrameType.FLOW, blocked: false, reason: '' });
    const f2 = await peer2.take(FrameType.PUBLISH);
    peer2.send({ type: FrameType.CONFIRM, seq: f2.seq, multiple: false });
    await held2;
    expect(events).toEqual(['blocked:memory alarm', 'unblocked', 'blocked:disk alarm', 'unblocked']);
  });
});

describe('topology recovery', () => {
  it('re-declares in dependency order; a server-named queue gets a new name that bindings and consumers follow; deleted items stay deleted', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const step = async <T>(p: Promise<T>, type: number, result: unknown = null): Promise<T> => {
      await answer(peer, type, result);
      return p;
    };
    await step(conn.declareExchange('ex', 'topic', { durable: true }), FrameType.EXCHANGE_DECLARE);
    await step(conn.declareExchange('ex2', 'fanout'), FrameType.EXCHANGE_DECLARE);
    await step(conn.declareExchange('temp', 'direct'), FrameType.EXCHANGE_DECLARE);
    await step(conn.bindExchange('ex2', 'ex', 'a.#'), FrameType.EXCHANGE_BIND);
    const { queue: gen } = await step(conn.declareQueue('', { exclusive: true }), FrameType.QUEUE_DECLARE, queueOk('amq.gen-1'));
    await step(conn.declareQueue('named', { durable: true }), FrameType.QUEUE_DECLARE, queueOk('named'));
    await step(conn.declareQueue('doomed'), FrameType.QUEUE_DECLARE, queueOk('doomed'));
    await step(conn.bindQueue(gen, 'ex', 'a.*'), FrameType.QUEUE_BIND);
    await step(conn.bindQueue('named', 'ex2'), FrameType.QUEUE_BIND);
    await step(conn.bindQueue('named', 'temp', 'x'), FrameType.QUEUE_BIND); // goes with the exchange
    await step(conn.bindQueue('doomed', 'ex', 'd'), FrameType.QUEUE_BIND); // goes with the queue
    await step(conn.bindQueue('named', 'ex', 'gone'), FrameType.QUEUE_BIND);
    await step(conn.unbindQueue('named', 'ex', 'gone'), FrameType.QUEUE_UNBIND);
    await step(conn.deleteExchange('temp'), FrameType.EXCHANGE_DELETE);
    await step(conn.deleteQueue('doomed'), FrameType.QUEUE_DELETE, { messageCount: 0 });
    const got: string[] = [];
    const consumer = await step(
      conn.consume(gen, (m) => {
        got.push(m.body.toString());
        m.ack();
      }),
      FrameType.CONSUME,
      consumeOk,
    );
    const gone = await step(conn.consume('named', () => {}), FrameType.CONSUME, consumeOk);
    const cancelling = gone.cancel();
    await answer(peer, FrameType.CANCEL);
    await cancelling;

    const renamed = nextEvent<QueueRenamedEvent>(conn, 'queueRenamed');
    const reconnected = nextEvent<ConnectedEvent>(conn, 'connected');
    const p2 = await relink(server, peer);

    const exchanges = [await p2.take(FrameType.EXCHANGE_DECLARE), await p2.take(FrameType.EXCHANGE_DECLARE)];
    expect(exchanges.map((f) => [f.exchange, f.exchangeType, f.options])).toEqual([
      ['ex', 'topic', { durable: true }],
      ['ex2', 'fanout', {}],
    ]);
    // The next stage waits for this one's replies.
    expect(p2.all(FrameType.QUEUE_DECLARE)).toHaveLength(0);
    for (const f of exchanges) p2.ok(f.requestId);

    const queues = [await p2.take(FrameType.QUEUE_DECLARE), await p2.take(FrameType.QUEUE_DECLARE)];
    expect(queues.map((f) => [f.queue, f.options])).toEqual([
      ['', { exclusive: true }],
      ['named', { durable: true }],
    ]);
    expect(p2.all(FrameType.EXCHANGE_BIND, FrameType.QUEUE_BIND)).toHaveLength(0);
    p2.ok(queues[0]!.requestId, queueOk('amq.gen-2'));
    p2.ok(queues[1]!.requestId, queueOk('named'));

    const eb = await answer(p2, FrameType.EXCHANGE_BIND);
    expect(eb).toMatchObject({ destination: 'ex2', source: 'ex', routingKey: 'a.#' });
    const qb = [await answer(p2, FrameType.QUEUE_BIND), await answer(p2, FrameType.QUEUE_BIND)];
    expect(qb.map((f) => `${f.queue}<-${f.exchange}:${f.routingKey}`).sort()).toEqual(['amq.gen-2<-ex:a.*', 'named<-ex2:']);

    const c = await answer(p2, FrameType.CONSUME, consumeOk);
    expect(c).toMatchObject({ queue: 'amq.gen-2', options: { consumerTag: consumer.tag } });
    expect(await renamed).toEqual({ oldName: 'amq.gen-1', newName: 'amq.gen-2' });
    expect((await reconnected).recoveryErrors).toEqual([]);
    expect(consumer.queue).toBe('amq.gen-2');
    // Exactly the live topology came back: nothing deleted, unbound or cancelled.
    expect(p2.frames.map((f) => f.type)).toEqual([
      FrameType.OPEN,
      FrameType.EXCHANGE_DECLARE,
      FrameType.EXCHANGE_DECLARE,
      FrameType.QUEUE_DECLARE,
      FrameType.QUEUE_DECLARE,
      FrameType.EXCHANGE_BIND,
      FrameType.QUEUE_BIND,
      FrameType.QUEUE_BIND,
      FrameType.CONSUME,
    ]);
    const topo = conn[kTopology];
    expect([...topo.queues.keys()].sort()).toEqual(['amq.gen-2', 'named']);
    expect([...topo.bindings.values()].filter((b) => b.destination === 'amq.gen-2')).toHaveLength(1);

    p2.deliver(consumer.tag, 1, 'after the reconnect');
    await p2.sync(conn);
    expect(got).toEqual(['after the reconnect']);
    expect(p2.all(FrameType.ACK)).toEqual([{ type: FrameType.ACK, deliveryTag: 1, multiple: false }]);
  });

  it('a non-exclusive server-named queue keeps its name if it survived (passive check), else gets a new one', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const kept = conn.declareQueue('', { autoDelete: true });
    await answer(peer, FrameType.QUEUE_DECLARE, queueOk('amq.gen-kept'));
    await kept;
    const lost = conn.declareQueue('');
    await answer(peer, FrameType.QUEUE_DECLARE, queueOk('amq.gen-lost'));
    await lost;
    const renames: QueueRenamedEvent[] = [];
    conn.on('queueRenamed', (e) => renames.push(e));
    const reconnected = nextEvent<ConnectedEvent>(conn, 'connected');
    const p2 = await relink(server, peer);
    const a = await answer(p2, FrameType.QUEUE_DECLARE, queueOk('amq.gen-kept'));
    expect(a).toMatchObject({ queue: 'amq.gen-kept', options: { autoDelete: true, passive: true } });
    const b = await p2.take(FrameType.QUEUE_DECLARE);
    expect(b).toMatchObject({ queue: 'amq.gen-lost', options: { passive: true } });
    p2.send({ type: FrameType.ERROR, requestId: b.requestId, code: ErrorCodes.NOT_FOUND, name: 'NOT_FOUND', message: 'no queue', details: null });
    const c = await answer(p2, FrameType.QUEUE_DECLARE, queueOk('amq.gen-new'));
    expect(c).toMatchObject({ queue: '', options: {} });
    await reconnected;
    expect(renames).toEqual([{ oldName: 'amq.gen-lost', newName: 'amq.gen-new' }]);
  });

  it('an item the broker refuses is reported, dropped, and its consumer ended; the connection carries on', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const declared = conn.declareQueue('q');
    await answer(peer, FrameType.QUEUE_DECLARE, queueOk('q'));
    await declared;
    const bound = conn.bindQueue('q', 'someone-elses-exchange', 'k');
    await answer(peer, FrameType.QUEUE_BIND);
    await bound;
    const consuming = conn.consume('someone-elses-queue', () => {});
    await answer(peer, FrameType.CONSUME, consumeOk);
    const consumer = await consuming;

    const reported: [WarrenError, RecoveryItem][] = [];
    conn.on('recoveryError', (err, item) => reported.push([err, item]));
    const reconnected = nextEvent<ConnectedEvent>(conn, 'connected');
    const p2 = await relink(server, peer);
    await answer(p2, FrameType.QUEUE_DECLARE, queueOk('q'));
    const b = await p2.take(FrameType.QUEUE_BIND);
    p2.send({ type: FrameType.ERROR, requestId: b.requestId, code: ErrorCodes.NOT_FOUND, name: 'NOT_FOUND', message: 'no exchange', details: null });
    const c = await p2.take(FrameType.CONSUME);
    p2.send({ type: FrameType.ERROR, requestId: c.requestId, code: ErrorCodes.NOT_FOUND, name: 'NOT_FOUND', message: 'no queue', details: null });

    const connected = await reconnected;
    expect(connected.recoveryErrors.map((e) => e.code)).toEqual([ErrorCodes.NOT_FOUND, ErrorCodes.NOT_FOUND]);
    expect(reported.map(([, item]) => item.kind)).toEqual(['binding', 'consumer']);
    expect((await consumer.cancelled)?.code).toBe(ErrorCodes.NOT_FOUND);
    expect(conn[kTopology].bindings.size).toBe(0);
    expect(conn[kTopology].consumers.size).toBe(0);
    await p2.sync(conn);
  });

  it('RESOURCE_LOCKED (the broker still holds our old exclusive queue) retries the whole recovery on a new socket', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const declared = conn.declareQueue('mine', { exclusive: true });
    await answer(peer, FrameType.QUEUE_DECLARE, queueOk('mine'));
    await declared;
    const events: StatusEvent[] = [];
    for (const t of ['connected', 'disconnected', 'reconnecting'] as const) conn.on(t, (e: StatusEvent) => events.push(e));
    const p2 = await relink(server, peer);
    const q = await p2.take(FrameType.QUEUE_DECLARE);
    p2.send({ type: FrameType.ERROR, requestId: q.requestId, code: ErrorCodes.RESOURCE_LOCKED, name: 'RESOURCE_LOCKED', message: 'exclusive to another connection', details: null });
    await p2.closedPromise;
    const reconnected = nextEvent<ConnectedEvent>(conn, 'connected');
    const p3 = await server.nextPeer();
    await p3.handshake({ connectionId: 'link-3' });
    await answer(p3, FrameType.QUEUE_DECLARE, queueOk('mine'));
    expect(await reconnected).toMatchObject({ connectionId: 'link-3', attempts: 2, recoveryErrors: [] });
    expect(events.map((e) => e.type)).toEqual(['disconnected', 'reconnecting', 'reconnecting', 'connected']);
    expect(conn[kTopology].queues.has('mine')).toBe(true);
  });

  it('a consumer cancelled while disconnected is not re-subscribed', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const consuming = conn.consume('q', () => {});
    await answer(peer, FrameType.CONSUME, consumeOk);
    const consumer = await consuming;
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    await disconnected;
    await consumer.cancel();
    expect(await consumer.cancelled).toBeNull();
    const reconnected = nextEvent<ConnectedEvent>(conn, 'connected');
    const p2 = await server.nextPeer();
    await p2.handshake();
    await reconnected;
    await p2.sync(conn);
    expect(p2.all(FrameType.CONSUME, FrameType.CANCEL)).toEqual([]);
  });
});

describe('deliveries across a reconnect', () => {
  it('acks, nacks and rejects of messages from the old socket are no-ops: nothing is sent and the new socket keeps working', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const got: Message[] = [];
    const consuming = conn.consume('q', (m) => void got.push(m));
    await answer(peer, FrameType.CONSUME, consumeOk);
    const consumer = await consuming;
    for (let tag = 1; tag <= 3; tag++) peer.deliver(consumer.tag, tag, `old-${tag}`);
    await peer.sync(conn);
    const [o1, o2, o3] = got as [Message, Message, Message];
    expect(o1.settled).toBe(false);

    const reconnected = nextEvent<ConnectedEvent>(conn, 'connected');
    const p2 = await relink(server, peer);
    await answer(p2, FrameType.CONSUME, consumeOk);
    await reconnected;
    expect([o1.settled, o2.settled, o3.settled]).toEqual([true, true, true]);
    expect(o1.ack()).toBe(false);
    expect(o2.nack({ requeue: false })).toBe(false);
    expect(o3.reject()).toBe(false);
    expect(o1.ack({ multiple: true })).toBe(false);

    const serverErrors: unknown[] = [];
    conn.on('serverError', (e) => serverErrors.push(e));
    p2.deliver(consumer.tag, 7, 'new');
    await p2.sync(conn);
    const fresh = got[3]!;
    expect(fresh.body.toString()).toBe('new');
    expect(fresh.ack()).toBe(true);
    expect(fresh.ack()).toBe(false); // settled once
    await p2.sync(conn);
    expect(p2.all(FrameType.ACK, FrameType.NACK, FrameType.REJECT)).toEqual([{ type: FrameType.ACK, deliveryTag: 7, multiple: false }]);
    expect(peer.all(FrameType.ACK, FrameType.NACK, FrameType.REJECT)).toEqual([]);
    expect(serverErrors).toEqual([]);
  });

  it('an iterating consumer drops what it buffered from the old socket and goes on with the new one, without ending the loop', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const consuming = conn.consume('q', { prefetch: 10 });
    await answer(peer, FrameType.CONSUME, consumeOk);
    const consumer = await consuming;
    peer.deliver(consumer.tag, 1, 'taken');
    peer.deliver(consumer.tag, 2, 'buffered, then stale');
    await peer.sync(conn);
    const it = consumer[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value?.body.toString()).toBe('taken');

    const p2 = await relink(server, peer);
    await answer(p2, FrameType.CONSUME, consumeOk);
    p2.deliver(consumer.tag, 1, 'redelivered');
    const next = await it.next();
    expect(next.done).toBe(false);
    expect(next.value?.body.toString()).toBe('redelivered');
    expect(next.value?.ack()).toBe(true);
    const stopping = it.return!();
    await answer(p2, FrameType.CANCEL);
    await stopping;
  });
});

describe('publishes across a reconnect', () => {
  it("'resend': unconfirmed publishes go again, in order, with new seqs, matched to confirms by seq; none resolves before its confirm", async () => {
    const { server, peer, conn } = await reconnectingPair();
    const pubs = ['a', 'b', 'c'].map((s) => tracked(conn.publish('', 'q', s)));
    for (let i = 0; i < 3; i++) await peer.take(FrameType.PUBLISH);
    peer.send({ type: FrameType.CONFIRM, seq: 2, multiple: false });
    await pubs[1]!.result;
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    await disconnected;
    const d = tracked(conn.publish('', 'q', 'd'));
    expect(conn.bufferedPublishes).toBe(3);
    const p2 = await server.nextPeer();
    await p2.handshake();
    const sent = [await p2.take(FrameType.PUBLISH), await p2.take(FrameType.PUBLISH), await p2.take(FrameType.PUBLISH)];
    expect(sent.map((f) => [f.seq, f.body.toString()])).toEqual([
      [1, 'a'],
      [2, 'c'],
      [3, 'd'],
    ]);
    await p2.sync(conn);
    expect([pubs[0]!.settled(), pubs[2]!.settled(), d.settled()]).toEqual([false, false, false]);
    p2.send(
      { type: FrameType.CONFIRM, seq: 3, multiple: false },
      { type: FrameType.PUBLISH_NACK, seq: 2, code: ErrorCodes.RESOURCE_LIMIT, name: 'RESOURCE_LIMIT', message: 'full' },
      { type: FrameType.CONFIRM, seq: 1, multiple: false },
    );
    expect((await pubs[0]!.result).ok).toBe(true);
    expect((await d.result).ok).toBe(true);
    const c = await pubs[2]!.result;
    expect((c as { error: unknown }).error).toBeInstanceOf(PublishNackedError);
  });

  it("'reject': unconfirmed publishes fail with a retriable ConnectionClosedError; publishes never written still go out", async () => {
    const { server, peer, conn } = await reconnectingPair({ publishRecovery: 'reject', publishWindow: 1 });
    const a = settle(conn.publish('', 'q', 'a'));
    const b = tracked(conn.publish('', 'q', 'b')); // waits for the window
    await peer.take(FrameType.PUBLISH);
    peer.socket.destroy();
    const ra = (await a) as { ok: false; error: WarrenError };
    expect(ra.ok).toBe(false);
    expect(ra.error).toBeInstanceOf(ConnectionClosedError);
    expect(ra.error.retriable).toBe(true);
    const p2 = await server.nextPeer();
    await p2.handshake();
    const f = await p2.take(FrameType.PUBLISH);
    expect([f.seq, f.body.toString()]).toEqual([1, 'b']);
    expect(b.settled()).toBe(false);
    p2.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    expect((await b.result).ok).toBe(true);
  });

  it("buffer full: 'reject' fails fast with PublishBufferFullError and sends nothing for it", async () => {
    const { server, peer, conn } = await reconnectingPair({ maxBufferedPublishes: 2, whenBufferFull: 'reject' });
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    await disconnected;
    expect(conn.isConnected).toBe(false);
    const kept = [conn.publish('', 'q', '1'), conn.publish('', 'q', '2')];
    const r = (await settle(conn.publish('', 'q', '3'))) as { ok: false; error: PublishBufferFullError };
    expect(r.error).toBeInstanceOf(PublishBufferFullError);
    expect(r.error.code).toBe(ErrorCodes.RESOURCE_LIMIT);
    expect(r.error.retriable).toBe(true);
    expect(r.error.limit).toBe(2);
    const p2 = await server.nextPeer();
    await p2.handshake();
    const sent = [await p2.take(FrameType.PUBLISH), await p2.take(FrameType.PUBLISH)];
    p2.send({ type: FrameType.CONFIRM, seq: 2, multiple: true });
    await Promise.all(kept);
    await p2.sync(conn);
    expect(sent.map((f) => f.body.toString())).toEqual(['1', '2']);
    expect(p2.all(FrameType.PUBLISH)).toHaveLength(2);
  });

  it("buffer full: 'wait' keeps the publish pending until there is room, then sends it", async () => {
    const { server, peer, conn } = await reconnectingPair({ maxBufferedPublishes: 2, whenBufferFull: 'wait' });
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    await disconnected;
    const pubs = ['1', '2', '3'].map((s) => tracked(conn.publish('', 'q', s)));
    const p2 = await server.nextPeer();
    expect(pubs.map((p) => p.settled())).toEqual([false, false, false]);
    await p2.handshake();
    const sent = [await p2.take(FrameType.PUBLISH), await p2.take(FrameType.PUBLISH), await p2.take(FrameType.PUBLISH)];
    expect(sent.map((f) => f.body.toString())).toEqual(['1', '2', '3']);
    p2.send({ type: FrameType.CONFIRM, seq: 3, multiple: true });
    for (const p of pubs) expect((await p.result).ok).toBe(true);
  });

  it('a buffered publish that times out or is aborted rejects and is never sent, and frees its buffer slot', async () => {
    const { server, peer, conn } = await reconnectingPair({ maxBufferedPublishes: 2, whenBufferFull: 'reject' });
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    await disconnected;
    const ac = new AbortController();
    const aborted = settle(conn.publish('', 'q', 'aborted', { signal: ac.signal }));
    const timedOut = settle(conn.publish('', 'q', 'timed out', { timeoutMs: 5 }));
    ac.abort(new Error('user gave up'));
    const ra = (await aborted) as { ok: false; error: AbortError };
    expect(ra.error).toBeInstanceOf(AbortError);
    expect((ra.error.cause as Error).message).toBe('user gave up');
    expect(((await timedOut) as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    expect(conn.bufferedPublishes).toBe(0);
    const kept = [conn.publish('', 'q', 'kept-1'), conn.publish('', 'q', 'kept-2')];
    const p2 = await server.nextPeer();
    await p2.handshake();
    const sent = [await p2.take(FrameType.PUBLISH), await p2.take(FrameType.PUBLISH)];
    p2.send({ type: FrameType.CONFIRM, seq: 2, multiple: true });
    await Promise.all(kept);
    await p2.sync(conn);
    expect(sent.map((f) => [f.seq, f.body.toString()])).toEqual([
      [1, 'kept-1'],
      [2, 'kept-2'],
    ]);
    expect(p2.all(FrameType.PUBLISH)).toHaveLength(2);
  });

  it('a buffered publish that no longer fits the new socket\'s smaller frameMax fails with MessageTooLargeError', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    await disconnected;
    const big = settle(conn.publish('', 'q', Buffer.alloc(8000)));
    const small = conn.publish('', 'q', 'small');
    const p2 = await server.nextPeer();
    await p2.handshake({ frameMax: 4096 });
    const r = (await big) as { ok: false; error: unknown };
    expect(r.error).toBeInstanceOf(MessageTooLargeError);
    const f = await p2.take(FrameType.PUBLISH);
    expect([f.seq, f.body.toString()]).toEqual([1, 'small']);
    p2.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    await small;
  });
});

describe('requests across a reconnect', () => {
  it('a request in flight when the link drops rejects (retriable); one made while reconnecting waits and runs after recovery', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const inFlight = settle(conn.purgeQueue('q'));
    await peer.take(FrameType.QUEUE_PURGE);
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    const r = (await inFlight) as { ok: false; error: WarrenError };
    expect(r.error).toBeInstanceOf(ConnectionClosedError);
    expect(r.error.retriable).toBe(true);
    await disconnected;
    const later = conn.declareQueue('later');
    const p2 = await server.nextPeer();
    await p2.handshake();
    await answer(p2, FrameType.QUEUE_DECLARE, queueOk('later'));
    expect((await later).queue).toBe('later');
    expect(conn[kTopology].queues.has('later')).toBe(true);
  });
});

describe('giving up', () => {
  it('maxRetries: after that many failed attempts the connection closes with the last error and everything waiting fails', async () => {
    const { server, peer, conn } = await reconnectingPair({ reconnect: { ...FAST, maxRetries: 2 } });
    const consuming = conn.consume('q');
    await answer(peer, FrameType.CONSUME, consumeOk);
    const consumer = await consuming;
    const attempts: number[] = [];
    conn.on('reconnecting', (e) => attempts.push(e.attempt));
    const closedEvent = nextEvent<{ error: WarrenError }>(conn, 'closed');
    await server.close(); // nothing listens any more
    const waiting = settle(conn.publish('', 'q', 'never sent'));
    const loop = settle(
      (async () => {
        for await (const m of consumer) void m;
      })(),
    );
    const { error } = await closedEvent;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/gave up reconnecting after 2 attempts/);
    expect(attempts).toEqual([1, 2]);
    expect(await conn.closed).toBe(error);
    expect(((await waiting) as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
    expect(((await loop) as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
    await expect(conn.declareQueue('x')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('a non-retriable close (protocol violation) is not reconnected', async () => {
    const { peer, conn } = await reconnectingPair();
    const events: string[] = [];
    for (const t of ['disconnected', 'reconnecting', 'closed'] as const) conn.on(t, (e: StatusEvent) => events.push(e.type));
    peer.send({ type: FrameType.CLOSE, code: ErrorCodes.FRAME_ERROR, name: 'FRAME_ERROR', message: 'bad frame' });
    expect((await conn.closed)?.code).toBe(ErrorCodes.FRAME_ERROR);
    expect(events).toEqual(['disconnected', 'closed']);
  });

  it('a broker that refuses the reconnect handshake for good (ACCESS_REFUSED) closes the connection', async () => {
    const { server, peer, conn } = await reconnectingPair();
    peer.socket.destroy();
    const p2 = await server.nextPeer();
    await p2.take(FrameType.OPEN);
    p2.send(
      { type: FrameType.ERROR, requestId: 0, code: ErrorCodes.ACCESS_REFUSED, name: 'ACCESS_REFUSED', message: 'password changed', details: null },
      { type: FrameType.CLOSE, code: ErrorCodes.ACCESS_REFUSED, name: 'ACCESS_REFUSED', message: 'password changed' },
    );
    expect((await conn.closed)?.code).toBe(ErrorCodes.ACCESS_REFUSED);
  });

  it('reconnect: false closes on the first loss', async () => {
    const { peer, conn } = await reconnectingPair({ reconnect: false });
    peer.socket.destroy();
    expect(await conn.closed).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('limits', () => {
  it('publish: an aborted signal rejects at once; a signal or timeout firing after the publish was written rejects, and its late confirm is ignored', async () => {
    const { peer, conn } = await reconnectingPair();
    const pre = new AbortController();
    pre.abort();
    await expect(conn.publish('', 'q', 'x', { signal: pre.signal })).rejects.toBeInstanceOf(AbortError);
    const ac = new AbortController();
    const aborted = settle(conn.publish('', 'q', 'a', { signal: ac.signal, persistent: true }));
    const timedOut = settle(conn.publish('', 'q', 'b', { timeoutMs: 5 }));
    const fa = await peer.take(FrameType.PUBLISH);
    expect(fa.properties).toEqual({ persistent: true }); // limits are not message properties
    await peer.take(FrameType.PUBLISH);
    ac.abort();
    expect(((await aborted) as { error: unknown }).error).toBeInstanceOf(AbortError);
    const t = (await timedOut) as { error: WarrenError };
    expect(t.error).toBeInstanceOf(TimeoutError);
    expect(t.error.code).toBe(ErrorCodes.TIMEOUT);
    peer.send({ type: FrameType.CONFIRM, seq: 2, multiple: true });
    const ok = conn.publish('', 'q', 'c');
    const fc = await peer.take(FrameType.PUBLISH);
    expect(fc.seq).toBe(3);
    peer.send({ type: FrameType.CONFIRM, seq: 3, multiple: false });
    await ok;
    expect(peer.all(FrameType.PUBLISH)).toHaveLength(3);
  });

  it('publishTimeoutMs applies to every publish that brings no deadline of its own', async () => {
    const { peer, conn } = await reconnectingPair({ publishTimeoutMs: 5 });
    const r = settle(conn.publish('', 'q', 'x'));
    await peer.take(FrameType.PUBLISH);
    expect(((await r) as { error: unknown }).error).toBeInstanceOf(TimeoutError);
  });

  it('consume: a timeout rejects with TimeoutError and cancels the late subscription; an abort after it started cancels the consumer', async () => {
    const { peer, conn } = await reconnectingPair();
    const timedOut = settle(conn.consume('slow', () => {}, { timeoutMs: 5 }));
    const req = await peer.take(FrameType.CONSUME);
    expect(req.options).not.toHaveProperty('timeoutMs');
    expect(((await timedOut) as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    peer.ok(req.requestId, consumeOk(req));
    const cancel = await answer(peer, FrameType.CANCEL);
    expect(cancel.consumerTag).toBe(req.options.consumerTag);

    const ac = new AbortController();
    const consuming = conn.consume('q', () => {}, { signal: ac.signal });
    const req2 = await answer(peer, FrameType.CONSUME, consumeOk);
    expect(req2.options).not.toHaveProperty('signal');
    const consumer = await consuming;
    ac.abort();
    const cancel2 = await answer(peer, FrameType.CANCEL);
    expect(cancel2.consumerTag).toBe(consumer.tag);
    expect(await consumer.cancelled).toBeNull();
    const pre = new AbortController();
    pre.abort();
    await expect(conn.consume('q', () => {}, { signal: pre.signal })).rejects.toBeInstanceOf(AbortError);
  });
});

describe('close drains', () => {
  it('cancels consumers, waits for running handlers (which may still ack) and for confirms, then sends CLOSE', async () => {
    const { peer, conn } = await reconnectingPair({ heartbeatMs: 20 }, { heartbeatMs: 20 });
    let finish!: () => void;
    const handlerDone = new Promise<void>((r) => (finish = r));
    let handled: Message | undefined;
    const consuming = conn.consume('q', async (m) => {
      handled = m;
      await handlerDone;
      m.ack();
    });
    await answer(peer, FrameType.CONSUME, consumeOk);
    const consumer = await consuming;
    peer.deliver(consumer.tag, 1, 'slow');
    const pub = conn.publish('', 'q', 'last words');
    const f = await peer.take(FrameType.PUBLISH);
    await peer.sync(conn);
    expect(handled).toBeDefined();

    const closing = conn.close();
    await expect(conn.publish('', 'q', 'too late')).rejects.toBeInstanceOf(ConnectionClosedError);
    await answer(peer, FrameType.CANCEL);
    // The handler is still running: the client heartbeats instead of closing.
    expect((await peer.take(FrameType.HEARTBEAT, FrameType.CLOSE)).type).toBe(FrameType.HEARTBEAT);
    finish();
    await peer.take(FrameType.ACK);
    expect((await peer.take(FrameType.HEARTBEAT, FrameType.CLOSE)).type).toBe(FrameType.HEARTBEAT); // the confirm is missing
    peer.send({ type: FrameType.CONFIRM, seq: f.seq, multiple: false });
    await pub;
    await peer.take(FrameType.CLOSE);
    peer.send({ type: FrameType.CLOSE_OK });
    await closing;
    expect(await conn.closed).toBeNull();
    const order = peer.frames.map((x) => x.type).filter((t) => t === FrameType.CANCEL || t === FrameType.ACK || t === FrameType.CLOSE);
    expect(order).toEqual([FrameType.CANCEL, FrameType.ACK, FrameType.CLOSE]);
  });

  it('past drainTimeoutMs, what is left fails with ConnectionClosedError and the connection closes anyway', async () => {
    const { peer, conn } = await reconnectingPair();
    const pub = settle(conn.publish('', 'q', 'never confirmed'));
    await peer.take(FrameType.PUBLISH);
    const closing = conn.close({ drainTimeoutMs: 5 });
    await peer.take(FrameType.CLOSE);
    const r = (await pub) as { ok: false; error: unknown };
    expect(r.error).toBeInstanceOf(ConnectionClosedError);
    peer.send({ type: FrameType.CLOSE_OK });
    await closing;
    expect(await conn.closed).toBeNull();
  });

  it('while reconnecting: close() keeps trying so buffered publishes go out, then closes', async () => {
    const { server, peer, conn } = await reconnectingPair();
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    await disconnected;
    const pub = conn.publish('', 'q', 'buffered');
    const closing = conn.close();
    const p2 = await server.nextPeer();
    await p2.handshake();
    const f = await p2.take(FrameType.PUBLISH);
    p2.send({ type: FrameType.CONFIRM, seq: f.seq, multiple: false });
    await pub;
    await p2.take(FrameType.CLOSE);
    p2.send({ type: FrameType.CLOSE_OK });
    await closing;
    expect(await conn.closed).toBeNull();
  });

  it('while reconnecting with nothing to drain: close() resolves without waiting for the broker, and stops reconnecting', async () => {
    const { server, peer, conn } = await reconnectingPair({ reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    const disconnected = nextEvent(conn, 'disconnected');
    peer.socket.destroy();
    await disconnected;
    await conn.close();
    expect(await conn.closed).toBeNull();
    await server.close();
  });
});

describe('options', () => {
  it('backoff grows by factor, is capped at maxDelayMs, and jitter stays within its band', () => {
    const r = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0, maxRetries: Infinity };
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, r))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const j = { ...r, jitter: 0.5 };
    expect(backoffDelay(2, j, () => 0)).toBe(100);
    expect(backoffDelay(2, j, () => 0.999999)).toBe(300);
    expect(backoffDelay(10, j, () => 0.999999)).toBe(1000);
    expect(backoffDelay(1_000_000, { ...r, initialDelayMs: 0 })).toBe(0);
  });

  it('defaults: reconnect on, resend, 10000 buffered, wait; validation', () => {
    const o = resolveOptions({});
    expect(o.reconnect).toEqual({ initialDelayMs: 100, maxDelayMs: 30_000, factor: 2, jitter: 0.2, maxRetries: Infinity });
    expect(o).toMatchObject({ publishRecovery: 'resend', maxBufferedPublishes: 10_000, whenBufferFull: 'wait', publishTimeoutMs: 0 });
    expect(resolveOptions({ reconnect: false }).reconnect).toBe(false);
    expect(resolveOptions({ reconnect: { maxRetries: 3 } }).reconnect).toMatchObject({ maxRetries: 3, initialDelayMs: 100 });
    for (const bad of [
      { reconnect: { factor: 0.5 } },
      { reconnect: { jitter: 2 } },
      { reconnect: { initialDelayMs: 10, maxDelayMs: 5 } },
      { reconnect: { maxRetries: -1 } },
      { publishRecovery: 'maybe' },
      { whenBufferFull: 'drop' },
      { maxBufferedPublishes: 0 },
    ]) {
      expect(() => resolveOptions(bad as ConnectOptions)).toThrow(WarrenError);
    }
  });
});
