/**
 * One end-to-end pass against the real broker: declare, bind, publish with
 * confirms, consume and ack, get, then a clean close on both sides.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, MessageReturnedError, type Message } from '../src/index.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

describe('against the real broker', () => {
  let broker: TestBroker;

  beforeEach(async () => {
    broker = await startTestBroker();
  });

  afterEach(async () => {
    await broker.stop();
  });

  it('declares, publishes, consumes and acks', async () => {
    await using conn = await connect({ port: broker.port, name: 'smoke' });
    const { queue } = await conn.declareQueue('', { exclusive: true });
    expect(queue).not.toBe('');
    await conn.declareExchange('smoke.x', 'direct');
    await conn.bindQueue(queue, 'smoke.x', 'k');

    await Promise.all([1, 2, 3].map((i) => conn.publish('smoke.x', 'k', `m${i}`, { messageId: String(i) })));
    const returned = conn.publish('smoke.x', 'nowhere', 'x', { mandatory: true });
    await expect(returned).rejects.toBeInstanceOf(MessageReturnedError);

    const consumer = await conn.consume(queue, { prefetch: 2 });
    const seen: string[] = [];
    for await (const msg of consumer) {
      seen.push(msg.body.toString());
      msg.ack();
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(['m1', 'm2', 'm3']);

    await conn.publish('', queue, 'by get');
    const got = (await conn.get(queue)) as Message;
    expect(got.body.toString()).toBe('by get');
    got.ack();
    expect(await conn.get(queue)).toBeNull();
    expect((await conn.purgeQueue(queue)).messageCount).toBe(0);
  });

  it('management calls pass the broker\'s lists and status through', async () => {
    await using conn = await connect({ port: broker.port });
    await conn.declareExchange('mgmt.x', 'fanout');
    await conn.declareQueue('mgmt.q', { durable: true });
    await conn.bindQueue('mgmt.q', 'mgmt.x');
    await conn.publish('', 'mgmt.q', 'one');
    expect((await conn.listQueues()).find((q) => q.name === 'mgmt.q')).toMatchObject({ durable: true, messages: 1, unacked: 0, consumers: 0 });
    const exchanges = (await conn.listExchanges()).map((e) => e.name);
    expect(exchanges).toEqual(expect.arrayContaining(['', 'amq.direct', 'mgmt.x']));
    expect(await conn.listBindings()).toEqual(
      expect.arrayContaining([expect.objectContaining({ source: 'mgmt.x', destination: 'mgmt.q', destinationKind: 'queue', routingKey: '' })]),
    );
    const status = await conn.status();
    expect(status).toMatchObject({ connections: 1, alarms: { memory: false, disk: false } });
    expect(typeof status.version).toBe('string');
  });
});
