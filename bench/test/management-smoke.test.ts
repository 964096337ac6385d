/**
 * Keeps the management bench (bench/e2e/management.ts) working: tiny counts,
 * one repetition, checks the report has positive figures. Not a performance test.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../../test-support/temp-dir.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('management bench (smoke)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await removeDir(dir);
  });

  it('measures scrape time with many queues and scenario 1 with and without polling', async () => {
    dir = await tempDir('warren-bench-mgmt-smoke-');
    const out = join(dir, 'management.md');
    const args = ['--import', 'tsx', 'bench/e2e/management.ts', '--reps', '1', '--count', '2000', '--queues', '200', '--rounds', '3', '--out', out];
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, args, { cwd: repo, timeout: 290_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve()));
    });
    const r = JSON.parse(await readFile(out.replace(/\.md$/, '.json'), 'utf8')) as {
      listTimes: { timings: Array<{ path: string; medianMs: number }>; rssMB: number };
      runs: Array<{ console: boolean; requests: number; m: { deliveredPerSec: number } }>;
    };
    expect(r.listTimes.timings.find((t) => t.path === '/metrics')!.medianMs).toBeGreaterThan(0);
    expect(r.listTimes.rssMB).toBeGreaterThan(0);
    expect(r.runs.map((x) => x.console)).toEqual([false, true]);
    for (const run of r.runs) expect(run.m.deliveredPerSec).toBeGreaterThan(0);
    expect(r.runs[1]!.requests).toBeGreaterThan(0);
    expect(await readFile(out, 'utf8')).toContain('# Management API cost');
  }, 300_000);
});
