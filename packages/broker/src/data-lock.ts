/**
 * One broker per data folder: a LOCK file holding the owner's pid. A lock
 * left by a process that no longer exists (kill -9) is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errors } from './errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DataLock {
  private constructor(private readonly path: string) {}

  static async acquire(dir: string): Promise<DataLock> {
    const path = join(dir, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(path, 'wx');
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        return new DataLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
          throw errors.resourceLocked(`data folder ${dir} is in use by process ${pid}`);
        }
        if (pid === process.pid) {
          throw errors.resourceLocked(`data folder ${dir} is already used by another broker in this process`);
        }
        await rm(path, { force: true });
      }
    }
    throw errors.resourceLocked(`could not lock data folder ${dir}`);
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
