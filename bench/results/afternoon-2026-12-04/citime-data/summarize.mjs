// node summarize.mjs: per-file durations (vitest JSON: endTime - startTime of each test file) of every A/B run, and the pairs.
import { readdirSync, readFileSync } from 'node:fs';
const dir = new URL('.', import.meta.url).pathname;
const runs = {};
for (const f of readdirSync(dir).filter((f) => /^(\w+)-(\d+)-([AB])\.json$/.test(f))) {
  const [, tag, n, side] = /^(\w+)-(\d+)-([AB])\.json$/.exec(f);
  const j = JSON.parse(readFileSync(dir + f, 'utf8'));
  const ms = j.testResults.reduce((s, t) => s + (t.endTime - t.startTime), 0);
  const ok = j.numFailedTests === 0 && j.numPassedTests > 0;
  ((runs[tag] ??= {})[n] ??= {})[side] = { ms, ok };
}
for (const [tag, byN] of Object.entries(runs)) {
  console.log(`## ${tag}`);
  let faster = 0, pairs = 0;
  const ratios = [];
  for (const n of Object.keys(byN).sort((a, b) => a - b)) {
    const { A, B } = byN[n];
    const line = `pair ${n}: A ${A ? (A.ms / 1000).toFixed(1) + ' s' + (A.ok ? '' : ' FAILED') : '-'}  B ${B ? (B.ms / 1000).toFixed(1) + ' s' + (B.ok ? '' : ' FAILED') : '-'}`;
    if (A && B) { pairs++; if (B.ms < A.ms) faster++; ratios.push(B.ms / A.ms); console.log(`${line}  B/A ${(B.ms / A.ms).toFixed(3)}`); } else console.log(line);
  }
  ratios.sort((a, b) => a - b);
  if (pairs) console.log(`B faster in ${faster}/${pairs} pairs; median B/A ${ratios[Math.floor(ratios.length / 2)].toFixed(3)} (range ${ratios[0].toFixed(3)}-${ratios.at(-1).toFixed(3)})`);
}
