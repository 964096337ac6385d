import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Connection, type Message } from '@warren/client';
import { ensureBuilt, hasStackTrace, run, start } from './helpers.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { until } from '../../../test-support/wait.js';

let tb: TestBroker;
let conn: Connection;
let tmp: string;
const cli = (args: string[], input?: string) => run([...args, '--url', tb.url], input === undefined ? {} : { input });
const queueInfo = async (name: string) => (await conn.listQueues()).find((q) => q.name === name)!;

/** Takes every ready message out of a queue (acked), in order. */
async function drain(queue: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let m = await conn.get(queue); m !== null; m = await conn.get(queue)) {
    m.ack();
    out.push(m);
  }
  return out;
}
const bodies = (ms: Message[]) => ms.map((m) => m.body.toString());

async function fill(queue: string, ...messages: string[]): Promise<void> {
  await conn.declareQueue(queue);
  for (const m of messages) await conn.publish('', queue, m);
}

beforeAll(async () => {
  ensureBuilt();
  tb = await startTestBroker();
  conn = await connect(tb.url);
  tmp = await tempDir('warren-cli-msg-');
});
afterAll(async () => {
  await conn?.close();
  await tb?.stop();
  await removeDir(tmp);
});

describe('warren publish', () => {
  it('publishes the body argument to a queue, with properties and headers', async () => {
    await conn.declareQueue('p-arg');
    const r = await cli([
      'publish', '--queue', 'p-arg', 'hello world',
      '--content-type', 'text/plain', '--content-encoding', 'identity', '--header', 'tenant=acme', '--header', 'attempt=2', '-H', 'flags={"a":true}',
      '--persistent', '--message-id', 'm-1', '--correlation-id', 'c-1', '--reply-to', 'replies', '--expiration', '60000', '--priority', '7',
      '--type', 'greeting', '--app-id', 'tests',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("published 1 message to queue 'p-arg' (default exchange)\n");
    const [m] = await drain('p-arg');
    expect(m!.body.toString()).toBe('hello world');
    expect(m!.properties).toEqual({
      contentType: 'text/plain',
      contentEncoding: 'identity',
      headers: { tenant: 'acme', attempt: 2, flags: { a: true } },
      persistent: true,
      messageId: 'm-1',
      correlationId: 'c-1',
      replyTo: 'replies',
      expiration: 60000,
      priority: 7,
      type: 'greeting',
      appId: 'tests',
    });
  });

  it('publishes to an exchange with a routing key; --mandatory fails unroutable messages with NO_ROUTE, exit 1', async () => {
    await conn.declareExchange('p-x', 'topic');
    await conn.declareQueue('p-x-q');
    await conn.bindQueue('p-x-q', 'p-x', 'orders.*');
    const r = await cli(['publish', '-e', 'p-x', '-k', 'orders.new', '{"id":1}', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ published: 1, exchange: 'p-x', routingKey: 'orders.new' });
    expect(bodies(await drain('p-x-q'))).toEqual(['{"id":1}']);

    const lost = await cli(['publish', '-e', 'p-x', '-k', 'nobody.listens', 'x', '--mandatory']);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/^warren: NO_ROUTE: /);
    const unmandatory = await cli(['publish', '-e', 'p-x', '-k', 'nobody.listens', 'x', '--no-mandatory']);
    expect(unmandatory.code).toBe(0);
  });

  it('is mandatory by default: a typo in a queue name fails with NO_ROUTE (exit 1) instead of losing the message', async () => {
    const typo = await cli(['publish', '--queue', 'nosuchqueue', 'hi']);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toBe(
      "warren: NO_ROUTE: nothing received the message: no queue named 'nosuchqueue' (declare it, or pass --no-mandatory to publish anyway)\n",
    );
    expect(typo.code).toBe(1);
    const unbound = await cli(['publish', '-e', 'amq.topic', '-k', 'nobody.listens', 'x']);
    expect(unbound.code).toBe(1);
    expect(unbound.stderr).toBe(
      "warren: NO_ROUTE: nothing received the message: exchange 'amq.topic' has no binding that matches routing key 'nobody.listens' (bind a queue to 'amq.topic' with a key that matches, or pass --no-mandatory to publish anyway)\n",
    );
    const optedOut = await cli(['publish', '--queue', 'nosuchqueue', 'hi', '--no-mandatory']);
    expect(optedOut.code).toBe(0);
    expect(optedOut.stdout).toMatch(/^published 1 message/);
  });

  it('refuses an empty stdin as a usage error (exit 2) instead of publishing 0 messages', async () => {
    await conn.declareQueue('p-empty');
    const r = await cli(['publish', '--queue', 'p-empty'], '');
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^warren: USAGE: publish: nothing to publish \(stdin was empty\)/);
    expect(r.code).toBe(2);
  });

  it('refuses a publish with no target (no --queue, --exchange or --routing-key) as a usage error saying what to give', async () => {
    const r = await cli(['publish', 'job']);
    expect(r.stderr).toBe("warren: USAGE: publish: say where to: --queue <name>, or --exchange <name> with --routing-key <key> (with neither, the message would go to a queue named '')\n");
    expect(r.code).toBe(2);
    const keyOnly = await cli(['publish', '-k', 'p-nowhere', 'job']);
    expect(keyOnly.stderr).toMatch(/NO_ROUTE: .*no queue named 'p-nowhere'/);
  });

  it('publishes a file as one message (binary-safe), and stdin lines as one message each', async () => {
    await conn.declareQueue('p-file');
    const file = join(tmp, 'payload.bin');
    const payload = Buffer.from([0, 1, 2, 0xff, 0x0a, 0x41]);
    writeFileSync(file, payload);
    const r = await cli(['publish', '-q', 'p-file', '--file', file]);
    expect(r.code).toBe(0);
    const [m] = await drain('p-file');
    expect(Buffer.compare(m!.body, payload)).toBe(0);

    await conn.declareQueue('p-stdin');
    const s = await cli(['publish', '-q', 'p-stdin'], 'one\ntwo\r\n\nfour\n');
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^published 4 messages to queue 'p-stdin'/);
    expect(bodies(await drain('p-stdin'))).toEqual(['one', 'two', '', 'four']);

    const whole = await cli(['publish', '-q', 'p-stdin', '--file', '-'], 'a\nb\n');
    expect(whole.code).toBe(0);
    expect(bodies(await drain('p-stdin'))).toEqual(['a\nb\n']);
  });

  it('--count repeats the body; --rate paces it; no progress line unless a TTY or --progress', async () => {
    await conn.declareQueue('p-count');
    const r = await cli(['publish', '-q', 'p-count', 'tick', '--count', '250', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ published: 250 });
    expect((await queueInfo('p-count')).messages).toBe(250);

    const paced = await cli(['publish', '-q', 'p-count', 'tock', '--count', '3', '--rate', '1000']);
    expect(paced.code).toBe(0);
    expect(paced.stderr).toBe('');
    // No rate for a handful of messages: it would mean nothing.
    expect(paced.stdout).toBe("published 3 messages to queue 'p-count' (default exchange)\n");
    const many = await cli(['publish', '-q', 'p-count-many', 'x', '--count', '1000', '--no-mandatory']);
    expect(many.stdout).toMatch(/^published 1000 messages to queue 'p-count-many' \(default exchange\) \(\d[\d,]* msg\/s\)\n$/);
    expect((await queueInfo('p-count')).messages).toBe(253);

    // --progress forces the progress line (normally only when stdout is a terminal).
    const shown = await cli(['publish', '-q', 'p-count', 'x', '--count', '20', '--progress']);
    expect(shown.code).toBe(0);
    expect(shown.stderr).toMatch(/\r\x1b\[Kpublished \d+\/20 \(\d+%\)  \d[\d,]* msg\/s/);
    expect(shown.stdout).toMatch(/^published 20 messages/);
    const consumed = await cli(['consume', 'p-count', '--count', '273', '--progress']);
    expect(consumed.code).toBe(0);
    expect(consumed.stderr).toMatch(/\r\x1b\[Kreceived \d+\/273 \(\d+%\)  \d[\d,]* msg\/s/);
    expect(consumed.stderr).toMatch(/received 273 messages \(\d[\d,]* msg\/s\)\n$/);
    expect(consumed.stdout.split('\n')).toHaveLength(274);
  });

  it('rejects contradictory input as usage errors (exit 2)', async () => {
    const file = join(tmp, 'x.txt');
    writeFileSync(file, 'x');
    const results = await Promise.all([
      cli(['publish', '-q', 'p-bad', 'body', '--file', file]),
      cli(['publish', '-q', 'p-bad', '--count', '2'], 'a\n'),
      cli(['publish', '-q', 'p-bad', '-e', 'amq.topic', 'x']),
      cli(['publish', '-q', 'p-bad', '--priority', '300', 'x']),
      cli(['publish', '-q', 'p-bad', '--rate', '0', 'x']),
      cli(['publish', '-q', 'p-bad', '--header', 'novalue', 'x']),
      cli(['publish', '-q', 'p-bad', '--file', join(tmp, 'no-such-file')]),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(results.at(-1)!.stderr).toMatch(/^warren: USAGE: cannot read --file '.*no-such-file': ENOENT/);
  });
});

describe('warren consume', () => {
  it('--count N prints N bodies, acks them (auto) and leaves the rest untouched', async () => {
    await fill('c-auto', 'a', 'b', 'c', 'd', 'e');
    const r = await cli(['consume', 'c-auto', '--count', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('a\nb\nc\n');
    const q = await queueInfo('c-auto');
    expect(q).toMatchObject({ messages: 2, unacked: 0, consumers: 0 });
    // The rest were never delivered: not marked redelivered.
    const rest = await drain('c-auto');
    expect(bodies(rest)).toEqual(['d', 'e']);
    expect(rest.map((m) => m.redelivered)).toEqual([false, false]);
  });

  it('--count with a small --prefetch still delivers no more than the count', async () => {
    await fill('c-prefetch', '1', '2', '3', '4', '5', '6');
    const r = await cli(['consume', 'c-prefetch', '--count', '4', '--prefetch', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('1\n2\n3\n4\n');
    const rest = await drain('c-prefetch');
    expect(bodies(rest)).toEqual(['5', '6']);
    expect(rest.map((m) => m.redelivered)).toEqual([false, false]);
  });

  it('--ack manual prints without removing: the messages go back to the queue', async () => {
    await fill('c-manual', 'x', 'y', 'z');
    const r = await cli(['consume', 'c-manual', '--count', '2', '--ack', 'manual']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('x\ny\n');
    await until(async () => (await queueInfo('c-manual')).messages === 3, 'requeue');
    const all = await drain('c-manual');
    expect(bodies(all)).toEqual(['x', 'y', 'z']);
    expect(all.map((m) => m.redelivered)).toEqual([true, true, false]);
  });

  it('--ack none removes what it prints', async () => {
    await fill('c-none', 'x', 'y', 'z');
    const r = await cli(['consume', 'c-none', '--count', '2', '--ack', 'none']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('x\ny\n');
    expect(await queueInfo('c-none')).toMatchObject({ messages: 1, unacked: 0 });
  });

  it('--json prints one JSON object per line, base64 for bodies that are not UTF-8', async () => {
    await conn.declareQueue('c-json');
    await conn.publish('', 'c-json', '{"id":1}', { contentType: 'application/json', headers: { k: 'v' } });
    await conn.publish('', 'c-json', Buffer.from([0xff, 0xfe]));
    const r = await cli(['consume', 'c-json', '--count', '2', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      {
        queue: 'c-json', exchange: '', routingKey: 'c-json', redelivered: false, deliveryCount: 1,
        properties: { contentType: 'application/json', headers: { k: 'v' } }, body: '{"id":1}', bodyEncoding: 'utf8',
      },
      {
        queue: 'c-json', exchange: '', routingKey: 'c-json', redelivered: false, deliveryCount: 1,
        properties: {}, body: Buffer.from([0xff, 0xfe]).toString('base64'), bodyEncoding: 'base64',
      },
    ]);
  });

  it('prints messages as they arrive and exits 0 on SIGINT', async () => {
    await conn.declareQueue('c-live');
    const c = start(['consume', 'c-live', '--url', tb.url]);
    await until(async () => (await queueInfo('c-live')).consumers === 1, 'the CLI to subscribe');
    await conn.publish('', 'c-live', 'first');
    await c.waitForStdout(/first\n/);
    await conn.publish('', 'c-live', 'second');
    await c.waitForStdout(/second\n/);
    c.child.kill('SIGINT');
    const r = await c.exited;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('first\nsecond\n');
    expect(await queueInfo('c-live')).toMatchObject({ messages: 0, unacked: 0, consumers: 0 });
  });

  it('fails with the broker\'s reason when the queue is deleted under it, and NOT_FOUND for an unknown queue', async () => {
    await conn.declareQueue('c-gone');
    const c = start(['consume', 'c-gone', '--url', tb.url]);
    await until(async () => (await queueInfo('c-gone')).consumers === 1, 'the CLI to subscribe');
    await conn.deleteQueue('c-gone');
    const r = await c.exited;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^warren: NOT_FOUND: /);

    const unknown = await cli(['consume', 'no-such-queue']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("warren: NOT_FOUND: queue 'no-such-queue' not found\n");
  });

  it('exits 3 when the broker goes away while it consumes', async () => {
    const other = await startTestBroker();
    const c2 = await connect(other.url);
    await c2.declareQueue('c-down');
    const c = start(['consume', 'c-down', '--url', other.url]);
    await until(async () => (await c2.listQueues()).some((q) => q.name === 'c-down' && q.consumers === 1), 'the CLI to subscribe');
    await c2.close();
    await other.stop();
    const r = await c.exited;
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^warren: [A-Z_]+: /);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});

describe('warren get', () => {
  it('takes one message (acked) by default; --count takes several; an empty queue prints nothing and exits 0', async () => {
    await fill('g-q', 'one', 'two', 'three');
    const one = await cli(['get', 'g-q']);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe('one\n');
    const more = await cli(['get', 'g-q', '--count', '5', '--json']);
    expect(more.code).toBe(0);
    expect(more.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { body: string }).body)).toEqual(['two', 'three']);
    expect(await queueInfo('g-q')).toMatchObject({ messages: 0, unacked: 0 });
    const empty = await cli(['get', 'g-q']);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toBe("warren: queue 'g-q' is empty\n");
  });

  it('has no --ack manual: it would requeue the message redelivered with a higher delivery count', async () => {
    await fill('g-peek', 'p1', 'p2');
    const r = await cli(['get', 'g-peek', '--count', '2', '--ack', 'manual']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/get has no 'manual' mode: a message fetched and not acked goes back marked redelivered/);
    // Untouched: never delivered, so not redelivered and first delivery.
    const all = await drain('g-peek');
    expect(bodies(all)).toEqual(['p1', 'p2']);
    expect(all.map((m) => [m.redelivered, m.deliveryCount])).toEqual([[false, 1], [false, 1]]);
  });

  it('unknown queue is NOT_FOUND, exit 1', async () => {
    const r = await cli(['get', 'no-such-queue']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("warren: NOT_FOUND: queue 'no-such-queue' not found\n");
  });
});
