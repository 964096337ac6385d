import { describe, expect, it } from 'vitest';
import { DiskMonitor } from '../../src/storage/index.js';

describe('DiskMonitor', () => {
  it('raises and clears the alarm as free space crosses the limit, reporting only changes', async () => {
    let free = 1000;
    const changes: Array<[boolean, number]> = [];
    const m = new DiskMonitor('/data', 500, 60_000, (alarm, bytes) => changes.push([alarm, bytes]), async () => ({ bavail: free, bsize: 1 }));
    await m.check();
    expect(m.alarm).toBe(false);
    expect(changes).toEqual([]);
    free = 100;
    await m.check();
    await m.check();
    expect(m.alarm).toBe(true);
    expect(changes).toEqual([[true, 100]]);
    free = 2000;
    await m.check();
    expect(m.alarm).toBe(false);
    expect(changes).toEqual([
      [true, 100],
      [false, 2000],
    ]);
    expect(m.freeBytes).toBe(2000);
  });

  it('start() measures at once; a failing statfs keeps the last state and reports the error', async () => {
    let fail = false;
    const errors: Error[] = [];
    let called!: () => void;
    const first = new Promise<void>((r) => (called = r));
    const m = new DiskMonitor(
      '/data',
      10 * 4096,
      60_000,
      () => {},
      async () => {
        called();
        if (fail) throw new Error('EIO');
        return { bavail: 1, bsize: 4096 };
      },
      (e) => errors.push(e),
    );
    m.start();
    await first;
    await m.check();
    expect(m.alarm).toBe(true);
    fail = true;
    await m.check();
    expect(m.alarm).toBe(true);
    expect(errors).toHaveLength(1);
    m.stop();
  });

  it('reads real free space by default', async () => {
    const { tmpdir } = await import('node:os');
    const m = new DiskMonitor(tmpdir(), 1, 60_000, () => {});
    await m.check();
    expect(m.freeBytes).toBeGreaterThan(0);
    expect(m.alarm).toBe(false);
  });
});
