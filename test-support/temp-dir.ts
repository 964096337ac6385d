/**
 * Temporary folders for tests (broker data folders, store files), always
 * under the OS temp folder and removed by the test that made them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/** A new empty folder under the OS temp folder. */
export function tempDir(prefix = 'warren-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * A fresh folder for every test of the calling suite, removed after it:
 * `const tmp = tempDirPerTest('warren-storage-')`, then `tmp.path` in a test.
 */
export function tempDirPerTest(prefix?: string): { readonly path: string } {
  let current: string | undefined;
  beforeEach(async () => {
    current = await tempDir(prefix);
  });
  afterEach(async () => {
    if (current !== undefined) await removeDir(current);
    current = undefined;
  });
  return {
    get path(): string {
      if (current === undefined) throw new Error('tempDirPerTest: path is only there while a test runs');
      return current;
    },
  };
}
