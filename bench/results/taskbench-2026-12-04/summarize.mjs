// node summarize.mjs : medians and ranges over runN-{full,queue,sa50}.json in this folder.
import { readdirSync, readFileSync } from 'node:fs';
const dir = new URL('.', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => /^run\d+-(full|queue|sa50|success)\.json$/.test(f)).sort();
const runs = {};
for (const f of files) {
  const [, n, kind] = /^run(\d+)-(\w+)\.json$/.exec(f);
  (runs[n] ??= {})[kind] = JSON.parse(readFileSync(dir + f, 'utf8'));
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (a, d = 2) => a.length === 0 ? '-' : `${med(a).toFixed(d)} (${Math.min(...a).toFixed(d)}-${Math.max(...a).toFixed(d)}) n=${a.length}`;
const rowOf = (j, sys, w) => j?.rows.find((r) => r.system === sys && r.workers === w);
const out = [];
out.push(`runs: ${Object.keys(runs).join(', ')}`);
for (const [n, r] of Object.entries(runs)) out.push(`run${n}: ${Object.entries(r).map(([k, j]) => `${k} ${j.date} load ${j.loadAverage}`).join('; ')}`);
for (const w of [1, 8]) {
  out.push(`\n== ${w} worker(s): Warren / BullMQ jobs/s, median (range) ==`);
  for (const [wk, wsys] of [['full', 'warren'], ['queue', 'warren-queue'], ['success', 'warren-success'], ['sa50', 'warren']]) {
    for (const b of ['bullmq', 'bullmq-aof-always', 'bullmq-aof-everysec']) {
      const ratios = [];
      for (const r of Object.values(runs)) {
        const wr = rowOf(r[wk], wsys, w);
        const br = rowOf(r[wk], b, w) ?? rowOf(r.full, b, w);
        if (wr && br) ratios.push(wr.jobsPerSec / br.jobsPerSec);
      }
      out.push(`  ${(wk + '/' + b).padEnd(28)} ${fmt(ratios)}`);
    }
  }
  out.push(`  -- per row: jobs/s; CPU ms/job client + server = total --`);
  const rowsOf = [['full', 'warren'], ['queue', 'warren-queue'], ['sa50', 'warren'], ['success', 'warren-success'], ['full', 'bullmq'], ['full', 'bullmq-aof-always'], ['full', 'bullmq-aof-everysec'], ['queue', 'bullmq'], ['queue', 'bullmq-aof-always'], ['queue', 'bullmq-aof-everysec'], ['sa50', 'bullmq'], ['sa50', 'bullmq-aof-always'], ['sa50', 'bullmq-aof-everysec']];
  for (const [wk, sys] of rowsOf) {
    const rs = Object.values(runs).map((r) => rowOf(r[wk], sys, w)).filter(Boolean);
    if (rs.length === 0) continue;
    const srv = (r) => r.brokerCpuMsPerJob ?? r.redisCpuMsPerJob;
    out.push(`  ${(wk + ':' + sys).padEnd(26)} ${fmt(rs.map((r) => r.jobsPerSec), 0).padEnd(26)} client ${fmt(rs.map((r) => r.clientCpuMsPerJob), 3).padEnd(28)} server ${fmt(rs.map(srv), 3).padEnd(28)} total ${fmt(rs.map((r) => r.clientCpuMsPerJob + srv(r)), 3)}${rs[0].syncsPerJob !== undefined ? `  syncs/job ${fmt(rs.map((r) => r.syncsPerJob), 3)} brokerElu ${fmt(rs.map((r) => r.brokerElu))}` : ''} clientElu ${fmt(rs.map((r) => r.clientElu))}`);
  }
}
console.log(out.join('\n'));
