/**
 * The task bench's BullMQ rows on a private redis-server (e2e/redis-child.ts,
 * `bench:tasks --redis always,everysec`): the server is started with an AOF
 * fsync'ed as asked, BullMQ runs on it, and the server and its folder are gone
 * afterwards. Tiny job count; not a performance test. Needs `redis-server`
 * (skipped without it); never touches the Redis at 127.0.0.1:6379.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../../test-support/temp-dir.js';
import { REDIS_SERVER, startRedis } from '../e2e/redis-child.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const haveRedis = spawnSync(REDIS_SERVER, ['--version']).status === 0;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(!haveRedis)('task bench: BullMQ on its own redis-server (smoke)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await removeDir(dir);
  });

  it.each(['always', 'everysec'] as const)('starts redis-server with appendfsync %s, then stops it and removes its folder', async (appendfsync) => {
    const server = await startRedis(appendfsync);
    expect(await server.persistence()).toBe(`appendonly yes (appendfsync ${appendfsync}), save ""`);
    expect(await server.cpuMs()).toBeGreaterThanOrEqual(0);
    expect(existsSync(join(server.dir, 'appendonlydir'))).toBe(true);
    await server.stop();
    expect(existsSync(server.dir)).toBe(false);
    expect(alive(server.pid)).toBe(false);
  });

  it('bench:tasks --redis always runs BullMQ on it and leaves nothing in the temp folder', async () => {
    dir = await tempDir('warren-bench-tasks-redis-');
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const out = join(dir, 'tasks.json');
    const args = ['--import', 'tsx', 'bench/e2e/tasks.ts', '--jobs', '200', '--concurrency', '8', '--workers', '1', '--redis', 'always', '--warmup', '20', '--out', out];
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, args, { cwd: repo, timeout: 50_000, env: { ...process.env, BENCH_ONLY: 'bullmq', TMPDIR: tmp } }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(),
      );
    });
    const run = JSON.parse(await readFile(out, 'utf8')) as { rows: Record<string, unknown>[]; table: Record<string, unknown>[] };
    expect(run.rows.map((r) => r.system)).toEqual(['bullmq-aof-always']);
    const row = run.rows[0]!;
    expect(row.redis).toBe('appendonly yes (appendfsync always), save ""');
    expect(row.jobsPerSec).toBeGreaterThan(0);
    // 20 warm-up jobs ran through the same queue first (BullMQ kept all 220: the row checks) and are not counted.
    expect(row.warmup).toBe(20);
    expect(row.jobs).toBe(200);
    expect(row.redisCpuMsPerJob).toBeGreaterThanOrEqual(0);
    expect(run.table[0]!.bullmqAofAlwaysJobsPerSec).toBe(row.jobsPerSec);
    // The redis-server's folder (made under TMPDIR, beside tsx's cache) is gone.
    expect((await readdir(tmp)).filter((f) => f.startsWith('warren-bench-redis-'))).toEqual([]);
  });
});
