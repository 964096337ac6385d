/**
 * Read arenas are reused when no body view escaped them (ReadArena): a missed
 * view would be a body silently overwritten by later reads. Many messages of
 * mixed sizes, below and above the copy threshold (ARENA_COPY_BELOW), go
 * through a real broker (queued there first, then while the consumer reads);
 * every delivered body is kept and checked byte for byte only after all the
 * later traffic has passed through both the broker's and the client's arenas.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ARENA_COPY_BELOW } from '@warren/protocol';
import { connect, type Message } from '../src/index.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { rng } from '../../../test-support/prng.js';

/** A body unique to `i` (for its length): a pattern of it. */
function bodyFor(i: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let k = 0; k < length; k++) b[k] = (i * 131 + k * 7) & 0xff;
  return b;
}

describe('arena reuse through a real broker', () => {
  let broker: TestBroker;

  beforeEach(async () => {
    broker = await startTestBroker();
  });

  afterEach(async () => {
    await broker.stop();
  });

  for (const durable of [false, true]) {
    it(`keeps every delivered body intact after later traffic (${durable ? 'durable, persistent' : 'transient'})`, async () => {
      await using conn = await connect({ port: broker.port, name: 'arena-reuse' });
      const queue = durable ? 'arena.durable' : (await conn.declareQueue('', { exclusive: true })).queue;
      if (durable) await conn.declareQueue(queue, { durable: true });
      const r = rng(durable ? 17 : 5);
      const count = 3000;
      const sizes = Array.from({ length: count }, (_, i) => (i % 40 === 7 ? r.int(ARENA_COPY_BELOW, 3 * ARENA_COPY_BELOW) : r.int(0, 1500)));
      const publishRange = async (from: number, to: number): Promise<void> => {
        for (let i = from; i < to; i += 250) {
          const batch: Promise<unknown>[] = [];
          for (let k = i; k < Math.min(to, i + 250); k++) batch.push(conn.publish('', queue, bodyFor(k, sizes[k]!), { persistent: durable }));
          await Promise.all(batch);
        }
      };

      // Half queued in the broker before anyone consumes, half while the consumer reads.
      await publishRange(0, count / 2);
      const got: Message[] = [];
      let allIn!: () => void;
      const done = new Promise<void>((resolve) => (allIn = resolve));
      await conn.consume(
        queue,
        (msg) => {
          got.push(msg);
          msg.ack();
          if (got.length === count) allIn();
        },
        { prefetch: 500 },
      );
      await publishRange(count / 2, count);
      await done;

      expect(got).toHaveLength(count);
      // One queue, one consumer, nothing requeued: delivered in publish order.
      for (let i = 0; i < count; i++) expect((got[i]!.body as Buffer).equals(bodyFor(i, sizes[i]!)), `body of message ${i}`).toBe(true);
    });
  }
});
