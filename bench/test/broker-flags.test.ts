/**
 * The benchmarks run their broker under the node flags of `npm start` (read from the root
 * package.json), so that what they measure is how the broker is run.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BROKER_NODE_FLAGS, WORKER_NODE_FLAGS, brokerExecArgv, childExecArgv, nodeFlagsOf } from '../e2e/children.js';

describe('broker node flags', () => {
  it('are the flags of `npm start`, the old-generation limit among them', () => {
    const start = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }).scripts.start;
    expect(BROKER_NODE_FLAGS).toEqual(nodeFlagsOf(start));
    expect(BROKER_NODE_FLAGS).toContain('--initial-old-space-size=64');
  });

  it('every benchmark that forks the broker (scenarios, management, tasks) forks it with them', () => {
    expect(brokerExecArgv([], {})).toEqual([...BROKER_NODE_FLAGS]);
    expect(brokerExecArgv(['--cpu-prof'], { WARREN_BENCH_BROKER_ARGS: ' --max-semi-space-size=16 ' })).toEqual([...BROKER_NODE_FLAGS, '--max-semi-space-size=16', '--cpu-prof']);
    for (const file of ['scenarios.ts', 'tasks.ts']) {
      const src = readFileSync(new URL(`../e2e/${file}`, import.meta.url), 'utf8');
      expect(src, file).toMatch(/brokerExecArgv\(/);
      expect(src, file).not.toMatch(/fork\([^)]*broker-child\.mjs[^)]*execArgv: *\[/);
    }
  });

  it('are the words between node and the script', () => {
    expect(nodeFlagsOf('node --a=1 -b x.js --not-a-flag')).toEqual(['--a=1', '-b']);
    expect(nodeFlagsOf('node x.js')).toEqual([]);
    expect(() => nodeFlagsOf('tsx x.js')).toThrow(/not a node command line/);
  });
});

describe('worker node flags', () => {
  it('every producer and consumer (worker.ts) runs without the memory reducer and with the old-generation floor', () => {
    expect(WORKER_NODE_FLAGS).toEqual(['--no-memory-reducer', '--initial-old-space-size=64']);
    expect(childExecArgv('worker.ts', [], {})).toEqual(['--import', 'tsx', ...WORKER_NODE_FLAGS]);
  });

  it('WARREN_BENCH_WORKER_ARGS comes after them (a later flag wins), the caller\'s flags last', () => {
    expect(childExecArgv('worker.ts', ['--x'], { WARREN_BENCH_WORKER_ARGS: ' --memory-reducer  --trace-gc ' })).toEqual([
      '--import',
      'tsx',
      ...WORKER_NODE_FLAGS,
      '--memory-reducer',
      '--trace-gc',
      '--x',
    ]);
  });

  it('are not given to the broker or the relay', () => {
    expect(childExecArgv('broker-child.mjs', [...BROKER_NODE_FLAGS], { WARREN_BENCH_WORKER_ARGS: '--trace-gc' })).toEqual([...BROKER_NODE_FLAGS]);
    expect(childExecArgv('relay-child.mjs', [], {})).toEqual([]);
  });
});

describe('runner node flags', () => {
  const scripts = (url: string) => (JSON.parse(readFileSync(new URL(url, import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;

  // The runner (and tsx's loader thread in it) sits idle while a scenario runs: with the memory
  // reducer on, V8 ran up to three mark-compacts in it ~8 s after start (10-37 ms each, plus its
  // concurrent-marking threads on this machine's cores), inside the first system's measured phase.
  it('`npm run bench` starts run.ts itself (no npm process in between) without the memory reducer', () => {
    const root = scripts('../../package.json').bench!;
    expect(root.startsWith('cd bench && ')).toBe(true);
    const cmd = root.slice('cd bench && '.length);
    expect(nodeFlagsOf(cmd)).toContain('--no-memory-reducer');
    expect(cmd.endsWith(' e2e/run.ts')).toBe(true);
  });

  it('so does the bench workspace\'s own bench and bench:profile', () => {
    const s = scripts('../package.json');
    for (const name of ['bench', 'bench:profile']) expect(nodeFlagsOf(s[name]!)).toContain('--no-memory-reducer');
  });
});
