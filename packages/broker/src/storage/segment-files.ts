/**
 * Owns the segment files of one directory: one FileHandle per segment, opened
 * lazily, shared by the writer (head) and readers (readBody, compaction); creation,
 * deletion and the directory fsyncs that make both durable. The log writer may also
 * hold a second, write-only O_DSYNC handle of the segment it writes (dsyncHandle):
 * readers never use it.
 */
import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { segmentFileName } from './format.js';
import type { StoreHooks } from './types.js';

export class SegmentFiles {
  private readonly handles = new Map<number, Promise<FileHandle>>();
  /** Deleted segments: never reopen one (a late reader would leak a handle to a dead inode). */
  private readonly removed = new Set<number>();
  /** The O_DSYNC write handle: of one segment at a time (the writer only ever writes the newest). */
  private dsync: { no: number; fh: Promise<FileHandle> } | null = null;

  constructor(
    readonly dir: string,
    private readonly hooks: StoreHooks = {},
  ) {}

  path(no: number): string {
    return join(this.dir, segmentFileName(no));
  }

  /** Creates a new, empty segment file (fails if it exists) and keeps it open read-write. */
  create(no: number): Promise<FileHandle> {
    const p = open(this.path(no), 'wx+');
    this.handles.set(no, p);
    p.catch(() => this.handles.delete(no));
    return p;
  }

  /** The open handle of an existing segment (opened read-only on first use). */
  handle(no: number): Promise<FileHandle> {
    let p = this.handles.get(no);
    if (!p) {
      if (this.removed.has(no)) return Promise.reject(new Error(`segment ${segmentFileName(no)} was deleted`));
      p = open(this.path(no), 'r');
      this.handles.set(no, p);
      p.catch(() => this.handles.delete(no));
    }
    return p;
  }

  /**
   * A write-only handle of segment no opened with O_DSYNC: a write through it returns once
   * its bytes are durable (data integrity, as after fdatasync), but it syncs only the range
   * it wrote. Opening it closes the previous segment's one. Undefined O_DSYNC: do not call.
   */
  dsyncHandle(no: number): Promise<FileHandle> {
    if (this.dsync?.no === no) return this.dsync.fh;
    if (this.removed.has(no)) return Promise.reject(new Error(`segment ${segmentFileName(no)} was deleted`));
    this.closeDsync();
    const fh = this.openDsync(no);
    const entry = { no, fh };
    this.dsync = entry;
    fh.catch(() => {
      if (this.dsync === entry) this.dsync = null;
    });
    return fh;
  }

  private async openDsync(no: number): Promise<FileHandle> {
    await this.hooks.beforeOpenDsync?.(no);
    return open(this.path(no), constants.O_WRONLY | constants.O_DSYNC!);
  }

  private closeDsync(no?: number): Promise<void> {
    const d = this.dsync;
    if (d === null || (no !== undefined && d.no !== no)) return Promise.resolve();
    this.dsync = null;
    return d.fh.then((fh) => fh.close()).catch(() => undefined);
  }

  /** Reads exactly len bytes at position pos. */
  async read(no: number, pos: number, len: number): Promise<Buffer> {
    const fh = await this.handle(no);
    const buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await fh.read(buf, done, len - done, pos + done);
      if (bytesRead === 0) throw new Error(`short read in ${segmentFileName(no)} at ${pos + done}`);
      done += bytesRead;
    }
    return buf;
  }

  /** fsync of the directory: makes created and unlinked names durable. */
  async syncDir(): Promise<void> {
    await this.hooks.beforeSyncDir?.();
    const fh = await open(this.dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async closeHandle(no: number): Promise<void> {
    await this.closeDsync(no);
    const p = this.handles.get(no);
    if (!p) return;
    this.handles.delete(no);
    // close() waits for reads in flight; later ones fail with EBADF (readBody retries elsewhere).
    await p.then((fh) => fh.close()).catch(() => undefined);
  }

  /** Deletes one segment: close, unlink, fsync the directory (so deletions persist in order). */
  async remove(no: number): Promise<void> {
    this.removed.add(no);
    await this.closeHandle(no);
    await this.hooks.beforeRemove?.(no);
    try {
      await unlink(this.path(no));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await this.syncDir();
  }

  async closeAll(): Promise<void> {
    await Promise.all([this.closeDsync(), ...[...this.handles.keys()].map((no) => this.closeHandle(no))]);
  }
}
