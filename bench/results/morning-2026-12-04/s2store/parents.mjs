import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2]));
const byId = new Map(p.nodes.map(n => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const want = new Set(process.argv.slice(3));
const agg = new Map();
for (const n of p.nodes) {
  if (!want.has(n.callFrame.functionName)) continue;
  const t = self.get(n.id) ?? 0;
  let chain = []; let id = parent.get(n.id);
  for (let k = 0; k < 4 && id; k++) { const m = byId.get(id); chain.push(m.callFrame.functionName + ':' + m.callFrame.url.split('/').slice(-1)[0] + ':' + m.callFrame.lineNumber); id = parent.get(id); }
  const key = n.callFrame.functionName + ' <- ' + chain.join(' <- ');
  agg.set(key, (agg.get(key) ?? 0) + t);
}
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((v / 1000).toFixed(0).padStart(6), 'ms', k);
