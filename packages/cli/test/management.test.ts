import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { connect, type Connection, type QueueInfo, type ExchangeInfo, type BindingInfo, type BrokerStatus } from '@warren/client';
import { ensureBuilt, hasStackTrace, run } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

let tb: TestBroker;
let conn: Connection;
const cli = (...args: string[]) => run([...args, '--url', tb.url]);
const queue = async (name: string) => (await conn.listQueues()).find((q) => q.name === name);

beforeAll(async () => {
  ensureBuilt();
  tb = await startTestBroker();
  conn = await connect(tb.url);
});
afterAll(async () => {
  await conn?.close();
  await tb?.stop();
});

describe('warren queue', () => {
  it('declare maps flags and --arg to queue options and arguments', async () => {
    const r = await cli(
      'queue', 'declare', 'q-args', '--durable', '--auto-delete',
      '--message-ttl', '60000', '--max-length', '10', '--max-length-bytes', '4096', '--overflow', 'reject-publish',
      '--dead-letter-exchange', '', '--dead-letter-routing-key', 'dead', '--delivery-limit', '3', '--max-priority', '5',
      '--single-active-consumer', '--consumer-timeout', '30000', '--expires', '3600000',
      '--arg', 'x-custom={"a":1}', '--arg', 'team=core', '--arg', 'n=5', '--arg', 'x-max-length=99',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("queue 'q-args' declared: 0 messages, 0 consumers\n");
    const q = await queue('q-args');
    expect(q).toMatchObject({ durable: true, exclusive: false, autoDelete: true });
    expect(q!.arguments).toEqual({
      'x-message-ttl': 60000,
      'x-max-length': 10, // the convenience flag wins over --arg
      'x-max-length-bytes': 4096,
      'x-overflow': 'reject-publish',
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'dead',
      'x-delivery-limit': 3,
      'x-max-priority': 5,
      'x-single-active-consumer': true,
      'x-consumer-timeout': 30000,
      'x-expires': 3600000,
      'x-custom': { a: 1 },
      team: 'core',
      n: 5,
    });
  });

  it('declare --json prints the result; --passive checks existence', async () => {
    await conn.declareQueue('q-json');
    await conn.publish('', 'q-json', 'x');
    const r = await cli('queue', 'declare', 'q-json', '--passive', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ queue: 'q-json', messageCount: 1, consumerCount: 0 });
    const missing = await cli('queue', 'declare', 'q-missing', '--passive');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^warren: NOT_FOUND: /);
  });

  it('exchange declare --passive prints the type the exchange has, not --type\'s default', async () => {
    await conn.declareExchange('x-passive', 'topic');
    const r = await cli('exchange', 'declare', 'x-passive', '--passive');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("exchange 'x-passive' (topic) exists\n");
    const json = await cli('exchange', 'declare', 'x-passive', '--passive', '--json');
    expect(JSON.parse(json.stdout)).toEqual({ exchange: 'x-passive', type: 'topic' });
    const missing = await cli('exchange', 'declare', 'x-passive-missing', '--passive');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^warren: NOT_FOUND: /);
  });

  it('re-declaring with other attributes is PRECONDITION_FAILED, exit 1', async () => {
    await conn.declareQueue('q-pre', { durable: false });
    const r = await cli('queue', 'declare', 'q-pre', '--durable');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^warren: PRECONDITION_FAILED: /);
    expect(r.stdout).toBe('');
  });

  it('list shows ready and unacked counts, consumers, attributes and arguments, as a table and as JSON', async () => {
    await conn.declareQueue('q-list', { durable: true, arguments: { 'x-max-length': 100 } });
    for (let i = 0; i < 3; i++) await conn.publish('', 'q-list', `m${i}`);
    const held = await conn.get('q-list'); // one unacked
    const consumer = await conn.consume('q-list', () => undefined, { prefetch: 1 }); // one consumer (holding one more)
    await consumer.cancel();

    const human = await cli('queue', 'list');
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+UNACKED\s+DELAYED\s+CONSUMERS\s+DURABLE\s+EXCLUSIVE\s+AUTO-DELETE\s+ARGUMENTS$/);
    const row = lines.find((l) => l.startsWith('q-list '))!;
    expect(row.split(/\s+/)).toEqual(['q-list', '1', '2', '0', '0', 'yes', 'no', 'no', 'x-max-length=100']);
    // Columns are aligned: every row's READY column ends where the header's does.
    const readyEnd = lines[0]!.indexOf('READY') + 'READY'.length;
    for (const l of lines.slice(1)) expect(l[readyEnd - 1]).toMatch(/\d/);

    const json = await cli('queue', 'list', '--json');
    const queues = JSON.parse(json.stdout) as QueueInfo[];
    expect(queues.find((q) => q.name === 'q-list')).toEqual({
      name: 'q-list', durable: true, exclusive: false, autoDelete: false,
      arguments: { 'x-max-length': 100 }, messages: 1, unacked: 2, delayed: 0, consumers: 0,
    });
    expect(queues.map((q) => q.name)).toEqual([...queues.map((q) => q.name)].sort());
    held!.ack();
  });

  it('list shows delayed messages (x-delay, not yet due) apart from the ready ones', async () => {
    await conn.declareQueue('q-delayed');
    for (let i = 0; i < 5; i++) await conn.publish('', 'q-delayed', `later${i}`, { headers: { 'x-delay': 3_600_000 } });
    await conn.publish('', 'q-delayed', 'now');
    const human = await cli('queue', 'list');
    const row = human.stdout.split('\n').find((l) => l.startsWith('q-delayed '))!;
    expect(row.split(/\s+/).slice(0, 5)).toEqual(['q-delayed', '1', '0', '5', '0']);
    const json = JSON.parse((await cli('queue', 'list', '--json')).stdout) as QueueInfo[];
    expect(json.find((q) => q.name === 'q-delayed')).toMatchObject({ messages: 1, unacked: 0, delayed: 5 });
    await conn.deleteQueue('q-delayed');
  });

  it('purge and delete report message counts; unknown queue is NOT_FOUND with exit 1 and no stack trace', async () => {
    await conn.declareQueue('q-del');
    for (let i = 0; i < 2; i++) await conn.publish('', 'q-del', 'x');
    const purged = await cli('queue', 'purge', 'q-del');
    expect(purged.code).toBe(0);
    expect(purged.stdout).toBe("purged 2 messages from queue 'q-del'\n");
    await conn.publish('', 'q-del', 'x');
    const ifEmpty = await cli('queue', 'delete', 'q-del', '--if-empty');
    expect(ifEmpty.code).toBe(1);
    expect(ifEmpty.stderr).toMatch(/^warren: PRECONDITION_FAILED: /);
    const deleted = await cli('queue', 'delete', 'q-del', '--json');
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toEqual({ queue: 'q-del', messageCount: 1 });
    expect(await queue('q-del')).toBeUndefined();

    const r = await cli('queue', 'purge', 'no-such-queue');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("warren: NOT_FOUND: queue 'no-such-queue' not found\n");
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});

describe('warren exchange, bind, unbind, binding list', () => {
  it('declare with type and flags; list includes the default exchange; delete', async () => {
    const d = await cli('exchange', 'declare', 'x-orders', '--type', 'topic', '--durable', '--alternate-exchange', 'x-alt', '--arg', 'owner=ops');
    expect(d.code).toBe(0);
    expect(d.stdout).toBe("exchange 'x-orders' (topic) declared\n");
    const list = await cli('exchange', 'list');
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+DURABLE\s+AUTO-DELETE\s+INTERNAL\s+ALTERNATE\s+BINDINGS\s+ARGUMENTS$/);
    expect(lines.some((l) => l.startsWith('(default) ') && /\bdirect\b/.test(l))).toBe(true);
    expect(lines.find((l) => l.startsWith('x-orders '))!.split(/\s+/)).toEqual(['x-orders', 'topic', 'yes', 'no', 'no', 'x-alt', '0', 'owner=ops']);

    const json = JSON.parse((await cli('exchange', 'list', '--json')).stdout) as ExchangeInfo[];
    expect(json.find((e) => e.name === 'x-orders')).toMatchObject({ type: 'topic', durable: true, alternateExchange: 'x-alt', arguments: { owner: 'ops' } });
    expect(json.some((e) => e.name === '')).toBe(true);

    const bad = await cli('exchange', 'declare', 'x-bad', '--type', 'nope');
    expect(bad.code).toBe(2);

    const del = await cli('exchange', 'delete', 'x-orders');
    expect(del.code).toBe(0);
    expect(del.stdout).toBe("exchange 'x-orders' deleted\n");
    expect((await conn.listExchanges()).some((e) => e.name === 'x-orders')).toBe(false);
    const again = await cli('exchange', 'delete', 'x-orders');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^warren: NOT_FOUND: /);
  });

  it('binds and unbinds queues and exchanges, with keys and arguments; binding list shows them', async () => {
    await conn.declareExchange('b-src', 'topic');
    await conn.declareExchange('b-dst', 'headers');
    await conn.declareQueue('b-q');
    await conn.declareQueue('b-h');

    const bq = await cli('bind', '--exchange', 'b-src', '--queue', 'b-q', '--key', 'orders.*');
    expect(bq.code).toBe(0);
    expect(bq.stdout).toBe("bound queue 'b-q' to exchange 'b-src' with key 'orders.*'\n");
    const be = await cli('bind', '--exchange', 'b-src', '--destination-exchange', 'b-dst', '--key', '#', '--json');
    expect(be.code).toBe(0);
    expect(JSON.parse(be.stdout)).toMatchObject({ source: 'b-src', destination: 'b-dst', destinationKind: 'exchange', routingKey: '#' });
    const bh = await cli('bind', '-e', 'b-dst', '-q', 'b-h', '--arg', 'x-match=any', '--arg', 'format=pdf');
    expect(bh.code).toBe(0);

    const mine = (bs: BindingInfo[]) => bs.filter((b) => b.source.startsWith('b-'));
    expect(mine(await conn.listBindings())).toHaveLength(3);
    // Routed through the exchange-to-exchange and headers bindings:
    await conn.publish('b-src', 'orders.new', 'x', { headers: { format: 'pdf' } });
    expect((await queue('b-q'))!.messages).toBe(1);
    expect((await queue('b-h'))!.messages).toBe(1);

    const table = await cli('binding', 'list', '--exchange', 'b-src');
    expect(table.code).toBe(0);
    const rows = table.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^SOURCE\s+DESTINATION\s+KIND\s+ROUTING KEY\s+ARGUMENTS$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/))).toEqual([
      ['b-src', 'b-dst', 'exchange', '#'],
      ['b-src', 'b-q', 'queue', 'orders.*'],
    ]);
    const json = JSON.parse((await cli('binding', 'list', '--queue', 'b-h', '--json')).stdout) as BindingInfo[];
    expect(json).toEqual([{ source: 'b-dst', destination: 'b-h', destinationKind: 'queue', routingKey: '', arguments: { 'x-match': 'any', format: 'pdf' } }]);

    expect((await cli('unbind', '--exchange', 'b-src', '--queue', 'b-q', '--key', 'orders.*')).code).toBe(0);
    expect((await cli('unbind', '--exchange', 'b-src', '--destination-exchange', 'b-dst', '--key', '#')).stdout).toBe(
      "unbound exchange 'b-dst' from exchange 'b-src' with key '#'\n",
    );
    expect((await cli('unbind', '-e', 'b-dst', '-q', 'b-h', '--arg', 'x-match=any', '--arg', 'format=pdf')).code).toBe(0);
    expect(mine(await conn.listBindings())).toEqual([]);
  });

  it('bind needs exactly one destination, and an existing exchange', async () => {
    const none = await cli('bind', '--exchange', 'amq.topic');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--queue <name> or --destination-exchange <name>/);
    const both = await cli('bind', '--exchange', 'amq.topic', '--queue', 'a', '--destination-exchange', 'b');
    expect(both.code).toBe(2);
    await conn.declareQueue('b-missing');
    const missing = await cli('bind', '--exchange', 'no-such-exchange', '--queue', 'b-missing');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^warren: NOT_FOUND: exchange 'no-such-exchange'/);
  });
});

describe('warren status', () => {
  it('shows version, uptime, connections, queues, memory and disk; --json gives the raw status', async () => {
    const human = await cli('status');
    expect(human.code).toBe(0);
    for (const key of ['version', 'uptime', 'connections', 'queues', 'exchanges', 'messages', 'memory', 'disk', 'alarms']) {
      expect(human.stdout).toMatch(new RegExp(`^${key}\\s+\\S`, 'm'));
    }
    expect(human.stdout).toContain(tb.dataDir);
    expect(human.stdout).toMatch(/^memory\s+rss [\d.]+ [KMG]iB/m);
    const s = JSON.parse((await cli('status', '--json')).stdout) as BrokerStatus;
    expect(s.version).toBe(tb.broker.serverProperties['version']);
    expect(s.connections).toBeGreaterThanOrEqual(2); // the test's and the CLI's own
    expect(s.queues).toBe((await conn.listQueues()).length);
    expect(s.disk.dataDir).toBe(tb.dataDir);
    expect(typeof s.memory.rss).toBe('number');
  });
});

describe('connection and errors', () => {
  it('takes the broker from WARREN_URL when --url is not given', async () => {
    const r = await run(['queue', 'list', '--json'], { env: { WARREN_URL: tb.url } });
    expect(r.code).toBe(0);
    expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
  });

  it('a bad URL is a usage error (exit 2) with a clear message', async () => {
    const r = await run(['status', '--url', 'http://127.0.0.1:5680']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^warren: USAGE: invalid --url 'http:\/\/127\.0\.0\.1:5680': unsupported URL scheme/);
    const garbage = await run(['status', '--url', 'not a url']);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toMatch(/expected warren:\/\/user:password@host:port/);
  });

  it('wrong password is ACCESS_REFUSED, exit 4', async () => {
    const r = await run(['status', '--url', tb.url.replace('guest:guest', 'guest:wrong')]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^warren: ACCESS_REFUSED: /);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  it('a broker that is down is exit 3, with the cause and what to check', async () => {
    const gone = await startTestBroker();
    const port = gone.port;
    await gone.stop();
    const r = await run(['queue', 'list', '--url', `warren://guest:guest@127.0.0.1:${port}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `warren: ECONNREFUSED: cannot connect to 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}` +
        ' (is a broker running there? start one with `warren server`, or check --url or WARREN_URL)\n',
    );
  });

  it('an IPv6 host is bracketed in the message, as in a URL ([::1]:port, not ::1:port)', async () => {
    const gone = await startTestBroker();
    const port = gone.port;
    await gone.stop();
    const r = await run(['queue', 'list', '--url', `warren://guest:guest@[::1]:${port}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `warren: ECONNREFUSED: cannot connect to [::1]:${port}: connect ECONNREFUSED [::1]:${port}` +
        ' (is a broker running there? start one with `warren server`, or check --url or WARREN_URL)\n',
    );
  });

  it('usage errors exit 2: unknown option, bad number, bad choice, missing argument', async () => {
    const results = await Promise.all([
      cli('queue', 'list', '--bogus'),
      cli('queue', 'declare', 'q', '--max-length', 'ten'),
      cli('queue', 'declare', 'q', '--overflow', 'explode'),
      cli('queue', 'purge'),
      run(['queue']),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(results[1]!.stderr).toMatch(/--max-length <n>' argument 'ten' is invalid/);
    // Named like every other error: commander's own errors as well as the CLI's.
    expect(results[0]!.stderr).toBe("warren: USAGE: unknown option '--bogus'\n(add --help for usage)\n");
    expect(results[1]!.stderr).toMatch(/^warren: USAGE: option '--max-length <n>' argument 'ten' is invalid/);
    expect(results[2]!.stderr).toMatch(/^warren: USAGE: option '--overflow <mode>' argument 'explode' is invalid/);
    expect(results[3]!.stderr).toBe("warren: USAGE: missing required argument 'name'\n(add --help for usage)\n");
  });

  it('--help on a verb exits 0 and shows an example; --version prints the version', async () => {
    const [help, version] = await Promise.all([run(['queue', 'declare', '--help']), run(['--version'])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: warren queue declare/);
    expect(help.stdout).toMatch(/Examples?:\n\s+\$ warren queue declare/);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
