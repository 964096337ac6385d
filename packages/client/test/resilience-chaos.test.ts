/**
 * The big one: a producer publishing persistent messages to a durable queue
 * without pause and a consumer acking them, both through a TCP proxy that
 * cuts every connection 20 times at moments picked by a seeded PRNG.
 *
 * Checked: every message whose publish() resolved is consumed at least once;
 * every publish() promise settles (none hangs) and, with publishRecovery
 * 'resend', none fails; the consumer resumes after each cut without user
 * code; the process sees no unhandledRejection or uncaughtException.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Connection } from '../src/index.js';
import { TcpProxy } from './tcp-proxy.js';
import { prng } from '../../../test-support/prng.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { until } from '../../../test-support/wait.js';

const SEED = 0x5eed_2026;
const CUTS = 20;
const PRODUCERS = 8;



describe('chaos', () => {
  let broker: TestBroker;
  let proxy: TcpProxy;
  const conns: Connection[] = [];
  const processErrors: unknown[] = [];
  const onProcessError = (err: unknown) => void processErrors.push(err);

  beforeEach(async () => {
    process.on('unhandledRejection', onProcessError);
    process.on('uncaughtException', onProcessError);
    broker = await startTestBroker();
    proxy = await TcpProxy.start(broker.port);
  });

  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close({ drainTimeoutMs: 1000 })));
    await proxy.close();
    await broker.stop();
    process.off('unhandledRejection', onProcessError);
    process.off('uncaughtException', onProcessError);
  });

  it(`${CUTS} random cuts: every confirmed message is consumed, no publish hangs or fails, the consumer resumes by itself`, async () => {
    const random = prng(SEED);
    const options = { port: proxy.port, timeoutMs: 5000, reconnect: { initialDelayMs: 2, maxDelayMs: 40, jitter: 0.5 } };
    const producer = await connect({ ...options, name: 'chaos-producer' });
    const consumer = await connect({ ...options, name: 'chaos-consumer' });
    conns.push(producer, consumer);
    const disconnects = { producer: 0, consumer: 0 };
    const reconnects = { producer: 0, consumer: 0 };
    producer.on('disconnected', () => disconnects.producer++);
    consumer.on('disconnected', () => disconnects.consumer++);
    producer.on('connected', () => reconnects.producer++);
    consumer.on('connected', () => reconnects.consumer++);

    await producer.declareQueue('chaos', { durable: true });
    const seen = new Map<number, number>();
    let deliveries = 0;
    // Registered once; never touched again by the test.
    await consumer.consume(
      'chaos',
      (m) => {
        const id = Number(m.body.toString());
        seen.set(id, (seen.get(id) ?? 0) + 1);
        deliveries++;
        m.ack();
      },
      { prefetch: 100 },
    );

    let nextId = 0;
    let stop = false;
    const confirmed = new Set<number>();
    const failed = new Map<number, unknown>();
    const worker = async (): Promise<void> => {
      while (!stop) {
        const id = nextId++;
        try {
          await producer.publish('', 'chaos', String(id), { persistent: true });
          confirmed.add(id);
        } catch (err) {
          failed.set(id, err);
        }
      }
    };
    const workers = Array.from({ length: PRODUCERS }, worker);

    for (let cut = 0; cut < CUTS; cut++) {
      // Let both links come back (recovered) and make progress on them, then cut at a random moment.
      await until(() => reconnects.producer === cut && reconnects.consumer === cut, `${cut} reconnects of both clients`);
      const confirmedBefore = confirmed.size;
      const deliveredBefore = deliveries;
      const need = 10 + Math.floor(random() * 60);
      await until(() => confirmed.size >= confirmedBefore + need && deliveries > deliveredBefore, `${need} more confirms and a delivery`);
      await sleep(Math.floor(random() * 25));
      proxy.cut();
    }
    stop = true;
    await Promise.all(workers); // every publish settled: none hangs

    expect(failed).toEqual(new Map());
    expect(confirmed.size).toBe(nextId);
    expect(confirmed.size).toBeGreaterThan(CUTS * 10);
    await until(() => [...confirmed].every((id) => seen.has(id)), 'every confirmed message to be consumed');
    expect(proxy.cuts).toBe(CUTS);
    expect(disconnects).toEqual({ producer: CUTS, consumer: CUTS });
    await until(() => reconnects.producer === CUTS && reconnects.consumer === CUTS, `${CUTS} reconnects of both clients`);
    expect(processErrors).toEqual([]);
  });
});
