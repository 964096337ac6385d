/** An fsync or write error stops the broker: nothing is confirmed after it. */
import { constants, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { ErrorCodes } from '@warren/protocol';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

let tb: TestBroker | undefined;
let conn: Connection | undefined;
afterEach(async () => {
  await conn?.close().catch(() => {});
  await tb?.stop();
});

describe('storage failure', () => {
  it('an fdatasync error nacks the publish, confirms nothing after it, and stops the broker', async () => {
    let failSync = false;
    tb = await startTestBroker({
      storeHooks: {
        beforeSync: () => {
          if (failSync) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        },
      },
    });
    conn = await connect({ url: tb.url, reconnect: false } as Parameters<typeof connect>[0]);
    await conn.declareQueue('d', { durable: true });
    await conn.publish('', 'd', 'before', { persistent: true });
    failSync = true;
    const outcome = await conn.publish('', 'd', 'during', { persistent: true }).then(
      () => 'confirmed',
      (err: { code?: number }) => err.code,
    );
    expect(outcome).not.toBe('confirmed');
    // The broker stops: its fatal error is set and the connection is closed by it.
    await expect.poll(() => tb!.broker.fatal?.message ?? null, { timeout: 5000 }).toContain('EIO');
    const after = await conn.publish('', 'd', 'after', { persistent: true }).then(
      () => 'confirmed',
      () => 'rejected',
    );
    expect(after).toBe('rejected');
    expect([ErrorCodes.STORAGE_ERROR, ErrorCodes.CONNECTION_FORCED]).toContain(outcome);
  });

  it('an O_DSYNC handle that cannot be opened (EMFILE) is not fatal: publishes are confirmed after write + fdatasync, the broker stays up', async () => {
    let refused = 0;
    tb = await startTestBroker({
      storeHooks: {
        beforeOpenDsync: () => {
          refused++;
          throw Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', syscall: 'open' });
        },
      },
    });
    conn = await connect({ url: tb.url, reconnect: false } as Parameters<typeof connect>[0]);
    await conn.declareQueue('d', { durable: true });
    for (let i = 0; i < 5; i++) await conn.publish('', 'd', `m${i}`, { persistent: true });
    expect(refused).toBeGreaterThan(0);
    expect(tb.broker.fatal ?? null).toBeNull();
    const got: string[] = [];
    for (;;) {
      const m = await conn.get('d', { noAck: true });
      if (m === null) break;
      got.push(m.body.toString());
    }
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  // With O_DSYNC the sync happens inside the write: a writeback EIO comes back from the writev itself.
  it.skipIf(process.platform !== 'linux' || constants.O_DSYNC === undefined)('an EIO from an O_DSYNC write (not a hook) nacks the publish and stops the broker', async () => {
    const probe = await open(process.execPath, 'r');
    const proto = Object.getPrototypeOf(probe) as { writev: FileHandle['writev'] };
    await probe.close();
    const writev = proto.writev;
    let armed = false;
    proto.writev = function (this: FileHandle, ...args: Parameters<FileHandle['writev']>) {
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${this.fd}`, 'utf8'))?.[1];
      if (armed && flags !== undefined && (parseInt(flags, 8) & constants.O_DSYNC!) !== 0) {
        return Promise.reject(Object.assign(new Error('EIO: i/o error, writev'), { code: 'EIO', errno: -5, syscall: 'writev' }));
      }
      return writev.apply(this, args);
    } as FileHandle['writev'];
    try {
      tb = await startTestBroker();
      conn = await connect({ url: tb.url, reconnect: false } as Parameters<typeof connect>[0]);
      await conn.declareQueue('d', { durable: true });
      await conn.publish('', 'd', 'before', { persistent: true });
      armed = true;
      const outcome = await conn.publish('', 'd', 'during', { persistent: true }).then(
        () => 'confirmed',
        (err: { code?: number }) => err.code,
      );
      expect([ErrorCodes.STORAGE_ERROR, ErrorCodes.CONNECTION_FORCED]).toContain(outcome);
      await expect.poll(() => tb!.broker.fatal?.message ?? null, { timeout: 5000 }).toContain('EIO');
    } finally {
      proto.writev = writev;
    }
  });
});
