/**
 * The durable floor: raw group commit. Appends `batches` batches of
 * `bytesPerBatch` bytes to a fresh file, one writev and one fdatasync per batch,
 * one after the other, which is what a message store with group commit must at
 * least do. Run with Warren's own batch shape (messages per fdatasync and bytes
 * per batch, counted by broker-child.mjs), it says what the disk allows at that
 * batch size, with no network, routing or bookkeeping.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface AppendFloor {
  /** Messages per second if each batch carries messages/batches of them. */
  perSec: number;
  seconds: number;
  batches: number;
  bytesPerBatch: number;
}

export async function appendFloor(messages: number, batches: number, bytesPerBatch: number, recordBytes = 256): Promise<AppendFloor> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-append-floor-'));
  try {
    const fh = await open(join(dir, 'log'), 'w');
    try {
      // The batch as the records it holds (one iovec per record, like the store's writev).
      const records = Math.max(1, Math.round(bytesPerBatch / recordBytes));
      const size = Math.max(1, Math.round(bytesPerBatch / records));
      const bufs = Array.from({ length: records }, () => Buffer.alloc(size, 0x61));
      let pos = 0;
      const t0 = performance.now();
      for (let b = 0; b < batches; b++) {
        for (let i = 0; i < bufs.length; i += 1024) {
          const { bytesWritten } = await fh.writev(bufs.slice(i, i + 1024), pos);
          pos += bytesWritten;
        }
        await fh.datasync();
      }
      const seconds = (performance.now() - t0) / 1000;
      return { perSec: messages / seconds, seconds, batches, bytesPerBatch: records * size };
    } finally {
      await fh.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
