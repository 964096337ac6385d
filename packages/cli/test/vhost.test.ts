/** `warren vhost ...` and `warren limits vhost ...` against a real broker, and --url with a vhost path. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ensureBuilt, run } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

let tb: TestBroker;
const cli = (...args: string[]) => run([...args, '--url', tb.url]);

beforeAll(async () => {
  ensureBuilt();
  tb = await startTestBroker();
});
afterAll(async () => {
  await tb?.stop();
});

describe('warren vhost', () => {
  it('add, list (table and JSON), and the URL path picks the vhost', async () => {
    let r = await cli('vhost', 'add', 'prod', '--max-queues', '5');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("vhost 'prod' added\n");
    r = await run(['queue', 'declare', 'jobs', '--url', `${tb.url}/prod`]);
    expect(r.code).toBe(0);
    r = await cli('vhost', 'list');
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME\s+CONNECTIONS\s+QUEUES\s+MESSAGES\s+MAX-CONNECTIONS\s+MAX-QUEUES$/);
    expect(r.stdout).toMatch(/\nprod\s+0\s+1\s+0\s+-\s+5\n/);
    const list = JSON.parse((await cli('vhost', 'list', '--json')).stdout);
    expect(list).toEqual([
      { name: '/', connections: 1, queues: 0, messages: 0, maxConnections: null, maxQueues: null },
      { name: 'prod', connections: 0, queues: 1, messages: 0, maxConnections: null, maxQueues: 5 },
    ]);
    const queues = JSON.parse((await run(['queue', 'list', '--json', '--url', `${tb.url}/prod`])).stdout);
    expect(queues.map((q: { name: string }) => q.name)).toEqual(['jobs']);
    expect(JSON.parse((await cli('queue', 'list', '--json')).stdout)).toEqual([]);
  });

  it('delete, and the errors of a missing vhost', async () => {
    await cli('vhost', 'add', 'tmp');
    expect(JSON.parse((await cli('vhost', 'delete', 'tmp', '--json')).stdout)).toEqual({ name: 'tmp', deleted: true });
    let r = await cli('vhost', 'delete', 'tmp');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('NOT_FOUND');
    r = await run(['queue', 'list', '--url', `${tb.url}/tmp`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('ACCESS_REFUSED');
    r = await cli('vhost', 'add', 'tmp', '--max-queues', '-1');
    expect(r.code).toBe(2);
  });
});

describe('warren limits vhost', () => {
  it('set keeps what is not given, clear removes all, list shows them', async () => {
    await cli('vhost', 'add', 'lim');
    let r = await cli('limits', 'vhost', 'set', 'lim', '--max-connections', '1');
    expect(r.stdout).toBe("vhost 'lim': at most 1 connection, no queue limit\n");
    r = await cli('limits', 'vhost', 'set', 'lim', '--max-queues', '10', '--json');
    expect(JSON.parse(r.stdout)).toEqual({ name: 'lim', maxConnections: 1, maxQueues: 10 });
    r = await cli('limits', 'vhost', 'list', '--json');
    expect(JSON.parse(r.stdout)).toContainEqual({ name: 'lim', maxConnections: 1, maxQueues: 10, connections: 0, queues: 0 });
    expect((await cli('limits', 'vhost', 'list')).stdout).toMatch(/\nlim\s+1\s+0\s+10\s+0\n/);
    r = await cli('limits', 'vhost', 'clear', 'lim');
    expect(r.stdout).toBe("vhost 'lim': no connection limit, no queue limit\n");
    r = await cli('limits', 'vhost', 'set', 'lim');
    expect(r.code).toBe(2);
  });
});
