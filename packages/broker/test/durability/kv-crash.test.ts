/**
 * A confirmed kv put survives SIGKILL: writers put and overwrite keys of a
 * durable bucket (compare-and-set counters and plain puts, hundreds in flight)
 * while a seeded random kill -9 lands; after the restart on the same data
 * folder every key holds its last confirmed value or a later one that was
 * sent, revisions never go back, and recovery dropped nothing.
 *
 * CI runs seed 101. The long version (test-support/chaos.ts), one kill per round:
 *   WARREN_CHAOS_ROUNDS=30 npx vitest run packages/broker/test/durability/kv-crash.test.ts
 */
import { afterEach, describe, expect, it } from 'vitest';
import { client, closeAllClients } from './harness.js';
import { killAllChildren, spawnBroker } from '../../../../test-support/broker-process.js';
import { rng } from '../../../../test-support/prng.js';
import { chaosRounds, roundSeed } from '../../../../test-support/chaos.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

const dirs: string[] = [];
afterEach(async () => {
  await killAllChildren();
  await closeAllClients();
  for (const d of dirs.splice(0)) await removeDir(d);
});

const KEYS = 50;

describe('kv: SIGKILL of the broker', () => {
  it.each(chaosRounds().map((round) => roundSeed(101, round)))('every confirmed put is there after the restart (seed %i)', async (seed) => {
    const rand = rng(seed);
    const dir = await tempDir('warren-kv-crash-');
    dirs.push(dir);
    const child = await spawnBroker(dir);
    const conn = await client(child.url);
    const kv = await conn.kv('state', { history: 4 });

    // Per key: the last confirmed round and its revision, and the highest round sent.
    const confirmed = new Map<string, { round: number; revision: number }>();
    const sent = new Map<string, number>();
    const killAt = rand.int(300, 1500);
    let done = 0;
    let stop = false;
    const writer = async (k: number): Promise<void> => {
      const key = `key.${k}`;
      for (let round = 1; !stop; round++) {
        sent.set(key, round);
        try {
          const revision = await kv.put(key, `${key}:${round}:${'x'.repeat(rand.int(0, 300))}`);
          const prev = confirmed.get(key);
          if (!prev || prev.round < round) confirmed.set(key, { round, revision });
        } catch {
          return; // the broker is gone: the outcome of this put is unknown
        }
        if (++done === killAt) {
          stop = true;
          child.kill9Now();
        }
      }
    };
    await Promise.all(Array.from({ length: KEYS }, (_, k) => writer(k)));
    expect(await child.exited).toBe('SIGKILL');
    await conn.close().catch(() => undefined);

    const again = await spawnBroker(dir);
    expect(again.hello.kvRecovery).toMatchObject({ droppedRecords: 0, buckets: 1 });
    const c2 = await client(again.url);
    const kv2 = await c2.kv('state', { passive: true });
    expect(kv2.info.history).toBe(4);
    let checked = 0;
    for (const [key, { round, revision }] of confirmed) {
      const e = await kv2.get(key);
      expect(e, key).not.toBeNull();
      const [k, r] = e!.text().split(':');
      expect(k).toBe(key);
      // The confirmed value or a later one that was sent (its confirm may have been lost with the kill).
      expect(Number(r)).toBeGreaterThanOrEqual(round);
      expect(Number(r)).toBeLessThanOrEqual(sent.get(key)!);
      expect(e!.revision).toBeGreaterThanOrEqual(revision);
      // The confirmed revision itself is still in the history unless later ones pushed it out.
      const history = await kv2.history(key);
      if (Number(r) - round < 4) expect(history.map((h) => h.revision)).toContain(revision);
      checked++;
    }
    expect(checked).toBeGreaterThan(KEYS / 2);
    // Revisions go on from where they were: the next put gets a larger one than any confirmed.
    const maxConfirmed = Math.max(...[...confirmed.values()].map((c) => c.revision));
    expect(await kv2.put('key.0', 'after')).toBeGreaterThan(maxConfirmed);
    await c2.close();
    await again.kill9();
  });
});
