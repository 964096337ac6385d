/**
 * Power-loss simulation. A SIGKILL keeps the page cache, so the crash tests cannot
 * tell a confirm sent after fdatasync from one sent after a plain write. Here
 * power-sim.ts watches the real system calls on the segment directory and models
 * what a filesystem keeps: bytes written before an fdatasync began, the bytes of each
 * O_DSYNC write (only those: not earlier unsynced bytes of the file), and the names
 * present at each fsync of the directory. The head segment the broker creates at
 * start is synced, name and all, before it listens. At a seeded confirm count the
 * data folder is copied on the spot (the event loop is blocked meanwhile, so nothing
 * the client saw can change) and the copy loses what a power cut may lose: a segment
 * whose name was never made durable is gone; in every other, the bytes outside its
 * durable ranges are lost, torn, or pages in any order (the rest zeroed). A broker
 * recovers the copy and the queue is drained.
 *
 * Must hold: every confirmed message comes back with its body intact, and nothing
 * comes back that was never published. The sync=never case shows the test can tell:
 * confirmed messages are lost there. The store-level case at the end shows it sees
 * O_DSYNC's byte-range rule: an O_DSYNC write into a segment holding unsynced bytes
 * would leave those bytes out.
 */
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import { client, closeAllClients, idOfBody, numberedBody } from './harness.js';
import { rng } from '../../../../test-support/prng.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';
import { parseSegmentFileName, segmentFileName } from '../../src/storage/format.js';
import { MessageStore } from '../../src/storage/index.js';
import { captureLogger, ids, put } from '../storage/helpers.js';
import { cutFile, watchDurability, type DiskState, type DurabilityWatch, type Fate } from './power-sim.js';

const N = 2000;
const BODY_SIZE = 700;
const QUEUE = 'power';

const bodyOf = (id: number): Buffer => numberedBody(id, BODY_SIZE);

interface Outcome {
  published: number;
  confirmed: Set<number>;
  recovered: number[];
}

const dirs: string[] = [];
const brokers: Broker[] = [];
let watch: DurabilityWatch | undefined;
afterEach(async () => {
  watch?.stop();
  watch = undefined;
  await closeAllClients();
  for (const b of brokers.splice(0)) await b.close().catch(() => {});
  for (const d of dirs.splice(0)) await removeDir(d);
});

const segments = (dir: string) => readdirSync(dir).flatMap((name) => parseSegmentFileName(name) ?? []);

/** The copy loses what the power cut takes: segments never named, bytes outside durable ranges. */
function applyCut(segDir: string, disk: DiskState, fate: Fate, r: ReturnType<typeof rng>): void {
  for (const no of segments(segDir)) {
    const name = segmentFileName(no);
    const path = join(segDir, name);
    if (!disk.named.has(name)) rmSync(path);
    else cutFile(path, disk.durable.get(name) ?? [], fate, r);
  }
}

async function powerCut(seed: number, fate: Fate, sync: 'always' | 'never'): Promise<Outcome> {
  const r = rng(seed);
  const dataDir = await tempDir('warren-power-');
  const copyDir = await tempDir('warren-power-copy-');
  dirs.push(dataDir, copyDir);
  const segDir = join(dataDir, 'messages');
  watch = await watchDurability(segDir);
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    sync,
    logLevel: 'silent',
    heartbeatMs: 0,
    segmentSize: 256 * 1024,
  });
  brokers.push(broker);
  const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
  await c.declareQueue(QUEUE, { durable: true });

  const cutAt = r.int(50, N - 50);
  const confirmed = new Set<number>();
  let snapshot: { confirmed: Set<number>; disk: DiskState; published: number } | undefined;
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
            snapshot = { confirmed: new Set(confirmed), disk: watch!.snapshot(), published };
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
  applyCut(join(copyDir, 'messages'), snapshot!.disk, fate, r);

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

// O_DSYNC syncs only the bytes of its own write: the model must not count a segment's
// earlier unsynced bytes as durable, or it could not catch a writer that O_DSYNC-writes
// a confirm into a segment holding them (here: an ack that rode along unsynced).
describe.skipIf(process.platform !== 'linux')('power loss sees O_DSYNC byte ranges', () => {
  it('a confirm written after an unsynced ack makes the ack durable too: the durable part of a segment stays a prefix', async () => {
    const dir = await tempDir('warren-power-store-');
    const copy = await tempDir('warren-power-store-copy-');
    dirs.push(dir, copy);
    watch = await watchDurability(join(dir, 'messages'));
    const s = await MessageStore.open({ dir, logger: captureLogger() });
    const k = await put(s, ['q'], 'k'); // confirmed (an O_DSYNC write)
    s.delivered('q', k); // right after a confirm: written durable as well
    await s.idle();
    s.settle('q', k); // the ack rides along unsynced: the segment holds unsynced bytes
    await s.idle();
    const b = await put(s, ['q'], 'b'); // a confirm: must cover the ack before it
    const disk = watch.snapshot();
    cpSync(dir, copy, { recursive: true });
    await s.close();
    expect([...watch.dsyncWrites.values()].reduce((a, n) => a + n, 0), 'O_DSYNC writes seen').toBeGreaterThan(0);

    rmSync(join(copy, 'LOCK'), { force: true });
    applyCut(join(copy, 'messages'), disk, 'drop', rng(1));
    const r = await MessageStore.open({ dir: copy, logger: captureLogger() });
    try {
      expect(r.recoveryStats.droppedRecords, 'a hole (lost bytes) before durable ones').toBe(0);
      expect(ids(r, 'q'), 'the acked message stays gone, the confirmed one is back').toEqual([b]);
    } finally {
      await r.close();
    }
  });
});
