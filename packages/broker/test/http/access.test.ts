/**
 * Management HTTP API: who may do what (tags and per-vhost permissions, as
 * the wire protocol), users, permissions, limits, vhosts, definitions, and
 * HTTPS with the broker's certificate (issue 21).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { connect, ErrorCodes } from '@warren/client';
import { ADMIN, basic, startHttpBroker, type HttpTestBroker } from '../../../../test-support/http-api.js';
import { makeTestPki, type TestPki } from '../../../../test-support/tls-certs.js';

let tb: HttpTestBroker | undefined;
let pki: TestPki | undefined;
afterEach(async () => {
  await tb?.stop();
  tb = undefined;
  await pki?.remove();
  pki = undefined;
});

const FULL = { configure: '.*', write: '.*', read: '.*' };
const MGMT = { username: 'mgmt', password: 'mgmt-pw' };
const MON = { username: 'mon', password: 'mon-pw' };

/** mgmt: management with permissions in 'team' only (reads and writes 'app.*' only); mon: monitoring, no permissions. */
async function setUp(): Promise<HttpTestBroker> {
  const b = await startHttpBroker();
  expect((await b.put('/api/vhosts/team', {})).status).toBe(201);
  expect((await b.put(`/api/users/${MGMT.username}`, { password: MGMT.password, tags: ['management'] })).status).toBe(201);
  expect((await b.put(`/api/users/${MON.username}`, { password: MON.password, tags: ['monitoring'] })).status).toBe(201);
  expect((await b.put('/api/permissions/team/mgmt', { configure: '^app\\.', write: '^app\\.', read: '^app\\.' })).status).toBe(200);
  await b.put('/api/queues/%2F/root-q', {});
  await b.put('/api/queues/team/app.jobs', {});
  await b.put('/api/queues/team/secret', {});
  return b;
}

describe('management HTTP API: authorization', () => {
  it('management sees only the vhosts it has permissions in, and changes only what they allow', async () => {
    tb = await setUp();
    const queues = await tb.get('/api/queues', { user: MGMT });
    expect(queues.body.items.map((q: { vhost: string; name: string }) => `${q.vhost}/${q.name}`).sort()).toEqual(['team/app.jobs', 'team/secret']);
    expect((await tb.get('/api/queues/%2F', { user: MGMT })).status).toBe(403);
    expect((await tb.get('/api/queues/%2F/root-q', { user: MGMT })).status).toBe(403);
    expect((await tb.get('/api/vhosts', { user: MGMT })).body.map((v: { name: string }) => v.name)).toEqual(['team']);

    // Permissions: configure '^app\.' lets it declare app.* but not other names.
    expect((await tb.put('/api/queues/team/app.new', {}, { user: MGMT })).status).toBe(201);
    const refused = await tb.put('/api/queues/team/other', {}, { user: MGMT });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: ErrorCodes.ACCESS_REFUSED, name: 'ACCESS_REFUSED' });
    expect(refused.body.error.message).toContain('configure');
    expect((await tb.del('/api/queues/team/secret/contents', { user: MGMT })).status).toBe(403);
    expect((await tb.del('/api/queues/team/app.jobs/contents', { user: MGMT })).status).toBe(200);
    // Publishing needs write on the exchange: amq.default does not match '^app\.'.
    expect((await tb.post('/api/exchanges/team/amq.default/publish', { routingKey: 'app.jobs', payload: 'x' }, { user: MGMT })).status).toBe(403);
    // Administration needs the administrator tag.
    expect((await tb.put('/api/users/someone', { password: 'x', tags: [] }, { user: MGMT })).status).toBe(403);
    expect((await tb.get('/api/users', { user: MGMT })).status).toBe(403);
    expect((await tb.get('/api/definitions', { user: MGMT })).status).toBe(403);
    expect((await tb.put('/api/vhosts/x', {}, { user: MGMT })).status).toBe(403);
    // A refusal does not tell whether a vhost exists.
    expect((await tb.put('/api/queues/nohost/app.q', {}, { user: MGMT })).status).toBe(403);
    expect((await tb.put('/api/queues/nohost/app.q', {})).status).toBe(404);
    // Its own permissions and user it may see.
    expect((await tb.get('/api/permissions', { user: MGMT })).body).toEqual([{ user: 'mgmt', vhost: 'team', configure: '^app\\.', write: '^app\\.', read: '^app\\.' }]);
    expect((await tb.get('/api/users/mgmt', { user: MGMT })).body).toMatchObject({ name: 'mgmt', tags: ['management'] });
    expect((await tb.get('/api/users/admin', { user: MGMT })).status).toBe(403);
  });

  it('monitoring reads everything and changes nothing without permissions', async () => {
    tb = await setUp();
    const queues = await tb.get('/api/queues', { user: MON });
    expect(queues.body.total_count).toBe(3);
    expect((await tb.get('/api/users', { user: MON })).status).toBe(200);
    expect((await tb.get('/api/permissions', { user: MON })).body.length).toBeGreaterThanOrEqual(2);
    expect((await tb.get('/api/overview', { user: MON })).body.totals.queues).toBe(3);
    expect((await tb.put('/api/queues/%2F/new', {}, { user: MON })).status).toBe(403);
    expect((await tb.del('/api/queues/%2F/root-q', { user: MON })).status).toBe(403);
    expect((await tb.get('/api/definitions', { user: MON })).status).toBe(403);
  });

  it('anyone may change its own password, and nothing else about itself', async () => {
    tb = await setUp();
    expect((await tb.put('/api/users/mgmt', { password: 'new-pw' }, { user: MGMT })).status).toBe(200);
    const NEW = { username: 'mgmt', password: 'new-pw' };
    expect((await tb.get('/api/whoami', { user: NEW })).status).toBe(200);
    expect((await tb.get('/api/whoami', { user: MGMT })).status).toBe(401);
    expect((await tb.put('/api/users/mgmt', { tags: ['administrator'] }, { user: NEW })).status).toBe(403);
  });
});

describe('management HTTP API: users, permissions, limits, vhosts', () => {
  it('creates, lists and deletes users without ever showing a password or hash', async () => {
    tb = await startHttpBroker();
    const created = await tb.put('/api/users/alice', { password: 'alice-pw', tags: ['monitoring'] });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ name: 'alice', tags: ['monitoring'], maxConnections: null, connections: 0 });
    const list = await tb.get('/api/users');
    expect(list.text).not.toContain('scrypt');
    expect(list.text).not.toContain('alice-pw');
    expect(list.body.map((u: { name: string }) => u.name).sort()).toEqual(['admin', 'alice']);
    expect((await tb.put('/api/users/bob', { tags: [] })).status).toBe(400); // a new user needs a password
    expect((await tb.put('/api/users/alice', { tags: ['wizard'] })).status).toBe(400);
    expect((await tb.del('/api/users/alice')).status).toBe(204);
    expect((await tb.get('/api/users/alice')).status).toBe(404);
    expect((await tb.get('/api/whoami', { user: { username: 'alice', password: 'alice-pw' } })).status).toBe(401);
  });

  it('sets and clears permissions, and deleting a user closes its connections', async () => {
    tb = await startHttpBroker();
    await tb.put('/api/users/carol', { password: 'carol-pw', tags: [] });
    expect((await tb.put('/api/permissions/%2F/carol', FULL)).body).toEqual({ user: 'carol', vhost: '/', ...FULL });
    expect((await tb.get('/api/permissions/%2F/carol')).body).toEqual({ user: 'carol', vhost: '/', ...FULL });
    expect((await tb.get('/api/users/carol/permissions')).body).toHaveLength(1);
    expect((await tb.put('/api/permissions/%2F/carol', { configure: '(' , write: '', read: '' })).status).toBe(400);
    expect((await tb.put('/api/permissions/nohost/carol', FULL)).status).toBe(404);
    expect((await tb.put('/api/permissions/%2F/carol', { configure: '.*' })).status).toBe(400);
    const conn = await connect({ url: `warren://carol:carol-pw@127.0.0.1:${tb.port}`, reconnect: false });
    const closed = new Promise<number | undefined>((resolve) => conn.once('closed', (e) => resolve(e.error?.code)));
    expect((await tb.del('/api/users/carol')).status).toBe(204);
    expect(await closed).toBe(ErrorCodes.CONNECTION_FORCED);
    expect((await tb.get('/api/permissions/%2F/carol')).status).toBe(404);
  });

  it('user and vhost limits', async () => {
    tb = await startHttpBroker();
    await tb.put('/api/users/dave', { password: 'dave-pw', tags: [] });
    await tb.put('/api/permissions/%2F/dave', FULL);
    expect((await tb.put('/api/limits/user/dave', { maxConnections: 1 })).body).toEqual({ user: 'dave', maxConnections: 1 });
    expect((await tb.put('/api/limits/user/dave', { maxConnections: 'one' })).status).toBe(400);
    await tb.put('/api/vhosts/small', {});
    expect((await tb.put('/api/limits/vhost/small', { maxQueues: 1 })).body).toEqual({ vhost: 'small', maxConnections: null, maxQueues: 1 });
    expect((await tb.put('/api/queues/small/one', {})).status).toBe(201);
    const over = await tb.put('/api/queues/small/two', {});
    expect(over.status).toBe(429);
    expect(over.body.error.name).toBe('RESOURCE_LIMIT');
    const limits = await tb.get('/api/limits');
    expect(limits.body).toEqual({ users: [{ user: 'dave', maxConnections: 1 }], vhosts: [{ vhost: 'small', maxConnections: null, maxQueues: 1 }] });
    expect((await tb.del('/api/limits/vhost/small')).status).toBe(204);
    expect((await tb.del('/api/limits/user/dave')).status).toBe(204);
    expect((await tb.get('/api/limits')).body).toEqual({ users: [], vhosts: [] });
    expect((await tb.put('/api/limits/vhost/nohost', { maxQueues: 1 })).status).toBe(404);
  });

  it('vhosts: create with limits, show, change, delete', async () => {
    tb = await startHttpBroker();
    const created = await tb.put('/api/vhosts/staging', { limits: { maxConnections: 5 } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ name: 'staging', connections: 0, queues: 0, messages: 0, maxConnections: 5, maxQueues: null });
    expect((await tb.put('/api/vhosts/staging', { limits: { maxQueues: 3 } })).body).toMatchObject({ maxConnections: 5, maxQueues: 3 });
    expect((await tb.get('/api/vhosts')).body.map((v: { name: string }) => v.name)).toEqual(['/', 'staging']);
    expect((await tb.get('/api/vhosts/staging')).body.name).toBe('staging');
    expect((await tb.del('/api/vhosts/staging')).status).toBe(204);
    expect((await tb.get('/api/vhosts/staging')).status).toBe(404);
    expect((await tb.del('/api/vhosts/%2F')).status).toBe(409);
  });
});

describe('management HTTP API: definitions', () => {
  it('exports and imports idempotently into a fresh broker', async () => {
    tb = await startHttpBroker();
    await tb.put('/api/vhosts/prod', { limits: { maxQueues: 100 } });
    await tb.put('/api/users/svc', { password: 'svc-pw', tags: ['management'] });
    await tb.put('/api/permissions/prod/svc', FULL);
    await tb.put('/api/exchanges/prod/orders', { type: 'topic' });
    await tb.put('/api/exchanges/prod/audit', { type: 'fanout' });
    await tb.put('/api/queues/prod/eu', { arguments: { 'x-message-ttl': 60000 } });
    await tb.put('/api/queues/prod/transient', { durable: false });
    await tb.post('/api/bindings/prod/e/orders/q/eu', { routingKey: 'eu.#' });
    await tb.post('/api/bindings/prod/e/orders/e/audit', { routingKey: '#' });
    const exported = await tb.get('/api/definitions');
    expect(exported.status).toBe(200);
    const doc = exported.body;
    expect(doc.vhosts).toEqual([{ name: '/', limits: { maxConnections: null, maxQueues: null } }, { name: 'prod', limits: { maxConnections: null, maxQueues: 100 } }]);
    expect(doc.users.find((u: { name: string }) => u.name === 'svc')).toMatchObject({ tags: ['management'], passwordHash: expect.stringMatching(/^scrypt\$/) });
    expect(doc.queues).toEqual([{ vhost: 'prod', name: 'eu', durable: true, autoDelete: false, arguments: { 'x-message-ttl': 60000 } }]);
    expect(doc.exchanges.map((e: { name: string }) => e.name).sort()).toEqual(['audit', 'orders']);
    expect(doc.bindings).toHaveLength(2);
    expect(doc.policies).toEqual([]);
    await tb.stop();

    tb = await startHttpBroker();
    const first = await tb.post('/api/definitions', doc);
    expect(first.status).toBe(200);
    expect(first.body.imported).toMatchObject({ vhosts: 2, exchanges: 2, queues: 1, bindings: 2 });
    const again = await tb.post('/api/definitions', doc);
    expect(again.status).toBe(200);
    const reexported = (await tb.get('/api/definitions')).body;
    expect({ ...reexported, users: undefined }).toEqual({ ...doc, users: undefined });
    // The imported user logs in with its password (the hash travelled).
    expect((await tb.get('/api/whoami', { user: { username: 'svc', password: 'svc-pw' } })).body).toEqual({ name: 'svc', tags: ['management'] });
    expect((await tb.get('/api/queues/prod/eu/bindings')).body.map((b: { source: string }) => b.source)).toEqual(['', 'orders']);
  });

  it('a malformed document changes nothing; a conflicting one is a 409', async () => {
    tb = await startHttpBroker();
    const bad = await tb.post('/api/definitions', { vhosts: [{ name: 'a' }], queues: [{ vhost: 'a' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('queues[0]');
    expect((await tb.get('/api/vhosts/a')).status).toBe(404);
    await tb.put('/api/queues/%2F/q', { durable: true });
    const conflict = await tb.post('/api/definitions', { queues: [{ vhost: '/', name: 'q', durable: true, arguments: { 'x-max-length': 1 } }] });
    expect(conflict.status).toBe(409);
    expect((await tb.post('/api/definitions', { policies: [{ name: 'p' }] })).status).toBe(400);
  });
});

describe('management HTTP API: HTTPS', () => {
  it('serves HTTPS with the broker TLS certificate', async () => {
    pki = await makeTestPki();
    tb = await startHttpBroker({ tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, port: 0 } });
    expect(tb.base).toMatch(/^https:/);
    expect(tb.broker.listeners()).toContainEqual({ protocol: 'https', port: tb.httpPort });
    const ca = readFileSync(pki.ca.cert);
    const get = (path: string) =>
      new Promise<{ status: number; body: string; subject: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: tb!.httpPort, path, ca, servername: 'localhost', agent: false, headers: { authorization: basic(ADMIN) } },
          (res) => {
            const subject = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode!, body, subject }));
          },
        );
        req.on('error', reject).end();
      });
    const res = await get('/api/whoami');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ name: 'admin', tags: ['administrator'] });
    expect(res.subject).toBe('localhost');
    // A TLS connection with a client certificate shows its TLS side in the connection list.
    const alice = pki.client('alice');
    const conn = await connect({
      url: `warrens://${ADMIN.username}:${ADMIN.password}@127.0.0.1:${tb.broker.tlsPort}`,
      tls: { ca, cert: readFileSync(alice.cert), key: readFileSync(alice.key) },
      reconnect: false,
    });
    try {
      const list = JSON.parse((await get('/api/connections')).body) as { items: { tls: unknown }[] };
      expect(list.items[0]!.tls).toMatchObject({ protocol: expect.stringMatching(/^TLSv1\.[23]$/), cipher: expect.any(String), peerCN: 'alice', peerVerified: true });
    } finally {
      await conn.close();
    }
    // A reload of the certificate reaches the HTTPS listener too.
    const next = pki.newServer('reloaded');
    const { copyFile } = await import('node:fs/promises');
    await copyFile(next.cert, pki.server.cert);
    await copyFile(next.key, pki.server.key);
    await tb.broker.reloadTls();
    const after = await get('/api/health');
    expect(after.subject).toBe('reloaded');
  });
});
