/**
 * Snapshot files: one value saved as one file replaced atomically (write tmp,
 * fsync, rename, fsync dir), so a crash leaves either the old or the new
 * snapshot, never a mix. TopologyStore is the durable exchanges, queues and
 * bindings of a vhost (topology.wtop, magic "WTOP"); vhosts.ts keeps the vhost
 * registry the same way (vhosts.wvh, magic "WVHS").
 *
 * File: u32 magic | u16 version | u16 0 | u32 payload length | u32 crc32c(payload) |
 * payload = msgpack(value).
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { pack, unpack } from '@warren/protocol';
import { errors } from '../errors.js';
import type { SyncMode, TopologySnapshot } from './types.js';

/**
 * One msgpack value in one file, replaced atomically. `decode` checks the shape of
 * what was read (throws on a bad one); the header carries the kind's magic.
 */
export interface SnapshotKind<T> {
  readonly file: string;
  /** Four ASCII bytes, little-endian. */
  readonly magic: number;
  readonly version: number;
  readonly what: string;
  empty(): T;
  check(value: unknown): T | null;
}

const HEADER = 16;

function encode<T>(kind: SnapshotKind<T>, value: T): Buffer {
  const payload = pack(value);
  const out = Buffer.alloc(HEADER + payload.length);
  out.writeUInt32LE(kind.magic, 0);
  out.writeUInt16LE(kind.version, 4);
  out.writeUInt32LE(payload.length, 8);
  out.writeUInt32LE(crc32c(payload), 12);
  payload.copy(out, HEADER);
  return out;
}

function decode<T>(kind: SnapshotKind<T>, buf: Buffer, path: string): T {
  const bad = (why: string) =>
    errors.storage(`${kind.what} file ${path} is unreadable (${why}); refusing to start without it`);
  if (buf.length < HEADER || buf.readUInt32LE(0) !== kind.magic) throw bad('bad header');
  if (buf.readUInt16LE(4) > kind.version) throw bad(`format version ${buf.readUInt16LE(4)}`);
  const len = buf.readUInt32LE(8);
  if (HEADER + len !== buf.length) throw bad('wrong length');
  const payload = buf.subarray(HEADER);
  if (crc32c(payload) !== buf.readUInt32LE(12)) throw bad('checksum mismatch');
  const value = kind.check(unpack(payload));
  if (value === null) throw bad('bad shape');
  return value;
}

/** The durable exchanges, queues and bindings of one vhost. */
const TOPOLOGY: SnapshotKind<TopologySnapshot> = {
  file: 'topology.wtop',
  magic: 0x504f5457, // "WTOP" little-endian
  version: 1,
  what: 'topology',
  empty: () => ({ exchanges: [], queues: [], bindings: [] }),
  check(v) {
    const s = v as TopologySnapshot;
    if (!s || !Array.isArray(s.exchanges) || !Array.isArray(s.queues) || !Array.isArray(s.bindings)) return null;
    // msgpack writes an absent optional field as nil.
    for (const e of s.exchanges) if (e.alternateExchange == null) delete e.alternateExchange;
    return s;
  },
};

interface Job {
  bytes: Buffer;
  waiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
}

export class SnapshotFile<T> {
  private saved: Buffer | null;
  private queued: Job | null = null;
  private writing = false;
  private tmpSeq = 0;

  protected constructor(
    private readonly kind: SnapshotKind<T>,
    private readonly dir: string,
    private readonly sync: boolean,
    saved: Buffer | null,
  ) {
    this.saved = saved;
  }

  /** Opens (creating the folder) the file of this kind under dir; a missing file reads as kind.empty(). */
  static async openKind<T>(kind: SnapshotKind<T>, dir: string, opts?: { sync?: SyncMode }): Promise<SnapshotFile<T>> {
    const FILE = kind.file;
    const TMP_PREFIX = `${FILE}.tmp-`;
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
    if (saved) decode(kind, saved, path); // fail at open, not later
    return new SnapshotFile(kind, dir, (opts?.sync ?? 'always') === 'always', saved);
  }

  /** What was saved last (a fresh copy), or the kind's empty value. */
  load(): T {
    return this.saved ? decode(this.kind, this.saved, join(this.dir, this.kind.file)) : this.kind.empty();
  }

  /** Saves atomically. Concurrent calls are serialised and coalesced: the last snapshot wins. */
  save(snapshot: T): Promise<void> {
    const bytes = encode(this.kind, snapshot); // capture now: the caller may mutate its objects afterwards
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
        const e = errors.storage(`saving the ${this.kind.what} failed: ${(err as Error).message}`, err);
        for (const w of job.waiters) w.reject(e);
      }
    }
    this.writing = false;
  }

  private async write(bytes: Buffer): Promise<void> {
    const tmp = join(this.dir, `${this.kind.file}.tmp-${process.pid}-${this.tmpSeq++}`);
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(bytes);
        if (this.sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, this.kind.file));
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

/** The topology snapshot of one vhost (topology.wtop in the vhost's folder). */
export type TopologyStore = SnapshotFile<TopologySnapshot>;
export const TopologyStore = {
  open: (dir: string, opts?: { sync?: SyncMode }): Promise<TopologyStore> => SnapshotFile.openKind(TOPOLOGY, dir, opts),
};
