import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, realpathSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { connect } from '@warren/client';
import { startBroker } from '@warren/broker';
import { ensureBuilt, run, start, type Running } from './helpers.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { until } from '../../../test-support/wait.js';

/** Starts `warren server` on a free port; resolves with the port once its banner is out (on stdout or stderr). */
async function startServer(args: string[], env?: Record<string, string>): Promise<{ server: Running; port: number }> {
  const server = start(['server', '--http-port', '0', '--port', '0', '--host', '127.0.0.1', ...args], env === undefined ? {} : { env });
  const banner = /listening on 127\.0\.0\.1:(\d+)\n/;
  await until(() => banner.test(server.stdout()) || banner.test(server.stderr()) || server.child.exitCode !== null, 'the banner');
  const m = banner.exec(server.stdout()) ?? banner.exec(server.stderr());
  if (m === null) throw new Error(`no banner: ${server.stdout()}\n${server.stderr()}`);
  return { server, port: Number(m[1]) };
}

/** A named SDK connection opened and closed, then two CLI calls (as a health check makes). */
async function someTraffic(port: number): Promise<void> {
  const url = `warren://guest:guest@127.0.0.1:${port}`;
  const conn = await connect({ url, name: 'billing-service' });
  await conn.close();
  for (let i = 0; i < 2; i++) expect((await run(['status', '--url', url])).code).toBe(0);
}

let tmp: string;
beforeAll(async () => {
  ensureBuilt();
  tmp = realpathSync(await tempDir('warren-cli-server-'));
});
afterAll(() => removeDir(tmp));

describe('warren server', () => {
  it('with --port 0 prints the real port and its data folder, serves clients, and exits 0 on SIGTERM', async () => {
    const dataDir = join(tmp, 'data');
    const server = start(['server', '--http-port', '0', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'silent']);
    const [, port] = await server.waitForStdout(/listening on 127\.0\.0\.1:(\d+)\n/); // silent logs: stdout is free for the banner
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
    const r = await run(['server', '--http-port', '0', '--port', 'abc', '--data-dir', join(tmp, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/port/);
  });

  it('takes sizes with units (512MB, 1GiB) from flags and the environment, and refuses an unknown unit as a usage error', async () => {
    const { server, port } = await startServer(
      ['--data-dir', join(tmp, 'sizes'), '--memory-high-watermark', '512MB', '--memory-budget', '64MiB', '--frame-max', '1MiB', '--log-level', 'silent'],
      { WARREN_DISK_FREE_LIMIT: '1GiB' },
    );
    const status = await run(['status', '--url', `warren://guest:guest@127.0.0.1:${port}`]);
    expect(status.stdout).toContain('of 64.0 MiB budget');
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    const bad = await run(['server', '--http-port', '0', '--port', '0', '--memory-high-watermark', '512XB', '--data-dir', join(tmp, 'never')]);
    expect(bad.stderr).toBe("warren: USAGE: memory high watermark must be a size in bytes, such as 1048576, 512MB (10^6), 512MiB (2^20) or 1GiB, got '512XB'\n");
    expect(bad.code).toBe(2);
  });

  it('--max-consumers-per-connection and WARREN_MAX_PENDING_CONNECTIONS_PER_ADDRESS set the per-connection and per-address limits', async () => {
    const { server, port } = await startServer(['--data-dir', join(tmp, 'limits'), '--max-consumers-per-connection', '1', '--http-max-connections', '8', '--http-max-connections-per-address', '4', '--log-level', 'silent'], {
      WARREN_MAX_PENDING_CONNECTIONS_PER_ADDRESS: '1',
    });
    const url = `warren://guest:guest@127.0.0.1:${port}`;
    const conn = await connect(url);
    await conn.declareQueue('q');
    await conn.consume('q', () => {});
    await expect(conn.consume('q', () => {})).rejects.toMatchObject({ name: 'RESOURCE_LIMIT' });
    // One socket that never logs in takes this address's only place: the next connection is refused at once.
    const idle = createConnection({ port, host: '127.0.0.1' });
    await new Promise((resolve) => idle.once('connect', resolve));
    let refused: { code: number | null; stderr: string } = { code: 0, stderr: '' };
    await until(async () => (refused = await run(['status', '--json', '--url', url])).code !== 0, 'a refused connection');
    expect(refused.stderr).toMatch(/RESOURCE_LIMIT.*not logged in yet \(limit 1\)/);
    idle.destroy();
    await conn.close();
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    const bad = await run(['server', '--http-port', '0', '--port', '0', '--max-consumers-per-connection', '-1', '--data-dir', join(tmp, 'never')]);
    expect(bad.stderr).toBe("warren: USAGE: max consumers per connection must be a non-negative integer, got '-1'\n");
    expect(bad.code).toBe(2);
  });

  it('checks the port range before touching the data folder: one usage line, exit 2, even when the folder is locked', async () => {
    const fresh = join(tmp, 'untouched');
    const r = await run(['server', '--http-port', '0', '--port', '99999', '--data-dir', fresh]);
    expect(r.stderr).toBe("warren: USAGE: port must be an integer from 0 to 65535, got '99999'\n");
    expect(r.code).toBe(2);
    expect(existsSync(fresh)).toBe(false);

    const locked = join(tmp, 'locked');
    const holder = await startBroker({ port: 0, host: '127.0.0.1', dataDir: locked, logLevel: 'silent' });
    try {
      const again = await run(['server', '--http-port', '0', '--port', '99999', '--data-dir', locked], { env: { WARREN_LOG_LEVEL: 'silent' } });
      expect(again.stderr).toMatch(/^warren: USAGE: port must be an integer from 0 to 65535/);
      expect(again.code).toBe(2);
    } finally {
      await holder.close();
    }
  });

  it('checks the first user from the environment (WARREN_USER with WARREN_PASSWORD or WARREN_PASSWORD_FILE) before starting', async () => {
    const dataDir = join(tmp, 'user-env');
    const cases: [Record<string, string>, RegExp][] = [
      [{ WARREN_USER: 'app' }, /^warren: USAGE: user 'app' has no password: set WARREN_PASSWORD or WARREN_PASSWORD_FILE\n$/],
      [{ WARREN_PASSWORD: 'x' }, /^warren: USAGE: a password was given .* but no user: set WARREN_USER too\n$/],
      [{ WARREN_USER: 'app', WARREN_PASSWORD: 'x', WARREN_PASSWORD_FILE: join(tmp, 'pw') }, /^warren: USAGE: give WARREN_PASSWORD or WARREN_PASSWORD_FILE, not both\n$/],
      [{ WARREN_USER: 'app', WARREN_PASSWORD_FILE: join(tmp, 'no-such-file') }, /^warren: USAGE: cannot read the password file '.*no-such-file': ENOENT/],
      [{ WARREN_REQUIRE_USER: 'true' }, /^warren: USAGE: no user configured, and guest cannot log in from other hosts/],
    ];
    for (const [env, message] of cases) {
      const r = await run(['server', '--http-port', '0', '--port', '0', '--data-dir', dataDir], { env });
      expect(r.stderr, JSON.stringify(env)).toMatch(message);
      expect(r.code).toBe(2);
    }
    expect(existsSync(dataDir)).toBe(false);
  });

  it('a port in use is one clear line with a hint (exit 1), no raw stack or error object', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const r = await run(['server', '--http-port', '0', '--port', String(port), '--host', '127.0.0.1', '--data-dir', join(tmp, 'in-use'), '--log-level', 'warn']);
      expect(r.stderr).toBe(
        `warren: EADDRINUSE: port ${port} on 127.0.0.1 is already in use (another warren server?): stop it, or choose another port with --port or WARREN_PORT\n`,
      );
      expect(r.stdout).toBe('');
      expect(r.code).toBe(1);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('warren server logs', () => {
  it('JSON when stdout is not a terminal: stdout is JSON lines only (banner on stderr); CLI calls log at debug, services one line each way with the duration', async () => {
    const { server, port } = await startServer(['--data-dir', join(tmp, 'logs-json')]);
    await someTraffic(port);
    server.child.kill('SIGTERM');
    const r = await server.exited;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warren \S+ listening on 127\.0\.0\.1:\d+\nmanagement API and console: http:\/\/127\.0\.0\.1:\d+\ndata folder: .+  sync: always\n$/);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string; client?: string; durationMs?: number });
    const connectionEvents = events.filter((e) => e.msg.startsWith('connection '));
    // The two `warren status` calls left nothing at info; the service's connection one line each way.
    expect(connectionEvents.map((e) => e.msg)).toEqual(['connection opened', 'connection closed']);
    expect(connectionEvents[0]).toMatchObject({ level: 30, client: 'billing-service' });
    expect(connectionEvents[1]!.durationMs).toEqual(expect.any(Number));
  });

  it('CLI connections still show at --log-level debug', async () => {
    const { server, port } = await startServer(['--data-dir', join(tmp, 'logs-debug'), '--log-level', 'debug']);
    await someTraffic(port);
    server.child.kill('SIGTERM');
    const r = await server.exited;
    const cli = r.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string; client?: string })
      .filter((e) => e.msg === 'connection opened' && e.client === 'warren-cli status');
    expect(cli.map((e) => e.level)).toEqual([20, 20]);
  });

  it('pretty: the banner, then one line per event', async () => {
    const { server, port } = await startServer(['--data-dir', join(tmp, 'logs-pretty'), '--log-format', 'pretty']);
    await someTraffic(port);
    await until(() => server.stdout().includes('connection closed'), 'the close to be logged');
    server.child.kill('SIGTERM');
    const r = await server.exited;
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    // Start-up events (storage recovery) may come before the banner, which is logged once listening.
    const at = lines.findIndex((l) => l.startsWith('warren '));
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines.slice(at, at + 3).join('\n')).toMatch(/^warren \S+ listening on 127\.0\.0\.1:\d+\nmanagement API and console: http:\/\/127\.0\.0\.1:\d+\ndata folder: .+  sync: always$/);
    const events = [...lines.slice(0, at), ...lines.slice(at + 3)];
    for (const line of events) expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|DEBUG): \S/);
    expect(events.filter((l) => l.includes('connection opened') && l.includes('"client":"billing-service"'))).toHaveLength(1);
    expect(events.filter((l) => l.includes('"client":"warren-cli'))).toEqual([]);
  });

  /**
   * Starts `warren server` with `hostArgs`, waits for `banner` (TCP port, then HTTP port), and returns how
   * guest fares at each address: the CLI's exit code over TCP and the HTTP status of the API.
   */
  async function guestAt(hostArgs: string[], banner: RegExp, hosts: string[]): Promise<Record<string, [number | null, number]>> {
    const server = start(['server', '--http-port', '0', '--port', '0', '--in-memory', '--log-level', 'silent', ...hostArgs]);
    const [, port, httpPort] = await server.waitForStdout(banner);
    const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
    const out: Record<string, [number | null, number]> = {};
    for (const host of hosts) {
      const tcp = await run(['status', '--url', `warren://guest:guest@${host}:${port}`]);
      const http = await fetch(`http://${host}:${httpPort}/api/overview`, { headers: { authorization: auth } }).then(
        (r) => r.status,
        () => 0, // nothing listening there
      );
      out[host] = [tcp.code, http];
    }
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    return out;
  }

  // This machine's other addresses (not loopback; link-local ones need a scope): a client there is remote.
  const own = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && !a.internal && !a.address.startsWith('fe80:'))
    .map((a) => a!);
  const ownV4 = own.filter((a) => a.family === 'IPv4').map((a) => a.address);
  const ownV6 = own.filter((a) => a.family === 'IPv6').map((a) => `[${a.address}]`);

  it('by default listens on every IPv4 interface and not IPv6; guest logs in from loopback only, over TCP and HTTP alike', async () => {
    const r = await guestAt([], /listening on 0\.0\.0\.0:(\d+)\nmanagement API and console: http:\/\/localhost:(\d+)\n/, ['127.0.0.1', '[::1]', ...ownV4]);
    expect(r['127.0.0.1']).toEqual([0, 200]);
    expect(r['[::1]']).toEqual([3, 0]); // no IPv6 listener: ECONNREFUSED
    for (const host of ownV4) expect(r[host], host).toEqual([4, 401]); // ACCESS_REFUSED; 401 from the API
  });

  it("--host '::' listens on IPv4 and IPv6 (banner [::]:port); guest still logs in from loopback only, on either family", async () => {
    const r = await guestAt(['--host', '::'], /listening on \[::\]:(\d+)\nmanagement API and console: http:\/\/localhost:(\d+)\n/, ['127.0.0.1', '[::1]', ...ownV4, ...ownV6]);
    expect(r['127.0.0.1']).toEqual([0, 200]);
    expect(r['[::1]']).toEqual([0, 200]);
    for (const host of [...ownV4, ...ownV6]) expect(r[host], host).toEqual([4, 401]); // seen as ::ffff:a.b.c.d or the v6 address
  });
});
