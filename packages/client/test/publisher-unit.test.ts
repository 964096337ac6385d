/**
 * Publisher on a stub transport: each publish() gets its own promise and settle
 * functions from the one shared executor, and a throw while sending rejects
 * that promise (as a throw inside a Promise executor would) instead of
 * escaping publish().
 */
import { describe, expect, it } from 'vitest';
import { Publisher } from '../src/publisher.js';
import type { Transport } from '../src/transport.js';
import { settle } from '../../../test-support/wait.js';

function stubTransport(publish: (seq: number) => void): Transport {
  return { overHighWater: false, onceDrained: () => {}, writer: { publish } } as unknown as Transport;
}

const options = { window: 4, maxBuffered: 8, whenFull: 'reject', recovery: 'resend' } as const;

describe('Publisher.publish', () => {
  it('settles each publish by its own seq, including ones that waited in the buffer', async () => {
    const sent: number[] = [];
    const pub = new Publisher(options);
    pub.attach(stubTransport((seq) => sent.push(seq)));
    const outcomes = Array.from({ length: 6 }, (_, i) => settle(pub.publish('', 'q', Buffer.from(String(i)), null, false)));
    expect(sent).toEqual([1, 2, 3, 4]);
    pub.nack(2, 404, 'NOT_FOUND', 'no queue');
    pub.confirm(1, false);
    pub.confirm(4, true);
    expect(sent).toEqual([1, 2, 3, 4, 5, 6]);
    pub.confirm(6, false);
    pub.nack(5, 406, 'PRECONDITION_FAILED', 'nope');
    const got = await Promise.all(outcomes);
    expect(got.map((o) => (o.ok ? 'ok' : (o.error as { code: number }).code))).toEqual(['ok', 404, 'ok', 'ok', 406, 'ok']);
  });

  it('a throw while sending rejects that publish; publish() itself does not throw', async () => {
    const boom = new Error('boom');
    const pub = new Publisher(options);
    pub.attach(stubTransport(() => {
      throw boom;
    }));
    let p: Promise<void> | undefined;
    expect(() => (p = pub.publish('', 'q', Buffer.from('x'), null, false))).not.toThrow();
    await expect(p).rejects.toBe(boom);
  });
});
