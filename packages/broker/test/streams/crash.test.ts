/**
 * Streams across crashes: the broker killed with SIGKILL (confirmed appends and
 * acknowledged commits survive; a named consumer resumes right after its last
 * commit), a consumer process killed with SIGKILL (it resumes after what it
 * committed, never after what was merely delivered), and a torn tail cut off at
 * recovery with dense offsets after it.
 *
 * CI runs the fixed case of each kill test (round 0). The long version (test-support/chaos.ts) adds
 * rounds whose sizes and kill points are drawn from a seeded PRNG (one broker kill and one consumer
 * kill per round):
 *   WARREN_CHAOS_ROUNDS=30 npx vitest run packages/broker/test/streams/crash.test.ts
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { open, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection, StreamConsumer, StreamMessage } from '@warren/client';
import { client, closeAllClients } from '../durability/harness.js';
import { killAllChildren, spawnBroker } from '../../../../test-support/broker-process.js';
import { chaosRounds, roundSeed } from '../../../../test-support/chaos.js';
import { rng } from '../../../../test-support/prng.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';
import { streamFolder } from '../../src/streams/streams.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../../..');
const dirs: string[] = [];
afterEach(async () => {
  await killAllChildren();
  await closeAllClients();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function take(consumer: StreamConsumer, n: number): Promise<StreamMessage[]> {
  const out: StreamMessage[] = [];
  for await (const m of consumer) {
    out.push(m);
    if (out.length === n) break;
  }
  return out;
}

async function publishAll(conn: Connection, from: number, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, k) => conn.publish('', 's', `m${from + k}`)));
}

/**
 * Sizes and kill points of a round: round 0 is the fixed CI case, later rounds draw them from the seed.
 * stopAt (the last commit before the kill) ends in 9 and lies below the pre-published messages, so the
 * message after it is always there. In round 0 the racing publishes start before the reader and the kill
 * comes once the reader has committed stopAt (on a fast machine every racing publish is confirmed by
 * then); later rounds start them after the commits and kill inside confirm #killAtConfirm, early enough
 * that the publish window is still full, so the kill lands while appends are in flight.
 */
function brokerKillCase(round: number): { seed: number; pre: number; racing: number; stopAt: number; killAtConfirm: number } {
  const seed = roundSeed(11, round);
  if (round === 0) return { seed, pre: 300, racing: 2000, stopAt: 149, killAtConfirm: 0 };
  const rand = rng(seed);
  const pre = rand.int(50, 600);
  // The client keeps at most publishWindow (1000) publishes unconfirmed: after confirm #k it can see ~1000 more.
  const racing = rand.int(1500, 5000);
  return { seed, pre, racing, stopAt: 10 * rand.int(1, Math.floor((pre - 1) / 10)) - 1, killAtConfirm: rand.int(1, racing - 1200) };
}

/** The consumer child is killed once it has processed at least this offset (round 0: 200, the CI case). */
const consumerKillAt = (round: number): number => (round === 0 ? 200 : rng(roundSeed(22, round)).int(20, 380));

describe('streams and SIGKILL', () => {
  const rounds = chaosRounds();
  it.each(rounds.map(brokerKillCase))('broker killed: every confirmed append and acknowledged commit survives; the named consumer resumes after its commit (seed $seed)', async ({ pre, racing: racingCount, stopAt, killAtConfirm }) => {
    const dir = await tempDir('warren-stream-crash-');
    dirs.push(dir);
    const b1 = await spawnBroker(dir);
    const c1 = await client(b1.url);
    await c1.declareStream('s');
    await publishAll(c1, 0, pre);
    // Publishes racing the kill: each one confirmed before the kill must be there after it.
    const confirmed = new Set<number>();
    const startRacing = (): Array<Promise<unknown>> =>
      Array.from({ length: racingCount }, (_, k) =>
        c1.publish('', 's', `m${pre + k}`).then(
          () => {
            confirmed.add(pre + k);
            if (confirmed.size === killAtConfirm) b1.kill9Now();
          },
          () => undefined,
        ),
      );
    let racing = killAtConfirm === 0 ? startRacing() : [];
    const reader = await c1.consumeStream('s', { name: 'svc', offset: 'first', credit: 100 });
    let lastCommitted = -1;
    for await (const m of reader) {
      if (m.offset % 10 === 9) {
        await m.commit();
        lastCommitted = m.offset;
      }
      if (m.offset === stopAt) break; // delivered beyond stopAt (credit 100) but committed only up to stopAt
    }
    expect(lastCommitted).toBe(stopAt);
    if (killAtConfirm === 0) await b1.kill9();
    else {
      racing = startRacing();
      expect(await b1.exited).toBe('SIGKILL');
    }
    await Promise.all(racing);
    const confirmedAtEnd = confirmed.size;

    const b2 = await spawnBroker(dir);
    const c2 = await client(b2.url);
    const info = await c2.streamInfo('s');
    expect(info.consumers).toEqual([expect.objectContaining({ name: 'svc', committed: stopAt })]);
    const everything = await take(await c2.consumeStream('s', { offset: 'first', credit: 5000 }), info.next);
    // Dense offsets, each message where it was published, nothing confirmed missing.
    expect(everything.map((m) => m.offset)).toEqual(Array.from({ length: info.next }, (_, i) => i));
    expect(everything.map((m) => m.body.toString())).toEqual(Array.from({ length: info.next }, (_, i) => `m${i}`));
    for (const id of confirmed) expect(id).toBeLessThan(info.next);
    const resumed = await c2.consumeStream('s', { name: 'svc', offset: 'last' });
    expect(resumed.startOffset).toBe(stopAt + 1);
    expect((await take(resumed, 1))[0]!.offset).toBe(stopAt + 1);
    console.log('[stream crash]', JSON.stringify({ pre, racing: racingCount, stopAt, killAtConfirm, confirmed: confirmedAtEnd, next: info.next, unconfirmedKept: info.next - pre - confirmedAtEnd }));
  });

  it.each(rounds.map(consumerKillAt))('consumer process killed: it resumes after its last acknowledged commit, with no gap and nothing skipped (killed from offset %i)', async (killAt) => {
    const dir = await tempDir('warren-stream-client-');
    dirs.push(dir);
    const b = await spawnBroker(dir);
    const c = await client(b.url);
    await c.declareStream('s');
    await publishAll(c, 0, 400);
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'stream-consumer-child.ts'), b.url], {
      cwd: repoRoot,
      env: { ...process.env, TSX_TSCONFIG_PATH: join(repoRoot, 'test-support/tsconfig.child.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<string | null>((res) => child.once('exit', (_code, signal) => res(signal)));
    // 'close' comes once the child's stdout is read to its end: 'exit' may come before the last lines are read.
    const closed = new Promise<void>((res) => child.once('close', () => res()));
    let processed = -1;
    let seenAtKill = -1;
    let committed = -1;
    await new Promise<void>((res, rej) => {
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        for (const m of out.matchAll(/processed (\d+)/g)) processed = Math.max(processed, Number(m[1]));
        for (const m of out.matchAll(/committed (\d+)/g)) committed = Math.max(committed, Number(m[1]));
        // Kill mid-stream, between commits: some messages are processed but not committed.
        if (processed >= killAt && processed % 7 !== 6 && child.exitCode === null) {
          seenAtKill = processed;
          child.kill('SIGKILL');
          res();
        }
      });
      void exited.then(() => rej(new Error(`consumer child exited early: ${stderr}`)));
    });
    expect(await exited).toBe('SIGKILL');
    const seenAtExit = processed;
    // The bounds below need every line the child wrote: it may be well ahead of what was read when it was killed.
    await closed;
    // The child awaits each commit (offsets 6 mod 7) before it goes on: the last one at or below killAt is acknowledged.
    expect(committed).toBeGreaterThanOrEqual(killAt - ((((killAt - 6) % 7) + 7) % 7));
    expect(processed).toBeGreaterThanOrEqual(committed);
    const again = await c.consumeStream('s', { name: 'svc', offset: 'next' });
    // A commit may have been stored with its acknowledgement lost in the kill: never past what was processed.
    expect(again.startOffset).toBeGreaterThanOrEqual(committed + 1);
    console.log('[stream consumer kill]', JSON.stringify({ killAt, seenAtKill, seenAtExit, processed, committed, startOffset: again.startOffset }));
    expect(again.startOffset).toBeLessThanOrEqual(processed + 1);
    const rest = await take(again, 400 - again.startOffset!);
    expect(rest.map((m) => m.offset)).toEqual(Array.from({ length: 400 - again.startOffset! }, (_, i) => again.startOffset! + i));
  });

  it('a torn tail is cut off at recovery; offsets stay dense after it', async () => {
    const dir = await tempDir('warren-stream-torn-');
    dirs.push(dir);
    const b1 = await spawnBroker(dir);
    const c1 = await client(b1.url);
    await c1.declareStream('s');
    await publishAll(c1, 0, 50);
    await b1.kill9();
    const streamDir = join(dir, 'streams', streamFolder('s'));
    const seg = (await readdir(streamDir)).filter((f) => f.endsWith('.seg')).sort().pop()!;
    const path = join(streamDir, seg);
    const size = (await stat(path)).size;
    // The last record loses its end, and half a record of garbage follows (a write cut short).
    const fh = await open(path, 'r+');
    await fh.truncate(size - 3);
    await fh.write(Buffer.from('half a record'), 0, 13, size - 3);
    await fh.close();
    const b2 = await spawnBroker(dir);
    const c2 = await client(b2.url);
    const info = await c2.streamInfo('s');
    expect(info.next).toBe(49);
    await c2.publish('', 's', 'after');
    const all = await take(await c2.consumeStream('s', { offset: 'first' }), 50);
    expect(all.map((m) => m.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(all[48]!.body.toString()).toBe('m48');
    expect(all[49]!.body.toString()).toBe('after');
  });
});
