/**
 * Keeps the end-to-end harness working: runs it against Warren and the floors
 * only (built packages, separate processes; never RabbitMQ, NATS or Redis) with
 * tiny counts and checks that every scenario produced positive numbers. Not a
 * performance test.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../../test-support/temp-dir.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
/** Per scenario: the numbers Warren must report, and those of the floor measured beside it. */
const scenarios: Record<string, { warren: string[]; floor?: string[] }> = {
  '1': { warren: ['deliveredPerSec', 'publishedPerSec', 'brokerCpuSecPer100k', 'brokerElu'], floor: ['deliveredPerSec'] },
  // syncBusy, syncRatePerSec: the share of the phase a sync was out, messages per second of sync time.
  '2': { warren: ['deliveredPerSec', 'publishedPerSec', 'brokerCpuSecPer100k', 'msgsPerSync', 'syncBusy', 'syncRatePerSec'], floor: ['deliveredPerSec', 'msgsPerSync'] },
  '3': { warren: ['deliveredPerSec', 'publishedPerSec'] },
  '4': { warren: ['p50', 'p99'], floor: ['p50', 'p99'] },
  '7': { warren: ['p50', 'p99', 'brokerElu'], floor: ['p50', 'p99'] },
  '5': { warren: ['mbPerSec', 'deliveredPerSec'], floor: ['mbPerSec'] },
  logins: { warren: ['connectPerSec', 'stormP99', 'quietP99'] },
  queues: { warren: ['q1PerSec', 'q100PerSec', 'q1000PerSec', 'q10000PerSec', 'q10000RssMB'] },
  connections: { warren: ['c10PerSec', 'c100PerSec', 'c1000PerSec', 'c1000RssMB'] },
};

/** Runs the harness on these scenarios and returns the JSON it wrote. */
async function runHarness(
  dir: string,
  ids: string[],
  extra: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ machine: { cores: number }; scenarios: { id: string; systems: Record<string, Record<string, number>>; errors: Record<string, string>; sideBySide?: Record<string, number> }[] }> {
  const out = join(dir, `smoke-${ids[0]}.json`);
  const args = ['--import', 'tsx', 'bench/e2e/run.ts', ids.join(','), '--count', '200', '--quick', '--no-peers', '--out', out, ...extra];
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, args, { cwd: repo, timeout: 590_000, env }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(),
    );
  });
  return JSON.parse(await readFile(out, 'utf8'));
}

describe('bench e2e harness (smoke)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await removeDir(dir);
  });

  // The topic scenario is left out (its 10,000 bindings take long and it has no floor); the rest in three runs.
  it.each([[['1', '2', '3', '4', '7', '5']], [['logins']], [['queues', 'connections']]])(
    'runs %j against Warren and its floors, no peers, and writes positive numbers',
    async (ids) => {
      dir ??= await tempDir('warren-bench-smoke-');
      const profiles = join(dir, `profiles-${ids[0]}`);
      const brokerProfiles = join(dir, `broker-profiles-${ids[0]}`);
      const run = await runHarness(dir, ids, ids.includes('1') ? ['--profile-workers', profiles, '--profile-broker', brokerProfiles, '--side-by-side'] : []);
      expect(run.machine.cores).toBeGreaterThan(0);
      expect(run.scenarios.map((s) => s.id)).toEqual(ids);
      for (const s of run.scenarios) {
        expect(s.errors, `scenario ${s.id}`).toEqual({});
        expect(Object.keys(s.systems).sort(), `scenario ${s.id}`).toEqual(scenarios[s.id]!.floor ? ['floor', 'warren'] : ['warren']);
        for (const [system, keys] of Object.entries(scenarios[s.id]!)) {
          for (const key of keys) {
            const v = s.systems[system]?.[key];
            expect(Number.isFinite(v) && v! > 0, `scenario ${s.id} ${system} ${key} = ${v}`).toBe(true);
          }
        }
        if (s.id === '4' || s.id === '7') {
          // --side-by-side: Warren and the relay at the same time, p99s paired per slice.
          const b = s.sideBySide;
          for (const key of ['warrenP99', 'relayP99', 'sliceMs']) expect(Number.isFinite(b?.[key]) && b![key]! > 0, `scenario ${s.id} sideBySide ${key} = ${b?.[key]}`).toBe(true);
          expect(Number.isFinite(b?.p99Diff), `scenario ${s.id} sideBySide p99Diff`).toBe(true);
          // Scenario 4's 200 messages take 40 ms, enough for the two sides' phases to overlap and pair
          // slices; scenario 7's take 4 ms, less than the sides' start skew on a busy machine.
          if (s.id === '4') {
            expect(b!.slices > 0 && Number.isFinite(b!.sliceDiffMedian), `scenario 4 sideBySide slices = ${b!.slices}`).toBe(true);
            expect(b!.sliceWithin).toBeGreaterThanOrEqual(0);
            expect(b!.sliceWithin).toBeLessThanOrEqual(1);
          } else expect(b!.slices).toBeGreaterThanOrEqual(0);
          // CPU over 200 messages: a few 10 ms ticks at most, so only finite and not negative.
          for (const key of ['brokerUsPerMsg', 'relayUsPerMsg']) expect(Number.isFinite(b?.[key]) && b![key]! >= 0, `scenario ${s.id} sideBySide ${key} = ${b?.[key]}`).toBe(true);
        } else expect(s.sideBySide, `scenario ${s.id}`).toBeUndefined();
        if (s.id === '1') {
          // The producer's and consumer's CPU over the measured phase (200 messages: a few ticks of
          // 10 ms at most, so only finite and not negative), and the relay's own for the floor.
          for (const system of ['warren', 'floor']) {
            for (const key of ['producerCpuSecPer100k', 'consumerCpuSecPer100k', 'workersCpuSecPer100k']) {
              const v = s.systems[system]?.[key];
              expect(Number.isFinite(v) && v! >= 0, `scenario 1 ${system} ${key} = ${v}`).toBe(true);
            }
          }
          expect(s.systems.floor?.relayCpuSecPer100k).toBeGreaterThanOrEqual(0);
          // The broker's read and write syscalls and minor page faults over the measured phase (Linux: /proc/self/io).
          for (const key of ['brokerReadsPer100k', 'brokerWritesPer100k']) expect(s.systems.warren?.[key], `scenario 1 warren ${key}`).toBeGreaterThan(0);
          expect(s.systems.warren?.brokerPageFaultsPer100k).toBeGreaterThanOrEqual(0);
          // The queue's peak depth (polled), page-outs/-ins and publisher flow-control holds over the measured phase
          // (200 messages: all may well be 0, so only present, finite and not negative).
          for (const key of ['queuePeakReady', 'queuePeakPaged', 'pagedOut', 'pagedIn', 'flowHolds', 'flowHeldMs']) {
            const v = s.systems.warren?.[key];
            expect(Number.isFinite(v) && v! >= 0, `scenario 1 warren ${key} = ${v}`).toBe(true);
          }
        }
      }
      if (ids.includes('1')) {
        // --profile-workers: a CPU profile of the measured phase per worker, and its summary.
        for (const system of ['warren', 'relay']) {
          for (const role of ['producer', 'consumer']) {
            const name = join(profiles, `worker-${system}-${role}-s1`);
            const profile = JSON.parse(await readFile(`${name}.cpuprofile`, 'utf8')) as { nodes: unknown[]; samples: unknown[] };
            expect(profile.nodes.length, name).toBeGreaterThan(0);
            expect(await readFile(`${name}.txt`, 'utf8')).toMatch(/top \d+ functions by self time/);
          }
        }
        // --profile-broker: the Warren broker's own profile of the measured phase, and its summary.
        const name = join(brokerProfiles, 'broker-warren-s1');
        const profile = JSON.parse(await readFile(`${name}.cpuprofile`, 'utf8')) as { nodes: unknown[] };
        expect(profile.nodes.length, name).toBeGreaterThan(0);
        expect(await readFile(`${name}.txt`, 'utf8')).toMatch(/top \d+ functions by self time/);
      }
    },
    // A ceiling for a busy shared machine (about a minute each on a quiet one), not an expectation.
    600_000,
  );

  it(
    'scenario 2 with WARREN_BENCH_S2_FLOOR=relay: the durable relay is the floor, with its group commit, and the ack-gated relay and the append floor beside it',
    async () => {
      dir ??= await tempDir('warren-bench-smoke-');
      const run = await runHarness(dir, ['2'], [], { ...process.env, WARREN_BENCH_S2_FLOOR: 'relay' });
      const s = run.scenarios[0]!;
      expect(s.errors).toEqual({});
      for (const key of ['deliveredPerSec', 'msgsPerSync', 'syncBusy', 'syncRatePerSec', 'ackGatedPerSec', 'ackGatedMsgsPerSync', 'appendFloorPerSec', 'appendFloorMsgsPerSync']) {
        const v = s.systems.floor?.[key];
        expect(Number.isFinite(v) && v! > 0, `scenario 2 floor ${key} = ${v}`).toBe(true);
      }
    },
    600_000,
  );
});
