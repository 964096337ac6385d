/**
 * The committed offsets of a stream's named consumers, one small append-only file
 * per stream (offsets.log): a commit appends (name, offset) and is acknowledged only
 * after fdatasync; commits arriving together share one write and one sync. The last
 * record of a name wins; a torn tail is ignored on open, and the file is rewritten
 * compactly (tmp, fsync, rename, fsync dir) when it has grown large.
 * The stored value is the last offset the consumer has processed: it resumes after it.
 *
 * Record: u32 magic | u32 len | u32 crc32c(next len bytes) | u64 offset | name (utf8).
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { errors } from '../errors.js';
import { writeAll } from '../storage/log-writer.js';
import { readU64, writeU64 } from './record-format.js';
import { syncDir, type StreamSyncMode } from './stream-log.js';

const FILE = 'offsets.log';
const MAGIC = 0x4f545357; // "WSTO"
const PREFIX = 12;
const COMPACT_BYTES = 1024 * 1024;

function encode(name: string, offset: number): Buffer {
  const nameLen = Buffer.byteLength(name, 'utf8');
  const buf = Buffer.allocUnsafe(PREFIX + 8 + nameLen);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(8 + nameLen, 4);
  writeU64(buf, offset, PREFIX);
  buf.write(name, PREFIX + 8, 'utf8');
  buf.writeUInt32LE(crc32c(buf.subarray(PREFIX)), 8);
  return buf;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class OffsetStore {
  private readonly committed = new Map<string, number>();
  private pending: Buffer[] = [];
  private waiters: Waiter[] = [];
  private writing = false;
  private size: number;
  private failure: Error | null = null;

  private constructor(
    private readonly dir: string,
    private fh: FileHandle,
    size: number,
    private readonly sync: StreamSyncMode,
    private readonly onFatal?: (err: Error) => void,
  ) {
    this.size = size;
  }

  static async open(dir: string, sync: StreamSyncMode = 'always', onFatal?: (err: Error) => void): Promise<OffsetStore> {
    const path = join(dir, FILE);
    const fh = await open(path, 'a+');
    const bytes = await fh.readFile();
    const committed = new Map<string, number>();
    let at = 0;
    while (at + PREFIX <= bytes.length && bytes.readUInt32LE(at) === MAGIC) {
      const len = bytes.readUInt32LE(at + 4);
      if (len < 8 || at + PREFIX + len > bytes.length) break;
      if (crc32c(bytes.subarray(at + PREFIX, at + PREFIX + len)) !== bytes.readUInt32LE(at + 8)) break;
      committed.set(bytes.toString('utf8', at + PREFIX + 8, at + PREFIX + len), readU64(bytes, at + PREFIX));
      at += PREFIX + len;
    }
    let store = new OffsetStore(dir, fh, at, sync, onFatal);
    for (const [name, offset] of committed) store.committed.set(name, offset);
    if (at < bytes.length || bytes.length > COMPACT_BYTES) store = await store.compact();
    return store;
  }

  /** The last committed offset of a named consumer, or undefined. */
  get(name: string): number | undefined {
    return this.committed.get(name);
  }

  entries(): IterableIterator<[string, number]> {
    return this.committed.entries();
  }

  /** Stores `offset` as `name`'s last processed offset; resolves once durable. */
  commit(name: string, offset: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.committed.set(name, offset);
    this.pending.push(encode(name, offset));
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.writing) void this.flush();
    return done;
  }

  private async flush(): Promise<void> {
    this.writing = true;
    await new Promise((r) => setImmediate(r));
    while (this.pending.length > 0 && !this.failure) {
      const bufs = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        let bytes = 0;
        for (const b of bufs) bytes += b.length;
        await writeAll(this.fh, bufs, this.size);
        this.size += bytes;
        if (this.sync === 'always') await this.fh.datasync();
        for (const w of waiters) w.resolve();
      } catch (cause) {
        const err = errors.storage(`stream offset commit failed: ${(cause as Error).message}`, cause);
        this.failure = err;
        for (const w of [...waiters, ...this.waiters]) w.reject(err);
        this.waiters = [];
        this.onFatal?.(err);
      }
    }
    this.writing = false;
  }

  /** Rewrites the file with one record per name. */
  private async compact(): Promise<OffsetStore> {
    const tmp = join(this.dir, `${FILE}.tmp`);
    const out = await open(tmp, 'w');
    const bufs = [...this.committed].map(([name, offset]) => encode(name, offset));
    await writeAll(out, bufs, 0);
    await out.datasync();
    await out.close();
    await this.fh.close();
    await rename(tmp, join(this.dir, FILE));
    await syncDir(this.dir);
    const fh = await open(join(this.dir, FILE), 'a+');
    const size = (await fh.stat()).size;
    const store = new OffsetStore(this.dir, fh, size, this.sync, this.onFatal);
    for (const [name, offset] of this.committed) store.committed.set(name, offset);
    return store;
  }

  async close(): Promise<void> {
    while (this.writing) await new Promise((r) => setImmediate(r));
    await this.fh.close().catch(() => undefined);
  }
}
