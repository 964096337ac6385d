/**
 * The broker's connections share one frozen properties object between PUBLISH frames that repeat
 * the same properties bytes (FrameDecoder sharePublishProperties) and deliver its bytes as they
 * came. End to end: every message still has its own properties as published, after dead-lettering
 * (which copies and extends them) and after a restart (from the store's records).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { tempDir, removeDir } from '../../../test-support/temp-dir.js';
import { drain } from './helpers.js';

let tb: TestBroker | undefined;
let conn: Connection | undefined;
let dir: string | undefined;
afterEach(async () => {
  await conn?.close().catch(() => {});
  await tb?.stop();
  if (dir !== undefined) await removeDir(dir);
  conn = undefined;
  tb = undefined;
  dir = undefined;
});


describe('repeated publish properties', () => {
  it('each message keeps its own properties through dead-lettering and a restart', async () => {
    dir = await tempDir();
    tb = await startTestBroker({ dataDir: dir });
    conn = await connect(tb.url);
    let c = conn;
    await c.declareExchange('dlx', 'fanout', { durable: true });
    await c.declareQueue('dead', { durable: true });
    await c.bindQueue('dead', 'dlx');
    await c.declareQueue('q', { durable: true, arguments: { 'x-dead-letter-exchange': 'dlx' } });
    const task = { persistent: true, contentType: 'application/json', priority: 3 };
    const sent = [task, task, task, { persistent: true }, { persistent: true }, task];
    for (const [i, p] of sent.entries()) await c.publish('', 'q', `m${i}`, { ...p });
    // The first one is rejected: its dead-lettered copy gets x-death headers, the others must not.
    (await c.get('q'))!.reject({ requeue: false });
    await expect.poll(async () => (await c.declareQueue('dead', { passive: true })).messageCount).toBe(1);
    // A confirmed publish after it: the copy's write is done, so the source's settlement is on its way
    // to the log before stop (a settlement that only arrives while the store closes is another matter).
    await c.declareQueue('other', { durable: true });
    await c.publish('', 'other', 'x', { persistent: true });

    await conn.close();
    await tb.stop();
    tb = await startTestBroker({ dataDir: dir });
    conn = await connect(tb.url);
    c = conn;
    const dead = await drain(c, 'dead');
    expect(dead.map((m) => m.body.toString())).toEqual(['m0']);
    expect(dead[0]!.properties).toMatchObject(task);
    expect((dead[0]!.properties.headers?.['x-death'] as unknown[]).length).toBe(1);
    const rest = await drain(c, 'q');
    expect(rest.map((m) => m.body.toString())).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    for (const [i, m] of rest.entries()) {
      expect(m.properties).toEqual(sent[i + 1]);
      expect(Object.keys(m.properties)).toEqual(Object.keys(sent[i + 1]!));
    }
  });
});
