// node pairs.mjs : B/A per pair (round R: pairs (1,2) and (4,3)), Warren rows, per worker count.
import { readFileSync, existsSync } from 'node:fs';
const dir = new URL('.', import.meta.url).pathname;
const load = (r, i, s) => { const f = `${dir}r${r}-${i}-${s}.json`; return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined; };
const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const metrics = { jobsPerSec: (r) => r.jobsPerSec, clientCpu: (r) => r.clientCpuMsPerJob, brokerCpu: (r) => r.brokerCpuMsPerJob, totalCpu: (r) => r.clientCpuMsPerJob + r.brokerCpuMsPerJob, syncsPerJob: (r) => r.syncsPerJob };
for (const w of [1, 8]) {
  const pairs = [];
  for (let r = 1; r <= 4; r++) for (const [a, b] of [[1, 2], [4, 3]]) {
    const A = load(r, a, 'A'), B = load(r, b, 'B');
    if (A && B) pairs.push([A.rows.find((x) => x.workers === w), B.rows.find((x) => x.workers === w)]);
  }
  console.log(`== ${w} worker(s), ${pairs.length} pairs: A = main d111c73, B = 8759425 (late night)`);
  for (const [name, f] of Object.entries(metrics)) {
    const ratios = pairs.map(([A, B]) => f(B) / f(A));
    const bHigher = ratios.filter((x) => x > 1).length;
    console.log(`  ${name.padEnd(12)} A med ${med(pairs.map(([A]) => f(A))).toFixed(3)} [${Math.min(...pairs.map(([A]) => f(A))).toFixed(3)}-${Math.max(...pairs.map(([A]) => f(A))).toFixed(3)}]  B med ${med(pairs.map(([, B]) => f(B))).toFixed(3)} [${Math.min(...pairs.map(([, B]) => f(B))).toFixed(3)}-${Math.max(...pairs.map(([, B]) => f(B))).toFixed(3)}]  B/A med ${med(ratios).toFixed(3)}  B higher ${bHigher}/${pairs.length}  per pair ${ratios.map((x) => x.toFixed(2)).join(' ')}`);
  }
}
