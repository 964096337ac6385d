// Store micro for scenario 2's storage calls: per message append (frozen shared properties, one durable
// queue, 256 B body), then delivered + settle once its write is durable; 1,000 in flight.
// Prints main-thread CPU (process.cpuUsage, whole process) and wall per message.
// usage: node storemicro.mjs <tree> [messages=300000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const tree = process.argv[2];
const N = Number(process.argv[3] ?? 300000);
const { MessageStore } = await import(join(tree, 'packages/broker/dist/storage/index.js'));
const dir = mkdtempSync(join(tmpdir(), 's2store-micro-'));
const quiet = { info() {}, warn() {}, error() {} };
const store = await MessageStore.open({ dir, logger: quiet, sync: 'always' });
const props = Object.freeze({ persistent: true });
const body = Buffer.alloc(256, 7);
const q = 'warren-bench.s2.queue';
let sent = 0, done = 0;
const WINDOW = 1000;
let resolveAll;
const all = new Promise((r) => (resolveAll = r));
function pump() {
  while (sent < N && sent - done < WINDOW) {
    const msg = { exchange: '', routingKey: q, properties: props, body };
    const id = store.append([q], msg, (err) => {
      if (err) throw err;
      store.delivered(q, id);
      store.settle(q, id);
      done++;
      if (done === N) resolveAll();
      else if (sent - done < WINDOW / 2) pump();
    });
    sent++;
  }
}
const c0 = process.cpuUsage(); const t0 = performance.now();
pump();
await all;
const c = process.cpuUsage(c0); const wall = performance.now() - t0;
await store.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ tree, N, cpuUsPerMsg: +((c.user + c.system) / N).toFixed(3), userUsPerMsg: +(c.user / N).toFixed(3), wallUsPerMsg: +((wall * 1000) / N).toFixed(3) }));
