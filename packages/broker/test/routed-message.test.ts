/**
 * A freshly published message is its own place in the first queue it enters
 * (RoutedMessage: one object per message routed to one queue); other queues
 * of a fanout get their own places, whose delivery state stays their own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import type { Connection, Message } from '@warren/client';
import { client, closeAllClients } from './durability/harness.js';
import { claimPlace, newMessage, RoutedMessage, UNCLAIMED, type QueuedMessage } from '../src/message.js';

const brokers: Broker[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const b of brokers.splice(0)) await b.close();
});

async function start(): Promise<{ broker: Broker; c: Connection }> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent' });
  brokers.push(broker);
  const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
  return { broker, c };
}

const readyOf = (broker: Broker, name: string): QueuedMessage[] => [...broker.vhosts.default!.queues.get(name)!.readyMessages()];

/** The next `n` deliveries from `queue` to `handle`. */
function deliveries(c: Connection, queue: string, n: number, handle: (m: Message) => void): Promise<Message[]> {
  const got: Message[] = [];
  return new Promise((resolve) => {
    void c.consume(
      queue,
      (m) => {
        got.push(m);
        handle(m);
        if (got.length === n) resolve(got);
      },
      { prefetch: 10 },
    );
  });
}

describe('routed message', () => {
  it('claims its own place once, then hands out new ones', () => {
    const m = newMessage('', 'q', null, Buffer.from('x'));
    expect(m).toBeInstanceOf(RoutedMessage);
    const first = claimPlace(m, 7, 2);
    expect(first).toBe(m);
    expect(first.message).toBe(m);
    expect([first.seq, first.deliveryCount, first.ready, first.expiresAt]).toEqual([7, 2, false, 0]);
    const second = claimPlace(m, 1, 0);
    expect(second).not.toBe(m);
    expect(second.message).toBe(m);
    expect([second.seq, second.deliveryCount]).toEqual([1, 0]);
    expect(first.seq).toBe(7);
    // A plain Message (recovered, paged in, built by a test) always gets a new place.
    const plain = { exchange: '', routingKey: 'q', properties: null, body: null, bodySize: 0, storeId: 0, refs: 0, durable: false, evictable: false };
    expect(claimPlace(plain, 3, 0)).not.toBe(plain);
    expect(new RoutedMessage('', 'q', null, Buffer.alloc(0)).seq).toBe(UNCLAIMED);
  });

  it('keeps durable, evictable and ready apart (one bit each)', () => {
    const m = new RoutedMessage('', 'q', null, Buffer.from('x'));
    expect([m.durable, m.evictable, m.ready]).toEqual([false, false, false]);
    const all = [
      [true, false, false],
      [false, true, false],
      [false, false, true],
      [true, true, false],
      [true, false, true],
      [false, true, true],
      [true, true, true],
      [false, false, false],
    ] as const;
    for (const [durable, evictable, ready] of all) {
      m.durable = durable;
      m.evictable = evictable;
      m.ready = ready;
      expect([m.durable, m.evictable, m.ready]).toEqual([durable, evictable, ready]);
    }
    m.durable = true;
    m.evictable = true;
    m.ready = true;
    m.evictable = false;
    expect([m.durable, m.evictable, m.ready]).toEqual([true, false, true]);
    m.durable = false;
    expect([m.durable, m.evictable, m.ready]).toEqual([false, false, true]);
    m.ready = false;
    expect([m.durable, m.evictable, m.ready]).toEqual([false, false, false]);
    expect(m.message).toBe(m);
  });

  it('a message routed to one queue is its own place in it', async () => {
    const { broker, c } = await start();
    await c.declareQueue('q');
    await c.publish('', 'q', 'a');
    await c.publish('', 'q', 'b');
    const ready = readyOf(broker, 'q');
    expect(ready.map((qm) => qm.message.body!.toString())).toEqual(['a', 'b']);
    for (const qm of ready) expect(qm.message).toBe(qm);
    expect(ready[0]!.seq).toBeLessThan(ready[1]!.seq);
  });

  it('a fanout shares one message; each queue keeps its own place, redeliveries and acks', async () => {
    const { broker, c } = await start();
    await c.declareExchange('fan', 'fanout');
    for (const q of ['a', 'b', 'c']) {
      await c.declareQueue(q);
      await c.bindQueue(q, 'fan');
    }
    await c.declareQueue('solo');
    await c.publish('', 'solo', 'first'); // advances solo's sequence only
    for (const body of ['m0', 'm1', 'm2']) await c.publish('fan', '', body);
    const places = ['a', 'b', 'c'].map((q) => readyOf(broker, q));
    for (let i = 0; i < 3; i++) {
      const [pa, pb, pc] = places.map((p) => p[i]!);
      expect(pa!.message).toBe(pb!.message);
      expect(pb!.message).toBe(pc!.message);
      // Exactly one queue took the message's own place.
      expect([pa, pb, pc].filter((p) => (p as unknown) === p!.message).length).toBe(1);
      expect(new Set([pa, pb, pc]).size).toBe(3);
    }

    // a: nack with requeue once each, so its deliveries come back redelivered; b: ack; c: untouched.
    let firstRound = true;
    const gotA = deliveries(c, 'a', 6, (m) => {
      if (m.redelivered) m.ack();
      else m.nack({ requeue: true });
      if (m.redelivered) firstRound = false;
    });
    const gotB = deliveries(c, 'b', 3, (m) => m.ack());
    const a = await gotA;
    const b = await gotB;
    expect(firstRound).toBe(false);
    expect(a.filter((m) => m.redelivered).map((m) => m.body.toString()).sort()).toEqual(['m0', 'm1', 'm2']);
    expect(a.filter((m) => !m.redelivered).map((m) => m.body.toString()).sort()).toEqual(['m0', 'm1', 'm2']);
    expect(b.map((m) => [m.body.toString(), m.redelivered])).toEqual([
      ['m0', false],
      ['m1', false],
      ['m2', false],
    ]);
    // c still holds all three, never delivered, bodies intact.
    const cReady = readyOf(broker, 'c');
    expect(cReady.map((qm) => [qm.message.body!.toString(), qm.deliveryCount])).toEqual([
      ['m0', 0],
      ['m1', 0],
      ['m2', 0],
    ]);
    const viaGet = await c.get('c', { noAck: true });
    expect([viaGet!.body.toString(), viaGet!.redelivered]).toEqual(['m0', false]);
  });
});
