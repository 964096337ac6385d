/**
 * One broker per data folder: a LOCK file naming its owner, as JSON
 * `{ pid, host, boot, start }`: the process id, the host name (os.hostname()),
 * the kernel's boot id (/proc/sys/kernel/random/boot_id, Linux) and the
 * process's start time (clock ticks since boot, /proc/<pid>/stat, Linux);
 * boot and start are null where the system does not give them.
 *
 * When a LOCK is already there, acquire() decides, in this order:
 * - a broker in this process holds the folder: refused (RESOURCE_LOCKED). Only
 *   this, never the pid alone, makes "our own pid" a conflict: in a container
 *   the broker often has the same small pid after a restart, and the LOCK it
 *   left then names our pid;
 * - the LOCK names another host: refused (RESOURCE_LOCKED). A pid means nothing
 *   on another host (a volume shared by two machines or two containers), so it
 *   is never taken over; the message says to delete the LOCK if no broker runs
 *   there any more. A container's host name is its id unless set, so give the
 *   broker's container a fixed one (docker-compose.yml: `hostname:`;
 *   `docker run --hostname`), and a recreated container takes its LOCK over
 *   (two live containers with the same host name, sharing the volume, are not
 *   told apart: their pids live in separate namespaces);
 * - same host, another boot id: taken over (the machine restarted since);
 * - same host and boot, our pid: taken over (no broker here holds it);
 * - same host and boot, a live process with that pid that started when the
 *   LOCK says (or either start time unknown): refused, in use by that process;
 * - otherwise (the process is gone, or the pid was reused): taken over.
 * A LOCK holding only a pid (written by an older version): refused while a
 * process with that pid other than ours lives, else taken over. An empty or
 * unreadable LOCK (a crash while writing it) is taken over.
 */
import { readFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { errors } from './errors.js';

/** What a LOCK file says about its owner. */
export interface LockOwner {
  pid: number;
  host: string;
  boot: string | null;
  start: number | null;
}

/** Folders (resolved paths) locked by a broker in this process. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or null. */
export function processStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isSafeInteger(start) ? start : null;
  } catch {
    return null;
  }
}

/** This process as a LOCK names it. */
export function selfOwner(): LockOwner {
  return { pid: process.pid, host: hostname(), boot: bootId(), start: processStart(process.pid) };
}

/** A LOCK's content: an owner, a bare pid (older versions), or null (empty or unreadable). */
function parse(text: string): LockOwner | number | null {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  try {
    const o = JSON.parse(trimmed) as Partial<LockOwner>;
    if (!Number.isSafeInteger(o.pid) || typeof o.host !== 'string') return null;
    return {
      pid: o.pid!,
      host: o.host,
      boot: typeof o.boot === 'string' ? o.boot : null,
      start: Number.isSafeInteger(o.start) ? o.start! : null,
    };
  } catch {
    return null;
  }
}

/** A live process of this host holds the folder. */
const inUse = (dir: string, pid: number) => `data folder ${dir} is in use by process ${pid} (another broker?): stop it, or use another data folder`;

/** Why the LOCK's owner keeps the folder, or null if it may be taken over. */
function conflict(dir: string, lockPath: string, owner: LockOwner | number | null, me: LockOwner): string | null {
  if (owner === null) return null;
  if (typeof owner === 'number') {
    return owner > 0 && owner !== me.pid && alive(owner) ? inUse(dir, owner) : null;
  }
  if (owner.host !== me.host) {
    return (
      `data folder ${dir} is locked by a broker on host '${owner.host}' (pid ${owner.pid}), not this host '${me.host}'; ` +
      `if no broker runs there any more (e.g. a replaced container), delete ${lockPath} and start again`
    );
  }
  if (owner.boot !== null && me.boot !== null && owner.boot !== me.boot) return null;
  if (owner.pid === me.pid || !alive(owner.pid)) return null;
  if (owner.start !== null) {
    const start = processStart(owner.pid);
    if (start !== null && start !== owner.start) return null;
  }
  return inUse(dir, owner.pid);
}

export class DataLock {
  private released = false;

  private constructor(
    private readonly path: string,
    private readonly key: string,
  ) {}

  static async acquire(dir: string): Promise<DataLock> {
    const key = resolve(dir);
    if (held.has(key)) throw errors.resourceLocked(`data folder ${dir} is already used by another broker in this process`);
    held.add(key);
    const path = join(dir, 'LOCK');
    try {
      const me = selfOwner();
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const fh = await open(path, 'wx');
          await fh.writeFile(`${JSON.stringify(me)}\n`);
          await fh.close();
          return new DataLock(path, key);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          const owner = parse(await readFile(path, 'utf8').catch(() => ''));
          const reason = conflict(dir, path, owner, me);
          if (reason !== null) throw errors.resourceLocked(reason);
          await rm(path, { force: true });
        }
      }
      throw errors.resourceLocked(`could not lock data folder ${dir}`);
    } catch (err) {
      held.delete(key);
      throw err;
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await rm(this.path, { force: true });
    held.delete(this.key);
  }
}
