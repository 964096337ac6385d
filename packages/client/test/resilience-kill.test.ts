/**
 * kill -9: the broker runs as a child process; the client publishes
 * persistent messages to a durable queue with confirms, the broker is killed
 * with SIGKILL mid-stream and started again on the same port and data folder.
 * The client reconnects by itself, publishes that were in flight are re-sent,
 * and every confirmed message is delivered (at least once).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection, type StatusEvent } from '../src/index.js';
import { killAllChildren, spawnBroker } from '../../../test-support/broker-process.js';
import { tempDirPerTest } from '../../../test-support/temp-dir.js';

describe('kill -9', () => {
  const tmp = tempDirPerTest('warren-client-kill-');
  const conns: Connection[] = [];

  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close({ drainTimeoutMs: 1000 })));
    await killAllChildren();
  });

  it('every confirmed message survives a SIGKILLed broker and is delivered after the client reconnects by itself', async () => {
    const first = await spawnBroker(tmp.path);
    const conn = await connect({ port: first.port, timeoutMs: 5000, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    conns.push(conn);
    const statuses: string[] = [];
    conn.on('disconnected', (e) => statuses.push(e.type));
    conn.on('reconnecting', (e) => statuses.push(e.type));
    conn.on('connected', (e) => statuses.push(e.type));
    await conn.declareQueue('kill9', { durable: true });

    const confirmed = new Set<number>();
    const failed: unknown[] = [];
    const publish = (id: number): Promise<void> =>
      conn.publish('', 'kill9', String(id), { persistent: true }).then(
        () => void confirmed.add(id),
        (err: unknown) => void failed.push(err),
      );
    await Promise.all(Array.from({ length: 200 }, (_, i) => publish(i)));
    expect(confirmed.size).toBe(200);
    // More publishes in flight, then the broker dies under them.
    const inFlight = Array.from({ length: 200 }, (_, i) => publish(200 + i));
    await first.kill9();

    const reconnected = new Promise<StatusEvent>((resolve) => conn.once('connected', resolve));
    await spawnBroker(tmp.path, first.port);
    expect(await reconnected).toMatchObject({ reconnected: true });
    await Promise.all(inFlight); // re-sent on the new connection: all settle
    expect(failed).toEqual([]);
    expect(confirmed.size).toBe(400);

    const seen = new Set<number>();
    const consumer = await conn.consume('kill9', { prefetch: 100 });
    for await (const m of consumer) {
      seen.add(Number(m.body.toString()));
      m.ack();
      if ([...confirmed].every((id) => seen.has(id))) break;
    }
    expect([...confirmed].filter((id) => !seen.has(id))).toEqual([]);
    expect(statuses.slice(0, 2)).toEqual(['disconnected', 'reconnecting']);
    expect(statuses.at(-1)).toBe('connected');
  });
});
