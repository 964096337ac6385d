/**
 * A move interrupted by SIGKILL of the broker loses and duplicates nothing:
 * after the restart, every message id is in the source or the destination
 * queue exactly once. A few iterations, each killed after a different number
 * of batches (and once before the first one is durable), side by side.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Message } from '@warren/client';
import { client, closeAllClients } from './harness.js';
import { killAllChildren, spawnBroker } from '../../../../test-support/broker-process.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../../..');
const dirs: string[] = [];
afterEach(async () => {
  await closeAllClients();
  await killAllChildren();
  for (const d of dirs.splice(0)) await removeDir(d);
});

const N = 6000;

/** Drains a queue (ack each); returns the bodies. */
async function drain(c: Connection, queue: string, expected: number): Promise<string[]> {
  const got: string[] = [];
  if (expected === 0) return got;
  let done!: () => void;
  const finished = new Promise<void>((res) => (done = res));
  const consumer = await c.consume(queue, (m: Message) => {
    got.push(m.body.toString());
    m.ack();
    if (got.length === expected) done();
  }, { prefetch: 500 });
  await finished;
  await consumer.cancel();
  return got;
}

describe('move crash safety', () => {
  it('SIGKILL mid-move: after restart each message is in exactly one of the two queues', async () => {
    // The kill points are independent runs (each its own data folder, child and port, its own
    // connections), so they go side by side: most of a run is a child starting (tsx) and fsync waits.
    const killAfter = [0, 2, 7, 13];
    const once = async (k: number): Promise<[number, number]> => {
      const dir = await tempDir('warren-move-crash-');
      dirs.push(dir);
      const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'move-child.ts'), dir], {
        cwd: repoRoot,
        env: { ...process.env, TSX_TSCONFIG_PATH: join(repoRoot, 'test-support/tsconfig.child.json') },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const exited = new Promise<string | null>((res) => child.once('exit', (_c, signal) => res(signal)));
      let out = '';
      const port = await new Promise<number>((res, rej) => {
        const onData = (s: string): void => {
          out += s;
          const nl = out.indexOf('\n');
          if (nl < 0) return;
          child.stdout!.off('data', onData);
          res((JSON.parse(out.slice(0, nl)) as { port: number }).port);
          out = '';
        };
        child.stdout!.setEncoding('utf8').on('data', onData);
        void exited.then(() => rej(new Error(`move child exited: ${stderr}`)));
      });
      const c = await client(`warren://guest:guest@127.0.0.1:${port}`);
      await c.declareQueue('a', { durable: true });
      await c.declareQueue('b', { durable: true });
      const all: Promise<void>[] = [];
      for (let i = 0; i < N; i++) all.push(c.publish('', 'a', `m${i}`, { persistent: true }));
      await Promise.all(all);
      // Some already in b: the move appends behind them.
      for (let i = 0; i < 50; i++) await c.publish('', 'b', `b${i}`, { persistent: true });
      await c.close();
      await new Promise<void>((res, rej) => {
        let batches = 0;
        child.stdout!.on('data', (s: string) => {
          batches += (s.match(/batch /g) ?? []).length;
          if (s.includes('failed')) rej(new Error(`move failed: ${s}`));
          // A move that finished before the kill (a loaded machine delivers the lines late) is still checked.
          if ((batches >= k || s.includes('done')) && child.exitCode === null) {
            child.kill('SIGKILL');
            res();
          }
        });
        child.stdin!.write('move a b\n');
        if (k === 0) {
          // Killed as the move starts: at most the first batch's records may be on disk.
          setImmediate(() => {
            child.kill('SIGKILL');
            res();
          });
        }
      });
      expect(await exited).toBe('SIGKILL');

      const b2 = await spawnBroker(dir);
      const inA = b2.hello.queues['a'] ?? 0;
      const inB = b2.hello.queues['b'] ?? 0;
      expect(inA + inB).toBe(N + 50);
      const c2 = await client(b2.url);
      const a = await drain(c2, 'a', inA);
      const b = await drain(c2, 'b', inB);
      const ids = [...a, ...b].sort();
      const expected = [...Array.from({ length: N }, (_, i) => `m${i}`), ...Array.from({ length: 50 }, (_, i) => `b${i}`)].sort();
      expect(ids).toEqual(expected);
      // The source keeps its order: what is left of it is a suffix of what was published.
      expect(a).toEqual(Array.from({ length: inA }, (_, i) => `m${N - inA + i}`));
      await c2.close();
      await b2.kill9();
      return [inA, inB - 50];
    };
    const split = await Promise.all(killAfter.map(once));
    // Not a timing assertion: the kills landed somewhere; the split is reported for the record.
    console.log(`move crash splits (left in a, moved to b): ${JSON.stringify(split)}`);
  });
});
