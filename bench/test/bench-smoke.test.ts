/**
 * Keeps the end-to-end harness working: runs it against Warren and the floors
 * only (built packages, separate processes; never RabbitMQ, NATS or Redis) with
 * tiny counts and checks that every scenario produced positive numbers. Not a
 * performance test.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../../test-support/temp-dir.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
/** Per scenario: the numbers Warren must report, and those of the floor measured beside it. */
const scenarios: Record<string, { warren: string[]; floor?: string[] }> = {
  '1': { warren: ['deliveredPerSec', 'publishedPerSec', 'brokerCpuSecPer100k', 'brokerElu'], floor: ['deliveredPerSec'] },
  '2': { warren: ['deliveredPerSec', 'publishedPerSec', 'brokerCpuSecPer100k', 'msgsPerSync'], floor: ['deliveredPerSec', 'msgsPerSync'] },
  '3': { warren: ['deliveredPerSec', 'publishedPerSec'] },
  '4': { warren: ['p50', 'p99'], floor: ['p50', 'p99'] },
  '7': { warren: ['p50', 'p99', 'brokerElu'], floor: ['p50', 'p99'] },
  '5': { warren: ['mbPerSec', 'deliveredPerSec'], floor: ['mbPerSec'] },
  logins: { warren: ['connectPerSec', 'stormP99', 'quietP99'] },
  queues: { warren: ['q1PerSec', 'q100PerSec', 'q1000PerSec', 'q10000PerSec', 'q10000RssMB'] },
  connections: { warren: ['c10PerSec', 'c100PerSec', 'c1000PerSec', 'c1000RssMB'] },
};

/** Runs the harness on these scenarios and returns the JSON it wrote. */
async function runHarness(dir: string, ids: string[]): Promise<{ machine: { cores: number }; scenarios: { id: string; systems: Record<string, Record<string, number>>; errors: Record<string, string> }[] }> {
  const out = join(dir, `smoke-${ids[0]}.json`);
  const args = ['--import', 'tsx', 'bench/e2e/run.ts', ids.join(','), '--count', '200', '--quick', '--no-peers', '--out', out];
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, args, { cwd: repo, timeout: 590_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(),
    );
  });
  return JSON.parse(await readFile(out, 'utf8'));
}

describe('bench e2e harness (smoke)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await removeDir(dir);
  });

  // The topic scenario is left out (its 10,000 bindings take long and it has no floor); the rest in three runs.
  it.each([[['1', '2', '3', '4', '7', '5']], [['logins']], [['queues', 'connections']]])(
    'runs %j against Warren and its floors, no peers, and writes positive numbers',
    async (ids) => {
      dir ??= await tempDir('warren-bench-smoke-');
      const run = await runHarness(dir, ids);
      expect(run.machine.cores).toBeGreaterThan(0);
      expect(run.scenarios.map((s) => s.id)).toEqual(ids);
      for (const s of run.scenarios) {
        expect(s.errors, `scenario ${s.id}`).toEqual({});
        expect(Object.keys(s.systems).sort(), `scenario ${s.id}`).toEqual(scenarios[s.id]!.floor ? ['floor', 'warren'] : ['warren']);
        for (const [system, keys] of Object.entries(scenarios[s.id]!)) {
          for (const key of keys) {
            const v = s.systems[system]?.[key];
            expect(Number.isFinite(v) && v! > 0, `scenario ${s.id} ${system} ${key} = ${v}`).toBe(true);
          }
        }
      }
    },
    // A ceiling for a busy shared machine (about a minute each on a quiet one), not an expectation.
    600_000,
  );
});
