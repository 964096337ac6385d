/**
 * A short version of the memory flood (bench/e2e/flood.ts, issue 18): 300,000
 * 16 B transient messages into a queue with no consumer, and 1 KiB ones at a
 * consumer that stopped reading, against a `warren server` limited to 128 MiB.
 * Each queued message used to cost 1-2 KiB of RSS beyond its body, uncounted:
 * the first case alone took RSS far past 1.5 x the limit. Paging keeps it under.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLOOD_CASES, floodBrokers, runFloodCase, stopFloodBrokers } from '../e2e/flood.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const LIMIT = 128 * 1024 * 1024;

beforeAll(() => {
  if (!existsSync(fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url)))) {
    execFileSync('npx', ['tsc', '-b', 'packages/cli'], { cwd: repo, stdio: 'inherit' });
  }
});

// A flood whose test timed out goes on in the background: its broker and data folder would outlive the run.
afterEach(() => stopFloodBrokers());

describe('memory flood (smoke)', () => {
  for (const [id, count] of [
    ['16B-none', 300_000],
    ['1KiB-stalled', 60_000],
  ] as const) {
    it(`${id}: ${count} messages keep RSS under 1.5 x a 128 MiB limit, all of them queued`, async () => {
      const c = FLOOD_CASES.find((x) => x.id === id)!;
      // settleMs 0: no 3 s wait after deleting the queue, which only feeds rssAfterDeleteBytes (not checked here).
      const r = await runFloodCase(c, 120, LIMIT, () => {}, count, 0);
      console.log('[flood]', JSON.stringify(r));
      expect(r.published).toBe(count);
      expect(r.peakRatio).toBeLessThan(1.5);
      // Nothing lost: everything published is in the queue (or, for the stalled consumer, in its socket).
      if (c.consumer === 'none') expect(r.queueLength).toBe(count);
      else expect(r.queueLength).toBeGreaterThan(count / 2);
    }, 180_000);
  }
});

describe('flood cleanup', () => {
  it('stopFloodBrokers (the hook after a timed-out test) stops the broker, removes its data folder and ends the flood', async () => {
    const ended = runFloodCase(FLOOD_CASES[0]!, 600, LIMIT, () => {}, Infinity, 0).then(
      () => 'finished',
      (err: Error) => err.message,
    );
    await expect.poll(() => floodBrokers().length, { timeout: 30_000 }).toBe(1);
    const [broker] = floodBrokers();
    await stopFloodBrokers();
    expect(broker!.child.exitCode !== null || broker!.child.signalCode !== null).toBe(true);
    expect(existsSync(broker!.dataDir)).toBe(false);
    expect(floodBrokers()).toEqual([]);
    expect(await ended).not.toBe('finished');
  });

  it('a broker that does not start (here: a bad limit) leaves no data folder behind', async () => {
    // tmpdir() follows TMPDIR: a folder of its own shows what the flood left.
    const own = mkdtempSync(join(tmpdir(), 'flood-cleanup-'));
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = own;
    try {
      await expect(runFloodCase(FLOOD_CASES[0]!, 600, -1, () => {}, Infinity, 0)).rejects.toThrow(/before listening/);
      expect(readdirSync(own)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
      rmSync(own, { recursive: true, force: true });
    }
  });
});
