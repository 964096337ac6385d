/**
 * TopologyStore: the durable exchanges, queues and bindings, saved as one snapshot
 * file replaced atomically (write tmp, fsync, rename, fsync dir), so a crash leaves
 * either the old or the new snapshot, never a mix.
 *
 * File: u32 magic "WTOP" | u16 version | u16 0 | u32 payload length | u32 crc32c(payload) |
 * payload = msgpack(snapshot).
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { pack, unpack } from '@warren/protocol';
import { errors } from '../errors.js';
import type { SyncMode, TopologySnapshot } from './types.js';

const FILE = 'topology.wtop';
const TMP_PREFIX = `${FILE}.tmp-`;
const MAGIC = 0x504f5457; // "WTOP" little-endian
const VERSION = 1;
const HEADER = 16;

function empty(): TopologySnapshot {
  return { exchanges: [], queues: [], bindings: [] };
}

function encode(snapshot: TopologySnapshot): Buffer {
  const payload = pack(snapshot);
  const out = Buffer.alloc(HEADER + payload.length);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt16LE(VERSION, 4);
  out.writeUInt32LE(payload.length, 8);
  out.writeUInt32LE(crc32c(payload), 12);
  payload.copy(out, HEADER);
  return out;
}

function decode(buf: Buffer, path: string): TopologySnapshot {
  const bad = (why: string) =>
    errors.storage(`topology file ${path} is unreadable (${why}); refusing to start without it`);
  if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC) throw bad('bad header');
  if (buf.readUInt16LE(4) > VERSION) throw bad(`format version ${buf.readUInt16LE(4)}`);
  const len = buf.readUInt32LE(8);
  if (HEADER + len !== buf.length) throw bad('wrong length');
  const payload = buf.subarray(HEADER);
  if (crc32c(payload) !== buf.readUInt32LE(12)) throw bad('checksum mismatch');
  const s = unpack(payload) as TopologySnapshot;
  if (!s || !Array.isArray(s.exchanges) || !Array.isArray(s.queues) || !Array.isArray(s.bindings)) throw bad('bad shape');
  // msgpack writes an absent optional field as nil.
  for (const e of s.exchanges) if (e.alternateExchange == null) delete e.alternateExchange;
  return s;
}

interface Job {
  bytes: Buffer;
  waiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
}

export class TopologyStore {
  private saved: Buffer | null;
  private queued: Job | null = null;
  private writing = false;
  private tmpSeq = 0;

  private constructor(
    private readonly dir: string,
    private readonly sync: boolean,
    saved: Buffer | null,
  ) {
    this.saved = saved;
  }

  static async open(dir: string, opts?: { sync?: SyncMode }): Promise<TopologyStore> {
    await mkdir(dir, { recursive: true });
    // A tmp file is a save that crashed before its rename: the real file is still the old one.
    for (const name of await readdir(dir)) {
      if (name.startsWith(TMP_PREFIX)) await unlink(join(dir, name)).catch(() => undefined);
    }
    const path = join(dir, FILE);
    let saved: Buffer | null = null;
    try {
      saved = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (saved) decode(saved, path); // fail at open, not later
    return new TopologyStore(dir, (opts?.sync ?? 'always') === 'always', saved);
  }

  /** What was saved last (a fresh copy), or an empty snapshot. */
  load(): TopologySnapshot {
    return this.saved ? decode(this.saved, join(this.dir, FILE)) : empty();
  }

  /** Saves atomically. Concurrent calls are serialised and coalesced: the last snapshot wins. */
  save(snapshot: TopologySnapshot): Promise<void> {
    const bytes = encode(snapshot); // capture now: the caller may mutate its objects afterwards
    return new Promise((resolve, reject) => {
      if (this.queued) {
        this.queued.bytes = bytes;
        this.queued.waiters.push({ resolve, reject });
      } else this.queued = { bytes, waiters: [{ resolve, reject }] };
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queued) {
      const job = this.queued;
      this.queued = null;
      try {
        await this.write(job.bytes);
        this.saved = job.bytes;
        for (const w of job.waiters) w.resolve();
      } catch (err) {
        const e = errors.storage(`saving the topology failed: ${(err as Error).message}`, err);
        for (const w of job.waiters) w.reject(e);
      }
    }
    this.writing = false;
  }

  private async write(bytes: Buffer): Promise<void> {
    const tmp = join(this.dir, `${TMP_PREFIX}${process.pid}-${this.tmpSeq++}`);
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(bytes);
        if (this.sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, FILE));
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    if (this.sync) {
      const d = await open(this.dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    }
  }
}
