import { configDefaults, defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

const ALL = ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'examples/test/**/*.test.ts'];

/**
 * Unit tests: no child process and no real broker (codec, routing, the store
 * on a temp folder, the client against the in-process fake server, CLI and
 * report formatting). `npm run test:unit` runs only these; a test file not
 * listed here is an integration test.
 */
const UNIT = [
  'packages/protocol/test/**/*.test.ts',
  'packages/broker/test/routing/**/*.test.ts',
  'packages/broker/test/storage/**/*.test.ts',
  'packages/broker/test/{queue-spill,login-gate}.test.ts',
  'packages/broker/test/http/router.test.ts',
  'packages/broker/test/kv/**/*.test.ts',
  'packages/client/test/{options,session,connection,consume,publish,resilience-unit}.test.ts',
  'packages/cli/test/units.test.ts',
  'bench/test/{report,broker-flags,stall}.test.ts',
];

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, so a stale dist/ never hides a change.
    alias: {
      '@warren/protocol': src('protocol'),
      '@warren/broker': src('broker'),
      '@warren/client': src('client'),
      '@warren/tasks': src('tasks'),
    },
  },
  test: {
    pool: 'forks',
    // The reused PUBLISH / DELIVER frames are guarded: one kept past its handler throws
    // (packages/protocol/src/frame-guard.ts), and the setup file fails the test that did it.
    env: { WARREN_FRAME_GUARD: '1' },
    setupFiles: ['./test-support/frame-guard-setup.ts'],
    // `npm test` runs both projects; `--project unit` only the first.
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, testTimeout: 30_000, hookTimeout: 30_000 } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ALL,
          exclude: [...configDefaults.exclude, ...UNIT],
          // Three times test-support's WAIT_LIMIT_MS: a hung child or broker fails its
          // wait first, with what it waited for and the child's output.
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
