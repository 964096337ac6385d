// Repro harness for the s7 "stall after long client pauses": an in-process broker (the worktree's dist, port 0,
// temp data dir), a producer and a consumer child (pause-child.mjs), and SIGSTOP/SIGCONT of the children.
// usage: node pause-repro.mjs '<json>'  e.g. {"count":200000,"rate":50000,"stop":"both","minMs":300,"maxMs":700,"everyMs":700}
// Prints a line of both sides' counters every second (and the broker's: queue ready/unacked, flow holds, each
// connection's read pauses, write backlog, outstanding confirms), then ok/STALL.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from '@warren/broker';
import { connect } from '@warren/client';

const here = dirname(fileURLToPath(import.meta.url));
const cfg = { count: 200000, rate: 50000, stop: 'both', minMs: 300, maxMs: 700, everyMs: 700, durable: false, prefetch: 1000, graceMs: 30000, maxPauseSec: 120, ...JSON.parse(process.argv[2] ?? '{}') };
const dataDir = mkdtempSync(join(tmpdir(), 'stall-'));
const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', dataDir, heartbeatMs: 0 });
const url = `warren://guest:guest@127.0.0.1:${broker.port}`;
const q = 'stall.q';
const admin = await connect(url);
await admin.declareQueue(q, { durable: cfg.durable });
const childOpts = { rate: cfg.rate, persistent: cfg.durable, prefetch: cfg.prefetch, bodySize: cfg.bodySize ?? 256 };
const start = (role) => new Promise((resolve) => {
  const c = fork(join(here, 'pause-child.mjs'), [role, url, q, String(cfg.count), JSON.stringify(childOpts)], { cwd: process.cwd(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  c.stats = {};
  c.on('message', (m) => { if (m.type === 'ready') resolve(c); else if (m.type === 'stats') c.stats = m; });
});
const cons = await start('consumer');
const prod = await start('producer');
const targets = cfg.stop === 'both' ? [prod, cons] : cfg.stop === 'producer' ? [prod] : cfg.stop === 'consumer' ? [cons] : [];
let stops = 0, pausing = true, stoppedMs = 0;
const pauser = (async () => {
  const t0 = Date.now();
  while (pausing && Date.now() - t0 < cfg.maxPauseSec * 1000) {
    const d = cfg.minMs + Math.floor(Math.random() * (cfg.maxMs - cfg.minMs + 1));
    for (const c of targets) c.kill('SIGSTOP');
    stops++; stoppedMs += d;
    await new Promise((r) => setTimeout(r, d));
    for (const c of targets) c.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, cfg.everyMs));
  }
  pausing = false;
  for (const c of targets) c.kill('SIGCONT');
})();
const brokerState = () => {
  const vh = broker.vhosts.default;
  const queue = vh.queues.get(q);
  const conns = [...broker.openConnections].filter((c) => c.clientProperties?.name?.startsWith?.('stall-')).map((c) => ({
    n: c.clientProperties.name.slice(6, 10),
    pauses: [...c.fs.pauses].join('+') || '-',
    wq: c.fs.bufferedBytes,
    out: c.confirms.outstanding,
    unacked: c.unackedCount,
    pub: c.published,
    del: c.delivered,
  }));
  return { ready: queue?.messageCount, held: broker.flow.heldCount, holds: broker.flow.holdsTotal, conns };
};
const line = () => {
  const p = prod.stats, c = cons.stats;
  const b = brokerState();
  return `prod pub=${p.published} conf=${p.confirmed} fail=${p.failed ?? 0} buf=${p.buffered} unconf=${p.unconfirmed} | cons del=${c.delivered} uniq=${c.unique} dup=${c.dupes} redel=${c.redelivered} | broker ready=${b.ready} held=${b.held} holds=${b.holds} ` +
    b.conns.map((x) => `[${x.n} pauses=${x.pauses} wq=${x.wq} out=${x.out} unacked=${x.unacked} pub=${x.pub} del=${x.del}]`).join(' ');
};
// Sampled every 5 ms: the deepest broker write backlog per side, and every read-pause reason seen.
const peak = { wq: {}, pauses: new Set(), congested: 0 };
const sampler = setInterval(() => {
  for (const c of broker.openConnections) {
    const n = c.clientProperties?.name;
    if (typeof n !== 'string' || !n.startsWith('stall-')) continue;
    const k = n.slice(6, 10);
    peak.wq[k] = Math.max(peak.wq[k] ?? 0, c.fs.bufferedBytes);
    for (const r of c.fs.pauses) peak.pauses.add(`${k}:${r}`);
    if (c.congested) peak.congested++;
  }
}, 5);
prod.send({ type: 'go' });
const t0 = Date.now();
let result = 'STALL', lastProgress = Date.now(), lastKey = '', pausedEndAt;
while (true) {
  await new Promise((r) => setTimeout(r, 1000));
  const p = prod.stats, c = cons.stats;
  console.log(`${((Date.now() - t0) / 1000).toFixed(0)}s stops=${stops} ${line()}`);
  const key = `${p.confirmed}/${p.failed}/${c.unique}/${c.delivered}`;
  if (key !== lastKey) { lastKey = key; lastProgress = Date.now(); }
  if (p.confirmed + (p.failed ?? 0) === cfg.count && c.unique === cfg.count) { result = 'ok'; break; }
  if (!pausing) {
    pausedEndAt ??= Date.now();
    if (Date.now() - lastProgress > cfg.graceMs) break;
  }
  if (Date.now() - t0 > (cfg.maxPauseSec + 60) * 1000) break;
}
pausing = false;
await pauser;
await new Promise((r) => setTimeout(r, 500));
clearInterval(sampler);
console.log(`PEAKS wq=${JSON.stringify(peak.wq)} pauses=${[...peak.pauses].join(',') || '-'} congestedSamples=${peak.congested}`);
console.log(`RESULT ${result} cfg=${JSON.stringify(cfg)} elapsed=${((Date.now() - t0) / 1000).toFixed(1)}s stops=${stops} stoppedMs=${stoppedMs} final: ${line()}`);
prod.kill('SIGKILL'); cons.kill('SIGKILL');
await admin.close().catch(() => {});
await broker.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(result === 'ok' ? 0 : 1);
