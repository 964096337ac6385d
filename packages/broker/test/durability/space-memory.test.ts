/**
 * Disk space and memory through the broker (in-process):
 * - consumed + acked persistent messages give their disk space back;
 * - with a small memoryBudget, a backlog of persistent messages keeps its bodies on
 *   disk (status().memory.bodyBytes stays near the budget) and is delivered intact.
 *
 * Gap: BrokerOptions has no segmentSize (segments are always 64 MiB), so rolling
 * several segments through the broker would take hundreds of MB of writes. The
 * rolling test below injects a small segment size by wrapping MessageStore.open
 * (a test double; no src change), and a second test covers the default
 * configuration, where dead segments are reclaimed at the next start.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import type { Connection, Message } from '@warren/client';
import { MessageStore, type StoreOptions } from '../../src/storage/index.js';
import { client, closeAllClients } from './harness.js';
import { rng } from '../../../../test-support/prng.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

const dirs: string[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await closeAllClients();
  for (const b of brokers.splice(0)) await b.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function start(dataDir: string, extra: Parameters<typeof startBroker>[0] = {}): Promise<{ broker: Broker; c: Connection }> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent', ...extra });
  brokers.push(broker);
  const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
  return { broker, c };
}

async function stop(broker: Broker): Promise<void> {
  await closeAllClients();
  brokers.splice(brokers.indexOf(broker), 1);
  await broker.close();
}

function body(id: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  const r = rng(id * 7919 + 1);
  for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE(Math.floor(r.next() * 0x1_0000_0000), i);
  for (let i = size - (size % 4); i < size; i++) b[i] = id & 0xff;
  b.writeUInt32LE(id, 0);
  return b;
}

/** Publishes n persistent messages (awaiting every confirm). */
async function publishN(c: Connection, queue: string, n: number, size: number, onConfirm?: (i: number) => void): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) all.push(c.publish('', queue, body(i, size), { persistent: true }).then(() => onConfirm?.(i)));
  await Promise.all(all);
}

/** Consumes exactly n messages with acks, checking each body; calls onMessage for each. */
async function consumeN(c: Connection, queue: string, n: number, size: number, onMessage?: () => void): Promise<void> {
  let seen = 0;
  let bad: string | null = null;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = await c.consume(
    queue,
    (msg: Message) => {
      const id = msg.body.readUInt32LE(0);
      if (id !== seen) bad ??= `expected message ${seen}, got ${id}`;
      if (!msg.body.equals(body(id, size))) bad ??= `body of message ${id} differs`;
      seen++;
      onMessage?.();
      msg.ack();
      if (seen === n) done();
    },
    { prefetch: 500 },
  );
  await finished;
  await consumer.cancel();
  expect(bad).toBeNull();
  expect(seen).toBe(n);
}

async function segmentBytesOnDisk(dataDir: string): Promise<{ files: number; bytes: number }> {
  const dir = join(dataDir, 'messages');
  let bytes = 0;
  let files = 0;
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.seg')) continue;
    files++;
    bytes += (await stat(join(dir, name))).size;
  }
  return { files, bytes };
}

describe('disk space is reclaimed', () => {
  it('segments rolled by the broker are deleted once their messages are acked (small segments injected)', async () => {
    const SEGMENT = 64 * 1024;
    const open = MessageStore.open.bind(MessageStore);
    vi.spyOn(MessageStore, 'open').mockImplementation((o: StoreOptions) => open({ ...o, segmentSize: SEGMENT }));
    const dir = await tempDir();
    dirs.push(dir);
    const { broker, c } = await start(dir);
    await c.declareQueue('q', { durable: true });
    const N = 2000;
    const SIZE = 1024; // ~2 MiB of records: ~32 segments
    await publishN(c, 'q', N, SIZE);
    const full = (broker.status().disk as { usedBytes: number }).usedBytes;
    expect(full).toBeGreaterThan(N * SIZE);
    expect((await segmentBytesOnDisk(dir)).files).toBeGreaterThan(20);

    await consumeN(c, 'q', N, SIZE);
    await broker.vhosts.default!.store!.idle();
    const used = (broker.status().disk as { usedBytes: number }).usedBytes;
    // Only the head segment (settle records) is left: at most one segment of the ~2.2 MB.
    expect(used).toBeLessThanOrEqual(SEGMENT);
    const onDisk = await segmentBytesOnDisk(dir);
    expect(onDisk.files).toBeLessThanOrEqual(2);
    expect(onDisk.bytes).toBeLessThanOrEqual(2 * SEGMENT);
    expect(broker.vhosts.default!.store!.writeStats.segmentsDeleted).toBeGreaterThan(20);
    console.log('[space rolled]', JSON.stringify({ fullBytes: full, afterAckBytes: used, files: onDisk.files, deleted: broker.vhosts.default!.store!.writeStats.segmentsDeleted }));

    // The deletions are durable: after a restart nothing comes back.
    await stop(broker);
    const again = await start(dir);
    expect((await again.c.declareQueue('q', { durable: true })).messageCount).toBe(0);
  });

  it('default segment size: what was acked is reclaimed at the next start (the head is never deleted while in use)', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const { broker, c } = await start(dir);
    await c.declareQueue('q', { durable: true });
    const N = 1500;
    const SIZE = 2048;
    await publishN(c, 'q', N, SIZE);
    await consumeN(c, 'q', N, SIZE);
    await broker.vhosts.default!.store!.idle();
    const before = (broker.status().disk as { usedBytes: number }).usedBytes;
    expect(before).toBeGreaterThan(N * SIZE); // all in the head segment, which is still being written
    await stop(broker);

    const again = await start(dir);
    await again.broker.vhosts.default!.store!.idle();
    const after = (again.broker.status().disk as { usedBytes: number }).usedBytes;
    expect(after).toBeLessThan(4096);
    expect((await segmentBytesOnDisk(dir)).bytes).toBeLessThan(4096);
    expect((await again.c.declareQueue('q', { durable: true })).messageCount).toBe(0);
    console.log('[space default]', JSON.stringify({ beforeRestart: before, afterRestart: after }));
  });
});

describe('memory budget', () => {
  it('keeps a 20,000-message persistent backlog on disk within ~the budget and delivers it intact', async () => {
    const BUDGET = 1024 * 1024;
    const N = 20_000;
    const SIZE = 1024;
    const dir = await tempDir();
    dirs.push(dir);
    const { broker, c } = await start(dir, { memoryBudget: BUDGET });
    await c.declareQueue('q', { durable: true });
    const bodyBytes = () => (broker.status().memory as { bodyBytes: number }).bodyBytes;
    // Peak probe: sample right after every body is counted in (the moment it is highest).
    let maxPublishing = 0;
    const add = broker.memory.add.bind(broker.memory);
    vi.spyOn(broker.memory, 'add').mockImplementation((bytes) => {
      add(bytes);
      maxPublishing = Math.max(maxPublishing, bodyBytes());
    });
    let blocked = 0;
    c.on('blocked', () => blocked++);
    await publishN(c, 'q', N, SIZE);
    const afterPublish = bodyBytes();
    // Bodies held: at most the budget plus what is not yet durable (the client keeps <= 1000
    // publishes unconfirmed, and the broker blocks publishers above 2 x budget).
    expect(maxPublishing).toBeLessThan(3 * BUDGET);
    expect(afterPublish).toBeLessThanOrEqual(BUDGET);
    expect(N * SIZE).toBeGreaterThan(15 * BUDGET);

    let maxConsuming = 0;
    await consumeN(c, 'q', N, SIZE, () => {
      maxConsuming = Math.max(maxConsuming, bodyBytes());
    });
    expect(maxConsuming).toBeLessThan(3 * BUDGET);
    console.log('[memory]', JSON.stringify({ budget: BUDGET, totalBodyBytes: N * SIZE, maxPublishing, afterPublish, maxConsuming, blockedEvents: blocked }));
  });
});
