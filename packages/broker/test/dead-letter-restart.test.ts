/**
 * Dead-lettering to durable queues, then a graceful stop and a restart.
 * - The source of a dead-lettered message is settled once its copy is durable, which may happen
 *   while the store closes: the settlement must still reach the log, or the message is back in
 *   its queue after the restart (besides its copy in the dead-letter queue).
 * - The broker's connections share one frozen properties object between PUBLISH frames that
 *   repeat the same properties bytes (FrameDecoder sharePublishProperties): every message still
 *   has its own properties as published, after dead-lettering (which copies and extends them)
 *   and after the restart (from the store's records).
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

/** A broker on a fresh data folder with durable queue 'q' dead-lettering to durable queue 'dead' (through fanout 'dlx'). */
async function setup(): Promise<Connection> {
  dir = await tempDir();
  tb = await startTestBroker({ dataDir: dir });
  conn = await connect(tb.url);
  await conn.declareExchange('dlx', 'fanout', { durable: true });
  await conn.declareQueue('dead', { durable: true });
  await conn.bindQueue('dead', 'dlx');
  await conn.declareQueue('q', { durable: true, arguments: { 'x-dead-letter-exchange': 'dlx' } });
  return conn;
}

/** Rejects the first message of 'q' and waits for its copy in 'dead'; then stops the broker and starts it again on the same folder. */
async function rejectFirstAndRestart(c: Connection): Promise<Connection> {
  (await c.get('q'))!.reject({ requeue: false });
  await expect.poll(async () => (await c.declareQueue('dead', { passive: true })).messageCount).toBe(1);
  await c.close();
  await tb!.stop();
  tb = await startTestBroker({ dataDir: dir });
  conn = await connect(tb.url);
  return conn;
}

describe('dead-lettering, then a graceful stop', () => {
  it('a message rejected to a durable dead-letter queue just before the stop is not back in its queue after the restart', async () => {
    let c = await setup();
    await c.publish('', 'q', 'm0', { persistent: true });
    await c.publish('', 'q', 'm1', { persistent: true });
    c = await rejectFirstAndRestart(c);
    expect((await drain(c, 'dead')).map((m) => m.body.toString())).toEqual(['m0']);
    expect((await drain(c, 'q')).map((m) => m.body.toString())).toEqual(['m1']);
  });

  it('repeated publish properties stay each message\'s own through dead-lettering and the restart', async () => {
    let c = await setup();
    const task = { persistent: true, contentType: 'application/json', priority: 3 };
    const sent = [task, task, task, { persistent: true }, { persistent: true }, task];
    for (const [i, p] of sent.entries()) await c.publish('', 'q', `m${i}`, { ...p });
    // The first one is rejected: its dead-lettered copy gets x-death headers, the others must not.
    c = await rejectFirstAndRestart(c);
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
