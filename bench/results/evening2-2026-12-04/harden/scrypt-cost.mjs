// Cost of one scrypt password check (r=8, p=1, 32-byte key) at N = 2^14 (Warren's) and 2^17 (OWASP),
// alternating A B B A; reports per-check wall time (median, range) and the process RSS peak.
import { scrypt } from 'node:crypto';
const check = (N) =>
  new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    scrypt('correct horse battery staple', 'salt-salt-salt-16', 32, { N, r: 8, p: 1, maxmem: 128 * N * 8 * 2 }, (err) =>
      err ? reject(err) : resolve(Number(process.hrtime.bigint() - t0) / 1e6),
    );
  });
const rounds = Number(process.argv[2] ?? 4);
const out = { 14: [], 17: [] };
for (let i = 0; i < rounds; i++) for (const e of [14, 17, 17, 14]) out[e].push(await check(2 ** e));
const stat = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return { median: +s[Math.floor(s.length / 2)].toFixed(1), min: +s[0].toFixed(1), max: +s.at(-1).toFixed(1), n: s.length };
};
console.log(JSON.stringify({ node: process.version, 'N=2^14 ms': stat(out[14]), 'N=2^17 ms': stat(out[17]), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
