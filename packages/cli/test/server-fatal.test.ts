/**
 * `warren server` exits 70 when its storage fails, every time: a supervisor
 * that restarts on failure must never see 0. The disk error is injected into
 * the child with a preloaded module (fixtures/fail-message-writes.mjs).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from '@warren/client';
import { ensureBuilt, start } from './helpers.js';

const INJECT = pathToFileURL(fileURLToPath(new URL('./fixtures/fail-message-writes.mjs', import.meta.url))).href;
const RUNS = 20;
const PARALLEL = 4;

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'warren-cli-fatal-')));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One server run: a persistent publish hits ENOSPC; returns the exit code and what the publisher saw. */
async function oneRun(i: number): Promise<{ code: number | null; outcome: string }> {
  const server = start(['server', '--http-port', '0', '--port', '0', '--host', '127.0.0.1', '--data-dir', join(tmp, `d${i}`), '--log-level', 'silent'], {
    env: { NODE_OPTIONS: `--import=${INJECT}` },
  });
  const [, port] = await server.waitForStdout(/listening on 127\.0\.0\.1:(\d+)\n/);
  const conn = await connect({ url: `warren://guest:guest@127.0.0.1:${port}`, reconnect: false } as Parameters<typeof connect>[0]);
  await conn.declareQueue('d', { durable: true });
  const outcome = await conn.publish('', 'd', 'ENOSPC-NOW', { persistent: true }).then(
    () => 'confirmed',
    (err: { name?: string }) => err.name ?? 'error',
  );
  await conn.close().catch(() => {});
  const r = await server.exited;
  return { code: r.code, outcome };
}

describe('warren server on a fatal disk error', () => {
  it(`exits 70 in every one of ${RUNS} runs, never confirming the failed publish`, async () => {
    const results: { code: number | null; outcome: string }[] = [];
    for (let i = 0; i < RUNS; i += PARALLEL) {
      results.push(...(await Promise.all(Array.from({ length: Math.min(PARALLEL, RUNS - i) }, (_, k) => oneRun(i + k)))));
    }
    expect(results.map((r) => r.code)).toEqual(Array(RUNS).fill(70));
    expect(results.filter((r) => r.outcome === 'confirmed')).toEqual([]);
  }, 120_000);
});
