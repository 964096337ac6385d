/** Virtual hosts: isolated namespaces picked at OPEN, their durable state, their deletion and limits. */
import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { ErrorCodes } from '@warren/protocol';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { killAllChildren, spawnBroker } from '../../../test-support/broker-process.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';

const brokers: TestBroker[] = [];
const conns: Connection[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) await c.close().catch(() => {});
  await killAllChildren();
  for (const b of brokers.splice(0)) await b.stop();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function broker(options: { dataDir?: string; inMemory?: boolean } = {}): Promise<TestBroker> {
  const tb = await startTestBroker(options);
  brokers.push(tb);
  return tb;
}

async function open(tb: { url: string }, vhost?: string): Promise<Connection> {
  const url = vhost === undefined ? tb.url : `${tb.url}/${encodeURIComponent(vhost)}`;
  const c = await connect({ url, reconnect: false, heartbeatMs: 0 });
  c.on('serverError', () => {});
  conns.push(c);
  return c;
}

async function newDataDir(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

async function restart(dataDir: string): Promise<TestBroker> {
  for (const c of conns.splice(0)) await c.close().catch(() => {});
  await brokers.pop()!.stop();
  return broker({ dataDir });
}

async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: number; message: string };
  }
  throw new Error('expected a refusal');
}

describe('choosing a vhost at OPEN', () => {
  it('no path is the default vhost "/", and so are "/" and %2F', async () => {
    const tb = await broker();
    const plain = await open(tb);
    await plain.declareQueue('q');
    const slash = await connect({ url: `${tb.url}/%2F`, reconnect: false });
    conns.push(slash);
    expect((await slash.declareQueue('q', { passive: true })).queue).toBe('q');
    const viaOption = await connect({ url: tb.url, vhost: '/', reconnect: false });
    conns.push(viaOption);
    expect((await viaOption.listQueues()).map((q) => q.name)).toEqual(['q']);
  });

  it('an unknown vhost is refused with ACCESS_REFUSED, the same refusal as a wrong password', async () => {
    const tb = await broker();
    const unknown = await refusal(connect({ url: `${tb.url}/nope`, reconnect: false }));
    const wrongPassword = await refusal(connect({ url: tb.url.replace('guest:guest', 'guest:wrong'), reconnect: false }));
    expect(unknown.code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect(unknown.message).toBe(wrongPassword.message);
    expect(unknown.message).not.toContain('nope');
  });

  it('a vhost added at run time can be opened; a deleted one is refused again', async () => {
    const tb = await broker();
    expect(await tb.broker.vhosts.add('prod')).toBe(true);
    expect(await tb.broker.vhosts.add('prod')).toBe(false);
    const c = await open(tb, 'prod');
    await c.declareQueue('q');
    await tb.broker.vhosts.delete('prod');
    expect((await refusal(connect({ url: `${tb.url}/prod`, reconnect: false }))).code).toBe(ErrorCodes.ACCESS_REFUSED);
  });
});

describe('isolation', () => {
  it("a vhost's queues, exchanges and bindings are invisible from another vhost", async () => {
    const tb = await broker();
    await tb.broker.vhosts.add('a');
    const a = await open(tb, 'a');
    const root = await open(tb);
    await a.declareExchange('ex', 'direct');
    await a.declareQueue('only-in-a');
    await a.bindQueue('only-in-a', 'ex', 'k');
    expect((await a.listQueues()).map((q) => q.name)).toEqual(['only-in-a']);
    expect(await root.listQueues()).toEqual([]);
    expect((await root.listExchanges()).map((e) => e.name)).not.toContain('ex');
    expect(await root.listBindings()).toEqual([]);
    expect((await refusal(root.declareQueue('only-in-a', { passive: true }))).code).toBe(ErrorCodes.NOT_FOUND);
    expect((await refusal(root.publish('ex', 'k', 'x'))).code).toBe(ErrorCodes.NOT_FOUND);
  });

  it('the same queue name in two vhosts names two different queues', async () => {
    const tb = await broker();
    await tb.broker.vhosts.add('a');
    await tb.broker.vhosts.add('b');
    const a = await open(tb, 'a');
    const b = await open(tb, 'b');
    await a.declareQueue('jobs');
    await b.declareQueue('jobs');
    await a.publish('', 'jobs', 'for a');
    await b.publish('', 'jobs', 'for b 1');
    await b.publish('', 'jobs', 'for b 2');
    expect((await a.declareQueue('jobs', { passive: true })).messageCount).toBe(1);
    expect((await b.declareQueue('jobs', { passive: true })).messageCount).toBe(2);
    expect((await a.get('jobs', { noAck: true }))!.body.toString()).toBe('for a');
    expect((await a.get('jobs', { noAck: true }))).toBeNull();
    expect((await b.get('jobs', { noAck: true }))!.body.toString()).toBe('for b 1');
  });

  it('streams and key-value buckets are per vhost', async () => {
    const tb = await broker();
    await tb.broker.vhosts.add('a');
    const a = await open(tb, 'a');
    const root = await open(tb);
    const bucket = await a.kv('settings');
    await bucket.put('k', 'in a');
    expect(await root.listKv()).toEqual([]);
    expect((await a.listKv()).map((b) => b.name)).toEqual(['settings']);
    await a.declareStream('events');
    await a.publish('', 'events', 'e1');
    expect(await root.listStreams()).toEqual([]);
    expect((await refusal(root.streamInfo('events'))).code).toBe(ErrorCodes.NOT_FOUND);
    expect((await a.streamInfo('events')).messages).toBe(1);
  });

  it('STATUS counts every vhost', async () => {
    const tb = await broker();
    await tb.broker.vhosts.add('a');
    const a = await open(tb, 'a');
    const root = await open(tb);
    await a.declareQueue('q1');
    await root.declareQueue('q2');
    const status = await root.status();
    expect(status).toMatchObject({ vhosts: 2, queues: 2 });
  });
});

describe('durability', () => {
  it('a vhost survives a restart with its durable queues and messages; an old data folder is vhost "/"', async () => {
    const dataDir = await newDataDir();
    let tb = await broker({ dataDir });
    const root = await open(tb);
    await root.declareQueue('q', { durable: true });
    await root.publish('', 'q', 'in root', { persistent: true });
    await tb.broker.vhosts.add('prod');
    const prod = await open(tb, 'prod');
    await prod.declareQueue('q', { durable: true });
    await prod.publish('', 'q', 'in prod 1', { persistent: true });
    await prod.publish('', 'q', 'in prod 2', { persistent: true });
    tb = await restart(dataDir);
    expect([...tb.broker.vhosts].map((v) => v.name).sort()).toEqual(['/', 'prod']);
    const prodAgain = await open(tb, 'prod');
    const rootAgain = await open(tb);
    expect((await prodAgain.declareQueue('q', { passive: true })).messageCount).toBe(2);
    expect((await rootAgain.declareQueue('q', { passive: true })).messageCount).toBe(1);
    expect((await prodAgain.get('q', { noAck: true }))!.body.toString()).toBe('in prod 1');
  });
});

describe('managing vhosts over the protocol (VHOST_ADD, VHOST_DELETE, VHOST_LIST)', () => {
  it('adds, lists with counts and limits, and deletes', async () => {
    const tb = await broker();
    const admin = await open(tb);
    await admin.vhosts.add('prod', { maxQueues: 5 });
    const prod = await open(tb, 'prod');
    await prod.declareQueue('q');
    await prod.publish('', 'q', 'x');
    expect(await admin.vhosts.list()).toEqual([
      { name: '/', connections: 1, queues: 0, messages: 0, maxConnections: null, maxQueues: null },
      { name: 'prod', connections: 1, queues: 1, messages: 1, maxConnections: null, maxQueues: 5 },
    ]);
    await admin.vhosts.delete('prod');
    expect((await admin.vhosts.list()).map((v) => v.name)).toEqual(['/']);
  });

  it('refuses what it cannot do, on that request only', async () => {
    const tb = await broker();
    const admin = await open(tb);
    await admin.vhosts.add('a');
    expect((await refusal(admin.vhosts.add('a'))).code).toBe(ErrorCodes.PRECONDITION_FAILED);
    expect((await refusal(admin.vhosts.add(''))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await refusal(admin.vhosts.add('x'.repeat(256)))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await refusal(admin.vhosts.add('b', { maxQueues: -1 }))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await refusal(admin.vhosts.delete('/'))).code).toBe(ErrorCodes.PRECONDITION_FAILED);
    expect((await refusal(admin.vhosts.delete('nope'))).code).toBe(ErrorCodes.NOT_FOUND);
    expect((await refusal(admin.vhosts.setLimits('nope', { maxQueues: 1 }))).code).toBe(ErrorCodes.NOT_FOUND);
    expect((await admin.vhosts.list()).map((v) => v.name)).toEqual(['/', 'a']);
  });

  it("deleting a vhost closes its connections (CONNECTION_FORCED) and removes its contents; other vhosts' stay", async () => {
    const tb = await broker();
    const admin = await open(tb);
    await admin.vhosts.add('doomed');
    const inside = await open(tb, 'doomed');
    await inside.declareQueue('q', { durable: true });
    await inside.publish('', 'q', 'gone', { persistent: true });
    await admin.declareQueue('q', { durable: true });
    await admin.publish('', 'q', 'stays', { persistent: true });
    await admin.vhosts.delete('doomed');
    expect(await inside.closed).toMatchObject({ code: ErrorCodes.CONNECTION_FORCED, message: "vhost 'doomed' was deleted" });
    await admin.vhosts.add('doomed');
    const again = await open(tb, 'doomed');
    expect(await again.listQueues()).toEqual([]);
    expect((await admin.declareQueue('q', { passive: true })).messageCount).toBe(1);
  });
});

describe('deleting is durable', () => {
  /** Vhost 'doomed' with a durable queue holding a persistent message; returns a connection to '/'. */
  async function fillDoomed(tb: TestBroker): Promise<Connection> {
    const admin = await open(tb);
    await admin.vhosts.add('doomed');
    const inside = await open(tb, 'doomed');
    await inside.declareQueue('q', { durable: true });
    await inside.publish('', 'q', 'gone', { persistent: true });
    await inside.close();
    return admin;
  }

  /** Only '/' is left, no vhost folder, and 'doomed' added again starts empty. */
  async function expectDoomedGone(tb: TestBroker, dataDir: string): Promise<void> {
    expect([...tb.broker.vhosts].map((v) => v.name)).toEqual(['/']);
    expect(await readdir(join(dataDir, 'vhosts'))).toEqual([]);
    await tb.broker.vhosts.add('doomed');
    expect(tb.broker.vhosts.get('doomed')!.queues.size).toBe(0);
  }

  it('after a restart the deleted vhost and its messages are gone, and its folder too', async () => {
    const dataDir = await newDataDir();
    let tb = await broker({ dataDir });
    const admin = await fillDoomed(tb);
    await admin.vhosts.delete('doomed');
    tb = await restart(dataDir);
    await expectDoomedGone(tb, dataDir);
  });

  it('a delete cut short after its commit (folder still on disk) finishes at the next start', async () => {
    const dataDir = await newDataDir();
    let tb = await broker({ dataDir });
    const admin = await fillDoomed(tb);
    // Keep the folder as it was, delete, then put it back: the state of a crash between the registry save and the removal.
    const [folder] = await readdir(join(dataDir, 'vhosts'));
    const saved = await newDataDir();
    await cp(join(dataDir, 'vhosts', folder!), saved, { recursive: true });
    await admin.vhosts.delete('doomed');
    tb = await restart(dataDir);
    await cp(saved, join(dataDir, 'vhosts', folder!), { recursive: true });
    tb = await restart(dataDir);
    await expectDoomedGone(tb, dataDir);
  });

  it('SIGKILL right after VHOST_DELETE is answered: the vhost stays deleted', async () => {
    const dataDir = await newDataDir();
    let child = await spawnBroker(dataDir);
    const admin = await open(child);
    await admin.vhosts.add('doomed');
    await admin.vhosts.add('kept');
    for (const name of ['doomed', 'kept']) {
      const c = await open(child, name);
      await c.declareQueue('q', { durable: true });
      await c.publish('', 'q', name, { persistent: true });
    }
    await admin.vhosts.delete('doomed');
    await child.kill9();
    conns.splice(0);
    child = await spawnBroker(dataDir);
    const names = (await (await open(child)).vhosts.list()).map((v) => v.name);
    expect(names).toEqual(['/', 'kept']);
    expect((await refusal(open(child, 'doomed'))).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await (await open(child, 'kept')).get('q', { noAck: true }))!.body.toString()).toBe('kept');
  });
});

describe('limits', () => {
  it('maxQueues: one more queue is RESOURCE_LIMIT naming the limit; the connection stays open', async () => {
    const tb = await broker();
    const admin = await open(tb);
    await admin.vhosts.add('small', { maxQueues: 2 });
    const c = await open(tb, 'small');
    await c.declareQueue('q1');
    await c.declareQueue('q2');
    const err = await refusal(c.declareQueue('q3'));
    expect(err.code).toBe(ErrorCodes.RESOURCE_LIMIT);
    expect(err.message).toBe("vhost 'small' has reached its limit of 2 queues");
    expect((await refusal(c.declareStream('s'))).code).toBe(ErrorCodes.RESOURCE_LIMIT);
    await c.declareQueue('q1'); // re-declaring an existing queue is not a new one
    await admin.declareQueue('elsewhere'); // other vhosts are not counted
    await c.deleteQueue('q2');
    await c.declareQueue('q3');
    expect(await admin.vhosts.setLimits('small', { maxQueues: null })).toEqual({ maxConnections: null, maxQueues: null });
    await c.declareQueue('q4');
  });

  it('maxConnections: one more connection is refused at the handshake with RESOURCE_LIMIT', async () => {
    const tb = await broker();
    const admin = await open(tb);
    await admin.vhosts.add('one');
    expect(await admin.vhosts.setLimits('one', { maxConnections: 1 })).toEqual({ maxConnections: 1, maxQueues: null });
    const first = await open(tb, 'one');
    const err = await refusal(open(tb, 'one'));
    expect(err.code).toBe(ErrorCodes.RESOURCE_LIMIT);
    expect(err.message).toBe("vhost 'one' has reached its limit of 1 connections");
    await open(tb); // the default vhost has no limit
    await first.close();
    await open(tb, 'one');
  });

  it('a key left out keeps its limit, nil clears it, and limits survive a restart', async () => {
    const dataDir = await newDataDir();
    let tb = await broker({ dataDir });
    const admin = await open(tb);
    await admin.vhosts.add('v', { maxConnections: 3 });
    expect(await admin.vhosts.setLimits('v', { maxQueues: 7 })).toEqual({ maxConnections: 3, maxQueues: 7 });
    expect(await admin.vhosts.setLimits('/', { maxQueues: 100 })).toEqual({ maxConnections: null, maxQueues: 100 });
    tb = await restart(dataDir);
    const list = await (await open(tb)).vhosts.list();
    expect(list.map(({ name, maxConnections, maxQueues }) => ({ name, maxConnections, maxQueues }))).toEqual([
      { name: '/', maxConnections: null, maxQueues: 100 },
      { name: 'v', maxConnections: 3, maxQueues: 7 },
    ]);
    expect(await (await open(tb)).vhosts.clearLimits('v')).toEqual({ maxConnections: null, maxQueues: null });
  });
});

describe('with access control', () => {
  const FULL = { configure: '.*', write: '.*', read: '.*' };
  const url = (tb: TestBroker, user: string, vhost: string): string =>
    `warren://${user}:${user}-pw@127.0.0.1:${tb.port}/${encodeURIComponent(vhost)}`;

  async function as(tb: TestBroker, user: string, vhost: string): Promise<Connection> {
    const c = await connect({ url: url(tb, user, vhost), reconnect: false, heartbeatMs: 0 });
    conns.push(c);
    return c;
  }

  it('managing vhosts needs the administrator tag; monitoring may list them', async () => {
    const tb = await broker();
    const admin = await open(tb);
    await admin.users.add('app', 'app-pw');
    await admin.users.setPermissions('app', '/', FULL);
    await admin.users.add('watcher', 'watcher-pw', { tags: ['monitoring'] });
    const app = await as(tb, 'app', '/');
    for (const attempt of [app.vhosts.add('x'), app.vhosts.delete('/'), app.vhosts.list(), app.vhosts.setLimits('/', { maxQueues: 1 })]) {
      const err = await refusal(attempt);
      expect(err.code).toBe(ErrorCodes.ACCESS_REFUSED);
      expect(err.message).toContain('administrator');
    }
    expect((await (await as(tb, 'watcher', '/')).vhosts.list()).map((v) => v.name)).toEqual(['/']);
    await app.declareQueue('still-open'); // refusals leave the connection open
  });

  it("permissions are per vhost, and a deleted vhost's permissions go with it", async () => {
    const tb = await broker();
    const admin = await open(tb);
    await admin.vhosts.add('a');
    await admin.users.add('app', 'app-pw');
    await admin.users.setPermissions('app', 'a', FULL);
    const inA = await as(tb, 'app', 'a');
    await inA.declareQueue('q');
    const inRoot = await as(tb, 'app', '/');
    expect((await refusal(inRoot.declareQueue('q'))).message).toContain("in vhost '/'");
    await admin.vhosts.delete('a');
    expect(await admin.users.listPermissions({ username: 'app' })).toEqual([]);
  });
});
