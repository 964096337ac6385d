/**
 * Helpers shared by the runner and its child processes: wall-clock time that
 * is comparable across processes, a seeded PRNG, the topic-exchange workload
 * (patterns, routing keys and a reference matcher), percentiles and /proc
 * readers for the peers' server processes.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Milliseconds since the epoch with sub-millisecond resolution; comparable between processes on one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Runs `phase` at least once and again until `minMs` have passed on `now`, at most `maxPhases`
 * times; returns how many ran. A warm-up counted in messages is over in milliseconds on a fast
 * system, before the JIT compiler has settled; repeating it for a minimum time fixes that for all.
 */
export async function warmUp(phase: () => Promise<unknown>, minMs: number, maxPhases: number, now: () => number = () => performance.now()): Promise<number> {
  const start = now();
  let phases = 0;
  do {
    await phase();
    phases++;
  } while (phases < maxPhases && now() - start < minMs);
  return phases;
}

import { prng } from '../../test-support/prng.js';

export { prng };

// ---------------------------------------------------------------------------
// Topic workload (scenario 6)
// ---------------------------------------------------------------------------

export interface TopicWorkload {
  /** patterns[q] = the binding keys of queue q. */
  patterns: string[][];
  /** The routing keys the producer cycles through. */
  keys: string[];
}

const VOCABULARY = Array.from({ length: 30 }, (_, i) => `w${i}`);

/**
 * Deterministic: the producer, the runner and both brokers see the same
 * workload. Patterns are 3-4 words starting with a literal, a word is `*`
 * with probability 0.15, and 5% of patterns end in `#` from their third word;
 * keys are 3-4 words. With 100 queues x 100 patterns a key reaches ~6 queues.
 */
export function topicWorkload(queues: number, bindingsPerQueue: number, keyCount = 2000, seed = 7): TopicWorkload {
  const rand = prng(seed);
  const word = () => VOCABULARY[Math.floor(rand() * VOCABULARY.length)]!;
  const patterns: string[][] = [];
  for (let q = 0; q < queues; q++) {
    const set = new Set<string>();
    while (set.size < bindingsPerQueue) {
      const n = 3 + Math.floor(rand() * 2);
      const words = [word()];
      for (let i = 1; i < n; i++) words.push(rand() < 0.15 ? '*' : word());
      if (rand() < 0.05) words.splice(2 + Math.floor(rand() * (n - 2)), n, '#');
      set.add(words.join('.'));
    }
    patterns.push([...set]);
  }
  const keys: string[] = [];
  for (let k = 0; k < keyCount; k++) {
    const n = 3 + Math.floor(rand() * 2); // 3..4 words
    keys.push(Array.from({ length: n }, word).join('.'));
  }
  return { patterns, keys };
}

/** matches[k] = how many distinct queues keys[k] reaches (the reference matcher; only the runner needs it). */
export function topicMatches(w: TopicWorkload): number[] {
  // Every pattern starts with a literal word: index the queues' patterns by it.
  const byFirst = new Map<string, Map<number, string[][]>>();
  w.patterns.forEach((qp, q) => {
    for (const p of qp) {
      const words = p.split('.');
      let perQueue = byFirst.get(words[0]!);
      if (perQueue === undefined) byFirst.set(words[0]!, (perQueue = new Map()));
      let list = perQueue.get(q);
      if (list === undefined) perQueue.set(q, (list = []));
      list.push(words);
    }
  });
  return w.keys.map((key) => {
    const words = key.split('.');
    let count = 0;
    for (const list of byFirst.get(words[0]!)?.values() ?? []) if (list.some((p) => topicMatch(p, 0, words, 0))) count++;
    return count;
  });
}

/** AMQP topic semantics: `*` is exactly one word, `#` zero or more. */
export function topicMatch(p: string[], pi: number, w: string[], wi: number): boolean {
  while (pi < p.length) {
    const t = p[pi]!;
    if (t === '#') {
      for (let k = wi; k <= w.length; k++) if (topicMatch(p, pi + 1, w, k)) return true;
      return false;
    }
    if (wi >= w.length || (t !== '*' && t !== w[wi])) return false;
    pi++;
    wi++;
  }
  return wi === w.length;
}

/** Deliveries expected when the producer publishes keys[0..count) cyclically. */
export function topicExpected(w: TopicWorkload, matches: number[], count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += matches[i % w.keys.length]!;
  return total;
}

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

/** Nearest-rank percentile of a sorted array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** The p99 of each `sliceMs` slice of the samples, by publish time (slices start at multiples of sliceMs since the epoch). */
export function sliceP99s(sentTimes: Float64Array, latencies: Float64Array, n: number, sliceMs: number): SliceP99[] {
  const by = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const at = Math.floor(sentTimes[i]! / sliceMs) * sliceMs;
    let list = by.get(at);
    if (list === undefined) by.set(at, (list = []));
    list.push(latencies[i]!);
  }
  return [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([at, list]) => ({ at, p99: percentile(Float64Array.from(list).sort(), 99), samples: list.length }));
}

export interface SliceP99 {
  at: number;
  p99: number;
  samples: number;
}

/**
 * --side-by-side: Warren's and the relay's per-slice p99s, run at the same time, paired by slice.
 * Only slices where both have at least half the median slice's samples count (the phase's first
 * and last slices are partial). Returns each pair's difference (Warren - relay, ms) and summaries.
 */
export function pairSlices(warren: SliceP99[], relay: SliceP99[], target: number): { diffs: number[]; median: number; min: number; max: number; within: number } {
  const full = (list: SliceP99[]) => {
    const n = list.map((s) => s.samples).sort((a, b) => a - b);
    const mid = n[Math.floor(n.length / 2)] ?? 0;
    return new Map(list.filter((s) => s.samples >= mid / 2).map((s) => [s.at, s.p99]));
  };
  const r = full(relay);
  const diffs: number[] = [];
  for (const [at, p99] of full(warren)) {
    const other = r.get(at);
    if (other !== undefined) diffs.push(p99 - other);
  }
  const sorted = [...diffs].sort((a, b) => a - b);
  const median = sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return { diffs, median, min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN, within: diffs.length === 0 ? NaN : diffs.filter((d) => d <= target).length / diffs.length };
}

// ---------------------------------------------------------------------------
// /proc (Linux): RabbitMQ's beam.smp
// ---------------------------------------------------------------------------

/** The pid of RabbitMQ's Erlang VM, or undefined when it cannot be seen. */
export function findBeamPid(): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (cmd.includes('beam.smp') && cmd.includes('rabbit')) return Number(entry);
      } catch {
        // gone, or not ours to read
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** The pid of a server process by its executable's name (nats-server, redis-server), or undefined. */
export function findServerPid(name: string): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) return Number(entry);
      } catch {
        // gone, or not ours to read
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

export interface ProcSample {
  /** utime + stime, seconds. */
  cpuSeconds: number;
  rssBytes: number;
}

export function procSample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { cpuSeconds: ticks / 100, rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** The soft limit on open files of a process (RabbitMQ refuses sockets well before it). */
export function openFilesLimit(pid: number): number | undefined {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
