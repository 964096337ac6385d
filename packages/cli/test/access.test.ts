/**
 * `warren user|permissions|limits ...` against a real broker: every verb, its
 * JSON form, passwords from stdin or a file (never arguments), and the exit
 * code of a refusal.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, ErrorCodes, WarrenError } from '@warren/client';
import { ensureBuilt, run } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';

let tb: TestBroker;
let dir: string;
const admin = () => `warren://root:root-pw@127.0.0.1:${tb.port}`;
const cli = (...args: string[]) => run([...args, '--url', admin()]);

beforeAll(async () => {
  ensureBuilt();
  tb = await startTestBroker({ users: [{ username: 'root', password: 'root-pw' }] });
  dir = await tempDir();
});
afterAll(async () => {
  await tb?.stop();
  await removeDir(dir);
});

describe('warren user', () => {
  it('add (password from stdin and from a file), list, tags, passwd, delete', async () => {
    let r = await run(['user', 'add', 'app', '--url', admin()], { input: 'app-pw\n' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("user 'app' added\n");
    const file = join(dir, 'ops.secret');
    await writeFile(file, 'ops-pw\n');
    r = await cli('user', 'add', 'ops', '--tags', 'monitoring', '--password-file', file, '--json');
    expect(JSON.parse(r.stdout)).toEqual({ username: 'ops', tags: ['monitoring'] });
    r = await cli('user', 'list');
    // root's one connection is this command's.
    expect(r.stdout).toMatch(/^NAME +TAGS +MAX-CONNECTIONS +CONNECTIONS\napp +- +0\nops +monitoring +- +0\nroot +administrator +- +1\n$/);
    expect(JSON.parse((await cli('user', 'list', '--json')).stdout).map((u: { username: string }) => u.username)).toEqual(['app', 'ops', 'root']);
    expect((await cli('user', 'tags', 'app', 'management')).stdout).toBe("user 'app' tags: management\n");
    r = await run(['user', 'passwd', 'app', '--password-stdin', '--url', admin()], { input: 'new-pw' });
    expect(r.stdout).toBe("password of user 'app' changed\n");
    const c = await connect({ url: `warren://app:new-pw@127.0.0.1:${tb.port}`, reconnect: false });
    await c.close();
    expect((await cli('user', 'delete', 'ops')).stdout).toBe("user 'ops' deleted\n");
    r = await cli('user', 'delete', 'ops');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NOT_FOUND/);
  });

  it('refuses an empty password and unknown tags as usage errors; a non-administrator gets exit code 4', async () => {
    let r = await run(['user', 'add', 'x', '--url', admin()], { input: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/password is empty/);
    r = await run(['user', 'add', 'x', '--tags', 'root', '--url', admin()], { input: 'pw' });
    expect(r.code).toBe(2);
    await run(['user', 'add', 'plain', '--url', admin()], { input: 'plain-pw' });
    r = await run(['user', 'list', '--url', `warren://plain:plain-pw@127.0.0.1:${tb.port}`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ACCESS_REFUSED.*needs the administrator tag/);
  });
});

describe('warren permissions and limits', () => {
  it('set, list, clear permissions; set, list, clear a user limit', async () => {
    await run(['user', 'add', 'orders', '--url', admin()], { input: 'orders-pw' });
    let r = await cli('permissions', 'set', 'orders', '--configure', '^orders\\.', '--write', '^orders\\.', '--read', '^orders\\.');
    expect(r.stdout).toBe("permissions of user 'orders' in vhost '/' set\n");
    r = await cli('permissions', 'list', '--user', 'orders', '--json');
    expect(JSON.parse(r.stdout)).toEqual([{ username: 'orders', vhost: '/', configure: '^orders\\.', write: '^orders\\.', read: '^orders\\.' }]);
    expect((await cli('permissions', 'list')).stdout).toMatch(/^orders +\/ +\^orders\\\. +\^orders\\\. +\^orders\\\.$/m);
    const app = await connect({ url: `warren://orders:orders-pw@127.0.0.1:${tb.port}`, reconnect: false });
    await app.declareQueue('orders.q');
    expect((await app.declareQueue('other').catch((e: unknown) => e)) as WarrenError).toMatchObject({ code: ErrorCodes.ACCESS_REFUSED });

    r = await cli('limits', 'user', 'set', 'orders', '--max-connections', '1');
    expect(r.stdout).toBe("user 'orders': at most 1 connections\n");
    expect(JSON.parse((await cli('limits', 'user', 'list', '--json')).stdout)).toContainEqual({ username: 'orders', maxConnections: 1, connections: 1 });
    const refused = await connect({ url: `warren://orders:orders-pw@127.0.0.1:${tb.port}`, reconnect: false }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ErrorCodes.RESOURCE_LIMIT });
    expect((await cli('limits', 'user', 'clear', 'orders', '--json')).stdout).toBe('{\n  "username": "orders",\n  "maxConnections": null\n}\n');
    await app.close();

    expect((await cli('permissions', 'clear', 'orders')).stdout).toBe("permissions of user 'orders' in vhost '/' cleared\n");
    expect(JSON.parse((await cli('permissions', 'list', '--user', 'orders', '--json')).stdout)).toEqual([]);
  });
});
