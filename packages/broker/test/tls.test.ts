/**
 * TLS end to end with real certificates made by `openssl` at test time:
 * the TLS listener, what `openssl s_client` sees, mutual TLS (a missing or
 * foreign client certificate refused), EXTERNAL logins as the certificate's
 * CN, reloading the certificate while connections stay open, plain TCP off,
 * and the client reconnecting over TLS.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, WarrenError, type Connection, type ConnectOptions, type StatusEvent } from '@warren/client';
import { ErrorCodes, FrameType, PROTOCOL_VERSION, type ErrorFrame } from '@warren/protocol';
import type { BrokerOptions, TlsConfig } from '@warren/broker';
import { RawClient } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { fingerprintOf, makeTestPki, type CertFiles, type TestPki } from '../../../test-support/tls-certs.js';
import { nextEvent, settle } from '../../../test-support/wait.js';

let pki: TestPki;
let alice: CertFiles;
let mallory: CertFiles;
let stranger: CertFiles;

beforeAll(async () => {
  pki = await makeTestPki();
  alice = pki.client('alice');
  mallory = pki.client('alice', 'other');
  stranger = pki.client('nobody');
});
afterAll(async () => {
  await pki.remove();
});

const brokers: TestBroker[] = [];
const conns: Connection[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) await c.close().catch(() => {});
  for (const b of brokers.splice(0).reverse()) await b.stop();
});

async function start(tls: Partial<TlsConfig> = {}, extra: BrokerOptions = {}): Promise<TestBroker> {
  const tb = await startTestBroker({ tls: { cert: pki.server.cert, key: pki.server.key, port: 0, ...tls }, ...extra });
  brokers.push(tb);
  return tb;
}

function tlsUrl(tb: TestBroker, user = 'guest:guest@'): string {
  return `warrens://${user}127.0.0.1:${tb.broker.tlsPort}`;
}

async function open(options: ConnectOptions): Promise<Connection> {
  const c = await connect({ reconnect: false, timeoutMs: 5000, ...options });
  conns.push(c);
  return c;
}

const trustCa = () => ({ ca: readFileSync(pki.ca.cert) });
const clientCert = (files: CertFiles) => ({ ...trustCa(), cert: readFileSync(files.cert), key: readFileSync(files.key) });

/** The certificate a fresh TLS connection to the port is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...trustCa() }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

async function roundTrip(conn: Connection, queue: string, body: string): Promise<string> {
  await conn.declareQueue(queue);
  await conn.publish('', queue, body);
  const got = await conn.get(queue, { noAck: true });
  return got?.body.toString() ?? '(empty)';
}

async function refusal(options: ConnectOptions): Promise<WarrenError> {
  const result = await settle(open(options));
  expect(result.ok).toBe(false);
  return (result as { error: WarrenError }).error;
}

describe('the TLS listener', () => {
  it('publishes and consumes over warrens://, beside the plain TCP listener', async () => {
    const tb = await start();
    expect(tb.broker.tlsPort).not.toBe(tb.broker.port);
    const conn = await open({ url: tlsUrl(tb), tls: trustCa() });
    await conn.declareQueue('jobs');
    const seen: string[] = [];
    await conn.consume('jobs', (m) => void seen.push(m.body.toString()), { noAck: true });
    // Enough bytes to take several TLS records and reads.
    const big = 'x'.repeat(300_000);
    await Promise.all([conn.publish('', 'jobs', 'hello over TLS'), conn.publish('', 'jobs', big)]);
    const plain = await open({ url: tb.url });
    expect(await roundTrip(plain, 'plain-q', 'hello in clear')).toBe('hello in clear');
    await expect.poll(() => seen.length).toBe(2);
    expect(seen[0]).toBe('hello over TLS');
    expect(seen[1]).toBe(big);

    const status = await conn.status();
    expect(status.tls).toMatchObject({ port: tb.broker.tlsPort, connections: 1, verifyPeer: false });
    expect(status.tls!.certificate.fingerprint256).toBe(fingerprintOf(pki.server.cert));
    expect(status.tls!.certificate.subject).toBe('CN=localhost');
    const listed = tb.broker.connectionList();
    const overTls = listed.filter((c) => c.tls !== null);
    expect(listed).toHaveLength(2);
    expect(overTls).toHaveLength(1);
    expect(overTls[0]!.tls).toMatchObject({ protocol: 'TLSv1.3', peerSubject: null, peerVerified: false });
  });

  it('a client that does not trust the server certificate fails the TLS handshake, saying so', async () => {
    const tb = await start();
    const err = await refusal({ url: tlsUrl(tb) });
    expect(err.message).toMatch(/^TLS connection to 127\.0\.0\.1:\d+ failed: .*certificate/);
  });

  it('the wrong scheme for a port says which to use: warren:// to the TLS port, warrens:// to the plain one', async () => {
    const tb = await start();
    const plainToTls = await refusal({ url: `warren://guest:guest@127.0.0.1:${tb.broker.tlsPort}`, timeoutMs: 500 });
    expect(plainToTls.message).toContain('use a warrens:// URL');
    const tlsToPlain = await refusal({ url: `warrens://guest:guest@127.0.0.1:${tb.port}`, tls: trustCa(), timeoutMs: 500 });
    expect(tlsToPlain.message).toContain('use a warren:// URL');
  });

  it('openssl s_client is served the configured certificate', async () => {
    const tb = await start();
    const out = await new Promise<string>((resolve, reject) => {
      const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${tb.broker.tlsPort}`, '-CAfile', pki.ca.cert], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
      child.stdin!.end();
    });
    expect(out).toMatch(/subject=CN ?= ?localhost/);
    expect(out).toContain('Verify return code: 0 (ok)');
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)![0];
    expect(new X509Certificate(pem).fingerprint256).toBe(fingerprintOf(pki.server.cert));
  });

  it('a peer that never completes the TLS handshake is dropped after the handshake timeout', async () => {
    const tb = await start({}, { handshakeTimeoutMs: 200 });
    const socket = createConnection({ host: '127.0.0.1', port: tb.broker.tlsPort! });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  });

  it('a socket in the TLS handshake takes a place of its address (not logged in yet), given back when the handshake ends or fails', async () => {
    const tb = await start({}, { maxPendingConnectionsPerAddress: 1 });
    const pending = (tb.broker as unknown as { pendingByAddress: Map<string, number> }).pendingByAddress;
    const tcp = (port: number) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      return { socket, closed: new Promise<void>((resolve) => socket.on('close', () => resolve())) };
    };
    const handshaking = tcp(tb.broker.tlsPort!);
    await expect.poll(() => pending.size).toBe(1);
    // Its address has no place left: a plain connection is refused, another TLS socket dropped.
    const plain = await RawClient.connect(tb.port);
    expect(await plain.next()).toMatchObject({ type: FrameType.ERROR, code: ErrorCodes.RESOURCE_LIMIT });
    await tcp(tb.broker.tlsPort!).closed;
    // A failed handshake (plain bytes to the TLS port) gives the place back.
    handshaking.socket.write('not TLS\r\n\r\n');
    await handshaking.closed;
    await expect.poll(() => pending.size).toBe(0);
    // A completed one too, and its connection counts as any other until it logs in.
    const conn = await open({ url: tlsUrl(tb), tls: trustCa() });
    await conn.declareQueue('after');
    expect(pending.size).toBe(0);
    plain.close();
  });

  it('a bad certificate stops the start, naming the file', async () => {
    const bad = join(pki.dir, 'not-a-cert.pem');
    writeFileSync(bad, 'hello');
    await expect(start({ cert: bad })).rejects.toThrow(`the TLS certificate file '${bad}' holds no PEM certificate`);
    await expect(start({ key: alice.key })).rejects.toThrow(`the TLS key '${alice.key}' cannot be used with the certificate`);
    await expect(start({ cert: join(pki.dir, 'missing.pem') })).rejects.toThrow(/cannot read the TLS certificate file .*ENOENT/);
    await expect(start({ verifyPeer: true })).rejects.toThrow(/needs a CA file/);
  });
});

describe('mutual TLS', () => {
  const users = [{ username: 'alice', password: 'alice-pw' }];

  it('refuses a client without a certificate, and one signed by another CA, with ACCESS_REFUSED', async () => {
    const tb = await start({ ca: pki.ca.cert, verifyPeer: true }, { users });
    const none = await refusal({ url: tlsUrl(tb, 'alice:alice-pw@'), tls: trustCa() });
    expect(none.code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect(none.message).toContain('client certificate');
    const foreign = await refusal({ url: tlsUrl(tb, 'alice:alice-pw@'), tls: clientCert(mallory) });
    expect(foreign.code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect(tb.broker.connectionList()).toHaveLength(0);
    // The right certificate: in, with the password.
    const conn = await open({ url: tlsUrl(tb, 'alice:alice-pw@'), tls: clientCert(alice) });
    expect(await roundTrip(conn, 'q', 'mutual')).toBe('mutual');
    expect(tb.broker.connectionList()[0]!.tls).toMatchObject({ peerSubject: 'CN=alice', peerVerified: true });
  });

  it('EXTERNAL logs in as the certificate CN, who must be a user', async () => {
    const tb = await start({ ca: pki.ca.cert, verifyPeer: true }, { users });
    const conn = await open({ url: `${tlsUrl(tb, '')}?mechanism=external`, tls: clientCert(alice) });
    expect(await roundTrip(conn, 'q', 'external')).toBe('external');
    expect(tb.broker.connectionList()[0]).toMatchObject({ user: 'alice' });
    // The same, with the name given: it must be the certificate's.
    await open({ url: tlsUrl(tb, 'alice@'), mechanism: 'EXTERNAL', tls: clientCert(alice) });
    const otherName = await refusal({ url: tlsUrl(tb, 'guest@'), mechanism: 'EXTERNAL', tls: clientCert(alice) });
    expect(otherName.code).toBe(ErrorCodes.ACCESS_REFUSED);
    // A valid certificate for a name that is no user.
    const unknown = await refusal({ url: tlsUrl(tb, ''), mechanism: 'EXTERNAL', tls: clientCert(stranger) });
    expect(unknown.code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect(unknown.message).toBe("login refused for user 'nobody': unknown user, wrong password, or a vhost or address it may not use (the broker's log says which)");
  });

  it('without verifyPeer a certificate is optional: PLAIN without one, EXTERNAL only with a verified one', async () => {
    const tb = await start({ ca: pki.ca.cert }, { users });
    await open({ url: tlsUrl(tb, 'alice:alice-pw@'), tls: trustCa() });
    const noCert = await refusal({ url: tlsUrl(tb, ''), mechanism: 'EXTERNAL', tls: trustCa() });
    expect(noCert.code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect(noCert.details).toEqual({ mechanisms: ['PLAIN'] });
    const foreign = await refusal({ url: tlsUrl(tb, ''), mechanism: 'EXTERNAL', tls: clientCert(mallory) });
    expect(foreign.details).toEqual({ mechanisms: ['PLAIN'] });
    await open({ url: tlsUrl(tb, ''), mechanism: 'EXTERNAL', tls: clientCert(alice) });
  });

  it('EXTERNAL is not offered on plain TCP: ACCESS_REFUSED listing PLAIN', async () => {
    const tb = await start({ ca: pki.ca.cert }, { users });
    const raw = await RawClient.connect(tb.port);
    raw.send({ type: FrameType.OPEN, version: PROTOCOL_VERSION, properties: {}, credentials: { mechanism: 'EXTERNAL', username: '', password: '' }, frameMax: 0, heartbeatMs: 0 });
    const err = (await raw.next(FrameType.ERROR)) as ErrorFrame;
    expect(err.code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect(err.details).toEqual({ mechanisms: ['PLAIN'] });
    raw.close();
  });
});

describe('certificate reload', () => {
  it('new connections get the new certificate, open ones go on; bad new files keep the old one', async () => {
    const dir = pki.dir;
    const cert = join(dir, 'live.crt');
    const key = join(dir, 'live.key');
    copyFileSync(pki.server.cert, cert);
    copyFileSync(pki.server.key, key);
    const tb = await start({ cert, key });
    const port = tb.broker.tlsPort!;
    const before = await open({ url: tlsUrl(tb), tls: trustCa() });
    expect(await servedFingerprint(port)).toBe(fingerprintOf(pki.server.cert));

    const next = pki.newServer('localhost-2');
    copyFileSync(next.cert, cert);
    copyFileSync(next.key, key);
    const info = await tb.broker.reloadTls();
    expect(info.fingerprint256).toBe(fingerprintOf(next.cert));
    expect(await servedFingerprint(port)).toBe(fingerprintOf(next.cert));
    expect(await roundTrip(before, 'old-conn', 'still here')).toBe('still here');
    const after = await open({ url: tlsUrl(tb), tls: trustCa() });
    expect(await roundTrip(after, 'new-conn', 'new cert')).toBe('new cert');

    // A key that does not match, then garbage: refused, the previous certificate stays.
    copyFileSync(pki.server.key, key);
    await expect(tb.broker.reloadTls()).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED, message: expect.stringContaining('cannot be used with the certificate') });
    writeFileSync(cert, 'garbage');
    await expect(tb.broker.reloadTls()).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
    expect(await servedFingerprint(port)).toBe(fingerprintOf(next.cert));
    expect(tb.broker.tls!.certificate.fingerprint256).toBe(fingerprintOf(next.cert));
    expect(await roundTrip(before, 'old-conn', 'and still')).toBe('and still');
  });

  it('a broker without TLS has nothing to reload', async () => {
    const tb = await startTestBroker();
    brokers.push(tb);
    await expect(tb.broker.reloadTls()).rejects.toMatchObject({ code: ErrorCodes.PRECONDITION_FAILED });
  });
});

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('plain TCP off', () => {
  it('listens only for TLS: plain connections are refused', async () => {
    const port = await freePort();
    const tb = await start({}, { port, tcp: false });
    expect(tb.broker.port).toBe(tb.broker.tlsPort);
    const refused = await refusal({ url: `warren://guest:guest@127.0.0.1:${port}` });
    expect((refused.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    // Plain frames sent to the TLS port are no TLS handshake: dropped.
    const garbled = await refusal({ url: `warren://guest:guest@127.0.0.1:${tb.broker.tlsPort}` });
    expect(garbled).toBeInstanceOf(WarrenError);
    const conn = await open({ url: tlsUrl(tb), tls: trustCa() });
    expect(await roundTrip(conn, 'q', 'tls only')).toBe('tls only');
  });

  it('needs TLS', async () => {
    await expect(startTestBroker({ tcp: false })).rejects.toThrow(/listen on nothing/);
  });
});

describe('the client over TLS', () => {
  it('reconnects over TLS after a broker restart on the same port', async () => {
    const first = await start();
    const port = first.broker.tlsPort!;
    const conn = await connect({ url: `warrens://guest:guest@127.0.0.1:${port}`, tls: trustCa(), reconnect: { initialDelayMs: 5, maxDelayMs: 50 } });
    conns.push(conn);
    await conn.declareQueue('survivor'); // re-declared by the client after the reconnect
    const reconnected = nextEvent<StatusEvent>(conn, 'connected');
    await first.broker.close();
    const second = await start({ port }, { dataDir: first.dataDir });
    await reconnected;
    expect(await roundTrip(conn, 'survivor', 'back')).toBe('back');
    expect(second.broker.connectionList()[0]!.tls).not.toBeNull();
  });
});
