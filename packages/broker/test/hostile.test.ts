/**
 * A hostile client on the wire (the audit of 2026-12-04): inputs that a
 * broker must refuse without harming anyone else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, FrameType, type ErrorFrame } from '@warren/protocol';
import { connect, type Connection } from '@warren/client';
import { RawClient, drain } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

let tb: TestBroker | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await tb?.stop();
  tb = undefined;
});

/** A PUBLISH frame to the default exchange whose properties are {persistent: true, headers: <`levels` maps nested>}, written by hand. */
function deepPublish(queue: string, levels: number): Buffer {
  const str = (s: string): Buffer => Buffer.concat([Buffer.from([0xd9, Buffer.byteLength(s)]), Buffer.from(s)]);
  const nested = Buffer.concat([...Array.from({ length: levels }, () => Buffer.from([0x81, 0xa1, 0x61])), Buffer.from([0x01])]);
  const header = Buffer.concat([Buffer.from([0x95, 0x01]), str(''), str(queue), Buffer.from([0x00, 0x82]), str('persistent'), Buffer.from([0xc3]), str('headers'), nested]);
  const body = Buffer.from('poison');
  const frame = Buffer.alloc(9 + header.length + body.length);
  frame.writeUInt32BE(5 + header.length + body.length, 0);
  frame[4] = FrameType.PUBLISH;
  frame.writeUInt32BE(header.length, 5);
  header.copy(frame, 9);
  body.copy(frame, 9 + header.length);
  return frame;
}

function depthOf(value: unknown): number {
  let d = 0;
  for (let v = value; v !== null && typeof v === 'object'; v = (v as { a?: unknown }).a) d++;
  return d;
}

/** A broker with a durable queue 'q', a client library connection and a raw one that has published `levels` nested headers to it. */
async function publishNested(levels: number): Promise<{ c: Connection; p: RawClient }> {
  tb = await startTestBroker();
  const c = await connect(tb.url);
  await c.declareQueue('q', { durable: true });
  const p = await RawClient.open(tb.port);
  clients.push(p);
  p.write(deepPublish('q', levels));
  return { c, p };
}

describe('deeply nested headers', () => {
  // Deeper values decode but cannot be encoded again for delivery: such a
  // message, once confirmed, closed every consumer it was offered to with
  // INTERNAL_ERROR and stayed at the head of its queue.
  it('a PUBLISH nested deeper than 64 levels is FRAME_ERROR: nothing is queued and consumers go on', async () => {
    const { c, p } = await publishNested(100);
    try {
      const err = (await p.next()) as ErrorFrame;
      expect(err).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.FRAME_ERROR });
      expect(err.message).toMatch(/nested more than 64 levels/);
      await p.closedPromise;
      expect(tb!.broker.vhosts.get('/')!.queues.get('q')!.messageCount).toBe(0);
      await c.publish('', 'q', 'fine', { persistent: true });
      expect((await drain(c, 'q')).map((m) => m.body.toString())).toEqual(['fine']);
    } finally {
      await c.close();
    }
  });

  it('headers at the limit (64 levels with the header array and the properties map) are confirmed and delivered', async () => {
    const { c, p } = await publishNested(62);
    try {
      expect(await p.next()).toMatchObject({ type: FrameType.CONFIRM, seq: 1 });
      const [m] = await drain(c, 'q');
      expect(m!.body.toString()).toBe('poison');
      expect(depthOf(m!.properties.headers)).toBe(62);
    } finally {
      await c.close();
    }
  });
});
