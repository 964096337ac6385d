// node pairs.mjs : per pair (pN-A.json, pN-B.json in this folder), Warren/BullMQ(shared) of each side,
// and B/A of jobs/s, CPU/job (client + broker) and syncs/job; medians, ranges, and how many pairs have B higher.
import { readdirSync, readFileSync } from 'node:fs';
const dir = new URL('.', import.meta.url).pathname;
const pairs = {};
for (const f of readdirSync(dir)) {
  const m = /^p(\d+)-([AB])\.json$/.exec(f);
  if (m) (pairs[m[1]] ??= {})[m[2]] = JSON.parse(readFileSync(dir + f, 'utf8'));
}
const done = Object.entries(pairs).filter(([, p]) => p.A && p.B).sort((a, b) => a[0] - b[0]);
const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (a, d = 2) => (a.length === 0 ? '-' : `${med(a).toFixed(d)} (${Math.min(...a).toFixed(d)}-${Math.max(...a).toFixed(d)})`);
const row = (j, sys, w) => j.rows.find((r) => r.system === sys && r.workers === w);
const cpu = (r) => r.clientCpuMsPerJob + r.brokerCpuMsPerJob;
const out = [`pairs: ${done.length}`];
for (const w of [1, 8]) {
  out.push(`\n== ${w} worker(s) ==`);
  out.push('pair  A:jobs/s  A:bullmq  A:W/Bq  B:jobs/s  B:bullmq  B:W/Bq  B/A jobs/s  A cpu  B cpu  B/A cpu  A syncs  B syncs  B/A syncs');
  const k = { ja: [], jb: [], ra: [], rb: [], rj: [], ca: [], cb: [], rc: [], sa: [], sb: [], rs: [], rcl: [], rbr: [], ralw: [], rbalw: [], reva: [], revb: [] };
  for (const [n, p] of done) {
    const a = row(p.A, 'warren', w), b = row(p.B, 'warren', w), qa = row(p.A, 'bullmq', w), qb = row(p.B, 'bullmq', w);
    const ra = a.jobsPerSec / qa.jobsPerSec, rb = b.jobsPerSec / qb.jobsPerSec;
    k.ja.push(a.jobsPerSec); k.jb.push(b.jobsPerSec); k.ra.push(ra); k.rb.push(rb); k.rj.push(b.jobsPerSec / a.jobsPerSec);
    k.ca.push(cpu(a)); k.cb.push(cpu(b)); k.rc.push(cpu(b) / cpu(a)); k.sa.push(a.syncsPerJob); k.sb.push(b.syncsPerJob); k.rs.push(b.syncsPerJob / a.syncsPerJob);
    k.rcl.push(b.clientCpuMsPerJob / a.clientCpuMsPerJob); k.rbr.push(b.brokerCpuMsPerJob / a.brokerCpuMsPerJob);
    const aa = row(p.A, 'bullmq-aof-always', w), ab = row(p.B, 'bullmq-aof-always', w), ea = row(p.A, 'bullmq-aof-everysec', w), eb = row(p.B, 'bullmq-aof-everysec', w);
    if (aa && ab) { k.ralw.push(a.jobsPerSec / aa.jobsPerSec); k.rbalw.push(b.jobsPerSec / ab.jobsPerSec); }
    if (ea && eb) { k.reva.push(a.jobsPerSec / ea.jobsPerSec); k.revb.push(b.jobsPerSec / eb.jobsPerSec); }
    out.push(`${n.padStart(4)}  ${String(a.jobsPerSec).padStart(8)}  ${String(qa.jobsPerSec).padStart(8)}  ${ra.toFixed(2).padStart(6)}  ${String(b.jobsPerSec).padStart(8)}  ${String(qb.jobsPerSec).padStart(8)}  ${rb.toFixed(2).padStart(6)}  ${(b.jobsPerSec / a.jobsPerSec).toFixed(3).padStart(10)}  ${cpu(a).toFixed(3)}  ${cpu(b).toFixed(3)}  ${(cpu(b) / cpu(a)).toFixed(3).padStart(7)}  ${a.syncsPerJob.toFixed(3).padStart(7)}  ${b.syncsPerJob.toFixed(3).padStart(7)}  ${(b.syncsPerJob / a.syncsPerJob).toFixed(3).padStart(9)}`);
  }
  const hi = (a) => `${a.filter((x) => x > 1).length}/${a.length} B higher`;
  out.push(`Warren/BullMQ shared: A ${fmt(k.ra)}, B ${fmt(k.rb)}; B/A of that ratio ${fmt(k.rb.map((x, i) => x / k.ra[i]), 3)} ${hi(k.rb.map((x, i) => x / k.ra[i]))}`);
  if (k.ralw.length) out.push(`Warren/BullMQ AOF always: A ${fmt(k.ralw)}, B ${fmt(k.rbalw)}; everysec: A ${fmt(k.reva)}, B ${fmt(k.revb)}`);
  out.push(`jobs/s: A ${fmt(k.ja, 0)}, B ${fmt(k.jb, 0)}; B/A ${fmt(k.rj, 3)} ${hi(k.rj)}`);
  out.push(`CPU ms/job client+broker: A ${fmt(k.ca, 3)}, B ${fmt(k.cb, 3)}; B/A ${fmt(k.rc, 3)} ${hi(k.rc)}; client B/A ${fmt(k.rcl, 3)} ${hi(k.rcl)}; broker B/A ${fmt(k.rbr, 3)} ${hi(k.rbr)}`);
  out.push(`syncs/job: A ${fmt(k.sa, 3)}, B ${fmt(k.sb, 3)}; B/A ${fmt(k.rs, 3)} ${hi(k.rs)}`);
}
console.log(out.join('\n'));
