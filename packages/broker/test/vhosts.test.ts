/** Virtual hosts: isolated namespaces picked at OPEN, their durable state, their deletion and limits. */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { ErrorCodes } from '@warren/protocol';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';

const brokers: TestBroker[] = [];
const conns: Connection[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) await c.close().catch(() => {});
  for (const b of brokers.splice(0)) await b.stop();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function broker(options: { dataDir?: string; inMemory?: boolean } = {}): Promise<TestBroker> {
  const tb = await startTestBroker(options);
  brokers.push(tb);
  return tb;
}

async function open(tb: TestBroker, vhost?: string): Promise<Connection> {
  const url = vhost === undefined ? tb.url : `${tb.url}/${encodeURIComponent(vhost)}`;
  const c = await connect({ url, reconnect: false });
  conns.push(c);
  return c;
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

  it('key-value buckets are per vhost', async () => {
    const tb = await broker();
    await tb.broker.vhosts.add('a');
    const a = await open(tb, 'a');
    const root = await open(tb);
    const bucket = await a.kv('settings');
    await bucket.put('k', 'in a');
    expect(await root.listKv()).toEqual([]);
    expect((await a.listKv()).map((b) => b.name)).toEqual(['settings']);
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
    const dataDir = await tempDir();
    dirs.push(dataDir);
    let tb = await broker({ dataDir });
    const root = await open(tb);
    await root.declareQueue('q', { durable: true });
    await root.publish('', 'q', 'in root', { persistent: true });
    await tb.broker.vhosts.add('prod');
    const prod = await open(tb, 'prod');
    await prod.declareQueue('q', { durable: true });
    await prod.publish('', 'q', 'in prod 1', { persistent: true });
    await prod.publish('', 'q', 'in prod 2', { persistent: true });
    for (const c of conns.splice(0)) await c.close();
    await brokers.pop()!.stop();

    tb = await broker({ dataDir });
    expect([...tb.broker.vhosts].map((v) => v.name).sort()).toEqual(['/', 'prod']);
    const prodAgain = await open(tb, 'prod');
    const rootAgain = await open(tb);
    expect((await prodAgain.declareQueue('q', { passive: true })).messageCount).toBe(2);
    expect((await rootAgain.declareQueue('q', { passive: true })).messageCount).toBe(1);
    expect((await prodAgain.get('q', { noAck: true }))!.body.toString()).toBe('in prod 1');
  });
});
