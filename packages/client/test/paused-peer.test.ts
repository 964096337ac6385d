/**
 * A client that stops reading its socket for a while (a process paused by a
 * debugger, SIGSTOP, a long GC or heap snapshot) and then reads again: nothing
 * may stay stuck. Every message must be confirmed and delivered exactly once
 * once it reads again, whichever side paused and whichever back-pressure
 * path the pause drove (the broker's write high-water mark and 'drain' toward
 * a consumer, the client's publish window, the client's own write high-water
 * mark and 'drain' when the broker is not reading it).
 *
 * The pause is a proxy that stops reading one direction of one connection
 * (bytes then wait in the kernel's socket buffers and, past them, in the
 * sender's write buffer), so no test depends on timing: each waits until the
 * pause has taken effect, then releases it and waits for completion.
 * (Seen in scenario 7 under heap snapshots every 0.7 s: a "stall" that was the
 * snapshot signals queueing up, bench/results/stall-2026-12-04.md.)
 */
import * as net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Connection } from '../src/index.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { until } from '../../../test-support/wait.js';

type Direction = 'toClient' | 'toBroker';

/** client <-> proxy <-> broker for one connection at a time; hold() stops reading one direction. */
class HoldingProxy {
  private client: net.Socket | undefined;
  private upstream: net.Socket | undefined;
  private readonly held = new Set<Direction>();

  private constructor(
    private readonly server: net.Server,
    private readonly targetPort: number,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(targetPort: number): Promise<HoldingProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new HoldingProxy(server, targetPort);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Stops reading the sender of `dir`: as if the receiver stopped reading its socket. */
  hold(dir: Direction): void {
    this.held.add(dir);
    this.source(dir)?.pause();
  }

  release(dir: Direction): void {
    this.held.delete(dir);
    this.source(dir)?.resume();
  }

  async close(): Promise<void> {
    this.client?.destroy();
    this.upstream?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private source(dir: Direction): net.Socket | undefined {
    return dir === 'toClient' ? this.upstream : this.client;
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect({ port: this.targetPort, host: '127.0.0.1' });
    this.client = client;
    this.upstream = upstream;
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    this.forward(upstream, client, 'toClient');
    this.forward(client, upstream, 'toBroker');
  }

  /** Copies `from` to `to` with back-pressure, never while `dir` is held. */
  private forward(from: net.Socket, to: net.Socket, dir: Direction): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!this.held.has(dir)) from.resume();
    });
    if (this.held.has(dir)) from.pause();
  }
}

/** What the tests read of the broker's side of a connection (its FrameSocket). */
interface BrokerSide {
  clientProperties: Record<string, unknown>;
  published: number;
  delivered: number;
  fs: { overHighWater: boolean };
}

/** Counts how a batch of publishes settled (each handled at once: a failing test leaves no unhandled rejection). */
const settling = (publishes: Promise<void>[]) => {
  const n = { confirmed: 0, failed: 0, firstError: undefined as unknown };
  for (const p of publishes) p.then(() => void n.confirmed++, (err: unknown) => {
    n.failed++;
    n.firstError ??= err;
  });
  return n;
};

const body = (i: number, size: number): Buffer => {
  const b = Buffer.alloc(size, 0x61);
  b.writeUInt32LE(i, 0);
  return b;
};

describe('a client that stops reading its socket, then reads again', () => {
  let broker: TestBroker;
  let proxy: HoldingProxy;
  const conns: Connection[] = [];

  const brokerSide = (name: string): BrokerSide | undefined =>
    [...broker.broker.openConnections].find((c) => c.clientProperties['name'] === name) as unknown as BrokerSide | undefined;

  const queueDepth = (name: string): number | undefined => broker.broker.vhosts.default!.queues.get(name)?.messageCount;

  /** Counts deliveries per message index (the first 4 bytes of the body), acking each. */
  const consumeCounting = async (conn: Connection, queue: string, count: number, prefetch: number, noAck = false) => {
    const seen = new Uint16Array(count);
    const state = { delivered: 0, redelivered: 0 };
    await conn.consume(queue, (m) => {
      seen[m.body.readUInt32LE(0)]!++;
      state.delivered++;
      if (m.redelivered) state.redelivered++;
      m.ack(); // a no-op for noAck
    }, { prefetch, noAck });
    return { seen, state };
  };

  /** A producer connected through the proxy (named `name`), and a counting consumer of `queue` connected directly. */
  const producerThroughProxy = async (name: string, queue: string, count: number, publishWindow: number) => {
    const producer = await connect({ port: proxy.port, name, reconnect: false, heartbeatMs: 0, publishWindow });
    const consumer = await connect({ port: broker.port, name: 'consumer', reconnect: false, heartbeatMs: 0 });
    conns.push(producer, consumer);
    await producer.declareQueue(queue);
    return { producer, ...(await consumeCounting(consumer, queue, count, 1000)) };
  };

  const expectEachOnce = (seen: Uint16Array): void => {
    let missing = 0;
    let twice = 0;
    for (const n of seen) {
      if (n === 0) missing++;
      else if (n > 1) twice++;
    }
    expect({ missing, twice }).toEqual({ missing: 0, twice: 0 });
  };

  beforeEach(async () => {
    broker = await startTestBroker({ heartbeatMs: 0 });
    proxy = await HoldingProxy.start(broker.port);
  });

  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close({ drainTimeoutMs: 1000 }).catch(() => {})));
    await proxy.close();
    await broker.stop();
  });

  // With acks, the consumer's acks after the pause also restart deliveries; without (noAck), only the
  // broker's 'drain' of the consumer's socket does.
  it.each([
    ['acking', false],
    ['noAck', true],
  ])('a consumer (%s) that stops reading: the broker backs up to it past the high-water mark, the producer is still confirmed, and every message arrives once after', async (_, noAck) => {
    const N = 2000;
    const SIZE = 32 * 1024;
    const consumer = await connect({ port: proxy.port, name: 'held-consumer', reconnect: false, heartbeatMs: 0 });
    const producer = await connect({ port: broker.port, name: 'producer', reconnect: false, heartbeatMs: 0 });
    conns.push(consumer, producer);
    await producer.declareQueue('paused-consumer');
    const { seen, state } = await consumeCounting(consumer, 'paused-consumer', N, 1000, noAck);

    proxy.hold('toClient');
    // A prefetch window of 32 KiB bodies is far more than the socket buffers take: the broker's
    // connection to the consumer goes over its write high-water mark (and waits for 'drain').
    const pubs = settling(Array.from({ length: N }, (_, i) => producer.publish('', 'paused-consumer', body(i, SIZE))));
    await until(() => brokerSide('held-consumer')?.fs.overHighWater === true, 'the broker to back up to the held consumer');
    // Transient publishes are confirmed on enqueue: a stalled consumer does not stall its producer.
    await until(() => pubs.confirmed + pubs.failed === N, () => `every publish to settle (${pubs.confirmed} confirmed of ${N})`);
    expect(pubs.failed).toBe(0);
    expect(state.delivered).toBeLessThan(N);

    proxy.release('toClient');
    await until(() => state.delivered >= N, () => `every delivery (${state.delivered} of ${N})`);
    expectEachOnce(seen);
    expect(state.redelivered).toBe(0);
    await until(() => queueDepth('paused-consumer') === 0, 'the queue to empty');
  });

  it('a producer that stops reading (confirms wait in its socket): it keeps to its window, and every publish is confirmed and delivered once after', async () => {
    const N = 5000;
    const WINDOW = 500;
    const { producer, seen, state } = await producerThroughProxy('held-producer', 'paused-producer', N, WINDOW);

    proxy.hold('toClient');
    const pubs = settling(Array.from({ length: N }, (_, i) => producer.publish('', 'paused-producer', body(i, 256))));
    // The broker takes one window, enqueues and confirms it; the confirms wait unread, so the rest stays buffered.
    await until(() => state.delivered === WINDOW, () => `the first window to be delivered (${state.delivered})`);
    await until(() => brokerSide('held-producer')?.published === WINDOW, 'the broker to have the first window');
    expect(pubs.confirmed).toBe(0);
    expect(producer.bufferedPublishes).toBe(N - WINDOW);

    proxy.release('toClient');
    await until(() => pubs.confirmed + pubs.failed === N, () => `every publish to settle (${pubs.confirmed} confirmed of ${N})`);
    expect(pubs.failed).toBe(0);
    await until(() => state.delivered >= N, () => `every delivery (${state.delivered} of ${N})`);
    expectEachOnce(seen);
    expect(state.redelivered).toBe(0);
  });

  it('a producer the broker stops reading: it buffers behind its write high-water mark (not in the socket), and every publish is confirmed and delivered once after', async () => {
    const N = 600;
    const SIZE = 64 * 1024;
    const { producer, seen, state } = await producerThroughProxy('unread-producer', 'unread-producer', N, N);

    proxy.hold('toBroker');
    const pubs = settling(Array.from({ length: N }, (_, i) => producer.publish('', 'unread-producer', body(i, SIZE))));
    // 600 x 64 KiB do not fit in the socket buffers: the client holds the rest until 'drain'.
    await until(() => producer.bufferedPublishes > 0, 'the producer to buffer behind its write high-water mark');
    expect(state.delivered).toBeLessThan(N);

    proxy.release('toBroker');
    await until(() => pubs.confirmed + pubs.failed === N, () => `every publish to settle (${pubs.confirmed} confirmed of ${N})`);
    expect(pubs.failed).toBe(0);
    expect(producer.bufferedPublishes).toBe(0);
    await until(() => state.delivered >= N, () => `every delivery (${state.delivered} of ${N})`);
    expectEachOnce(seen);
    expect(state.redelivered).toBe(0);
  });
});
