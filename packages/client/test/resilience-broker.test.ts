/**
 * Resilience against the real broker: an in-process broker restart on the
 * same port and data folder, network cuts and stalls through a TCP proxy,
 * stale acks after a reconnect, and prefetch bounding a slow consumer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from '@warren/broker';
import { ConnectionClosedError, TimeoutError, connect, type ConnectedEvent, type Connection, type Message, type QueueRenamedEvent, type StatusEvent } from '../src/index.js';
import { TcpProxy } from './tcp-proxy.js';
import { startTestBroker } from '../../../test-support/broker.js';
import { tempDirPerTest } from '../../../test-support/temp-dir.js';
import { nextEvent, until } from '../../../test-support/wait.js';

const FAST = { initialDelayMs: 5, maxDelayMs: 50, jitter: 0.2 };

describe('resilience against the real broker', () => {
  const tmp = tempDirPerTest('warren-client-resilience-');
  let broker: Broker;
  let proxy: TcpProxy | undefined;
  const conns: Connection[] = [];

  const open = async (port: number, extra: Parameters<typeof connect>[0] & object = {}): Promise<Connection> => {
    const conn = await connect({ port, reconnect: FAST, timeoutMs: 2000, ...extra });
    conns.push(conn);
    return conn;
  };

  beforeEach(async () => {
    ({ broker } = await startTestBroker({ dataDir: tmp.path }));
  });

  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close({ drainTimeoutMs: 1000 })));
    await proxy?.close();
    proxy = undefined;
    await broker.close();
  });

  it('broker restart on the same port and data folder: reconnects, re-declares, consumers resume, a server-named queue gets a new name', async () => {
    const port = broker.port;
    const conn = await open(port);
    await conn.declareExchange('orders', 'direct', { durable: true });
    await conn.declareQueue('orders.work', { durable: true });
    await conn.declareQueue('orders.audit', { durable: true });
    await conn.bindQueue('orders.work', 'orders', 'new');
    await conn.bindQueue('orders.audit', 'orders', 'new');
    const { queue: temp } = await conn.declareQueue('', { exclusive: true });
    await conn.bindQueue(temp, 'orders', 'new');
    const work = new Set<string>();
    const tempSeen = new Set<string>();
    await conn.consume('orders.work', (m) => void (work.add(m.body.toString()), m.ack()), { prefetch: 10 });
    const tempConsumer = await conn.consume(temp, (m) => void (tempSeen.add(m.body.toString()), m.ack()));

    const send = (tag: string) => Promise.all([1, 2, 3].map((i) => conn.publish('orders', 'new', `${tag}-${i}`, { persistent: true })));
    await send('before');
    await until(() => work.size === 3 && tempSeen.size === 3);

    const renamed = nextEvent<QueueRenamedEvent>(conn, 'queueRenamed');
    const reconnected = nextEvent<StatusEvent>(conn, 'connected');
    await broker.close();
    const during = send('during'); // buffered while the broker is down
    ({ broker } = await startTestBroker({ port, dataDir: tmp.path }));
    expect(await reconnected).toMatchObject({ reconnected: true });
    await during;
    await send('after');

    const { oldName, newName } = await renamed;
    expect(oldName).toBe(temp);
    expect(newName).not.toBe(temp);
    expect(tempConsumer.queue).toBe(newName);
    const all = ['before', 'during', 'after'].flatMap((t) => [1, 2, 3].map((i) => `${t}-${i}`));
    await until(() => work.size === 9 && tempSeen.size === 9);
    expect([...work].sort()).toEqual(all.sort());
    expect([...tempSeen].sort()).toEqual(all.sort());
    // The audit queue has no consumer: its persistent messages survived the restart on disk.
    expect((await conn.declareQueue('orders.audit', { passive: true })).messageCount).toBe(9);
  });

  it('a restart with a lower consumer cap: the consumer past it is reported and dropped, not retried in a loop; the others resume', async () => {
    const port = broker.port;
    const conn = await open(port);
    for (const q of ['c1', 'c2', 'c3']) await conn.declareQueue(q, { durable: true });
    const got: string[] = [];
    const consumers = await Promise.all(['c1', 'c2', 'c3'].map((q) => conn.consume(q, (m) => void (got.push(`${q}:${m.body.toString()}`), m.ack()))));
    const reconnected = nextEvent<ConnectedEvent>(conn, 'connected');
    const reported: Array<[string, unknown]> = [];
    conn.on('recoveryError', (err, item) => reported.push([err.name, item]));
    await broker.close();
    ({ broker } = await startTestBroker({ port, dataDir: tmp.path, maxConsumersPerConnection: 2 }));
    const status = await reconnected;
    expect(status.recoveryErrors.map((e) => e.name)).toEqual(['RESOURCE_LIMIT']);
    expect(reported).toEqual([['RESOURCE_LIMIT', { kind: 'consumer', tag: consumers[2]!.tag, queue: 'c3' }]]);
    expect(await consumers[2]!.cancelled).toMatchObject({ name: 'RESOURCE_LIMIT' });
    const id = conn.connectionId;
    await Promise.all(['c1', 'c2'].map((q) => conn.publish('', q, 'after')));
    await until(() => got.length === 2);
    expect(got.sort()).toEqual(['c1:after', 'c2:after']);
    // The same connection: full until one of its consumers goes.
    await expect(conn.consume('c3', () => undefined)).rejects.toMatchObject({ name: 'RESOURCE_LIMIT' });
    await consumers[0]!.cancel();
    await expect(conn.consume('c3', () => undefined)).resolves.toBeDefined();
    expect(conn.connectionId).toBe(id);
  });

  it('network cut and stall through a proxy: the client reconnects each time, reports why, and its consumer resumes', async () => {
    proxy = await TcpProxy.start(broker.port);
    const conn = await open(proxy.port, { heartbeatMs: 100 });
    const disconnects: unknown[] = [];
    conn.on('disconnected', (e) => disconnects.push(e.error));
    await conn.declareQueue('net');
    const seen: string[] = [];
    await conn.consume('net', (m) => void (seen.push(m.body.toString()), m.ack()));

    await conn.publish('', 'net', 'one');
    await until(() => seen.includes('one'));

    const afterCut = nextEvent(conn, 'connected');
    proxy.cut();
    await conn.publish('', 'net', 'two');
    await afterCut;
    await until(() => seen.includes('two'));

    const stalled = nextEvent(conn, 'disconnected');
    proxy.stall();
    const three = conn.publish('', 'net', 'three'); // written into the black hole
    await stalled; // only the heartbeat can tell
    proxy.restore();
    await three;
    await until(() => seen.includes('three'));

    expect(disconnects[0]).toBeInstanceOf(ConnectionClosedError);
    expect(disconnects[1]).toBeInstanceOf(TimeoutError);
    expect(proxy.accepted).toBeGreaterThanOrEqual(3);
  });

  it('after a reconnect, acks for deliveries of the old connection are no-ops and do not break the new one', async () => {
    proxy = await TcpProxy.start(broker.port);
    const conn = await open(proxy.port);
    const serverErrors: unknown[] = [];
    conn.on('serverError', (e) => serverErrors.push(e));
    await conn.declareQueue('stale');
    const held: Message[] = [];
    await conn.consume('stale', (m) => void held.push(m), { prefetch: 5 });
    await conn.publish('', 'stale', 'm');
    await until(() => held.length === 1);

    const reconnected = nextEvent(conn, 'connected');
    proxy.cut();
    await reconnected;
    await until(() => held.length === 2); // the broker requeued it and delivers it again
    const [old, again] = held as [Message, Message];
    expect(again.redelivered).toBe(true);
    expect(old.settled).toBe(true);
    expect(old.ack()).toBe(false);
    expect(old.nack()).toBe(false);
    expect(again.ack()).toBe(true);

    await conn.publish('', 'stale', 'n');
    await until(() => held.length === 3);
    expect(held[2]!.ack()).toBe(true);
    const [info] = (await conn.listQueues()).filter((q) => q.name === 'stale');
    expect(info).toMatchObject({ messages: 0, unacked: 0 });
    expect(serverErrors).toEqual([]); // no "unknown delivery tag" from a stale ack
  });

  it('a slow consumer is bounded by its prefetch', async () => {
    const conn = await open(broker.port);
    await conn.declareQueue('slow');
    await Promise.all(Array.from({ length: 10 }, (_, i) => conn.publish('', 'slow', String(i))));
    const held: Message[] = [];
    await conn.consume('slow', (m) => void held.push(m), { prefetch: 3 });
    await until(() => held.length === 3);
    // A delivery beyond the prefetch would have been sent before this reply.
    expect((await conn.declareQueue('slow', { passive: true })).messageCount).toBe(7);
    expect(held).toHaveLength(3);
    held[0]!.ack();
    await until(() => held.length === 4);
    expect((await conn.declareQueue('slow', { passive: true })).messageCount).toBe(6);
    expect(held).toHaveLength(4);
    for (const m of held) m.ack();
  });
});
