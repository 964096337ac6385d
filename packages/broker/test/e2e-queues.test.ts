/** Queue and consumer semantics end to end over TCP. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Connection, type Message } from '@warren/client';
import { ErrorCodes, FrameType, type DeliverFrame } from '@warren/protocol';
import { RawClient } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { deferred } from '../../../test-support/wait.js';

let tb: TestBroker;
let conn: Connection;
const extra: Connection[] = [];
beforeEach(async () => {
  tb = await startTestBroker();
  conn = await connect(tb.url);
});
afterEach(async () => {
  for (const c of extra.splice(0)) await c.close().catch(() => {});
  await conn.close().catch(() => {});
  await tb.stop();
});

async function another(): Promise<Connection> {
  const c = await connect(tb.url);
  extra.push(c);
  return c;
}

async function publishN(queue: string, n: number, prefix = 'm'): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => conn.publish('', queue, `${prefix}${i}`)));
}

describe('declare', () => {
  it('is idempotent and reports counts', async () => {
    await conn.declareQueue('q', { durable: false });
    await conn.publish('', 'q', 'x');
    const again = await conn.declareQueue('q', { durable: false });
    expect(again).toEqual({ queue: 'q', messageCount: 1, consumerCount: 0 });
  });

  it('server-names a queue declared with an empty name', async () => {
    const { queue } = await conn.declareQueue('');
    expect(queue).toMatch(/^amq\.gen-/);
    const { queue: other } = await conn.declareQueue('');
    expect(other).not.toBe(queue);
  });

  it('fails a conflicting re-declare with PRECONDITION_FAILED naming the field', async () => {
    await conn.declareQueue('q', { durable: true });
    const err = await conn.declareQueue('q', { durable: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
    expect((err as Error).message).toContain('durable');
    await conn.declareExchange('x', 'direct');
    const err2 = await conn.declareExchange('x', 'topic').catch((e: unknown) => e);
    expect(err2).toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
    expect((err2 as Error).message).toContain('type');
    const err3 = await conn.declareQueue('q', { durable: true, arguments: { 'x-max-length': 5 } }).catch((e: unknown) => e);
    expect((err3 as Error).message).toContain('arguments');
  });

  it('passive declare checks existence', async () => {
    const err = await conn.declareQueue('absent', { passive: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.NOT_FOUND });
    const errX = await conn.declareExchange('absent', 'direct', { passive: true }).catch((e: unknown) => e);
    expect(errX).toMatchObject({ code: ErrorCodes.NOT_FOUND });
    await conn.declareQueue('present');
    expect(await conn.declareQueue('present', { passive: true })).toMatchObject({ queue: 'present' });
  });

  it('NOT_FOUND for operations on missing queues and exchanges', async () => {
    for (const op of [
      () => conn.deleteQueue('nope'),
      () => conn.purgeQueue('nope'),
      () => conn.get('nope'),
      () => conn.consume('nope', () => {}),
      () => conn.bindQueue('nope', 'amq.direct', 'k'),
      () => conn.deleteExchange('nope'),
    ]) {
      await expect(op()).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    }
  });

  it('purges and deletes with if-unused / if-empty', async () => {
    await conn.declareQueue('p');
    await publishN('p', 3);
    await expect(conn.deleteQueue('p', { ifEmpty: true })).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
    expect(await conn.purgeQueue('p')).toEqual({ messageCount: 3 });
    const consumer = await conn.consume('p', () => {});
    await expect(conn.deleteQueue('p', { ifUnused: true })).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
    await consumer.cancel();
    expect(await conn.deleteQueue('p', { ifUnused: true, ifEmpty: true })).toEqual({ messageCount: 0 });
  });
});

describe('exclusive and auto-delete', () => {
  it('an exclusive queue is locked to its connection and deleted when it closes', async () => {
    await conn.declareQueue('mine', { exclusive: true });
    const other = await another();
    await expect(other.declareQueue('mine', { exclusive: true })).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LOCKED });
    await expect(other.consume('mine', () => {})).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LOCKED });
    await conn.close();
    await expect.poll(() => other.declareQueue('mine', { passive: true }).then(() => 'exists', (e: { code: number }) => e.code)).toBe(
      ErrorCodes.NOT_FOUND,
    );
    conn = await connect(tb.url);
  });

  it('an auto-delete queue is deleted after its last consumer cancels', async () => {
    await conn.declareQueue('ad', { autoDelete: true });
    const c1 = await conn.consume('ad', () => {});
    const c2 = await conn.consume('ad', () => {});
    await c1.cancel();
    expect(await conn.declareQueue('ad', { passive: true })).toMatchObject({ consumerCount: 1 });
    await c2.cancel();
    await expect(conn.declareQueue('ad', { passive: true })).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
  });

  it('an exclusive consumer locks out others', async () => {
    await conn.declareQueue('ex');
    await conn.consume('ex', () => {}, { exclusive: true });
    const other = await another();
    await expect(other.consume('ex', () => {})).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LOCKED });
  });

  it('deleting a queue cancels its consumers and tells them', async () => {
    await conn.declareQueue('doomed');
    const consumer = await conn.consume('doomed', () => {});
    const other = await another();
    await other.deleteQueue('doomed');
    const reason = await consumer.cancelled;
    expect(reason).toMatchObject({ code: ErrorCodes.NOT_FOUND });
  });
});

describe('consumers', () => {
  it('competing consumers receive disjoint sets that cover everything, round-robin', async () => {
    await conn.declareQueue('work');
    const seen: string[][] = [[], [], []];
    const all = deferred<void>();
    let total = 0;
    for (let i = 0; i < 3; i++) {
      const c = await another();
      await c.consume(
        'work',
        (m) => {
          seen[i]!.push(m.body.toString());
          m.ack();
          if (++total === 90) all.resolve();
        },
        { prefetch: 5 },
      );
    }
    await publishN('work', 90);
    await all.promise;
    const union = seen.flat();
    expect(new Set(union).size).toBe(90);
    expect(union.length).toBe(90);
    for (const s of seen) expect(s.length).toBeGreaterThan(0);
  });

  it('never exceeds prefetch', async () => {
    await conn.declareQueue('pf');
    await publishN('pf', 50);
    const held: Message[] = [];
    let maxInFlight = 0;
    const done = deferred<void>();
    let acked = 0;
    await conn.consume(
      'pf',
      (m) => {
        held.push(m);
        maxInFlight = Math.max(maxInFlight, held.length);
        // Ack in batches, later, so the broker has the chance to overrun.
        if (held.length === 3) {
          setTimeout(() => {
            for (const h of held.splice(0)) h.ack();
            acked += 3;
          }, 5);
        }
        if (acked + held.length >= 48) done.resolve();
      },
      { prefetch: 3 },
    );
    await done.promise;
    expect(maxInFlight).toBe(3);
  });

  it('for await iteration consumes messages', async () => {
    await conn.declareQueue('iter');
    await publishN('iter', 5);
    const consumer = await conn.consume('iter', { prefetch: 2 });
    const got: string[] = [];
    for await (const m of consumer) {
      got.push(m.body.toString());
      m.ack();
      if (got.length === 5) break;
    }
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });
});

describe('ack, nack, reject, requeue', () => {
  it('requeue puts a message back at its position with redelivered and a higher delivery count', async () => {
    await conn.declareQueue('rq');
    await publishN('rq', 3);
    const first = (await conn.get('rq'))!;
    expect(first.body.toString()).toBe('m0');
    expect(first.redelivered).toBe(false);
    expect(first.deliveryCount).toBe(1);
    first.nack({ requeue: true });
    const again = (await conn.get('rq'))!;
    expect(again.body.toString()).toBe('m0');
    expect(again.redelivered).toBe(true);
    expect(again.deliveryCount).toBe(2);
    again.reject({ requeue: true });
    const third = (await conn.get('rq'))!;
    expect(third.body.toString()).toBe('m0');
    expect(third.deliveryCount).toBe(3);
    third.ack();
    expect((await conn.get('rq', { noAck: true }))!.body.toString()).toBe('m1');
  });

  it('reject and nack without requeue drop the message', async () => {
    await conn.declareQueue('drop');
    await publishN('drop', 2);
    (await conn.get('drop'))!.reject({ requeue: false });
    (await conn.get('drop'))!.nack({ requeue: false });
    expect(await conn.get('drop')).toBeNull();
    expect(await conn.declareQueue('drop', { passive: true })).toMatchObject({ messageCount: 0 });
  });

  it('multiple ack settles everything up to the tag', async () => {
    await conn.declareQueue('multi');
    await publishN('multi', 5);
    const got: Message[] = [];
    for (let i = 0; i < 5; i++) got.push((await conn.get('multi'))!);
    got[3]!.ack({ multiple: true });
    got[4]!.nack({ requeue: true });
    // the four acked are gone; the nacked one is back
    const left = await conn.get('multi', { noAck: true });
    expect(left!.body.toString()).toBe('m4');
    expect(await conn.get('multi')).toBeNull();
  });

  it('requeues unacked messages in order when a consumer socket is destroyed', async () => {
    await conn.declareQueue('crash');
    await publishN('crash', 6);
    const raw = await RawClient.open(tb.port);
    raw.send({ type: FrameType.CONSUME, requestId: 1, queue: 'crash', options: { prefetch: 4 } });
    const tags: number[] = [];
    for (let i = 0; i < 4; i++) tags.push(((await raw.next(FrameType.DELIVER)) as DeliverFrame).deliveryTag);
    raw.send({ type: FrameType.ACK, deliveryTag: tags[1]!, multiple: false }); // m1 acked
    // the freed prefetch slot brings m4; m5 stays ready
    expect(((await raw.next(FrameType.DELIVER)) as DeliverFrame).body.toString()).toBe('m4');
    raw.socket.destroy();
    await raw.closedPromise;
    const bodies: Array<[string, boolean]> = [];
    await expect
      .poll(async () => (await conn.declareQueue('crash', { passive: true })).messageCount, { timeout: 5000 })
      .toBe(5);
    for (;;) {
      const m = await conn.get('crash', { noAck: true });
      if (m === null) break;
      bodies.push([m.body.toString(), m.redelivered]);
    }
    expect(bodies).toEqual([
      ['m0', true],
      ['m2', true],
      ['m3', true],
      ['m4', true],
      ['m5', false],
    ]);
  });

  it('a cancelled consumer keeps its unacked messages until acked', async () => {
    await conn.declareQueue('cancel');
    await publishN('cancel', 2);
    const got: Message[] = [];
    const two = deferred<void>();
    const consumer = await conn.consume(
      'cancel',
      (m) => {
        got.push(m);
        if (got.length === 2) two.resolve();
      },
      { prefetch: 10 },
    );
    await two.promise;
    await consumer.cancel();
    for (const m of got) m.ack();
    expect(await conn.declareQueue('cancel', { passive: true })).toMatchObject({ messageCount: 0, consumerCount: 0 });
    expect(await conn.get('cancel')).toBeNull();
  });
});

describe('publisher confirms', () => {
  it('confirms every publish, many in flight', async () => {
    await conn.declareQueue('conf');
    await publishN('conf', 2000);
    expect(await conn.declareQueue('conf', { passive: true })).toMatchObject({ messageCount: 2000 });
  });
});
