/**
 * The examples run under tsx, which strips types without checking them, and
 * `npx tsc -b` does not cover examples/: type-check them here, against the
 * SDK's published types, so an SDK change that breaks an example fails a test.
 * (Their tests, examples/test, are checked with every test by tsconfig.test.json.)
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot, runNode } from './helpers.js';

it('examples type-check (tsc -p examples)', async () => {
  const tsc = createRequire(join(repoRoot, 'package.json')).resolve('typescript/bin/tsc');
  const r = await runNode([tsc, '-p', 'examples/tsconfig.json', '--pretty', 'false']);
  expect(r.code, r.describe()).toBe(0);
});
