import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import { client, closeAllClients } from './durability/harness.js';
import { EluProbe, FlowControl, turnClock, type FlowTuning, type Holdable } from '../src/flow-control.js';

/** A queue as flow control reads it; the test moves its numbers. */
class FakeQueue {
  messageCount = 0;
  counters = { delivered: 0, acked: 0 };
  /** Consumers took and acked n messages. */
  consume(n: number): void {
    this.counters.delivered += n;
    this.counters.acked += n;
    this.messageCount -= n;
  }
}

class FakeConn implements Holdable {
  closed = false;
  paused = false;
  holds = 0;
  hold(): void {
    this.paused = true;
    this.holds++;
  }
  release(): void {
    this.paused = false;
  }
}

const TUNING: FlowTuning = { saturation: 0.9, highWater: 100, lowWater: 20, windowMs: 10, maxHoldMs: 50 };

function setup(opts: { enabled?: boolean; saturated?: boolean } = {}) {
  const env = { t: 0, saturated: opts.saturated ?? true, pending: null as (() => void) | null };
  const flow = new FlowControl(opts.enabled ?? true, TUNING, {
    now: () => env.t,
    probe: { saturated: () => env.saturated },
    schedule: (check) => (env.pending = check),
  });
  /** Runs the scheduled release check, as its timer would. */
  const tick = (): void => {
    const p = env.pending;
    env.pending = null;
    p?.();
  };
  return { env, flow, tick };
}

/**
 * Publishes `n` messages to q from conn, one window apart per step, while the consumers take
 * `consumed` a step: the backlog grows by n - consumed each window.
 */
function feed(s: ReturnType<typeof setup>, conn: FakeConn, q: FakeQueue, steps: number, n: number, consumed: number): void {
  for (let i = 0; i < steps && !conn.paused; i++) {
    s.env.t += TUNING.windowMs;
    q.consume(Math.min(consumed, q.messageCount));
    for (let k = 0; k < n && !conn.paused; k++) {
      q.messageCount++;
      s.flow.published(conn, q);
    }
  }
}

/** A publisher held: saturated broker, q above high water and growing, its consumers taking messages. */
function held() {
  const s = setup();
  const q = new FakeQueue();
  const conn = new FakeConn();
  q.messageCount = 150;
  feed(s, conn, q, 5, 50, 10);
  expect(conn.paused).toBe(true);
  return { s, q, conn };
}

describe('publisher flow control', () => {
  it('holds a publisher while the broker is saturated and an acked queue grows, and releases it at low water', () => {
    const { s, q, conn } = held();
    expect(s.flow.heldCount).toBe(1);
    expect(s.flow.holdsTotal).toBe(1);
    // Consumers keep taking messages: still held above low water.
    s.env.t += 2;
    q.consume(q.messageCount - 30);
    s.tick();
    expect(conn.paused).toBe(true);
    s.env.t += 2;
    q.consume(10); // down to low water
    s.tick();
    expect(conn.paused).toBe(false);
    expect(s.flow.heldCount).toBe(0);
    expect(s.env.pending).toBeNull();
  });

  it('never holds for slow consumers while the broker is not saturated', () => {
    const s = setup({ saturated: false });
    const q = new FakeQueue();
    const conn = new FakeConn();
    feed(s, conn, q, 20, 50, 5);
    expect(q.messageCount).toBeGreaterThan(TUNING.highWater * 5);
    expect(conn.holds).toBe(0);
  });

  it('never holds for a queue whose consumers are stalled or absent', () => {
    const s = setup();
    const q = new FakeQueue();
    const conn = new FakeConn();
    feed(s, conn, q, 20, 50, 0); // nothing taken: no consumer, or a stalled one
    expect(q.messageCount).toBe(1000);
    expect(conn.holds).toBe(0);
  });

  it('never holds for a queue that is not growing', () => {
    const s = setup();
    const q = new FakeQueue();
    const conn = new FakeConn();
    q.messageCount = 500;
    feed(s, conn, q, 20, 50, 50); // consumers keep pace: the backlog stays put
    expect(conn.holds).toBe(0);
  });

  it('releases a held publisher when its consumers stop making progress', () => {
    const { s, q, conn } = held();
    s.env.t += TUNING.windowMs - 1;
    s.tick();
    expect(conn.paused).toBe(true);
    s.env.t += 1; // a whole window without a delivery or an ack
    s.tick();
    expect(conn.paused).toBe(false);
  });

  it('releases a held publisher when the broker is no longer saturated', () => {
    const { s, q, conn } = held();
    s.env.saturated = false;
    s.tick();
    expect(conn.paused).toBe(false);
  });

  it('bounds a hold to maxHoldMs even while every reason to hold remains', () => {
    const { s, q, conn } = held();
    let ticks = 0;
    while (conn.paused) {
      s.env.t += 1;
      q.consume(1); // progress, but the queue stays far above low water
      s.tick();
      ticks++;
      expect(ticks).toBeLessThanOrEqual(TUNING.maxHoldMs);
    }
    expect(ticks).toBe(TUNING.maxHoldMs);
    expect(q.messageCount).toBeGreaterThan(TUNING.lowWater);
  });

  it('never holds when disabled', () => {
    const s = setup({ enabled: false });
    const q = new FakeQueue();
    const conn = new FakeConn();
    q.messageCount = 150;
    feed(s, conn, q, 10, 50, 10);
    expect(conn.holds).toBe(0);
  });

  it('holds only the publisher that fed the queue; others (other queues, closed) are unaffected', () => {
    const s = setup();
    const busy = new FakeQueue();
    const quiet = new FakeQueue();
    const a = new FakeConn();
    const b = new FakeConn();
    busy.messageCount = 150;
    feed(s, a, busy, 5, 50, 10);
    expect(a.paused).toBe(true);
    feed(s, b, quiet, 5, 10, 0);
    expect(b.holds).toBe(0);
    // A held connection that closes is released without being resumed, and the check stops.
    a.closed = true;
    s.tick();
    expect(s.flow.heldCount).toBe(0);
    expect(a.paused).toBe(true);
    expect(s.env.pending).toBeNull();
  });
});

describe('publisher flow control in the broker', () => {
  const brokers: Broker[] = [];
  afterEach(async () => {
    await closeAllClients();
    for (const b of brokers.splice(0)) await b.close();
  });

  async function start(flowControl: boolean) {
    const env = { t: 0, saturated: true, pending: null as (() => void) | null };
    const broker = await startBroker({
      port: 0,
      host: '127.0.0.1',
      inMemory: true,
      logLevel: 'silent',
      flowControl,
      flowTuning: { ...TUNING, highWater: 5, lowWater: 2, now: () => env.t, probe: { saturated: () => env.saturated }, schedule: (check) => (env.pending = check) },
    });
    brokers.push(broker);
    return { broker, env, url: `warren://guest:guest@127.0.0.1:${broker.port}` };
  }

  /** A publisher and a consumer; q filled past high water (10 ready, sampled at 6). */
  async function growWithConsumer(url: string) {
    const pub = await client(url);
    const con = await client(url);
    await pub.declareQueue('q');
    for (let i = 0; i < 10; i++) await pub.publish('', 'q', `m${i}`);
    return { pub, con };
  }

  it('holds a publisher (and only it) while the broker is saturated and an acked queue grows; releases it', async () => {
    const { broker, env, url } = await start(true);
    const { pub, con } = await growWithConsumer(url);
    env.t += TUNING.windowMs;
    for (let i = 0; i < 2; i++) (await con.get('q'))!.ack();
    await pub.publish('', 'q', 'grows'); // 9 ready, more than at the last sample, consumers progressing
    expect(broker.flow.heldCount).toBe(1);
    expect(broker.flow.holdsTotal).toBe(1);
    const held = pub.publish('', 'q', 'after the hold');
    // Another connection is still read and answered meanwhile.
    const other = await client(url);
    await other.declareQueue('other');
    await other.publish('', 'other', 'x');
    env.saturated = false;
    env.pending!();
    expect(broker.flow.heldCount).toBe(0);
    await held;
  });

  it('never holds a publisher that also consumes (its acks would be held too)', async () => {
    const { broker, env, url } = await start(true);
    const { pub, con } = await growWithConsumer(url);
    await pub.consume('q', () => {}, { prefetch: 1 });
    env.t += TUNING.windowMs;
    for (let i = 0; i < 2; i++) (await con.get('q'))!.ack();
    await pub.publish('', 'q', 'grows');
    await pub.publish('', 'q', 'grows more');
    expect(broker.flow.holdsTotal).toBe(0);
  });

  it('never holds with flowControl: false', async () => {
    const { broker, env, url } = await start(false);
    const { pub, con } = await growWithConsumer(url);
    env.t += TUNING.windowMs;
    for (let i = 0; i < 2; i++) (await con.get('q'))!.ack();
    await pub.publish('', 'q', 'grows');
    await pub.publish('', 'q', 'grows more');
    expect(broker.flow.enabled).toBe(false);
    expect(broker.flow.holdsTotal).toBe(0);
  });
});

describe('turnClock', () => {
  it('reads the clock once per synchronous run, again after the microtasks ran', async () => {
    let reads = 0;
    let t = 5;
    const now = turnClock(() => {
      reads++;
      return t;
    });
    expect(now()).toBe(5);
    t = 7;
    expect(now()).toBe(5);
    expect(now()).toBe(5);
    expect(reads).toBe(1);
    await Promise.resolve();
    expect(now()).toBe(7);
    expect(reads).toBe(2);
  });

  it('is what EluProbe samples its window with', () => {
    let reads = 0;
    const probe = new EluProbe(0.9, 50, () => {
      reads++;
      return 0;
    });
    expect(reads).toBe(1);
    // Within the window: the last answer, one clock read per call, no new utilisation sample.
    expect(probe.saturated()).toBe(false);
    expect(reads).toBe(2);
  });
});
