/**
 * Keeps the end-to-end harness working: runs it against Warren only (built
 * packages, separate processes) with tiny counts and checks that every
 * scenario produced positive numbers. Not a performance test.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../../test-support/temp-dir.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const scenarios: Record<string, string[]> = {
  '1': ['deliveredPerSec', 'publishedPerSec', 'brokerCpuSecPer100k'],
  '2': ['deliveredPerSec', 'publishedPerSec', 'brokerCpuSecPer100k'],
  '3': ['deliveredPerSec', 'publishedPerSec'],
  '4': ['p50', 'p99', 'floorP50', 'floorP99'],
  '5': ['mbPerSec', 'deliveredPerSec'],
  logins: ['connectPerSec', 'stormP99', 'quietP99'],
};

describe('bench e2e harness (smoke)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await removeDir(dir);
  });

  it('runs scenarios 1 to 5 and the connection storm against Warren (4 with its relay floor) and writes positive numbers', async () => {
    dir = await tempDir('warren-bench-smoke-');
    const out = join(dir, 'smoke.json');
    const args = ['--import', 'tsx', 'bench/e2e/run.ts', Object.keys(scenarios).join(','), '--count', '200', '--quick', '--no-rabbit', '--out', out];
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, args, { cwd: repo, timeout: 90_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(),
      );
    });
    const run = JSON.parse(await readFile(out, 'utf8')) as {
      machine: { cores: number; node: string };
      scenarios: { id: string; warren?: Record<string, number>; rabbitmq?: unknown; errors: Record<string, string> }[];
    };
    expect(run.machine.cores).toBeGreaterThan(0);
    expect(run.scenarios.map((s) => s.id)).toEqual(Object.keys(scenarios));
    for (const s of run.scenarios) {
      expect(s.errors, `scenario ${s.id}`).toEqual({});
      expect(s.rabbitmq).toBeUndefined();
      for (const key of scenarios[s.id]!) {
        const v = s.warren?.[key];
        expect(Number.isFinite(v) && v! > 0, `scenario ${s.id} ${key} = ${v}`).toBe(true);
      }
    }
  }, 90_000);
});
