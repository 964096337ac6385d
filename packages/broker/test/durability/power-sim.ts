/**
 * A power-cut model of the filesystem, for the files of one directory, built from the
 * real system calls the process makes (FileHandle.writev, datasync and sync are
 * watched in this process): what a power cut cannot take away.
 *
 * - fdatasync / fsync of a file: every byte written before it began is durable (the
 *   file's size when the call began; counting a sync that had begun as done is lenient
 *   about the moment of the cut, not about a confirm no sync covers).
 * - a write through an O_DSYNC handle: once it has returned, the bytes IT wrote are
 *   durable (and the size needed to read them), and nothing else: earlier bytes of the
 *   file written without a sync are not (Linux O_DSYNC is per write, like
 *   sync_file_range + fdatasync of that range).
 * - fsync of the directory: the names it holds then are durable; a file whose name
 *   never was is gone after the cut.
 *
 * cutFile then does to one file what a power cut may do to the bytes outside its
 * durable ranges: drop them, keep a torn prefix, or keep pages in any order (the rest
 * reads as zeros). Bytes inside a durable range are never touched.
 */
import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, truncateSync, writeSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Rng } from '../../../../test-support/prng.js';

export type Fate = 'drop' | 'torn' | 'pages';
/** [from, to) */
export type Range = readonly [number, number];

const PAGE = 4096;
const O_DSYNC = constants.O_DSYNC ?? 0;

export interface DiskState {
  /** Durable byte ranges per file name (merged, sorted). */
  durable: Map<string, Range[]>;
  /** File names made durable by a directory fsync (or present when the watch began). */
  named: Set<string>;
}

export interface DurabilityWatch {
  /** A copy of what is durable now. */
  snapshot(): DiskState;
  /** Every O_DSYNC write seen, per file name (tests can check the model was exercised). */
  readonly dsyncWrites: Map<string, number>;
  stop(): void;
}

type Proto = { writev: FileHandle['writev']; datasync: FileHandle['datasync']; sync: FileHandle['sync'] };

/** Merges r into ranges (sorted, non-overlapping, adjacent ones joined). */
export function addRange(ranges: Range[], r: Range): Range[] {
  if (r[1] <= r[0]) return ranges;
  const all = [...ranges, r].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [from, to] of all) {
    const last = out.at(-1);
    if (last !== undefined && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

function existing(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function pathOf(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

function isDsync(fd: number): boolean {
  const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m !== null && (parseInt(m[1]!, 8) & O_DSYNC) !== 0;
}

/**
 * Starts watching folder (Linux: reads /proc/self/fd). Files already in it count as
 * durable, whole and named. Only one watch at a time.
 */
export async function watchDurability(folder: string): Promise<DurabilityWatch> {
  // The folder may not exist yet (a broker about to start creates it).
  const dir = join(realpathSync(dirname(folder)), basename(folder));
  const probe = await openFile(process.execPath, 'r');
  const proto = Object.getPrototypeOf(probe) as Proto;
  await probe.close();
  const original: Proto = { writev: proto.writev, datasync: proto.datasync, sync: proto.sync };
  const durable = new Map<string, Range[]>();
  const named = new Set<string>();
  const dsyncWrites = new Map<string, number>();
  for (const name of existing(dir)) {
    named.add(name);
    durable.set(name, addRange([], [0, statSync(join(dir, name)).size]));
  }
  const mine = (path: string | null): string | null => (path !== null && dirname(path) === dir ? path.slice(dir.length + 1) : null);
  const synced = (fd: number) => {
    const path = pathOf(fd);
    if (path === dir) {
      for (const name of existing(dir)) named.add(name);
      return;
    }
    const name = mine(path);
    if (name !== null) durable.set(name, addRange(durable.get(name) ?? [], [0, statSync(path!).size]));
  };

  proto.writev = async function (this: FileHandle, ...args: Parameters<FileHandle['writev']>) {
    const name = mine(pathOf(this.fd));
    const dsync = name !== null && isDsync(this.fd);
    const r = await original.writev.apply(this, args);
    if (dsync) {
      const pos = args[1];
      if (typeof pos !== 'number') throw new Error('power-sim: an O_DSYNC writev without a position cannot be modelled');
      durable.set(name, addRange(durable.get(name) ?? [], [pos, pos + r.bytesWritten]));
      dsyncWrites.set(name, (dsyncWrites.get(name) ?? 0) + 1);
    }
    return r;
  } as FileHandle['writev'];
  proto.datasync = function (this: FileHandle) {
    synced(this.fd);
    return original.datasync.apply(this);
  };
  proto.sync = function (this: FileHandle) {
    synced(this.fd);
    return original.sync.apply(this);
  };

  return {
    dsyncWrites,
    snapshot: () => ({ durable: new Map([...durable].map(([k, v]) => [k, [...v]])), named: new Set(named) }),
    stop: () => {
      proto.writev = original.writev;
      proto.datasync = original.datasync;
      proto.sync = original.sync;
    },
  };
}

/**
 * What a power cut leaves of one file whose durable ranges are `ranges`: the bytes
 * outside them are lost (fate 'drop': a hole reads as zeros, the tail after the last
 * durable byte is gone), torn (a random prefix of each such stretch made it), or
 * written back page by page in any order (each page of a stretch made it or reads as
 * zeros; the file ends after the last page that made it).
 */
export function cutFile(path: string, ranges: readonly Range[], fate: Fate, r: Rng): void {
  const size = statSync(path).size;
  let durableEnd = 0;
  for (const [, to] of ranges) durableEnd = Math.max(durableEnd, Math.min(to, size));
  // Stretches not covered by a durable range.
  const gaps: [number, number][] = [];
  let at = 0;
  for (const [from, to] of ranges) {
    if (from > at) gaps.push([at, Math.min(from, size)]);
    at = Math.max(at, to);
  }
  if (at < size) gaps.push([at, size]);
  const fd = openSync(path, 'r+');
  const zero = (from: number, to: number) => {
    if (to > from) writeSync(fd, Buffer.alloc(to - from), 0, to - from, from);
  };
  try {
    let end = durableEnd;
    for (const [from, to] of gaps) {
      if (to <= from) continue;
      const tail = from >= durableEnd;
      if (fate === 'drop') {
        if (!tail) zero(from, to);
      } else if (fate === 'torn') {
        const kept = r.int(from, to);
        if (tail) end = kept;
        else zero(kept, to);
      } else {
        for (let page = Math.floor(from / PAGE) * PAGE; page < to; page += PAGE) {
          const a = Math.max(page, from);
          const b = Math.min(page + PAGE, to);
          if (r.next() < 0.5) {
            if (tail) end = b;
          } else zero(a, b);
        }
      }
    }
    truncateSync(path, Math.max(end, durableEnd));
  } finally {
    closeSync(fd);
  }
}
