/**
 * Review of ReadArena reuse (review-arena), through a real broker: kv values
 * (KV_PUT bodies stored by the broker, values read back to the client), stream
 * reads (STREAM_DELIVER bodies, appended to the broker's log first), and queue
 * deliveries over TLS (the client's arenas fed through tls.connect's onread;
 * the broker's TLS side reads 'data' events). Everything read is kept as the
 * client handed it out and compared byte for byte only after heavy later
 * traffic, of mixed sizes below and above ARENA_COPY_BELOW, has gone through
 * both the broker's and the client's arenas.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ARENA_COPY_BELOW } from '@warren/protocol';
import { connect, type Connection, type KvEntry, type Message, type StreamMessage } from '../src/index.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { makeTestPki, type TestPki } from '../../../test-support/tls-certs.js';
import { rng, type Rng } from '../../../test-support/prng.js';

function bodyFor(i: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let k = 0; k < length; k++) b[k] = (i * 151 + k * 13 + (k >>> 9)) & 0xff;
  return b;
}

/** Mostly copied-out sizes, some on the thresholds, a few views. */
function size(r: Rng, i: number): number {
  if (i % 37 === 11) return r.int(ARENA_COPY_BELOW, 3 * ARENA_COPY_BELOW);
  if (i % 13 === 3) return r.pick([0, 1, 8191, 8192, 8193, ARENA_COPY_BELOW - 1, ARENA_COPY_BELOW]);
  return r.int(0, 1500);
}

/** Publishes bodies(0 .. count - 1) to a queue (default exchange) in batches of 250; resolves when all are confirmed. */
async function publishAll(conn: Connection, queue: string, bodies: (k: number) => Buffer, count: number): Promise<void> {
  for (let i = 0; i < count; i += 250) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(count, i + 250); k++) batch.push(conn.publish('', queue, bodies(k)));
    await Promise.all(batch);
  }
}

/** Consumes `count` messages from `queue` (acked, each passed to `keep`) while `publish` runs; resolves once all are in. */
async function consumeAll(conn: Connection, queue: string, count: number, keep: (msg: Message) => void, publish: () => Promise<void>): Promise<void> {
  let seen = 0;
  let allIn!: () => void;
  const done = new Promise<void>((resolve) => (allIn = resolve));
  await conn.consume(queue, (msg) => {
    keep(msg);
    msg.ack();
    if (++seen === count) allIn();
  }, { prefetch: 500 });
  await publish();
  await done;
}

/** Heavy later traffic through both sides' arenas: `count` messages through a queue, consumed and dropped. */
async function churn(conn: Connection, seed: number, count: number): Promise<void> {
  const r = rng(seed);
  const { queue } = await conn.declareQueue('', { exclusive: true });
  await consumeAll(conn, queue, count, () => {}, () => publishAll(conn, queue, (k) => bodyFor(k + 7777, size(r, k)), count));
}

describe('arena reuse through a real broker: kv, streams, TLS (review-arena)', () => {
  let broker: TestBroker;
  let pki: TestPki;

  beforeAll(async () => {
    pki = await makeTestPki();
  });
  afterAll(async () => {
    await pki.remove();
  });
  afterEach(async () => {
    await broker.stop();
  });

  it('kv values read back stay intact after later traffic', async () => {
    broker = await startTestBroker();
    await using conn = await connect({ port: broker.port, name: 'arena-kv' });
    const bucket = await conn.kv('arena');
    const r = rng(29);
    const count = 600;
    const sizes = Array.from({ length: count }, (_, i) => size(r, i));
    for (let i = 0; i < count; i += 100) {
      const batch: Promise<unknown>[] = [];
      for (let k = i; k < Math.min(count, i + 100); k++) batch.push(bucket.put(`k${k}`, bodyFor(k, sizes[k]!)));
      await Promise.all(batch);
    }
    const got: (KvEntry | null)[] = [];
    for (let i = 0; i < count; i += 100) {
      const batch: Promise<KvEntry | null>[] = [];
      for (let k = i; k < Math.min(count, i + 100); k++) batch.push(bucket.get(`k${k}`));
      got.push(...(await Promise.all(batch)));
    }
    await churn(conn, 31, 3000);
    for (let i = 0; i < count; i++) expect(got[i]?.value.equals(bodyFor(i, sizes[i]!)), `value of k${i}`).toBe(true);
  });

  it('stream reads stay intact after later traffic', async () => {
    broker = await startTestBroker();
    await using conn = await connect({ port: broker.port, name: 'arena-stream' });
    await conn.declareStream('arena.stream');
    const r = rng(37);
    const count = 2000;
    const sizes = Array.from({ length: count }, (_, i) => size(r, i));
    await publishAll(conn, 'arena.stream', (k) => bodyFor(k, sizes[k]!), count);
    const got: StreamMessage[] = [];
    let allIn!: () => void;
    const done = new Promise<void>((resolve) => (allIn = resolve));
    await conn.consumeStream('arena.stream', (msg) => {
      got.push(msg);
      if (got.length === count) allIn();
    }, { offset: 'first', credit: 300 });
    await done;
    await churn(conn, 41, 3000);
    for (let i = 0; i < count; i++) {
      expect(got[i]!.offset).toBe(i);
      expect(got[i]!.body.equals(bodyFor(i, sizes[i]!)), `stream message ${i}`).toBe(true);
    }
  });

  it('queue deliveries over TLS stay intact after later traffic', async () => {
    broker = await startTestBroker({ tls: { cert: pki.server.cert, key: pki.server.key, port: 0 } });
    await using conn = await connect({ url: `warrens://guest:guest@127.0.0.1:${broker.broker.tlsPort}`, tls: { ca: readFileSync(pki.ca.cert) }, reconnect: false, name: 'arena-tls' });
    const { queue } = await conn.declareQueue('', { exclusive: true });
    const r = rng(43);
    const count = 2000;
    const sizes = Array.from({ length: count }, (_, i) => size(r, i));
    const got: Message[] = [];
    await consumeAll(conn, queue, count, (msg) => got.push(msg), () => publishAll(conn, queue, (k) => bodyFor(k, sizes[k]!), count));
    await churn(conn, 47, 3000);
    for (let i = 0; i < count; i++) expect((got[i]!.body as Buffer).equals(bodyFor(i, sizes[i]!)), `body of message ${i}`).toBe(true);
  });
});
