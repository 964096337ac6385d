import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import { client, closeAllClients } from './durability/harness.js';
import { EluProbe, FlowControl, turnClock, type FlowTuning, type Holdable } from '../src/flow-control.js';
import { nextEvent, tracked } from '../../../test-support/wait.js';

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

  it('keeps a publisher held when the loop stops looking saturated, down to low water', () => {
    // Holding the publisher is what makes the loop look idle: that alone must not end the hold.
    const { s, q, conn } = held();
    s.env.saturated = false;
    for (let i = 0; i < 4; i++) {
      s.env.t += 2;
      q.consume(Math.min(10, q.messageCount - TUNING.lowWater - 1));
      s.tick();
      expect(conn.paused).toBe(true);
    }
    s.env.t += 2;
    q.consume(q.messageCount - TUNING.lowWater);
    s.tick();
    expect(conn.paused).toBe(false);
    expect(s.env.pending).toBeNull();
  });

  it('unsaturated and held: releases when the consumers stall (or go away) for a window', () => {
    const { s, q, conn } = held();
    s.env.saturated = false;
    s.env.t += TUNING.windowMs - 1;
    q.consume(1); // still progressing
    s.tick();
    expect(conn.paused).toBe(true);
    // From here nothing is delivered or acked: a stalled consumer, or its last consumer cancelled.
    s.env.t += TUNING.windowMs - 1;
    s.tick();
    expect(conn.paused).toBe(true);
    s.env.t += 1;
    s.tick();
    expect(conn.paused).toBe(false);
    expect(q.messageCount).toBeGreaterThan(TUNING.lowWater);
  });

  it('unsaturated and held: releases when the queue is deleted (its messages dropped)', () => {
    const { s, q, conn } = held();
    s.env.saturated = false;
    s.env.t += 1;
    s.tick();
    expect(conn.paused).toBe(true);
    q.messageCount = 0; // Queue.delete purges; its counters stay where they were
    s.env.t += 1;
    s.tick();
    expect(conn.paused).toBe(false);
    expect(s.flow.heldCount).toBe(0);
  });

  it('unsaturated and held: a connection that closes is dropped without a resume', () => {
    const { s, conn } = held();
    s.env.saturated = false;
    s.env.t += 1;
    s.tick();
    expect(s.flow.heldCount).toBe(1);
    conn.closed = true;
    s.tick();
    expect(s.flow.heldCount).toBe(0);
    expect(conn.paused).toBe(true); // not resumed: it is gone
    expect(s.env.pending).toBeNull();
  });

  it('holds several publishers of one queue until low water, and publishers of several queues each by its own queue', () => {
    const s = setup();
    const q1 = new FakeQueue();
    const q2 = new FakeQueue();
    const a = new FakeConn();
    const b = new FakeConn();
    const c = new FakeConn();
    q1.messageCount = 150;
    q2.messageCount = 150;
    // a and b both feed q1, c feeds q2, all in the same windows.
    for (let i = 0; i < 5 && !(a.paused && b.paused && c.paused); i++) {
      s.env.t += TUNING.windowMs;
      q1.consume(10);
      q2.consume(10);
      for (let k = 0; k < 50; k++) {
        for (const [conn, q] of [[a, q1], [b, q1], [c, q2]] as const) {
          if (conn.paused) continue;
          q.messageCount++;
          s.flow.published(conn, q);
        }
      }
    }
    expect([a.paused, b.paused, c.paused]).toEqual([true, true, true]);
    expect(s.flow.heldCount).toBe(3);
    s.env.saturated = false;
    s.env.t += 2;
    q1.consume(q1.messageCount - TUNING.lowWater - 1);
    q2.consume(1);
    s.tick();
    expect([a.paused, b.paused, c.paused]).toEqual([true, true, true]);
    s.env.t += 2;
    q1.consume(1); // q1 at low water: both its publishers go; q2 is still far above it
    q2.consume(1);
    s.tick();
    expect([a.paused, b.paused, c.paused]).toEqual([false, false, true]);
    s.env.t += 2;
    q2.consume(q2.messageCount - TUNING.lowWater);
    s.tick();
    expect(c.paused).toBe(false);
    expect(s.env.pending).toBeNull();
  });

  it('bounds a hold to maxHoldMs even while every reason to hold remains (saturated or not)', () => {
    const { s, q, conn } = held();
    let ticks = 0;
    while (conn.paused) {
      s.env.t += 1;
      q.consume(1); // progress, but the queue stays far above low water
      s.env.saturated = ticks % 2 === 0;
      s.tick();
      ticks++;
      expect(ticks).toBeLessThanOrEqual(TUNING.maxHoldMs);
    }
    expect(ticks).toBe(TUNING.maxHoldMs);
    expect(q.messageCount).toBeGreaterThan(TUNING.lowWater);
  });

  /** Publishes to q from conn until it is held or `n` went out; returns how many went out. */
  function publishUntilHeld(s: ReturnType<typeof setup>, conn: FakeConn, q: FakeQueue, n: number): number {
    let sent = 0;
    while (sent < n && !conn.paused) {
      q.messageCount++;
      sent++;
      s.flow.published(conn, q);
    }
    return sent;
  }

  it('after a hold ends at low water, holds again above high water within a window, saturated or not', () => {
    const { s, q, conn } = held();
    s.env.saturated = false;
    s.env.t += 2;
    q.consume(q.messageCount - TUNING.lowWater);
    s.tick();
    expect(conn.paused).toBe(false);
    // Back above high water a moment later: the hold goes on (no fresh loop or growth sample needed).
    s.env.t += TUNING.windowMs - 1;
    q.consume(1);
    expect(publishUntilHeld(s, conn, q, 1000)).toBe(TUNING.highWater - TUNING.lowWater + 2);
    expect(s.flow.holdsTotal).toBe(2);
    // Drained again; this time the queue is not back above high water within the window: no more holds
    // while the loop is not saturated.
    s.env.t += 2;
    q.consume(q.messageCount - TUNING.lowWater);
    s.tick();
    expect(conn.paused).toBe(false);
    s.env.t += TUNING.windowMs;
    q.consume(1);
    expect(publishUntilHeld(s, conn, q, 1000)).toBe(1000);
    expect(s.flow.holdsTotal).toBe(2);
  });

  it('after a hold ends any other way (maxHoldMs, consumers stalled), holds again only on a saturated loop', () => {
    for (const ending of ['maxHoldMs', 'stalled'] as const) {
      const { s, q, conn } = held();
      s.env.saturated = false;
      while (conn.paused) {
        s.env.t += 1;
        if (ending === 'maxHoldMs') q.consume(1);
        s.tick();
      }
      expect(q.messageCount).toBeGreaterThan(TUNING.highWater);
      q.consume(1);
      expect(publishUntilHeld(s, conn, q, 200)).toBe(200);
      expect(s.flow.holdsTotal).toBe(1);
    }
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

  async function start(flowControl: boolean, opts: Parameters<typeof startBroker>[0] = {}) {
    const env = { t: 0, saturated: true, pending: null as (() => void) | null };
    const broker = await startBroker({
      port: 0,
      host: '127.0.0.1',
      inMemory: true,
      logLevel: 'silent',
      ...opts,
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
    // The loop looks idle now (the publisher is held): still held while the queue is above low water.
    env.saturated = false;
    env.pending!();
    expect(broker.flow.heldCount).toBe(1);
    await drainTo(con, 3);
    env.pending!();
    expect(broker.flow.heldCount).toBe(1);
    await drainTo(con, 2); // low water
    env.pending!();
    expect(broker.flow.heldCount).toBe(0);
    await held;
  });

  /** Gets and acks from q until `ready` messages are left. */
  async function drainTo(con: Awaited<ReturnType<typeof client>>, ready: number): Promise<void> {
    for (;;) {
      const { messageCount } = await con.declareQueue('q');
      if (messageCount <= ready) return;
      (await con.get('q'))!.ack();
    }
  }

  /** growWithConsumer, then a publish that trips a hold (9 ready), and one the hold keeps unread. */
  async function holdPublisher(url: string, broker: Broker, env: { t: number }) {
    const { pub, con } = await growWithConsumer(url);
    env.t += TUNING.windowMs;
    for (let i = 0; i < 2; i++) (await con.get('q'))!.ack();
    await pub.publish('', 'q', 'grows');
    expect(broker.flow.heldCount).toBe(1);
    return { pub, con, held: tracked(pub.publish('', 'q', 'after the hold')) };
  }

  it('a queue deleted while its publisher is held ends the hold', async () => {
    const { broker, env, url } = await start(true);
    const { con, held } = await holdPublisher(url, broker, env);
    env.saturated = false;
    env.pending!();
    expect(broker.flow.heldCount).toBe(1);
    await con.deleteQueue('q');
    env.pending!();
    expect(broker.flow.heldCount).toBe(0);
    await held.result; // read again: answered (whatever the answer for a queue that is gone)
  });

  it('the memory alarm keeps blocking a publisher whose flow hold ended; it is read again once the alarm clears', async () => {
    const LIMIT = 64 * 1024 * 1024;
    let sample = { rss: LIMIT / 4, heapUsed: 10e6, external: 1e6 };
    const { broker, env, url } = await start(true, { memoryHighWatermark: LIMIT, memorySampler: () => sample });
    const { pub, con, held } = await holdPublisher(url, broker, env);
    env.saturated = false;
    env.pending!();
    expect(broker.flow.heldCount).toBe(1);
    const blocked = nextEvent(pub, 'blocked');
    sample = { rss: LIMIT + 1, heapUsed: 40e6, external: 1e6 };
    await blocked;
    await drainTo(con, 2);
    env.pending!();
    expect(broker.flow.heldCount).toBe(0);
    // Flow resumed its own pause only: the alarm's pause still keeps the publish unread.
    for (let i = 0; i < 3; i++) await con.declareQueue('q');
    expect(held.settled()).toBe(false);
    const unblocked = nextEvent(pub, 'unblocked');
    sample = { rss: LIMIT / 4, heapUsed: 10e6, external: 1e6 };
    await unblocked;
    expect(await held.result).toMatchObject({ ok: true });
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
