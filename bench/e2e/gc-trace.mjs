/**
 * Diagnostics for the latency scenario: when WARREN_BENCH_DUMP names a folder,
 * every benchmark process records its garbage-collection pauses (absolute
 * start time in ms since the epoch, duration, kind) and writes them there as
 * gc-<name>-<pid>.csv when it exits, to line up with the consumer's raw
 * latency samples. Plain JavaScript: the broker child loads it without tsx.
 */
import { PerformanceObserver, performance, constants } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** @param {string} name */
export function traceGc(name) {
  const dir = process.env.WARREN_BENCH_DUMP;
  if (dir === undefined || dir === '') return;
  /** @type {string[]} */
  const lines = ['startMs,durationMs,kind'];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = /** @type {{ detail?: { kind?: number } }} */ (/** @type {unknown} */ (e)).detail?.kind ?? 0;
      lines.push(`${(performance.timeOrigin + e.startTime).toFixed(3)},${e.duration.toFixed(4)},${KINDS[kind] ?? kind}`);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  process.on('exit', () => writeFileSync(join(dir, `gc-${name}-${process.pid}.csv`), lines.join('\n') + '\n'));
}
