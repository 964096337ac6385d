/**
 * Power-loss simulation. A SIGKILL keeps the page cache, so the crash tests cannot
 * tell a confirm sent after fdatasync from one sent after a plain write. Here the
 * store's test hook before each fdatasync records the segment's size (every write
 * before a sync has completed): its durable prefix; the hook before each fsync of
 * the segment directory records which segment files exist: only their names are
 * durable. The head segment the broker creates at start is synced, name and all,
 * before it listens. At a seeded confirm count the data folder
 * is copied on the spot (the event loop is blocked meanwhile, so nothing the client
 * saw can change) and the copy loses what a power cut may lose: a segment whose
 * name was never made durable is gone; every other keeps its durable prefix, and of
 * the bytes after it either nothing, a torn prefix, or pages in any order (the rest
 * zeroed). A broker recovers the copy and the queue is drained.
 *
 * The durable prefix counts a sync that had begun but not finished as done, so the
 * simulation is lenient about the moment of the cut; it is not lenient about a
 * confirm that no fdatasync covers. Must hold: every confirmed message comes back
 * with its body intact, and nothing comes back that was never published. The
 * sync=never case shows the test can tell: confirmed messages are lost there.
 */
import { closeSync, cpSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import { client, closeAllClients, idOfBody, numberedBody } from './harness.js';
import { rng, type Rng } from '../../../../test-support/prng.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';
import { parseSegmentFileName, segmentFileName } from '../../src/storage/format.js';

const N = 2000;
const BODY_SIZE = 700;
const PAGE = 4096;
const QUEUE = 'power';

const bodyOf = (id: number): Buffer => numberedBody(id, BODY_SIZE);

type Fate = 'drop' | 'torn' | 'pages';

/** What a power cut leaves of the bytes after a segment's durable prefix. */
function cutSegment(path: string, durable: number, fate: Fate, r: Rng): void {
  const size = statSync(path).size;
  if (size <= durable) return;
  if (fate === 'drop') return truncateSync(path, durable);
  if (fate === 'torn') return truncateSync(path, r.int(durable, size));
  // Pages written back in any order: each page of the tail made it or is zeros; the file
  // ends after the last page that made it. Bytes of the durable prefix are never touched.
  const fd = openSync(path, 'r+');
  try {
    let end = durable;
    for (let page = Math.floor(durable / PAGE) * PAGE; page < size; page += PAGE) {
      const from = Math.max(page, durable);
      const to = Math.min(page + PAGE, size);
      if (r.next() < 0.5) end = to;
      else writeSync(fd, Buffer.alloc(to - from), 0, to - from, from);
    }
    truncateSync(path, end);
  } finally {
    closeSync(fd);
  }
}

interface Outcome {
  published: number;
  confirmed: Set<number>;
  recovered: number[];
}

const dirs: string[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const b of brokers.splice(0)) await b.close().catch(() => {});
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function powerCut(seed: number, fate: Fate, sync: 'always' | 'never'): Promise<Outcome> {
  const r = rng(seed);
  const dataDir = await tempDir('warren-power-');
  const copyDir = await tempDir('warren-power-copy-');
  dirs.push(dataDir, copyDir);
  // Per segment: its size when the last fdatasync to begin began; and the segments
  // that existed when the last directory fsync to begin began.
  const durable = new Map<number, number>();
  const named = new Set<number>();
  const segDir = join(dataDir, 'messages');
  const sizeOf = (no: number) => statSync(join(segDir, segmentFileName(no))).size;
  const segments = (dir: string) => readdirSync(dir).flatMap((name) => parseSegmentFileName(name) ?? []);
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    sync,
    logLevel: 'silent',
    heartbeatMs: 0,
    segmentSize: 256 * 1024,
    // writeBatch awaits every write of the batch before it syncs.
    storeHooks: {
      beforeSync: (seg) => void durable.set(seg, sizeOf(seg)),
      beforeSyncDir: () => void segments(segDir).forEach((no) => named.add(no)),
    },
  });
  brokers.push(broker);
  for (const no of segments(segDir)) {
    durable.set(no, sizeOf(no));
    named.add(no);
  }
  const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
  await c.declareQueue(QUEUE, { durable: true });

  const cutAt = r.int(50, N - 50);
  const confirmed = new Set<number>();
  let snapshot: { confirmed: Set<number>; durable: Map<number, number>; named: Set<number>; published: number } | undefined;
  let published = 0;
  const pending: Promise<void>[] = [];
  for (let id = 0; id < N; id++) {
    published++;
    pending.push(
      c.publish('', QUEUE, bodyOf(id), { persistent: true }).then(
        () => {
          confirmed.add(id);
          if (snapshot === undefined && confirmed.size >= cutAt) {
            // The cut: nothing runs on the event loop until the copy is complete.
            snapshot = { confirmed: new Set(confirmed), durable: new Map(durable), named: new Set(named), published };
            cpSync(dataDir, copyDir, { recursive: true });
          }
        },
        () => {},
      ),
    );
  }
  await Promise.all(pending);
  expect(snapshot, 'the cut happened').toBeDefined();
  await c.close();

  // What the power cut leaves on the copied disk; the lock's owner is gone after a reboot.
  rmSync(join(copyDir, 'LOCK'), { force: true });
  const copySegDir = join(copyDir, 'messages');
  for (const no of segments(copySegDir)) {
    const path = join(copySegDir, segmentFileName(no));
    if (!snapshot!.named.has(no)) rmSync(path);
    else cutSegment(path, snapshot!.durable.get(no) ?? 0, fate, r);
  }

  const after = await startBroker({ port: 0, host: '127.0.0.1', dataDir: copyDir, sync, logLevel: 'silent', heartbeatMs: 0 });
  brokers.push(after);
  const d = await client(`warren://guest:guest@127.0.0.1:${after.port}`);
  const recovered: number[] = [];
  for (;;) {
    const m = await d.get(QUEUE, { noAck: true });
    if (m === null) break;
    const id = idOfBody(m.body);
    expect(m.body.equals(bodyOf(id)), `body of ${id}`).toBe(true);
    recovered.push(id);
  }
  return { published: snapshot!.published, confirmed: snapshot!.confirmed, recovered };
}

describe('power loss (unsynced bytes lost, torn or reordered)', () => {
  const cases: [number, Fate][] = [
    [1, 'drop'],
    [2, 'torn'],
    [3, 'pages'],
    [4, 'drop'],
    [5, 'torn'],
    [6, 'pages'],
  ];
  for (const [seed, fate] of cases) {
    it(`keeps every confirmed message (seed ${seed}, unsynced tail: ${fate})`, async () => {
      const o = await powerCut(seed, fate, 'always');
      const got = new Set(o.recovered);
      const lost = [...o.confirmed].filter((id) => !got.has(id));
      expect(lost, `confirmed but lost (of ${o.confirmed.size} confirmed)`).toEqual([]);
      for (const id of got) expect(id).toBeLessThan(o.published);
      // In publish order, each once (one publisher, one queue).
      expect(o.recovered).toEqual([...o.recovered].sort((a, b) => a - b));
      expect(new Set(o.recovered).size).toBe(o.recovered.length);
    });
  }

  it('tells the difference: with sync=never, confirmed messages are lost', async () => {
    const o = await powerCut(7, 'drop', 'never');
    const got = new Set(o.recovered);
    const lost = [...o.confirmed].filter((id) => !got.has(id));
    expect(o.confirmed.size).toBeGreaterThan(0);
    expect(lost.length).toBeGreaterThan(0);
  });
});
