/**
 * The CLI over TLS: `warren server` with --tls-* (TLS only with --port off,
 * mutual TLS, SIGHUP re-reading the certificate) and the verbs with
 * warrens:// URLs and --tls-ca / --tls-cert / --tls-key, EXTERNAL included.
 * Certificates are made by `openssl` at test time.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ensureBuilt, hasStackTrace, run, start, type Running } from './helpers.js';
import { fingerprintOf, makeTestPki, type CertFiles, type TestPki } from '../../../test-support/tls-certs.js';
import { until } from '../../../test-support/wait.js';
import { startBroker } from '@warren/broker';
import { connect } from '@warren/client';
import { TaskClient } from '@warren/tasks';

let pki: TestPki;
let alice: CertFiles;
let foreign: CertFiles;
beforeAll(async () => {
  ensureBuilt();
  pki = await makeTestPki();
  alice = pki.client('alice');
  foreign = pki.client('alice', 'other');
});
afterAll(() => pki.remove());

const servers: Running[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});

/** Starts `warren server` TLS only, in memory; resolves with its TLS port once the banner is out. */
async function startServer(args: string[], files = pki.server): Promise<{ server: Running; port: number }> {
  const server = start(['server', '--http-port', '0', '--host', '127.0.0.1', '--in-memory', '--port', 'off', '--tls-port', '0', '--tls-cert', files.cert, '--tls-key', files.key, ...args]);
  servers.push(server);
  // On stdout beside silent or pretty logs, on stderr beside JSON logs.
  const banner = /listening on 127\.0\.0\.1:(\d+) \(TLS only\)\n/;
  await until(() => banner.test(server.stdout()) || banner.test(server.stderr()) || server.child.exitCode !== null, 'the banner');
  const m = banner.exec(server.stdout()) ?? banner.exec(server.stderr());
  if (m === null) throw new Error(`no banner: ${server.stdout()}\n${server.stderr()}`);
  return { server, port: Number(m[1]) };
}

/** The fingerprint of the certificate a new TLS connection is served. */
function served(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(pki.ca.cert) }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

describe('warren over TLS', () => {
  it('verbs use warrens:// with --tls-ca, --tls-cert, --tls-key; mutual TLS refuses a foreign certificate; EXTERNAL logs in as the CN', async () => {
    const { server, port } = await startServer(['--tls-ca', pki.ca.cert, '--tls-verify-peer', '--user', 'alice:alice-pw', '--log-level', 'silent']);
    expect(server.stdout()).toMatch(/TLS on 127\.0\.0\.1:\d+  certificate: CN=localhost  SHA-256 [0-9A-F:]+  client certificates: required\n/);
    const url = `warrens://alice:alice-pw@127.0.0.1:${port}`;
    const tlsFlags = ['--tls-ca', pki.ca.cert, '--tls-cert', alice.cert, '--tls-key', alice.key];

    expect((await run(['queue', 'declare', 'jobs', '--url', url, ...tlsFlags])).code).toBe(0);
    expect((await run(['publish', '--queue', 'jobs', 'over tls', '--url', url, ...tlsFlags])).code).toBe(0);
    const got = await run(['get', 'jobs', '--url', url, ...tlsFlags]);
    expect(got.code).toBe(0);
    expect(got.stdout).toContain('over tls');
    const status = await run(['status', '--json', '--url', url, ...tlsFlags]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).tls).toMatchObject({ port, verifyPeer: true, connections: 1, certificate: { fingerprint256: fingerprintOf(pki.server.cert) } });
    const text = await run(['status', '--url', url, ...tlsFlags]);
    expect(text.stdout).toMatch(new RegExp(`tls +port ${port}, 1 connection, client certificates required\n`));
    expect(text.stdout).toContain(`certificate  CN=localhost, SHA-256 ${fingerprintOf(pki.server.cert)}`);

    // The same files from the environment; EXTERNAL: no password, the certificate's CN is the user.
    const env = { WARREN_TLS_CA: pki.ca.cert, WARREN_TLS_CERT: alice.cert, WARREN_TLS_KEY: alice.key };
    const external = await run(['queue', 'list', '--json', '--url', `warrens://127.0.0.1:${port}?mechanism=external`], { env });
    expect(external.code).toBe(0);
    expect((JSON.parse(external.stdout) as { name: string }[]).map((q) => q.name)).toContain('jobs');

    // No client certificate, or one from another CA: access refused (exit 4).
    const noCert = await run(['status', '--url', url, '--tls-ca', pki.ca.cert]);
    expect(noCert.code).toBe(4);
    expect(noCert.stderr).toContain('ACCESS_REFUSED');
    const wrongCa = await run(['status', '--url', url, '--tls-ca', pki.ca.cert, '--tls-cert', foreign.cert, '--tls-key', foreign.key]);
    expect(wrongCa.code).toBe(4);
    // Not trusting the broker's certificate: unavailable (exit 3), saying why.
    const untrusted = await run(['status', '--url', url, '--tls-cert', alice.cert, '--tls-key', alice.key]);
    expect(untrusted.code).toBe(3);
    expect(untrusted.stderr).toMatch(/cannot connect to 127\.0\.0\.1:\d+: .*certificate.*\(is --tls-ca the CA that signed the broker certificate\?\)/);
    expect(hasStackTrace(untrusted.stderr)).toBe(false);
  });

  it('--tls-* flags with a warren:// URL, or a certificate without its key, are usage errors', async () => {
    const plain = await run(['status', '--url', 'warren://127.0.0.1:1', '--tls-ca', pki.ca.cert]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('use a warrens:// URL');
    const half = await run(['status', '--url', 'warrens://127.0.0.1:1', '--tls-cert', alice.cert]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--tls-cert and --tls-key together');
  });

  it('a warrens:// URL at a plain port, and a warren:// URL at a TLS port, say which scheme to use', async () => {
    const { server, port } = await startServer(['--log-level', 'silent']);
    const plain = await startBroker({ port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent' });
    try {
      const [tlsAtPlain, plainAtTls] = await Promise.all([
        run(['status', '--url', `warrens://guest:guest@127.0.0.1:${plain.port}`, '--tls-ca', pki.ca.cert]),
        run(['status', '--url', `warren://guest:guest@127.0.0.1:${port}`]),
      ]);
      expect(tlsAtPlain.code).toBe(3);
      expect(tlsAtPlain.stderr).toContain('if it is a plain port (5680 by default), use a warren:// URL');
      expect(tlsAtPlain.stderr).not.toContain('--tls-ca');
      expect(plainAtTls.code).toBe(3);
      expect(plainAtTls.stderr).toContain('if it is a TLS port (5681 by default), use a warrens:// URL');
      // Errors are `warren: CODE: message` with a code name, never the wire's number (it said `warren: 320: ...`).
      expect(plainAtTls.stderr).toMatch(/^warren: CONNECTION_FORCED: cannot connect to /);
      expect(tlsAtPlain.stderr).toMatch(/^warren: [A-Z][A-Z_]+: /);
    } finally {
      await plain.close();
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('warren server: TLS flags are checked before it starts', async () => {
    const noKey = await run(['server', '--in-memory', '--tls-cert', pki.server.cert]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('both --tls-cert and --tls-key');
    const verifyWithoutCa = await run(['server', '--in-memory', '--tls-cert', pki.server.cert, '--tls-key', pki.server.key, '--tls-verify-peer']);
    expect(verifyWithoutCa.code).toBe(2);
    expect(verifyWithoutCa.stderr).toContain('--tls-verify-peer needs --tls-ca');
    const offWithoutTls = await run(['server', '--in-memory', '--port', 'off']);
    expect(offWithoutTls.code).toBe(2);
    const badKey = await run(['server', '--http-port', '0', '--in-memory', '--port', '0', '--tls-port', '0', '--tls-cert', pki.server.cert, '--tls-key', alice.key, '--log-level', 'silent']);
    expect(badKey.code).not.toBe(0);
    expect(badKey.stderr).toContain(`the TLS key '${alice.key}' cannot be used with the certificate`);
    expect(hasStackTrace(badKey.stderr)).toBe(false);
  });

  it('SIGHUP re-reads the certificate: new connections get it, an open one goes on; bad files keep the old one', async () => {
    const cert = join(pki.dir, 'hup.crt');
    const key = join(pki.dir, 'hup.key');
    copyFileSync(pki.server.cert, cert);
    copyFileSync(pki.server.key, key);
    const { server, port } = await startServer(['--log-format', 'json'], { cert, key });
    expect(await served(port)).toBe(fingerprintOf(pki.server.cert));
    // A consumer stays connected across the reload.
    expect((await run(['queue', 'declare', 'hup-q', '--url', `warrens://127.0.0.1:${port}`, '--tls-ca', pki.ca.cert])).code).toBe(0);
    const consumer = start(['consume', 'hup-q', '--count', '1', '--url', `warrens://guest:guest@127.0.0.1:${port}`, '--tls-ca', pki.ca.cert]);
    const consumers = async (): Promise<number> => {
      const list = await run(['queue', 'list', '--json', '--url', `warrens://127.0.0.1:${port}`, '--tls-ca', pki.ca.cert]);
      return (JSON.parse(list.stdout) as { name: string; consumers: number }[]).find((q) => q.name === 'hup-q')?.consumers ?? 0;
    };
    await until(async () => (await consumers()) === 1, 'the consumer');

    const next = pki.newServer('localhost-hup');
    copyFileSync(next.cert, cert);
    copyFileSync(next.key, key);
    server.child.kill('SIGHUP');
    await until(async () => (await served(port)) === fingerprintOf(next.cert), 'the new certificate');
    // JSON logs (on stdout, the child's stdout not being a terminal).
    await until(() => server.stdout().includes('TLS certificate reloaded'), 'the reload in the log');

    writeFileSync(key, 'not a key');
    server.child.kill('SIGHUP');
    await until(() => server.stdout().includes('TLS certificate reload failed'), 'the reload error in the log');
    expect(server.stdout()).not.toContain('not a key');
    expect(await served(port)).toBe(fingerprintOf(next.cert));
    expect(server.child.exitCode).toBeNull();

    const pub = await run(['publish', '--queue', 'hup-q', 'after reload', '--url', `warrens://127.0.0.1:${port}`, '--tls-ca', pki.ca.cert]);
    expect(pub.code).toBe(0);
    const r = await consumer.exited;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('after reload');
  });

  it('warren worker connects with warrens:// and --tls-ca, --tls-cert, --tls-key (mutual TLS) and runs tasks', async () => {
    const { port } = await startServer(['--tls-ca', pki.ca.cert, '--tls-verify-peer', '--user', 'alice:alice-pw', '--log-level', 'silent']);
    const url = `warrens://alice:alice-pw@127.0.0.1:${port}`;
    const tlsFlags = ['--tls-ca', pki.ca.cert, '--tls-cert', alice.cert, '--tls-key', alice.key];
    const worker = start(['worker', 'packages/cli/test/fixtures/tasks.mjs', '--url', url, ...tlsFlags, '--namespace', 'tls']);
    servers.push(worker);
    await worker.waitForStdout(/running double/);
    const conn = await connect({ url, tls: { ca: readFileSync(pki.ca.cert), cert: readFileSync(alice.cert), key: readFileSync(alice.key) } });
    try {
      const client = await TaskClient.open(conn, { namespace: 'tls' });
      const id = await client.enqueue('double', 21, { id: 't-1' });
      expect(await client.wait(id, { timeoutMs: 20_000 })).toMatchObject({ status: 'SUCCESS', result: 42 });
    } finally {
      await conn.close();
    }
    await worker.waitForStdout(/succeeded double t-1 attempt 1/);
  });
});
