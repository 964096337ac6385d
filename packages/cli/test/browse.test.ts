/** `warren queue browse|move` and `warren stream browse`, through the management HTTP API. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { ensureBuilt, run } from './helpers.js';
import { startHttpBroker, ADMIN, type HttpTestBroker } from '../../../test-support/http-api.js';

let tb: HttpTestBroker;
let conn: Connection;
let url: string;
const cli = (...args: string[]) => run([...args, '--url', url, '--http-url', tb.base]);

beforeAll(async () => {
  ensureBuilt();
  tb = await startHttpBroker();
  url = `warren://${ADMIN.username}:${ADMIN.password}@127.0.0.1:${tb.port}`;
  conn = await connect(url);
  await conn.declareQueue('src', { durable: true });
  await conn.declareQueue('dst', { durable: true });
  for (let i = 0; i < 5; i++) await conn.publish('', 'src', `msg-${i}`, { persistent: true });
});
afterAll(async () => {
  await conn?.close();
  await tb?.stop();
});

describe('warren queue browse', () => {
  it('prints a table and leaves the queue as it was', async () => {
    const r = await cli('queue', 'browse', 'src', '--count', '2', '--offset', '1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/POS\s+STATE\s+DELIVERIES\s+EXCHANGE\s+ROUTING KEY\s+BYTES\s+PAYLOAD/);
    expect(r.stdout).toMatch(/1\s+ready\s+0\s+\(default\)\s+src\s+5\s+msg-1/);
    expect(r.stdout).toContain('2 messages of 5 shown');
    const json = await cli('queue', 'browse', 'src', '--json', '--encoding', 'base64');
    const body = JSON.parse(json.stdout) as { items: Array<{ payload: string }>; total: number };
    expect(body.items.map((i) => Buffer.from(i.payload, 'base64').toString())).toEqual(['msg-0', 'msg-1', 'msg-2', 'msg-3', 'msg-4']);
    expect((await conn.listQueues()).find((q) => q.name === 'src')).toMatchObject({ messages: 5, unacked: 0 });
  });

  it('previews a JSON payload as it is, on one line (quotes kept, newlines and tabs escaped)', async () => {
    await conn.declareQueue('json-preview');
    await conn.publish('', 'json-preview', '{"id": 1,\n\t"name": "a"}');
    const r = await cli('queue', 'browse', 'json-preview');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{"id": 1,\\n\\t"name": "a"}');
    await conn.deleteQueue('json-preview');
  });

  it('NOT_FOUND (exit 1), a wrong password (exit 4), no API (exit 3), usage (exit 2)', async () => {
    const missing = await cli('queue', 'browse', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^warren: NOT_FOUND: /);
    const denied = await run(['queue', 'browse', 'src', '--url', `warren://admin:wrong@127.0.0.1:${tb.port}`, '--http-url', tb.base]);
    expect(denied.code).toBe(4);
    const down = await run(['queue', 'browse', 'src', '--url', url, '--http-url', 'http://127.0.0.1:1']);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/ECONNREFUSED/);
    const usage = await cli('queue', 'move', 'src');
    expect(usage.code).toBe(2);
  });
});

describe('--http-url', () => {
  it('is required when --url is not at the default port: a usage error naming both, never a guess at 15680', async () => {
    const r = await run(['queue', 'browse', 'src', '--url', url]);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `warren: USAGE: --url names port ${tb.port}; the management API's port cannot be told from it: pass --http-url http://127.0.0.1:PORT (or set WARREN_HTTP_URL)\n`,
    );
    expect(r.code).toBe(2);
    const tls = await run(['stream', 'browse', 's', '--url', 'warrens://guest:guest@127.0.0.1:5690']);
    expect(tls.stderr).toBe(
      "warren: USAGE: --url names port 5690; the management API's port cannot be told from it: pass --http-url https://127.0.0.1:PORT (or set WARREN_HTTP_URL)\n",
    );
    expect(tls.code).toBe(2);
    const workers = await run(['task', 'workers', '--url', url]);
    expect(workers.code).toBe(2);
    expect(workers.stderr).toMatch(/^warren: USAGE: --url names port \d+; /);
    // WARREN_HTTP_URL names it as well as --http-url.
    const env = await run(['queue', 'browse', 'src', '--url', url, '--count', '1'], { env: { WARREN_HTTP_URL: tb.base } });
    expect(env.stderr).toBe('');
    expect(env.code).toBe(0);
    expect(env.stdout).toContain('msg-0');
  });

  it('keeps the default (the host of --url, port 15680) when --url is at the default port', async () => {
    // 127.0.0.2 answers nothing on 15680 here: the verb tries the default API, it is not a usage error.
    const r = await run(['queue', 'browse', 'src', '--url', 'warren://guest:guest@127.0.0.2:5680']);
    expect(r.code, r.stderr).not.toBe(2);
    if (r.code === 3) expect(r.stderr).toMatch(/management API at 127\.0\.0\.2:15680/);
    const implicit = await run(['queue', 'browse', 'src', '--url', 'warrens://guest:guest@127.0.0.2']);
    expect(implicit.code, implicit.stderr).not.toBe(2);
  });
});

describe('warren queue move', () => {
  it('moves N, then the rest through an exchange', async () => {
    const r = await cli('queue', 'move', 'src', '--to-queue', 'dst', '--count', '2');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("moved 2 messages from queue 'src' to queue 'dst'\n");
    const rest = await cli('queue', 'move', 'src', '--to-exchange', 'amq.default', '--routing-key', 'dst', '--json');
    expect(JSON.parse(rest.stdout)).toEqual({ queue: 'src', moved: 3, skipped: 0 });
    const qs = await conn.listQueues();
    expect(qs.find((q) => q.name === 'dst')?.messages).toBe(5);
    expect(qs.find((q) => q.name === 'src')?.messages).toBe(0);
  });
});

describe('warren stream browse', () => {
  it('reads from an offset', async () => {
    await conn.declareStream('events');
    for (let i = 0; i < 3; i++) await conn.publish('', 'events', `e${i}`);
    const r = await cli('stream', 'browse', 'events', '--offset', 'last');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2\s+\d{4}-\d\d-\d\dT\S+\s+events\s+2\s+e2/);
    const bad = await cli('stream', 'browse', 'events', '--offset', 'soon');
    expect(bad.code).toBe(2);
  });
});
