import fs from 'node:fs';
const [file, target, depth='6'] = process.argv.slice(2);
const p = JSON.parse(fs.readFileSync(file));
const byId = new Map(p.nodes.map(n => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
p.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (p.timeDeltas[i] ?? 0)));
const agg = new Map();
for (const n of p.nodes) {
  if (n.callFrame.functionName !== target) continue;
  let t = self.get(n.id) ?? 0; if (!t) continue;
  const chain = []; let id = parent.get(n.id);
  for (let k = 0; k < +depth && id !== undefined; k++) { const f = byId.get(id).callFrame; chain.push(`${f.functionName}:${f.url.split('/').slice(-1)[0]}:${f.lineNumber}`); id = parent.get(id); }
  const key = chain.join(' < ');
  agg.set(key, (agg.get(key) ?? 0) + t);
}
for (const [k, t] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log((t/1000).toFixed(0).padStart(6), 'ms', k);
