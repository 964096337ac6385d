// Self time (ms) of the storage/admission functions in one or more broker .cpuprofile files, plus busy total.
import { readFileSync } from 'node:fs';
const names = ['get@meta-cache', 'differs@meta-cache', 'intern@message-index', 'add@message-index', 'removeQueue@message-index', 'removeEntry@message-index', 'delivered@message-index',
  'settle@message-store', 'delivered@message-store', 'defer@message-store', 'of@message-store', 'append@message-store', 'flushPending@message-store', 'admit@admission', 'settled@admission', 'delivering@admission', 'persist@admission',
  'crc32cJs@format', 'writeMessageRecord@format', 'appendMessage@log-writer'];
for (const f of process.argv.slice(2)) {
  const p = JSON.parse(readFileSync(f));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map(); let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]); const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const fn = n.callFrame.functionName; if (fn !== '(idle)') busy += dt;
    const file = n.callFrame.url.split('/').pop().replace(/\.js$/, '');
    const k = fn + '@' + file; self.set(k, (self.get(k) ?? 0) + dt);
  }
  console.log(f, 'busy', busy.toFixed(0), 'ms');
  console.log(names.map((k) => `${k} ${(self.get(k) ?? 0).toFixed(1)}`).join('\n'));
}
