/** The data folder's LOCK: who holds it, and when a LOCK left behind is taken over (src/data-lock.ts). */
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '@warren/broker';
import { ErrorCodes } from '@warren/protocol';
import { DataLock, processStart, selfOwner } from '../src/data-lock.js';
import { tempDirPerTest } from '../../../test-support/temp-dir.js';

const tmp = tempDirPerTest('warren-lock-');
const locks: DataLock[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
  for (const l of locks.splice(0)) await l.release();
});

async function acquire(dir: string): Promise<DataLock> {
  const lock = await DataLock.acquire(dir);
  locks.push(lock);
  return lock;
}
const lockFile = () => join(tmp.path, 'LOCK');
const writeLock = (owner: object | string) => writeFile(lockFile(), typeof owner === 'string' ? owner : `${JSON.stringify(owner)}\n`);
const readLock = async () => JSON.parse(await readFile(lockFile(), 'utf8')) as Record<string, unknown>;

describe('data folder LOCK', () => {
  it('names this process: pid, host, boot id and start time', async () => {
    await acquire(tmp.path);
    expect(await readLock()).toEqual(selfOwner());
    expect(await readLock()).toMatchObject({ pid: process.pid, host: hostname() });
  });

  it('takes over a LOCK naming our own pid when no broker in this process holds the folder (a container restarted with the same pid)', async () => {
    await writeLock(`${process.pid}\n`); // an older version's LOCK
    await acquire(tmp.path);
    await locks.pop()!.release();
    await writeLock(selfOwner());
    await acquire(tmp.path);
    expect(await readLock()).toEqual(selfOwner());
  });

  it('a broker restarted in the same process on a LOCK it left (no release) starts', async () => {
    await writeLock(selfOwner());
    const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tmp.path, logLevel: 'silent' });
    brokers.push(broker);
    expect(broker.port).toBeGreaterThan(0);
  });

  it('refuses a second lock on a folder a broker in this process holds, and allows it once released', async () => {
    const first = await acquire(tmp.path);
    await expect(DataLock.acquire(tmp.path)).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LOCKED, message: expect.stringContaining('in this process') });
    await expect(DataLock.acquire(join(tmp.path, '.', ''))).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LOCKED });
    await first.release();
    locks.pop();
    await acquire(tmp.path);
  });

  it('refuses a LOCK naming another host, says how to clear it, and leaves it in place', async () => {
    const other = { pid: 1, host: 'old-container-1a2b', boot: null, start: null };
    await writeLock(other);
    const err = await DataLock.acquire(tmp.path).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.RESOURCE_LOCKED });
    expect((err as Error).message).toContain("host 'old-container-1a2b'");
    expect((err as Error).message).toContain(`delete ${lockFile()}`);
    expect(await readLock()).toEqual(other);
  });

  it('refuses a LOCK held by a live process of this host that started when the LOCK says', async () => {
    const pid = process.ppid;
    await writeLock({ ...selfOwner(), pid, start: processStart(pid) });
    await expect(DataLock.acquire(tmp.path)).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LOCKED, message: `data folder ${tmp.path} is in use by process ${pid} (another broker?): stop it, or use another data folder` });
    await writeLock(`${pid}\n`);
    await expect(DataLock.acquire(tmp.path)).rejects.toMatchObject({ code: ErrorCodes.RESOURCE_LOCKED });
  });

  it.skipIf(processStart(process.pid) === null)('takes over a LOCK whose pid now belongs to a process that started later (pid reused)', async () => {
    await writeLock({ ...selfOwner(), pid: process.ppid, start: processStart(process.ppid)! - 1 });
    await acquire(tmp.path);
    expect(await readLock()).toEqual(selfOwner());
  });

  it.skipIf(selfOwner().boot === null)('takes over a LOCK of this host written before the last boot, even if its pid is alive', async () => {
    await writeLock({ ...selfOwner(), pid: process.ppid, start: processStart(process.ppid), boot: 'an-earlier-boot' });
    await acquire(tmp.path);
    expect(await readLock()).toEqual(selfOwner());
  });

  it('takes over a LOCK whose process is gone, and an empty one', async () => {
    await writeLock({ ...selfOwner(), pid: 2 ** 22 + 1 });
    await acquire(tmp.path);
    await locks.pop()!.release();
    await writeLock('');
    await acquire(tmp.path);
  });
});
