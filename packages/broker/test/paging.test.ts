/**
 * Long queues page their tail out to a spill file and read it back in order;
 * the memory alarm follows the process's real memory. Small paging windows so
 * a few thousand messages exercise it.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker, type BrokerOptions } from '@warren/broker';
import type { Connection, Message } from '@warren/client';
import { client, closeAllClients } from './durability/harness.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { MemoryMonitor, processGarbageCollector, type MemorySample } from '../src/memory-monitor.js';

const dirs: string[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const b of brokers.splice(0)) await b.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function start(dataDir: string, extra: BrokerOptions = {}): Promise<{ broker: Broker; c: Connection }> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent', pagingWindow: 100, ...extra });
  brokers.push(broker);
  const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
  return { broker, c };
}

async function restart(broker: Broker, dataDir: string, extra: BrokerOptions = {}) {
  await closeAllClients();
  brokers.splice(brokers.indexOf(broker), 1);
  await broker.close();
  return start(dataDir, extra);
}

async function publishN(c: Connection, queue: string, from: number, n: number, persistent = false): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = from; i < from + n; i++) all.push(c.publish('', queue, `m${i}`, { persistent }));
  await Promise.all(all);
}

/** Consumes n messages with acks; returns their bodies in arrival order. */
async function consumeN(c: Connection, queue: string, n: number): Promise<string[]> {
  const got: string[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = await c.consume(
    queue,
    (msg: Message) => {
      got.push(msg.body.toString());
      msg.ack();
      if (got.length === n) done();
    },
    { prefetch: 50 },
  );
  await finished;
  await consumer.cancel();
  return got;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => `m${from + i}`);
const queueOf = (broker: Broker, name: string) => broker.vhosts.default!.queues.get(name)!;

describe('paging', () => {
  it('a long transient queue keeps only its window in RAM, delivers everything in order and removes its spill file', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const { broker, c } = await start(dir);
    await c.declareQueue('q');
    await publishN(c, 'q', 0, 5000);
    const q = queueOf(broker, 'q');
    expect(q.messageCount).toBe(5000);
    expect(q.pagedCount).toBe(4900);
    expect(readdirSync(join(dir, 'spill')).length).toBe(1);
    // Messages arriving while it drains go behind the paged ones.
    const consumed = consumeN(c, 'q', 6000);
    await publishN(c, 'q', 5000, 1000);
    expect(await consumed).toEqual(range(0, 6000));
    expect(q.messageCount).toBe(0);
    expect(readdirSync(join(dir, 'spill'))).toEqual([]);
  });

  it('GET reads paged-out messages; x-max-length drop-head drops from the head across the spill', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const { broker, c } = await start(dir);
    await c.declareQueue('limited', { arguments: { 'x-max-length': 300 } });
    await publishN(c, 'limited', 0, 1000);
    expect(queueOf(broker, 'limited').messageCount).toBe(300);
    expect(queueOf(broker, 'limited').pagedCount).toBeGreaterThan(0);
    const got: string[] = [];
    for (let m = await c.get('limited', { noAck: true }); m !== null; m = await c.get('limited', { noAck: true })) got.push(m.body.toString());
    expect(got).toEqual(range(700, 300));
  });

  it('a durable queue pages persistent messages and recovers all of them from the store after a restart', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    let { broker, c } = await start(dir);
    await c.declareQueue('d', { durable: true });
    await publishN(c, 'd', 0, 1000, true);
    expect(queueOf(broker, 'd').pagedCount).toBe(900);
    const before = readdirSync(join(dir, 'spill'));
    expect(before.length).toBe(1);
    ({ broker, c } = await restart(broker, dir));
    // The old spill file is gone; the recovered backlog is paged again (metadata only: bodies are in the store).
    expect(readdirSync(join(dir, 'spill'))).not.toContain(before[0]);
    expect(queueOf(broker, 'd').messageCount).toBe(1000);
    expect(queueOf(broker, 'd').pagedCount).toBe(900);
    expect(await consumeN(c, 'd', 1000)).toEqual(range(0, 1000));
  });

  it('transient messages paged out of a durable queue are dropped at restart, like the ones in RAM', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    let { broker, c } = await start(dir);
    await c.declareQueue('d', { durable: true });
    await publishN(c, 'd', 0, 500, false);
    await publishN(c, 'd', 500, 1, true);
    expect(queueOf(broker, 'd').pagedCount).toBe(401);
    ({ broker, c } = await restart(broker, dir));
    expect(await consumeN(c, 'd', 1)).toEqual(['m500']);
  });

  it('a queue pages by bytes too: bodies plus per-message overhead against pagingWindowBytes', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    // 1 KiB bodies cost 1024 + 512 B each against a 150 KiB window: 100 in RAM, whatever the message window.
    const { broker, c } = await start(dir, { pagingWindow: 100_000, pagingWindowBytes: 150 * 1024 });
    await c.declareQueue('q');
    const body = Buffer.alloc(1024, 0x61);
    await Promise.all(Array.from({ length: 500 }, () => c.publish('', 'q', body)));
    const q = queueOf(broker, 'q');
    expect(q.messageCount).toBe(500);
    expect(q.pagedCount).toBe(400);
    // Read back in slices that fit the window, in order.
    expect((await consumeN(c, 'q', 500)).length).toBe(500);
    expect(q.messageCount).toBe(0);
    expect(readdirSync(join(dir, 'spill'))).toEqual([]);
  });

  it('below memory pressure a queue keeps its whole window in RAM; under pressure it pages beyond the small one', async () => {
    const LIMIT = 64 * 1024 * 1024;
    let sample: MemorySample = { rss: LIMIT * 0.3, heapUsed: 10e6, external: 1e6 };
    const dir = await tempDir();
    dirs.push(dir);
    const { broker, c } = await start(dir, { pagingWindow: 100_000, memoryHighWatermark: LIMIT, memorySampler: () => sample });
    await c.declareQueue('roomy');
    await c.declareQueue('pressed');
    await publishN(c, 'roomy', 0, 3000);
    expect(queueOf(broker, 'roomy').pagedCount).toBe(0);
    // RSS past half the limit: memory pressure (not yet the alarm: publishers go on).
    sample = { rss: LIMIT * 0.6, heapUsed: 20e6, external: 1e6 };
    await expect.poll(() => broker.paging?.pressure, { timeout: 5000 }).toBe(true);
    expect(broker.status()).toMatchObject({ alarms: { memory: false } });
    await publishN(c, 'pressed', 0, 3000);
    expect(queueOf(broker, 'pressed').pagedCount).toBe(3000 - 2048);
    // The roomy queue is already past the small window: what arrives now is paged behind it.
    await publishN(c, 'roomy', 3000, 10);
    expect(queueOf(broker, 'roomy').pagedCount).toBe(10);
    sample = { rss: LIMIT * 0.3, heapUsed: 10e6, external: 1e6 };
    await expect.poll(() => broker.paging?.pressure, { timeout: 5000 }).toBe(false);
    expect(await consumeN(c, 'roomy', 3010)).toEqual(range(0, 3010));
    expect(await consumeN(c, 'pressed', 3000)).toEqual(range(0, 3000));
  });

  it('purging a durable queue settles its paged-out messages in the store', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    let { broker, c } = await start(dir);
    await c.declareQueue('d', { durable: true });
    await publishN(c, 'd', 0, 1000, true);
    expect(await c.purgeQueue('d')).toEqual({ messageCount: 1000 });
    await publishN(c, 'd', 1000, 1, true);
    ({ broker, c } = await restart(broker, dir));
    expect(queueOf(broker, 'd').messageCount).toBe(1);
  });
});

describe('memory alarm', () => {
  it('blocks publishers while RSS is above the limit and unblocks them when it falls', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const LIMIT = 64 * 1024 * 1024;
    let sample: MemorySample = { rss: LIMIT / 2, heapUsed: 10e6, external: 1e6 };
    const { broker, c } = await start(dir, { memoryHighWatermark: LIMIT, memorySampler: () => sample });
    await c.declareQueue('q');
    await c.publish('', 'q', 'x'); // a publisher: alarms block publishers only
    const events: string[] = [];
    c.on('blocked', (e: { reason: string }) => events.push(`blocked: ${e.reason}`));
    c.on('unblocked', () => events.push('unblocked'));
    sample = { rss: LIMIT + 1, heapUsed: 40e6, external: 1e6 }; // live memory over half the limit: the alarm holds
    await expect.poll(() => events.length, { timeout: 5000 }).toBe(1);
    expect(events[0]).toContain('memory alarm');
    expect(broker.status()).toMatchObject({ alarms: { memory: true } });
    sample = { rss: LIMIT * 0.85, heapUsed: 40e6, external: 1e6 };
    await expect.poll(() => events.length, { timeout: 5000 }).toBe(2);
    expect(events[1]).toBe('unblocked');
    await c.publish('', 'q', 'y');
  });
});

describe('memory alarm release after a forced collection (real broker)', () => {
  it('clears once a collection shows live memory under 0.9x the limit with RSS at most 1.2x it; past 1.2x it holds', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const L = 64 * 1024 * 1024;
    let sample: MemorySample = { rss: 0.5 * L, heapUsed: 0.2 * L, external: 0.01 * L };
    let afterCollection: MemorySample | null = null;
    let collections = 0;
    let collectedJustNow = false;
    let broker: Broker | undefined;
    // Every sample the broker's monitor takes: right after a collection or not, and the alarm it found.
    const log: Array<{ collected: boolean; alarmBefore: boolean }> = [];
    const sampler = () => {
      log.push({ collected: collectedJustNow, alarmBefore: broker?.memory.memoryAlarm ?? false });
      collectedJustNow = false;
      return sample;
    };
    // What a full GC would leave: the monitor calls this, then samples.
    const collector = () => {
      collections++;
      collectedJustNow = true;
      if (afterCollection !== null) sample = afterCollection;
    };
    let c: Connection;
    ({ broker, c } = await start(dir, { memoryHighWatermark: L, memorySampler: sampler, memoryCollector: collector }));
    await c.declareQueue('q');
    await c.publish('', 'q', 'x'); // a publisher: alarms block publishers only
    const events: string[] = [];
    c.on('blocked', () => events.push('blocked'));
    c.on('unblocked', () => events.push('unblocked'));
    // RSS over the limit, live memory (heap + buffers) 0.95x: the alarm sets, and holds. Later values keep the
    // live memory over 0.5x the limit and over half of this: neither the low-live nor the halved-live rule can
    // clear it, only a sample right after a collection (live under 0.9x, RSS at most 1.2x).
    sample = { rss: 1.1 * L, heapUsed: 0.9 * L, external: 0.05 * L };
    await expect.poll(() => events, { timeout: 5000 }).toEqual(['blocked']);
    // Collections run while the alarm stays on; with the live memory still at 0.95x they change nothing.
    await expect.poll(() => collections, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    // After a collection: live 0.7x the limit, but RSS 1.25x (past the ceiling): still on.
    afterCollection = { rss: 1.25 * L, heapUsed: 0.65 * L, external: 0.05 * L };
    const from = collections;
    await expect.poll(() => collections, { timeout: 10_000 }).toBeGreaterThanOrEqual(from + 2);
    expect(broker.status()).toMatchObject({ alarms: { memory: true } });
    expect(events).toEqual(['blocked']);
    // The same live memory with RSS at 1.15x (pages the allocator kept), sampled with or without a collection:
    // only a sample right after one clears the alarm.
    sample = afterCollection = { rss: 1.15 * L, heapUsed: 0.65 * L, external: 0.05 * L };
    const phase = log.length;
    await expect.poll(() => events, { timeout: 10_000 }).toEqual(['blocked', 'unblocked']);
    expect(broker.status()).toMatchObject({ alarms: { memory: false } });
    // The first sample that found the alarm off follows the one that cleared it: taken right after a collection,
    // and every sample of these values before it (none after a collection) left the alarm on.
    const firstOff = () => log.findIndex((e, i) => i > phase && !e.alarmBefore);
    await expect.poll(firstOff, { timeout: 5000 }).toBeGreaterThan(phase);
    const cleared = firstOff() - 1;
    expect(log[cleared]).toEqual({ collected: true, alarmBefore: true });
    expect(log.slice(phase, cleared).every((e) => !e.collected && e.alarmBefore)).toBe(true);
    await c.publish('', 'q', 'y');
    expect(await c.purgeQueue('q')).toEqual({ messageCount: 2 });
  });
});

/** Alarm changes and collections over 2 s of samples (limit 1000 MB): `before` until a collection, `after` from then on. */
function alarmAfterCollecting(before: MemorySample, after: MemorySample): { changes: boolean[]; collections: number } {
  let sample = before;
  let now = 0;
  const changes: boolean[] = [];
  const m = new MemoryMonitor(1000e6, (alarm) => changes.push(alarm), () => sample, 250, () => {}, () => (sample = after), () => now);
  for (; now < 2000; now += 250) m.check();
  return { changes, collections: m.collections };
}

describe('MemoryMonitor', () => {
  it('sets the alarm above the limit and clears it below 90% of it, or when heap and buffers fall to half of what they were', () => {
    const LIMIT = 1000e6;
    let sample: MemorySample = { rss: 500e6, heapUsed: 300e6, external: 100e6 };
    const changes: boolean[] = [];
    const m = new MemoryMonitor(LIMIT, (alarm) => changes.push(alarm), () => sample);
    m.check();
    expect(m.alarm).toBe(false);
    sample = { rss: 1001e6, heapUsed: 700e6, external: 200e6 };
    m.check();
    expect(m.alarm).toBe(true);
    sample = { rss: 950e6, heapUsed: 700e6, external: 200e6 };
    m.check();
    expect(m.alarm).toBe(true); // under the limit, not under 90%
    sample = { rss: 950e6, heapUsed: 300e6, external: 100e6 };
    m.check();
    expect(m.alarm).toBe(false); // RSS still high (freed pages not returned yet), but the live memory is below half
    sample = { rss: 1001e6, heapUsed: 700e6, external: 200e6 };
    m.check();
    sample = { rss: 899e6, heapUsed: 700e6, external: 200e6 };
    m.check();
    expect(changes).toEqual([true, false, true, false]);
  });

  it('RSS over the limit with little live memory clears the alarm once, not at every other sample', () => {
    const LIMIT = 1000e6;
    // RSS well above heap + buffers (pages V8 keeps, fragmentation): the old rule set and cleared the alarm every 250 ms.
    let sample: MemorySample = { rss: 1100e6, heapUsed: 250e6, external: 50e6 };
    const changes: boolean[] = [];
    const m = new MemoryMonitor(LIMIT, (alarm) => changes.push(alarm), () => sample);
    for (let i = 0; i < 20; i++) m.check();
    expect(changes).toEqual([true, false]);
    // Live memory grows, but by less than a tenth of the limit: still clear.
    sample = { rss: 1100e6, heapUsed: 320e6, external: 50e6 };
    for (let i = 0; i < 20; i++) m.check();
    expect(changes).toEqual([true, false]);
    // A tenth more: set again (and, the live memory still small, cleared once more), then steady.
    sample = { rss: 1100e6, heapUsed: 360e6, external: 50e6 };
    for (let i = 0; i < 20; i++) m.check();
    expect(changes).toEqual([true, false, true, false]);
  });

  it('with much live memory, RSS over the limit keeps the alarm on until half of it is freed', () => {
    const LIMIT = 1000e6;
    let sample: MemorySample = { rss: 1100e6, heapUsed: 700e6, external: 100e6 };
    const changes: boolean[] = [];
    const m = new MemoryMonitor(LIMIT, (alarm) => changes.push(alarm), () => sample);
    for (let i = 0; i < 20; i++) m.check();
    expect(changes).toEqual([true]);
    // Queues drained: live memory halves, RSS stays up: cleared, once.
    sample = { rss: 1100e6, heapUsed: 350e6, external: 40e6 };
    for (let i = 0; i < 20; i++) m.check();
    expect(changes).toEqual([true, false]);
  });

  it('past 1.2 x the limit the live memory no longer clears the alarm: only RSS falling does', () => {
    const LIMIT = 1000e6;
    let sample: MemorySample = { rss: 1250e6, heapUsed: 100e6, external: 0 };
    const changes: boolean[] = [];
    const m = new MemoryMonitor(LIMIT, (alarm) => changes.push(alarm), () => sample);
    for (let i = 0; i < 20; i++) m.check();
    expect(changes).toEqual([true]);
    sample = { rss: 1150e6, heapUsed: 100e6, external: 0 };
    m.check();
    expect(changes).toEqual([true, false]);
  });

  it('after a clear on live memory, RSS growing by a tenth of the limit sets the alarm again', () => {
    const LIMIT = 1000e6;
    let sample: MemorySample = { rss: 1050e6, heapUsed: 400e6, external: 0 };
    const changes: boolean[] = [];
    const m = new MemoryMonitor(LIMIT, (alarm) => changes.push(alarm), () => sample);
    m.check();
    sample = { rss: 1050e6, heapUsed: 100e6, external: 0 };
    m.check();
    sample = { rss: 1140e6, heapUsed: 100e6, external: 0 };
    m.check();
    expect(changes).toEqual([true, false]);
    sample = { rss: 1160e6, heapUsed: 100e6, external: 0 };
    m.check();
    expect(changes).toEqual([true, false, true]);
    // Below 90% of the limit, RSS alone rules again.
    sample = { rss: 800e6, heapUsed: 100e6, external: 0 };
    m.check();
    sample = { rss: 1010e6, heapUsed: 100e6, external: 0 };
    m.check();
    expect(changes).toEqual([true, false, true, false, true]);
  });

  it('while the alarm stays on it collects garbage before sampling, and clears when that freed it', () => {
    const LIMIT = 1000e6;
    // The publishes that set the alarm left garbage; blocked publishers leave the process quiet, so V8 does not collect it.
    const garbage = { rss: 1300e6, heapUsed: 900e6, external: 0 };
    const live = { rss: 1150e6, heapUsed: 200e6, external: 0 };
    let sample: MemorySample = garbage;
    let now = 0;
    const collected: number[] = [];
    const collect = (): void => {
      collected.push(now);
      sample = live;
    };
    const changes: boolean[] = [];
    const m = new MemoryMonitor(LIMIT, (alarm) => changes.push(alarm), () => sample, 250, () => {}, collect, () => now);
    m.check();
    expect(changes).toEqual([true]);
    expect(collected).toEqual([]); // not before the alarm is on
    now += 250;
    m.check(); // collects, then samples what is live: RSS under 1.2 x the limit, live memory below half: cleared
    expect(collected).toEqual([250]);
    expect(changes).toEqual([true, false]);
    for (let i = 0; i < 10; i++) {
      now += 250;
      m.check();
    }
    expect(collected).toEqual([250]); // none while the alarm is off
  });

  it('after a collection, live memory under 90% of the limit clears the alarm while RSS lags, up to 1.2 x the limit', () => {
    // Queues hold 700 MB; the publishes that set the alarm left 200 MB of garbage. After the collection the
    // allocator keeps the freed pages: RSS stays at 1.1 x the limit, the live memory is 0.7 x (not half of either).
    // Collected at the second sample, cleared there, and steady after it (no flapping).
    const cleared = alarmAfterCollecting({ rss: 1100e6, heapUsed: 800e6, external: 100e6 }, { rss: 1100e6, heapUsed: 600e6, external: 100e6 });
    expect(cleared).toEqual({ changes: [true, false], collections: 1 });

    // The same figures without a collection before the sample (the live memory may be garbage): the alarm holds.
    const unaided = new MemoryMonitor(1000e6, () => {}, () => ({ rss: 1100e6, heapUsed: 600e6, external: 100e6 }));
    unaided.check();
    unaided.check();
    expect(unaided.alarm).toBe(true);

    // Live memory at the low mark after a collection: the alarm holds (and collects again a second later).
    const held = alarmAfterCollecting({ rss: 1100e6, heapUsed: 800e6, external: 150e6 }, { rss: 1100e6, heapUsed: 800e6, external: 100e6 });
    expect(held).toEqual({ changes: [true], collections: 2 });
    // RSS past 1.2 x the limit after a collection: only RSS falling clears it, however little is live.
    const over = alarmAfterCollecting({ rss: 1300e6, heapUsed: 800e6, external: 100e6 }, { rss: 1250e6, heapUsed: 100e6, external: 0 });
    expect(over).toEqual({ changes: [true], collections: 2 });
  });

  it('collections that free nothing run at most once a second and at most 1% of the time', () => {
    const LIMIT = 1000e6;
    const sample = { rss: 1300e6, heapUsed: 900e6, external: 0 };
    let now = 0;
    const durations = [20, 5, 5];
    const collected: number[] = [];
    const collect = (): void => {
      collected.push(now);
      now += durations.shift() ?? 5;
    };
    const m = new MemoryMonitor(LIMIT, () => {}, () => sample, 250, () => {}, collect, () => now);
    m.check();
    for (let i = 0; i < 16; i++) {
      now += 250;
      m.check();
    }
    expect(m.alarm).toBe(true);
    // A 20 ms collection: the next 2 s (100 x 20 ms) after it; then 5 ms ones: 1 s apart.
    expect(collected).toEqual([250, 2270, 3275]);
    expect(m.collections).toBe(3);
  });

  it("the process's collector is V8's gc(), available without --expose-gc", () => {
    const gc = processGarbageCollector();
    expect(typeof gc).toBe('function');
    gc!();
  });

  it('with an injected sampler and no collector it never collects', () => {
    const m = new MemoryMonitor(1000e6, () => {}, () => ({ rss: 1300e6, heapUsed: 900e6, external: 0 }));
    for (let i = 0; i < 10; i++) m.check();
    expect(m.alarm).toBe(true);
    expect(m.collections).toBe(0);
  });

  it('memory pressure turns on above half the limit and off below 45% of it, without flapping', () => {
    const LIMIT = 1000e6;
    let sample: MemorySample = { rss: 400e6, heapUsed: 100e6, external: 0 };
    const pressure: boolean[] = [];
    const m = new MemoryMonitor(LIMIT, () => {}, () => sample, 250, (p) => pressure.push(p));
    m.check();
    expect(m.pressure).toBe(false);
    sample = { rss: 510e6, heapUsed: 100e6, external: 0 };
    for (let i = 0; i < 10; i++) m.check();
    sample = { rss: 460e6, heapUsed: 100e6, external: 0 };
    for (let i = 0; i < 10; i++) m.check();
    expect(pressure).toEqual([true]);
    sample = { rss: 440e6, heapUsed: 100e6, external: 0 };
    m.check();
    expect(pressure).toEqual([true, false]);
    expect(m.alarm).toBe(false);
  });
});
