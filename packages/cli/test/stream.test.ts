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

describe('warren stream', () => {
  it('declare sets retention; list and info show offsets, size and named consumers with lag; delete removes it', async () => {
    const d = await cli('stream', 'declare', 'orders', '--max-age', '7d', '--max-length-bytes', '1000000', '--segment-bytes', '65536');
    expect(d.stderr).toBe('');
    expect(d.stdout).toBe("stream 'orders' declared\n");
    const q = (await conn.listQueues()).find((x) => x.name === 'orders');
    expect(q?.arguments).toEqual({
      'x-queue-type': 'stream',
      'x-max-age': 7 * 86_400_000,
      'x-max-length-bytes': 1_000_000,
      'x-stream-segment-bytes': 65536,
    });
    for (let i = 0; i < 5; i++) await conn.publish('', 'orders', `o${i}`);
    await conn.commitStreamOffset('orders', 'billing', 1);
    const list = await cli('stream', 'list');
    expect(list.stdout).toMatch(/^NAME\s+MESSAGES\s+FIRST\s+NEXT\s+SIZE\s+SUBSCRIBERS\s+CONSUMERS\n/);
    expect(list.stdout).toMatch(/orders\s+5\s+0\s+5\s+.*billing\(lag 3\)/);
    const info = JSON.parse((await cli('stream', 'info', 'orders', '--json')).stdout);
    expect(info).toMatchObject({ name: 'orders', first: 0, next: 5, maxAgeMs: 604_800_000, consumers: [{ name: 'billing', committed: 1, lag: 3 }] });
    expect(info).not.toHaveProperty('maxAge'); // a bare number of ms, named for its unit
    const listed = JSON.parse((await cli('stream', 'list', '--json')).stdout);
    expect(listed).toMatchObject([{ name: 'orders', maxAgeMs: 604_800_000 }]);
    expect(listed[0]).not.toHaveProperty('maxAge');
    const human = await cli('stream', 'info', 'orders');
    expect(human.stdout).toMatch(/5 messages, offsets 0\.\.4/);
    expect(human.stdout).toContain('retention: max age 7d, max bytes 976.6 KiB\n');
    expect(human.stdout).toMatch(/billing\s+1\s+3\s+0/);
    expect((await cli('stream', 'delete', 'orders')).stdout).toBe("stream 'orders' deleted\n");
    expect((await cli('stream', 'info', 'orders')).code).toBe(1);
  });

  it('read prints from first, an offset, or a time up to the current end; --count; --json carries offsets', async () => {
    await conn.declareStream('log');
    for (let i = 0; i < 6; i++) await conn.publish('', 'log', `e${i}`);
    expect((await cli('stream', 'read', 'log', '--from', 'first')).stdout).toBe('e0\ne1\ne2\ne3\ne4\ne5\n');
    expect((await cli('stream', 'read', 'log', '--from', '4')).stdout).toBe('e4\ne5\n');
    expect((await cli('stream', 'read', 'log', '--from', 'last')).stdout).toBe('e5\n');
    expect((await cli('stream', 'read', 'log', '--from', 'next')).stdout).toBe('');
    expect((await cli('stream', 'read', 'log', '--from', '1h')).stdout).toBe('e0\ne1\ne2\ne3\ne4\ne5\n');
    expect((await cli('stream', 'read', 'log', '--from', '2999-01-01T00:00:00Z')).stdout).toBe('');
    const lines = (await cli('stream', 'read', 'log', '--from', '1', '--count', '2', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.offset, l.body])).toEqual([
      [1, 'e1'],
      [2, 'e2'],
    ]);
    expect(typeof lines[0].timestamp).toBe('number');
    const bad = await cli('stream', 'read', 'log', '--from', 'yesterday-ish');
    expect(bad.code).toBe(2);
  });

  it('read --name resumes where the last read stopped; --follow waits for new messages', async () => {
    await conn.declareStream('jobs');
    for (let i = 0; i < 4; i++) await conn.publish('', 'jobs', `j${i}`);
    expect((await cli('stream', 'read', 'jobs', '--name', 'r', '--count', '2')).stdout).toBe('j0\nj1\n');
    expect((await cli('stream', 'read', 'jobs', '--name', 'r')).stdout).toBe('j2\nj3\n');
    expect((await conn.streamInfo('jobs')).consumers).toEqual([{ name: 'r', committed: 3, lag: 0, subscribers: 0 }]);
    const follow = start(['stream', 'read', 'jobs', '--from', 'next', '--follow', '--count', '2', '--url', tb.url]);
    await new Promise<void>((resolve) => {
      const poll = async () => ((await conn.streamInfo('jobs')).subscribers > 0 ? resolve() : setImmediate(poll));
      void poll();
    });
    await conn.publish('', 'jobs', 'later1');
    await conn.publish('', 'jobs', 'later2');
    const r = await follow.exited;
    expect(r.stdout).toBe('later1\nlater2\n');
    expect(r.code).toBe(0);
  });

  it('read --filter prints only messages whose header matches, up to the end and with --follow (broker-side)', async () => {
    await conn.declareStream('regions');
    const regions = ['eu', 'us', 'ap', 'eu', 'us', 'eu'];
    for (const [i, region] of regions.entries()) await conn.publish('', 'regions', `r${i}`, { headers: { region, n: i } });
    expect((await cli('stream', 'read', 'regions', '--filter', 'region=eu')).stdout).toBe('r0\nr3\nr5\n');
    expect((await cli('stream', 'read', 'regions', '--filter', 'region=eu', '--filter', 'region=ap', '--count', '2')).stdout).toBe('r0\nr2\n');
    expect((await cli('stream', 'read', 'regions', '--filter', 'n:=4')).stdout).toBe('r4\n');
    expect((await cli('stream', 'read', 'regions', '--filter', 'n=4')).stdout).toBe(''); // the string "4" is not the number 4
    expect((await cli('stream', 'read', 'regions', '--filter', 'region=eu', '--filter', 'n:=1')).code).toBe(2);
    const follow = start(['stream', 'read', 'regions', '--from', 'first', '--follow', '--count', '4', '--filter', 'region=us', '--url', tb.url]);
    const subscribed = async (): Promise<void> => {
      while ((await conn.streamInfo('regions')).subscribers === 0) await new Promise((r) => setImmediate(r));
    };
    await subscribed();
    await conn.publish('', 'regions', 'r6', { headers: { region: 'eu' } });
    await conn.publish('', 'regions', 'r7', { headers: { region: 'us' } });
    await conn.publish('', 'regions', 'r8', { headers: { region: 'us' } });
    const r = await follow.exited;
    expect(r.stdout).toBe('r1\nr4\nr7\nr8\n');
    expect(r.code).toBe(0);
  });
});
