/**
 * Users, tags, permissions and user limits (issue 20; protocol-spec 8.8),
 * on real brokers: every refusal is ACCESS_REFUSED on that request only,
 * changes apply to a connected user's next operation, a deleted user's
 * connections are closed, and everything survives a restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { connect, ErrorCodes, PublishNackedError, WarrenError, type Connection } from '@warren/client';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { until } from '../../../test-support/wait.js';

const ADMIN = { username: 'admin', password: 'admin-pw' };
const FULL = { configure: '.*', write: '.*', read: '.*' };

let tb: TestBroker | undefined;
const conns: Connection[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) await c.close().catch(() => {});
  await tb?.stop();
  tb = undefined;
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function open(user: string, password: string): Promise<Connection> {
  const c = await connect({ url: `warren://${user}:${password}@127.0.0.1:${tb!.port}`, reconnect: false });
  conns.push(c);
  return c;
}

async function refusal(p: Promise<unknown>): Promise<WarrenError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WarrenError);
  return err as WarrenError;
}

/** A broker seeded with one administrator, and a connection as that administrator. */
/** An administrator's exchange 'secret' bound to its queue 'secret.q', and user 'app' with every permission on 'app.*' only. */
async function secretAndApp(): Promise<{ admin: Connection; app: Connection }> {
    const admin = await brokerWithAdmin();
    await admin.declareExchange('secret', 'fanout');
    await admin.declareQueue('secret.q');
    await admin.bindQueue('secret.q', 'secret');
    await admin.users.add('app', 'app-pw');
    await admin.users.setPermissions('app', '/', { configure: '^app\\.', write: '^app\\.', read: '^app\\.' });
    const app = await open('app', 'app-pw');
  return { admin, app };
}

async function brokerWithAdmin(options: Parameters<typeof startTestBroker>[0] = {}): Promise<Connection> {
  tb = await startTestBroker({ users: [ADMIN], ...options });
  return open(ADMIN.username, ADMIN.password);
}

describe('permissions', () => {
  it('a user without write permission cannot publish to an exchange but can still consume where allowed', async () => {
    const admin = await brokerWithAdmin();
    await admin.declareExchange('orders', 'direct');
    await admin.declareQueue('orders.q');
    await admin.bindQueue('orders.q', 'orders', 'new');
    await admin.users.add('reader', 'reader-pw');
    await admin.users.setPermissions('reader', '/', { configure: '', write: '', read: '^orders\\.q$' });
    await admin.publish('orders', 'new', 'one');

    const reader = await open('reader', 'reader-pw');
    const err = await refusal(reader.publish('orders', 'new', 'two'));
    expect(err).toBeInstanceOf(PublishNackedError);
    expect(err.code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect(err.message).toBe("user 'reader' may not PUBLISH exchange 'orders' in vhost '/': no write permission");
    // The connection stays open: reading where allowed works.
    const m = await reader.get('orders.q', { noAck: true });
    expect(m?.body.toString()).toBe('one');
    const got: string[] = [];
    await reader.consume('orders.q', (msg) => void got.push(msg.body.toString()), { noAck: true });
    await admin.publish('orders', 'new', 'three');
    await until(() => got.length === 1);
    expect(got).toEqual(['three']);
    // Configuring and reading elsewhere are refused, each on its own request.
    expect((await refusal(reader.declareQueue('mine'))).message).toBe("user 'reader' may not QUEUE_DECLARE queue 'mine' in vhost '/': no configure permission");
    expect((await refusal(reader.get('other'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    // The default exchange is checked as amq.default.
    expect((await refusal(reader.publish('', 'orders.q', 'x'))).message).toMatch(/exchange 'amq\.default'/);
    expect(await reader.get('orders.q')).toBeNull();
  });

  it('binding needs write on the queue and read on the exchange', async () => {
    const admin = await brokerWithAdmin();
    await admin.declareExchange('events', 'topic');
    await admin.declareQueue('app.events');
    await admin.users.add('app', 'app-pw');
    await admin.users.setPermissions('app', '/', { configure: '^app\\.', write: '^app\\.', read: '^app\\.' });
    const app = await open('app', 'app-pw');
    const err = await refusal(app.bindQueue('app.events', 'events', '#'));
    expect(err.message).toBe("user 'app' may not QUEUE_BIND exchange 'events' in vhost '/': no read permission");
    await admin.users.setPermissions('app', '/', { configure: '^app\\.', write: '^app\\.', read: '^(app\\.|events$)' });
    await app.bindQueue('app.events', 'events', '#');
    expect((await admin.listBindings()).some((b) => b.source === 'events' && b.destination === 'app.events')).toBe(true);
  });

  // Audit 2026-12-04: an exchange or queue of one's own used to be a way into any exchange of the vhost.
  it('declaring an alternate or dead-letter exchange needs write on it, as publishing there does', async () => {
    const { admin, app } = await secretAndApp();
    expect((await refusal(app.declareExchange('app.ae', 'fanout', { alternateExchange: 'secret' }))).message).toBe(
      "user 'app' may not EXCHANGE_DECLARE exchange 'secret' in vhost '/': no write permission",
    );
    expect((await refusal(app.declareExchange('app.ae2', 'fanout', { arguments: { 'alternate-exchange': 'secret' } }))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await refusal(app.declareQueue('app.dlq', { arguments: { 'x-dead-letter-exchange': 'secret', 'x-message-ttl': 0 } }))).message).toBe(
      "user 'app' may not QUEUE_DECLARE exchange 'secret' in vhost '/': no write permission",
    );
    // The default exchange as a dead-letter exchange is checked as amq.default.
    expect((await refusal(app.declareQueue('app.dlq', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'secret.q' } }))).message).toMatch(
      /exchange 'amq\.default'.*no write permission/,
    );
    // Nothing was declared; the connection is still up; exchanges it may write to are fine.
    expect((await admin.listExchanges()).some((e) => e.name.startsWith('app.'))).toBe(false);
    await app.declareExchange('app.other', 'fanout');
    await app.declareExchange('app.ae', 'fanout', { alternateExchange: 'app.other' });
    await app.declareQueue('app.dlq', { arguments: { 'x-dead-letter-exchange': 'app.other' } });
    // Passive declares set nothing and need only configure.
    await app.declareQueue('app.dlq', { passive: true });
    await app.publish('app.ae', 'k', 'unroutable');
    expect(await admin.get('secret.q')).toBeNull();
  });

  // Review of the audit: the edges of that rule.
  it('an alternate exchange of "" is checked as amq.default; with both the option and the argument, the option is checked and used', async () => {
    const { admin, app } = await secretAndApp();
    // The default exchange as an alternate one would route unroutable messages straight into secret.q.
    expect((await refusal(app.declareExchange('app.x', 'direct', { alternateExchange: '' }))).message).toMatch(/exchange 'amq\.default'.*no write permission/);
    await app.declareExchange('app.other', 'fanout');
    await app.declareQueue('app.q');
    await app.bindQueue('app.q', 'app.other');
    await app.declareExchange('app.x', 'direct', { alternateExchange: 'app.other', arguments: { 'alternate-exchange': 'secret' } });
    await app.publish('app.x', 'secret.q', 'unroutable');
    expect((await app.get('app.q'))?.body.toString()).toBe('unroutable');
    expect(await admin.get('secret.q')).toBeNull();
  });

  it('a permission change applies to the next operation without reconnecting', async () => {
    const admin = await brokerWithAdmin();
    await admin.declareQueue('jobs');
    await admin.users.add('worker', 'worker-pw');
    await admin.users.setPermissions('worker', '/', { configure: '', write: '', read: '' });
    const worker = await open('worker', 'worker-pw');
    expect((await refusal(worker.publish('', 'jobs', 'a'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    await admin.users.setPermissions('worker', '/', { configure: '', write: '^amq\\.default$', read: '^jobs$' });
    await worker.publish('', 'jobs', 'b');
    expect((await worker.get('jobs', { noAck: true }))?.body.toString()).toBe('b');
    // Cleared while connected: the connection stays, its next requests are refused; a new one is refused at login.
    await admin.users.clearPermissions('worker', '/');
    expect((await refusal(worker.publish('', 'jobs', 'c'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await refusal(worker.get('jobs'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await refusal(open('worker', 'worker-pw'))).message).toBe("user 'worker' has no permissions in vhost '/'");
    // An administrator tag given later allows everything.
    await admin.users.update('worker', { tags: ['administrator'] });
    await worker.publish('', 'jobs', 'd');
    expect(await admin.users.listPermissions({ username: 'worker' })).toEqual([]);
  });

  it('refuses invalid regular expressions, unknown tags and unknown users', async () => {
    const admin = await brokerWithAdmin();
    await admin.users.add('u', 'u-pw');
    expect((await refusal(admin.users.setPermissions('u', '/', { configure: '(', write: '', read: '' }))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await refusal(admin.users.update('u', { tags: ['root' as 'administrator'] }))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await refusal(admin.users.setPermissions('nobody', '/', FULL))).code).toBe(ErrorCodes.NOT_FOUND);
    expect((await refusal(admin.users.add('u', 'again'))).code).toBe(ErrorCodes.PRECONDITION_FAILED);
    expect((await refusal(admin.users.delete('nobody'))).code).toBe(ErrorCodes.NOT_FOUND);
    expect((await refusal(admin.users.clearPermissions('u', '/'))).code).toBe(ErrorCodes.NOT_FOUND);
  });
});

describe('users', () => {
  it("a deleted user's open connections are closed with CONNECTION_FORCED, and it cannot log in again", async () => {
    const admin = await brokerWithAdmin();
    await admin.users.add('temp', 'temp-pw');
    await admin.users.setPermissions('temp', '/', FULL);
    const a = await open('temp', 'temp-pw');
    const b = await open('temp', 'temp-pw');
    await admin.users.delete('temp');
    const [ea, eb] = await Promise.all([a.closed, b.closed]);
    expect(ea?.code).toBe(ErrorCodes.CONNECTION_FORCED);
    expect(ea?.message).toBe("user 'temp' was deleted");
    expect(eb?.code).toBe(ErrorCodes.CONNECTION_FORCED);
    expect((await refusal(open('temp', 'temp-pw'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await admin.users.list()).map((u) => u.username)).toEqual(['admin']);
  });

  it('a changed password works at once and the old one stops working (the login fast path forgets it)', async () => {
    const admin = await brokerWithAdmin();
    await admin.users.add('u', 'old-pw');
    await admin.users.setPermissions('u', '/', FULL);
    const first = await open('u', 'old-pw'); // remembered by the fast path
    await admin.users.changePassword('u', 'new-pw');
    expect((await refusal(open('u', 'old-pw'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    await open('u', 'new-pw');
    // A password change does not close connections; a user may change its own password.
    await first.users.changePassword('u', 'newer-pw');
    await open('u', 'newer-pw');
  });

  it('users, tags, permissions and limits survive a restart; start-up users are re-applied, guest is not re-created', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    let admin = await brokerWithAdmin({ dataDir });
    await admin.users.add('app', 'app-pw', { tags: ['management'] });
    await admin.users.setPermissions('app', '/', { configure: '^app\\.', write: '.*', read: '^app\\.' });
    await admin.users.setLimits('app', { maxConnections: 3 });
    await admin.close();
    await tb!.stop();

    // Restarted without start-up users: no guest (users are stored), the stored admin still works.
    tb = await startTestBroker({ dataDir });
    expect((await refusal(open('guest', 'guest'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    admin = await open(ADMIN.username, ADMIN.password);
    expect(await admin.users.list()).toEqual([
      { username: 'admin', tags: ['administrator'], maxConnections: null, connections: 1 },
      { username: 'app', tags: ['management'], maxConnections: 3, connections: 0 },
    ]);
    expect(await admin.users.listPermissions({ username: 'app' })).toEqual([{ username: 'app', vhost: '/', configure: '^app\\.', write: '.*', read: '^app\\.' }]);
    const app = await open('app', 'app-pw');
    await app.declareQueue('app.q');
    expect((await refusal(app.declareQueue('other'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    await admin.users.update('admin', { tags: [] });
    await admin.close();
    await tb!.stop();

    // A start-up user given again gets its password reset and the administrator tag back.
    tb = await startTestBroker({ dataDir, users: [{ username: 'admin', password: 'rotated' }] });
    expect((await refusal(open('admin', 'admin-pw'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    admin = await open('admin', 'rotated');
    expect((await admin.users.list()).find((u) => u.username === 'admin')?.tags).toEqual(['administrator']);
  });

  it('guest is created on a first start without start-up users, with full permissions on /', async () => {
    tb = await startTestBroker({ inMemory: true });
    const guest = await open('guest', 'guest');
    expect(await guest.users.listPermissions()).toEqual([{ username: 'guest', vhost: '/', ...FULL }]);
    expect((guest.serverProperties['capabilities'] as Record<string, unknown>)['access']).toBe(true);
  });
});

describe('tags', () => {
  it('only administrators manage users; anyone may list its own permissions', async () => {
    const admin = await brokerWithAdmin();
    await admin.users.add('plain', 'plain-pw');
    await admin.users.setPermissions('plain', '/', FULL);
    const plain = await open('plain', 'plain-pw');
    for (const attempt of [
      plain.users.add('x', 'y'),
      plain.users.delete('admin'),
      plain.users.list(),
      plain.users.setPermissions('plain', '/', FULL),
      plain.users.setLimits('plain', { maxConnections: null }),
      plain.users.update('plain', { tags: ['administrator'] }),
      plain.users.changePassword('admin', 'mine-now'),
      plain.users.listPermissions(),
    ]) {
      const err = await refusal(attempt);
      expect(err.code).toBe(ErrorCodes.ACCESS_REFUSED);
      expect(err.message).toMatch(/^user 'plain' may not [A-Z_]+: needs the administrator tag$/);
    }
    expect(await plain.users.listPermissions({ username: 'plain' })).toEqual([{ username: 'plain', vhost: '/', ...FULL }]);
    // Permissions alone do not give the management lists.
    expect((await refusal(plain.listQueues())).message).toBe("user 'plain' may not QUEUE_LIST in vhost '/': needs the monitoring or management tag");
    await plain.declareQueue('q'); // but resources, yes
  });

  it('monitoring reads everything and changes nothing; management reads the vhosts it has permissions in', async () => {
    const admin = await brokerWithAdmin();
    await admin.declareQueue('q1');
    await admin.users.add('mon', 'mon-pw', { tags: ['monitoring'] });
    await admin.users.add('mgmt', 'mgmt-pw', { tags: ['management'] });
    // monitoring may connect to a vhost without permissions there; management may not.
    const mon = await open('mon', 'mon-pw');
    expect((await refusal(open('mgmt', 'mgmt-pw'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    await admin.users.setPermissions('mgmt', '/', { configure: '', write: '', read: '' });
    const mgmt = await open('mgmt', 'mgmt-pw');
    expect((await mon.listQueues()).map((q) => q.name)).toContain('q1');
    expect((await mon.status()).queues).toBe(1);
    expect((await mon.users.list()).length).toBe(3);
    expect((await mon.users.listPermissions()).map((p) => p.username)).toEqual(['admin', 'mgmt']);
    expect((await refusal(mon.declareQueue('q2'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await refusal(mon.users.add('x', 'y'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await refusal(mon.publish('', 'q1', 'x'))).code).toBe(ErrorCodes.ACCESS_REFUSED);

    expect((await mgmt.listQueues()).map((q) => q.name)).toContain('q1');
    await admin.users.update('mgmt', { tags: [] });
    expect((await refusal(mgmt.listQueues())).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await refusal(mgmt.users.list())).code).toBe(ErrorCodes.ACCESS_REFUSED);
  });
});

describe('limits and logins', () => {
  it("a user's connection limit refuses one more with RESOURCE_LIMIT naming the limit", async () => {
    const admin = await brokerWithAdmin();
    await admin.users.add('app', 'app-pw');
    await admin.users.setPermissions('app', '/', FULL);
    await admin.users.setLimits('app', { maxConnections: 2 });
    const a = await open('app', 'app-pw');
    await open('app', 'app-pw');
    const err = await refusal(open('app', 'app-pw'));
    expect(err.code).toBe(ErrorCodes.RESOURCE_LIMIT);
    expect(err.message).toBe("user 'app' has reached its limit of 2 connections");
    expect((await admin.users.list()).find((u) => u.username === 'app')?.connections).toBe(2);
    await a.close();
    await until(async () => (await admin.users.list()).find((u) => u.username === 'app')?.connections === 1);
    await open('app', 'app-pw');
    // No limit again.
    await admin.users.setLimits('app', { maxConnections: null });
    await open('app', 'app-pw');
  });

  it('failed logins are logged with the address and the user, never the password', async () => {
    const logs: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const admin = await brokerWithAdmin({ logger: pino({ level: 'warn' }, sink) });
    await admin.users.add('app', 'app-pw');
    expect((await refusal(open('app', 'wrong-secret'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await refusal(open('ghost', 'other-secret'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    const failed = logs.filter((l) => l['msg'] === 'authentication failed');
    expect(failed).toMatchObject([
      { user: 'app', remote: '127.0.0.1', reason: 'wrong password' },
      { user: 'ghost', remote: '127.0.0.1', reason: 'unknown user' },
    ]);
    expect(JSON.stringify(logs)).not.toMatch(/secret|app-pw/);
  });
});

describe('streams and buckets', () => {
  it('key-value frames are checked by their access kind on the bucket name', async () => {
    const admin = await brokerWithAdmin();
    const config = await admin.kv('app-config');
    await config.put('feature.x', 'on');
    await admin.kv('secrets');
    await admin.users.add('app', 'app-pw');
    await admin.users.setPermissions('app', '/', { configure: '', write: '', read: '^app-' });
    const app = await open('app', 'app-pw');
    const mine = await app.kv('app-config', { passive: true }).catch((e: unknown) => e);
    // Opening a bucket is a create: configure.
    expect((mine as WarrenError).message).toBe("user 'app' may not KV_BUCKET_CREATE bucket 'app-config' in vhost '/': no configure permission");
    await admin.users.setPermissions('app', '/', { configure: '^app-', write: '', read: '^app-' });
    const bucket = await app.kv('app-config', { passive: true });
    expect((await bucket.get('feature.x'))?.value.toString()).toBe('on');
    expect((await refusal(bucket.put('feature.x', 'off'))).message).toBe("user 'app' may not KV_PUT bucket 'app-config' in vhost '/': no write permission");
    expect((await refusal(app.kv('secrets', { passive: true }))).code).toBe(ErrorCodes.ACCESS_REFUSED);
  });

  it('stream subscriptions need read on the stream', async () => {
    const admin = await brokerWithAdmin();
    await admin.declareQueue('events', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    await admin.users.add('app', 'app-pw');
    await admin.users.setPermissions('app', '/', { configure: '', write: '', read: '^audit$' });
    const app = await open('app', 'app-pw');
    const err = await refusal(app.consumeStream('events', () => {}, { offset: 'first' }));
    expect(err.message).toBe("user 'app' may not STREAM_SUBSCRIBE stream 'events' in vhost '/': no read permission");
    await admin.users.setPermissions('app', '/', { configure: '', write: '', read: '^(audit|events)$' });
    await app.consumeStream('events', () => {}, { offset: 'first' });
  });
});

describe('vhosts', () => {
  it("deleting a vhost drops every user's permissions there, and only there; permissions name existing vhosts", async () => {
    const admin = await brokerWithAdmin();
    await admin.vhosts.add('staging');
    await admin.users.add('app', 'app-pw');
    expect((await refusal(admin.users.setPermissions('app', 'nowhere', FULL))).message).toBe("vhost 'nowhere' not found");
    await admin.users.setPermissions('app', 'staging', FULL);
    await admin.users.setPermissions('app', '/', FULL);
    const conn = await connect({ url: `warren://app:app-pw@127.0.0.1:${tb!.port}/staging`, reconnect: false });
    conns.push(conn);
    await admin.vhosts.delete('staging');
    expect((await conn.closed)?.code).toBe(ErrorCodes.CONNECTION_FORCED);
    expect((await admin.users.listPermissions({ username: 'app' })).map((p) => p.vhost)).toEqual(['/']);
    // Added again under the name, it starts with no permissions: app may not log in there.
    await admin.vhosts.add('staging');
    const again = await connect({ url: `warren://app:app-pw@127.0.0.1:${tb!.port}/staging`, reconnect: false }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: ErrorCodes.ACCESS_REFUSED, message: "user 'app' has no permissions in vhost 'staging'" });
  });
});
