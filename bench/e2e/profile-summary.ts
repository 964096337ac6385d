/**
 * Sums self time per function in a V8 .cpuprofile (from `node --cpu-prof`)
 * and prints the top ones, mapped back to the TypeScript sources through the
 * dist/*.js.map files when they exist.
 *
 *   node --import tsx bench/e2e/profile-summary.ts <file.cpuprofile> [top=30]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const maps = new Map<string, SourceMap | null>();

function sourceMapFor(url: string): SourceMap | null {
  let m = maps.get(url);
  if (m !== undefined) return m;
  m = null;
  try {
    const file = fileURLToPath(url);
    if (existsSync(`${file}.map`)) m = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
  } catch {
    // not a file URL, or no usable map
  }
  maps.set(url, m);
  return m;
}

/** "packages/broker/src/queue.ts:123" for our code, "node:internal/... :12" for Node's, the URL's tail otherwise. */
function location(cf: CallFrame): string {
  if (cf.url === '') return '';
  const map = cf.url.startsWith('file:') ? sourceMapFor(cf.url) : null;
  if (map !== null) {
    const e = map.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number };
    if (e.originalSource !== undefined && e.originalLine !== undefined) {
      const src = e.originalSource.startsWith('file:') ? fileURLToPath(e.originalSource) : resolve(dirname(fileURLToPath(cf.url)), e.originalSource);
      return `${relative(repoRoot, src)}:${e.originalLine + 1}`;
    }
  }
  const path = cf.url.startsWith('file:') ? relative(repoRoot, fileURLToPath(cf.url)) : cf.url;
  return `${path}:${cf.lineNumber + 1}`;
}

export interface Entry {
  name: string;
  location: string;
  selfMs: number;
}

export function selfTimes(profile: Profile): { entries: Entry[]; totalMs: number; idleMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const agg = new Map<string, Entry>();
  let totalMs = 0;
  let idleMs = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame;
    const ms = us / 1000;
    totalMs += ms;
    if (cf.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const loc = location(cf);
    const name = cf.functionName || '(anonymous)';
    const key = `${name}@${loc}`;
    const e = agg.get(key);
    if (e === undefined) agg.set(key, { name, location: loc, selfMs: ms });
    else e.selfMs += ms;
  }
  return { entries: [...agg.values()].sort((a, b) => b.selfMs - a.selfMs), totalMs, idleMs };
}

/** Per-file totals too, so "where does the time go" is visible at a glance. */
export function summarise(file: string, top = 30): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const { entries, totalMs, idleMs } = selfTimes(profile);
  const busy = totalMs - idleMs;
  const pct = (ms: number) => `${((ms / busy) * 100).toFixed(1).padStart(5)}%`;
  const lines: string[] = [];
  lines.push(`profile: ${relative(repoRoot, file)}  wall ${(totalMs / 1000).toFixed(2)} s, busy ${(busy / 1000).toFixed(2)} s (idle ${(idleMs / 1000).toFixed(2)} s)`);
  lines.push(`top ${top} functions by self time (% of busy time):`);
  for (const e of entries.slice(0, top)) lines.push(`  ${pct(e.selfMs)}  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}  ${e.location}`);
  const byFile = new Map<string, number>();
  for (const e of entries) {
    const f = e.location.replace(/:\d+$/, '') || e.name;
    byFile.set(f, (byFile.get(f) ?? 0) + e.selfMs);
  }
  lines.push('by file:');
  for (const [f, ms] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(ms)}  ${ms.toFixed(0).padStart(7)} ms  ${f}`);
  return lines.join('\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: profile-summary.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  process.stdout.write(summarise(resolve(file), Number(process.argv[3] ?? 30)));
}
