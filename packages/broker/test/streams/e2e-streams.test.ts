/** Streams end to end over TCP: declare, route, replay, named consumers, filters, single active consumer. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Connection, type StreamConsumer, type StreamMessage } from '@warren/client';
import { ErrorCodes, FrameType, type StreamDeliverFrame } from '@warren/protocol';
import { RawClient } from '../helpers.js';
import { startTestBroker, type TestBroker } from '../../../../test-support/broker.js';

let tb: TestBroker;
let conn: Connection;
const extra: Connection[] = [];
beforeEach(async () => {
  tb = await startTestBroker({ sync: 'always' });
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

async function publishN(stream: string, n: number, from = 0, headers?: (i: number) => Record<string, unknown>): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, k) => conn.publish('', stream, `m${from + k}`, headers ? { headers: headers(from + k) } : {})),
  );
}

/** Takes exactly n messages from an iterator-style consumer. */
async function take(consumer: StreamConsumer, n: number): Promise<StreamMessage[]> {
  const out: StreamMessage[] = [];
  if (n === 0) return out;
  for await (const m of consumer) {
    out.push(m);
    if (out.length === n) break;
  }
  return out;
}

const bodies = (ms: StreamMessage[]) => ms.map((m) => m.body.toString());
const offsets = (ms: StreamMessage[]) => ms.map((m) => m.offset);

describe('declaring and routing', () => {
  it('a stream is declared like a queue with a type, is durable, and is fed by exchanges and bindings (fanout to a queue and a stream)', async () => {
    await conn.declareStream('events');
    await conn.declareQueue('work', { durable: true });
    await conn.declareExchange('fan', 'fanout', { durable: true });
    await conn.bindQueue('events', 'fan');
    await conn.bindQueue('work', 'fan');
    for (let i = 0; i < 3; i++) await conn.publish('fan', '', `e${i}`);
    const c = await conn.consumeStream('events', { offset: 'first' });
    const got = await take(c, 3);
    expect(bodies(got)).toEqual(['e0', 'e1', 'e2']);
    expect(offsets(got)).toEqual([0, 1, 2]);
    expect(got[0]!.exchange).toBe('fan');
    expect(got[0]!.timestamp).toBeGreaterThan(0);
    const q = await conn.get('work', { noAck: true });
    expect(q?.body.toString()).toBe('e0');
    // Reading never removes anything.
    expect(bodies(await take(await conn.consumeStream('events', { offset: 'first' }), 3))).toEqual(['e0', 'e1', 'e2']);
  });

  it('refuses a non-durable stream, CONSUME and GET on a stream, and a stream on an in-memory broker', async () => {
    await expect(conn.declareQueue('s', { durable: false, arguments: { 'x-queue-type': 'stream' } })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
    });
    await conn.declareStream('s');
    await expect(conn.get('s')).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
    await expect(conn.consume('s')).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
    await expect(conn.consumeStream('nope')).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    const mem = await startTestBroker({ inMemory: true });
    const c = await connect(mem.url);
    try {
      await expect(c.declareStream('s')).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
    } finally {
      await c.close();
      await mem.stop();
    }
  });

  it('confirms a publish to a stream only once it is fdatasync-ed, and the stream survives a restart', async () => {
    await conn.declareStream('s');
    await publishN('s', 5);
    await conn.close();
    const dataDir = tb.dataDir;
    await tb.broker.close();
    tb = await startTestBroker({ dataDir });
    conn = await connect(tb.url);
    const info = await conn.streamInfo('s');
    expect(info).toMatchObject({ name: 's', first: 0, next: 5, messages: 5 });
    expect(bodies(await take(await conn.consumeStream('s', { offset: 'first' }), 5))).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    await publishN('s', 1, 5);
    expect((await conn.streamInfo('s')).next).toBe(6);
    await conn.close();
    await tb.broker.close();
    const { rm } = await import('node:fs/promises');
    await rm(dataDir, { recursive: true, force: true });
    tb = await startTestBroker();
    conn = await connect(tb.url);
  });

  it('deleting a stream cancels its consumers and removes it', async () => {
    await conn.declareStream('s');
    const other = await another();
    const c = await other.consumeStream('s');
    await conn.deleteStream('s');
    expect(await c.ended).toMatchObject({ code: ErrorCodes.NOT_FOUND });
    await expect(conn.streamInfo('s')).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    expect(await conn.listStreams()).toEqual([]);
  });
});

describe('attaching', () => {
  beforeEach(async () => {
    await conn.declareStream('s');
    await publishN('s', 10);
  });

  it('first, last, next, an offset, and clamping to the ends', async () => {
    expect(offsets(await take(await conn.consumeStream('s', { offset: 'first' }), 2))).toEqual([0, 1]);
    expect(offsets(await take(await conn.consumeStream('s', { offset: 'last' }), 1))).toEqual([9]);
    expect(offsets(await take(await conn.consumeStream('s', { offset: 7 }), 3))).toEqual([7, 8, 9]);
    const next = await conn.consumeStream('s', { offset: 'next' });
    expect(next.startOffset).toBe(10);
    const beyond = await conn.consumeStream('s', { offset: 1_000_000 });
    expect(beyond.startOffset).toBe(10);
    await publishN('s', 1, 10);
    expect(offsets(await take(next, 1))).toEqual([10]);
    expect(offsets(await take(beyond, 1))).toEqual([10]);
  });

  it('a timestamp: the first message stored at or after it', async () => {
    const all = await take(await conn.consumeStream('s', { offset: 'first' }), 10);
    const t = all[4]!.timestamp;
    const c = await conn.consumeStream('s', { offset: new Date(t) });
    const firstAtT = all.find((m) => m.timestamp >= t)!.offset;
    expect(c.startOffset).toBe(firstAtT);
    const late = await conn.consumeStream('s', { offset: new Date(t + 3_600_000) });
    expect(late.startOffset).toBe(10);
  });

  it('rejects a malformed offset', async () => {
    await expect(conn.consumeStream('s', { offset: 'start' as never })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
  });
});

describe('independent consumers and flow control', () => {
  it('a slow consumer does not hold back a fast one or the publisher; credit bounds what is in flight', async () => {
    await conn.declareStream('s');
    const slowConn = await another();
    const slow = await slowConn.consumeStream('s', { offset: 'first', credit: 5 });
    const fast = await conn.consumeStream('s', { offset: 'first', credit: 100 });
    await publishN('s', 200);
    expect(offsets(await take(fast, 200))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // The slow consumer has read nothing yet; the broker sent it no more than its credit.
    const info = await conn.streamInfo('s');
    expect(info.next).toBe(200);
    const got = await take(slow, 200);
    expect(offsets(got)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('a handler gets messages one at a time, in order', async () => {
    await conn.declareStream('s');
    await publishN('s', 50);
    const seen: number[] = [];
    let running = 0;
    let maxRunning = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    await conn.consumeStream(
      's',
      async (m) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setImmediate(r));
        seen.push(m.offset);
        running--;
        if (seen.length === 50) done();
      },
      { offset: 'first', credit: 8 },
    );
    await all;
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(maxRunning).toBe(1);
  });

  it('the broker never sends more than the credit granted (raw frames)', async () => {
    await conn.declareStream('s');
    await publishN('s', 20);
    const raw = await RawClient.open(tb.port);
    raw.send({ type: FrameType.STREAM_SUBSCRIBE, requestId: 1, stream: 's', options: { offset: 'first', credit: 3, consumerTag: 't' } });
    expect(await raw.next(FrameType.OK)).toMatchObject({ requestId: 1, result: { consumerTag: 't', offset: 0, active: true } });
    const first = await deliveries(raw, 3);
    // A round trip proves nothing more was on its way: the INFO reply comes after anything already queued.
    await roundTrip(raw);
    expect(raw.frames.filter((f) => f.type === FrameType.STREAM_DELIVER)).toEqual([]);
    raw.send({ type: FrameType.STREAM_CREDIT, consumerTag: 't', credit: 2 });
    const more = await deliveries(raw, 2);
    expect([...first, ...more]).toEqual([0, 1, 2, 3, 4]);
    raw.close();
  });
});

/** Offsets of the next n STREAM_DELIVER frames. */
async function deliveries(raw: RawClient, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(((await raw.next(FrameType.STREAM_DELIVER)) as StreamDeliverFrame).offset);
  return out;
}

async function roundTrip(raw: RawClient): Promise<void> {
  raw.send({ type: FrameType.STREAM_LIST, requestId: 99 });
  await raw.next(FrameType.OK);
}

describe('named consumers', () => {
  it('resume after the last committed offset, never after a merely delivered one; lag is tail minus committed', async () => {
    await conn.declareStream('s');
    await publishN('s', 20);
    const a = await another();
    const c1 = await a.consumeStream('s', { name: 'billing', offset: 'first', credit: 10 });
    const firstFive = await take(c1, 5);
    await firstFive[4]!.commit(); // processed 0..4
    // More were delivered (credit 10) but not committed; the consumer goes away.
    await a.close();
    const info = await conn.streamInfo('s');
    expect(info.consumers).toEqual([{ name: 'billing', committed: 4, lag: 15, subscribers: 0 }]);
    const c2 = await conn.consumeStream('s', { name: 'billing', offset: 'first' });
    expect(c2.startOffset).toBe(5);
    expect(offsets(await take(c2, 15))).toEqual(Array.from({ length: 15 }, (_, i) => i + 5));
  });

  it('autoCommit commits what the loop processed when it stops', async () => {
    await conn.declareStream('s');
    await publishN('s', 10);
    const c = await conn.consumeStream('s', { name: 'audit', offset: 'first', autoCommit: true });
    const got = await take(c, 6); // break after the 6th: 0..5 processed
    expect(offsets(got)).toEqual([0, 1, 2, 3, 4, 5]);
    await c.ended;
    expect((await conn.streamInfo('s')).consumers).toEqual([{ name: 'audit', committed: 5, lag: 4, subscribers: 0 }]);
  });

  it('a commit beyond the tail or without a name is refused', async () => {
    await conn.declareStream('s');
    await publishN('s', 2);
    await expect(conn.commitStreamOffset('s', 'x', 2)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(conn.commitStreamOffset('s', '', 1)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await conn.commitStreamOffset('s', 'x', 1);
  });
});

describe('single active consumer', () => {
  it('one subscriber of a name reads; when it goes, the next takes over at the committed offset', async () => {
    await conn.declareStream('s');
    await publishN('s', 10);
    const a = await another();
    const b = await another();
    const ca = await a.consumeStream('s', { name: 'svc', singleActive: true, offset: 'first' });
    const cb = await b.consumeStream('s', { name: 'svc', singleActive: true, offset: 'first' });
    expect(ca.startOffset).toBe(0);
    expect(cb.startOffset).toBeNull();
    const fromA: number[] = [];
    for await (const m of ca) {
      fromA.push(m.offset);
      if (m.offset === 3) {
        await m.commit(); // then leaving the loop cancels ca: b takes over
        break;
      }
    }
    expect(fromA).toEqual([0, 1, 2, 3]);
    const fromB = await take(cb, 6);
    expect(offsets(fromB)).toEqual([4, 5, 6, 7, 8, 9]);
    await expect(b.consumeStream('s', { singleActive: true })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
  });
});

describe('server-side filtering', () => {
  it('sends only messages whose header matches', async () => {
    await conn.declareStream('s');
    await publishN('s', 30, 0, (i) => ({ region: i % 3 === 0 ? 'eu' : i % 3 === 1 ? 'us' : 'apac' }));
    const raw = await RawClient.open(tb.port);
    raw.send({
      type: FrameType.STREAM_SUBSCRIBE,
      requestId: 1,
      stream: 's',
      options: { offset: 'first', credit: 100, consumerTag: 'f', filter: { header: 'region', values: ['eu', 'apac'] } },
    });
    const got = await deliveries(raw, 20);
    await roundTrip(raw);
    expect(raw.frames.filter((f) => f.type === FrameType.STREAM_DELIVER)).toEqual([]);
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 3 !== 1));
    raw.close();
    const c = await conn.consumeStream('s', { offset: 'first', filter: { header: 'region', values: ['us'] } });
    const us = await take(c, 10);
    expect(us.every((m) => m.properties.headers?.['region'] === 'us')).toBe(true);
  });
});

describe('retention', () => {
  it('x-max-length-bytes deletes whole segments from the old end', async () => {
    await conn.declareStream('s', { maxLengthBytes: 20_000, segmentBytes: 4096 });
    const body = 'x'.repeat(500);
    await Promise.all(Array.from({ length: 200 }, () => conn.publish('', 's', body)));
    const info = await conn.streamInfo('s');
    expect(info.next).toBe(200);
    expect(info.first).toBeGreaterThan(0);
    expect(info.bytes).toBeLessThanOrEqual(20_000 + 4096);
    const c = await conn.consumeStream('s', { offset: 'first' });
    expect(c.startOffset).toBe(info.first);
    expect(c.startOffset! % 1).toBe(0);
    // A consumer asking for offset 0 is clamped to the oldest kept.
    expect((await conn.consumeStream('s', { offset: 0 })).startOffset).toBe(info.first);
  });

  it('x-max-age deletes segments whose newest message is older (broker clock injected)', async () => {
    await conn.declareStream('aged', { maxAge: '1h', segmentBytes: 4096 });
    await Promise.all(Array.from({ length: 50 }, () => conn.publish('', 'aged', 'y'.repeat(300))));
    const log = tb.broker.vhosts.default!.streams!.log('aged')!;
    const before = log.segments.length;
    expect(before).toBeGreaterThan(2);
    expect(log.maxAgeMs).toBe(3_600_000);
    expect(await log.applyRetention(Date.now() + 30 * 60_000)).toBe(0);
    // Two hours later every sealed segment is past the limit; the head stays.
    expect(await log.applyRetention(Date.now() + 2 * 3_600_000)).toBe(before - 1);
    expect(log.segments.length).toBe(1);
    const info = await conn.streamInfo('aged');
    expect(info.first).toBe(log.segments[0]!.base);
    expect(info.next).toBe(50);
  });
});
