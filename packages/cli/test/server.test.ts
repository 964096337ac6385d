import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@warren/client';
import { ensureBuilt, run, start } from './helpers.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';

let tmp: string;
beforeAll(async () => {
  ensureBuilt();
  tmp = realpathSync(await tempDir('warren-cli-server-'));
});
afterAll(() => removeDir(tmp));

describe('warren server', () => {
  it('with --port 0 prints the real port and its data folder, serves clients, and exits 0 on SIGTERM', async () => {
    const dataDir = join(tmp, 'data');
    const server = start(['server', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'silent']);
    const [, port] = await server.waitForStdout(/listening on 127\.0\.0\.1:(\d+)\n/);
    expect(Number(port)).toBeGreaterThan(0);
    await server.waitForStdout(/data folder: (.+?)  sync: always\n/);
    expect(server.stdout()).toContain(`data folder: ${dataDir}  sync: always`);

    const url = `warren://guest:guest@127.0.0.1:${port}`;
    const conn = await connect(url);
    await conn.declareQueue('durable-q', { durable: true });
    await conn.close();
    const list = await run(['queue', 'list', '--json', '--url', url]);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((q) => q.name)).toContain('durable-q');

    server.child.kill('SIGTERM');
    const r = await server.exited;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('rejects a bad port as a usage error (exit 2)', async () => {
    const r = await run(['server', '--port', 'abc', '--data-dir', join(tmp, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/port/);
  });
});
