/** Routing end to end over TCP: every exchange type, e2e bindings, AE, mandatory returns. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, MessageReturnedError, type Connection } from '@warren/client';
import { ErrorCodes } from '@warren/protocol';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

let tb: TestBroker;
let conn: Connection;
beforeEach(async () => {
  tb = await startTestBroker();
  conn = await connect(tb.url);
});
afterEach(async () => {
  await conn.close().catch(() => {});
  await tb.stop();
});

/** Drains a queue with get(), returning bodies as strings. */
async function drain(queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await conn.get(queue, { noAck: true });
    if (m === null) return out;
    out.push(m.body.toString());
  }
}

async function queues(...names: string[]): Promise<void> {
  for (const n of names) await conn.declareQueue(n);
}

describe('exchange types', () => {
  it('default exchange routes to the queue named by the routing key', async () => {
    await queues('a');
    await conn.publish('', 'a', 'one');
    await conn.publish('', 'nope', 'lost');
    expect(await drain('a')).toEqual(['one']);
  });

  it('direct routes by exact key', async () => {
    await conn.declareExchange('d', 'direct');
    await queues('q1', 'q2');
    await conn.bindQueue('q1', 'd', 'red');
    await conn.bindQueue('q2', 'd', 'green');
    await conn.bindQueue('q2', 'd', 'red');
    await conn.publish('d', 'red', 'r');
    await conn.publish('d', 'green', 'g');
    await conn.publish('d', 'blue', 'b');
    expect(await drain('q1')).toEqual(['r']);
    expect(await drain('q2')).toEqual(['r', 'g']);
  });

  it('fanout copies to every bound queue', async () => {
    await conn.declareExchange('f', 'fanout');
    await queues('f1', 'f2', 'f3');
    for (const q of ['f1', 'f2', 'f3']) await conn.bindQueue(q, 'f', '');
    await conn.publish('f', 'ignored', 'x');
    for (const q of ['f1', 'f2', 'f3']) expect(await drain(q)).toEqual(['x']);
  });

  it('topic handles *, #, empty words and a.#.b', async () => {
    await conn.declareExchange('t', 'topic');
    const patterns: Record<string, string> = {
      star: 'a.*',
      hashTail: 'a.#',
      middle: 'a.#.b',
      hashOnly: '#',
      emptyWord: 'a..b',
      starEmpty: 'a.*.b',
    };
    for (const [q, p] of Object.entries(patterns)) {
      await conn.declareQueue(q);
      await conn.bindQueue(q, 't', p);
    }
    for (const key of ['a', 'a.b', 'a.x.b', 'a.x.y.b', 'a..b', 'b', '']) await conn.publish('t', key, key === '' ? '<empty>' : key);
    expect(await drain('star')).toEqual(['a.b']);
    expect(await drain('hashTail')).toEqual(['a', 'a.b', 'a.x.b', 'a.x.y.b', 'a..b']);
    expect(await drain('middle')).toEqual(['a.b', 'a.x.b', 'a.x.y.b', 'a..b']);
    expect(await drain('hashOnly')).toEqual(['a', 'a.b', 'a.x.b', 'a.x.y.b', 'a..b', 'b', '<empty>']);
    expect(await drain('emptyWord')).toEqual(['a..b']);
    expect(await drain('starEmpty')).toEqual(['a.x.b', 'a..b']);
  });

  it('headers exchange matches x-match all and any', async () => {
    await conn.declareExchange('h', 'headers');
    await queues('all', 'any');
    await conn.bindQueue('all', 'h', '', { 'x-match': 'all', format: 'pdf', type: 'report' });
    await conn.bindQueue('any', 'h', '', { 'x-match': 'any', format: 'pdf', type: 'report' });
    await conn.publish('h', '', 'both', { headers: { format: 'pdf', type: 'report' } });
    await conn.publish('h', '', 'one', { headers: { format: 'pdf', type: 'log' } });
    await conn.publish('h', '', 'none', { headers: { format: 'zip' } });
    expect(await drain('all')).toEqual(['both']);
    expect(await drain('any')).toEqual(['both', 'one']);
  });
});

describe('exchange-to-exchange, alternate exchange, mandatory', () => {
  it('routes through a chain of exchanges', async () => {
    await conn.declareExchange('edge', 'topic');
    await conn.declareExchange('mid', 'fanout');
    await conn.declareExchange('leaf', 'direct');
    await conn.bindExchange('mid', 'edge', 'orders.#');
    await conn.bindExchange('leaf', 'mid', '');
    await queues('sink');
    await conn.bindQueue('sink', 'leaf', 'orders.eu');
    await conn.publish('edge', 'orders.eu', 'eu');
    await conn.publish('edge', 'orders.us', 'us');
    await conn.publish('edge', 'users.eu', 'no');
    expect(await drain('sink')).toEqual(['eu']);
  });

  it('sends unroutable messages to the alternate exchange', async () => {
    await conn.declareExchange('ae', 'fanout');
    await queues('unrouted', 'routed');
    await conn.bindQueue('unrouted', 'ae', '');
    await conn.declareExchange('main', 'direct', { alternateExchange: 'ae' });
    await conn.bindQueue('routed', 'main', 'k');
    await conn.publish('main', 'k', 'ok');
    await conn.publish('main', 'other', 'fallback');
    expect(await drain('routed')).toEqual(['ok']);
    expect(await drain('unrouted')).toEqual(['fallback']);
  });

  it('returns an unroutable mandatory message to the publisher', async () => {
    await conn.declareExchange('m', 'direct');
    const err = await conn.publish('m', 'nowhere', 'boomerang', { mandatory: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageReturnedError);
    expect((err as MessageReturnedError).code).toBe(ErrorCodes.NO_ROUTE);
    // a routable mandatory message is simply confirmed
    await queues('there');
    await conn.publish('', 'there', 'fine', { mandatory: true });
    expect(await drain('there')).toEqual(['fine']);
  });

  it('nacks a publish to a missing exchange with NOT_FOUND, connection stays usable', async () => {
    const err = await conn.publish('ghost', 'k', 'x').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.NOT_FOUND });
    await queues('after');
    await conn.publish('', 'after', 'y');
    expect(await drain('after')).toEqual(['y']);
  });

  it('unbinding stops routing', async () => {
    await conn.declareExchange('u', 'direct');
    await queues('uq');
    await conn.bindQueue('uq', 'u', 'k');
    await conn.publish('u', 'k', '1');
    await conn.unbindQueue('uq', 'u', 'k');
    await conn.publish('u', 'k', '2');
    expect(await drain('uq')).toEqual(['1']);
  });
});
