/** `warren kv ...` against a real broker: every verb, its JSON form, stdin values, CAS and error exits, and watch. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { ensureBuilt, run, start } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

let tb: TestBroker;
let conn: Connection;
const cli = (...args: string[]) => run([...args, '--url', tb.url]);

beforeAll(async () => {
  ensureBuilt();
  tb = await startTestBroker();
  conn = await connect(tb.url);
});
afterAll(async () => {
  await conn?.close();
  await tb?.stop();
});

describe('warren kv', () => {
  it('bucket create, put (argument and stdin), get (latest, revision, JSON)', async () => {
    let r = await cli('kv', 'bucket', 'create', 'results', '--history', '3', '--ttl', '60000');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("bucket 'results' created: 0 keys, revision 0\n");
    expect((await cli('kv', 'put', 'results', 'task.1', 'queued')).stdout).toBe('task.1 = revision 1\n');
    r = await run(['kv', 'put', 'results', 'task.1', '-', '--url', tb.url], { input: '{"ok":true}' });
    expect(r.stdout).toBe('task.1 = revision 2\n');
    expect((await cli('kv', 'get', 'results', 'task.1')).stdout).toBe('{"ok":true}');
    expect((await cli('kv', 'get', 'results', 'task.1', '--revision', '1')).stdout).toBe('queued');
    const j = JSON.parse((await cli('kv', 'get', 'results', 'task.1', '--json')).stdout);
    expect(j).toMatchObject({ key: 'task.1', revision: 2, op: 'put', value: '{"ok":true}' });
    expect(j.expiresAt - j.createdAt).toBe(60000);
  });

  it('--ttl takes a duration (30s, 2h, 1d) as stream --max-age does, or ms', async () => {
    expect((await cli('kv', 'bucket', 'create', 'ttl-units', '--ttl', '1d', '--marker-ttl', '90s')).code).toBe(0);
    expect((await conn.kv('ttl-units', { passive: true })).info).toMatchObject({ ttl: 86_400_000, markerTtl: 90_000 });
    expect((await cli('kv', 'put', 'ttl-units', 'a', 'x', '--ttl', '2h')).code).toBe(0);
    expect((await cli('kv', 'put', 'ttl-units', 'b', 'x', '--ttl', '1500')).code).toBe(0);
    const ttlOf = async (key: string) => {
      const j = JSON.parse((await cli('kv', 'get', 'ttl-units', key, '--json')).stdout);
      return j.expiresAt - j.createdAt;
    };
    expect(await ttlOf('a')).toBe(7_200_000);
    expect(await ttlOf('b')).toBe(1500);
    const bad = await cli('kv', 'put', 'ttl-units', 'c', 'x', '--ttl', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^warren: USAGE: option '--ttl <duration>' argument 'soon' is invalid/);
  });

  it('keys by pattern and prefix, del', async () => {
    await cli('kv', 'put', 'results', 'task.2', 'x');
    await cli('kv', 'put', 'results', 'other', 'y');
    expect((await cli('kv', 'keys', 'results', 'task.*')).stdout).toBe('task.1\ntask.2\n');
    expect(JSON.parse((await cli('kv', 'keys', 'results', '--prefix', 'oth', '--json')).stdout)).toEqual(['other']);
    expect((await cli('kv', 'del', 'results', 'task.2')).stdout).toBe('task.2 deleted at revision 5\n');
  });

  it('get of a deleted key exits 1; history, bucket list, info and delete', async () => {
    let r = await cli('kv', 'get', 'results', 'task.2');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NOT_FOUND/);
    expect(JSON.parse((await cli('kv', 'history', 'results', 'task.2', '--json')).stdout).map((e: { op: string }) => e.op)).toEqual(['put', 'del']);
    expect((await cli('kv', 'history', 'results', 'task.1')).stdout).toMatch(/REVISION +OP.*\n +1 +put .*queued *\n +2 +put/);
    expect((await cli('kv', 'bucket', 'list')).stdout).toMatch(/results +2 +.* +5 +3 +1m 0s +yes/);
    expect(JSON.parse((await cli('kv', 'bucket', 'info', 'results', '--json')).stdout)).toMatchObject({ name: 'results', keys: 2, revision: 5, history: 3 });
    expect((await cli('kv', 'bucket', 'delete', 'results')).stdout).toBe("bucket 'results' deleted\n");
    r = await cli('kv', 'get', 'results', 'task.1');
    expect(r.code).toBe(1);
    expect((await conn.listKv()).map((b) => b.name)).not.toContain('results');
  });

  it('put --create and --expect report WRONG_REVISION with the current revision; a missing bucket is not created', async () => {
    await cli('kv', 'bucket', 'create', 'locks', '--memory');
    expect((await cli('kv', 'put', 'locks', 'leader', 'a', '--create')).code).toBe(0);
    let r = await cli('kv', 'put', 'locks', 'leader', 'b', '--create');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/WRONG_REVISION.*revision 1/);
    expect((await cli('kv', 'put', 'locks', 'leader', 'c', '--expect', '1')).stdout).toBe('leader = revision 2\n');
    r = await cli('kv', 'put', 'nope', 'k', 'v');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NOT_FOUND/);
    expect((await conn.listKv()).map((b) => b.name)).not.toContain('nope');
  });

  it('watch prints current values and live changes, and exits after --count', async () => {
    const kv = await conn.kv('live', { durable: false });
    await kv.put('a', '1');
    const w = start(['kv', 'watch', 'live', '--current', '--count', '3', '--url', tb.url]);
    await w.waitForStdout(/1 put a 1\n/);
    await kv.put('b', '2');
    await kv.delete('a');
    const r = await w.exited;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('1 put a 1\n2 put b 2\n3 del a\n');
  });
});
