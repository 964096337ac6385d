/**
 * The broker's CPU per operation, like for like: a durable bucket put (answered
 * once synced, or with wait 'applied') against a persistent publish that is
 * delivered and acked, each with 64 requests in flight on one connection, a
 * ~200-byte value or body, the broker in a child (e2e/broker-child.mjs, sync
 * 'always'). Prints one JSON line: broker CPU µs per operation (user + system,
 * every thread), operations/s and fdatasyncs per operation.
 *
 *   node bench/e2e/kv-cpu.mjs <repo root> <kv|kvapplied|msg|msgid|msgfixed> [N=30000]
 *
 * msgid: msg with the properties a task layer sets (its own messageId per message, contentType, priority);
 * msgfixed: the same properties with one messageId for every message (the broker's packed-properties cache hits).
 *
 * The root is the checkout whose built packages and broker-child.mjs are used, so
 * two builds can be alternated in one sitting (main vs a branch). PROF=<dir> runs
 * the broker under --cpu-prof (summarise with e2e/profile-summary.ts).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [rootArg = '.', mode = 'kv', nArg = '30000'] = process.argv.slice(2);
const root = resolve(rootArg);
const N = Number(nArg);
const INFLIGHT = 64;
const { connect } = await import(join(root, 'packages/client/dist/index.js'));
const dir = mkdtempSync(join(tmpdir(), 'warren-kv-cpu-'));
const execArgv = process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF}`] : [];
const child = fork(join(root, 'bench/e2e/broker-child.mjs'), [dir, 'always'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv });
const port = await new Promise((res) => child.on('message', (m) => m.type === 'listening' && res(m.port)));
const stats = () =>
  new Promise((res) => {
    const on = (m) => {
      if (m.type !== 'stats') return;
      child.off('message', on);
      res(m);
    };
    child.on('message', on);
    child.send({ type: 'stats' });
  });
const conn = await connect({ port });
const value = Buffer.from(JSON.stringify({ id: 'x'.repeat(20), status: 'SUCCESS', result: { ok: true }, startedAt: Date.now(), name: 'noop', run: 1, attempt: 1 }));

async function lanes(n, op) {
  let next = 0;
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (next < n) await op(next++);
  }));
}

let run;
if (mode === 'kv' || mode === 'kvapplied') {
  const kv = await conn.kv('b', { history: 1 });
  const opts = mode === 'kvapplied' ? { ttl: 86_400_000, wait: 'applied' } : { ttl: 86_400_000 };
  run = (n) => lanes(n, (i) => kv.put(`t.job-${i % 20_000}`, value, opts));
} else if (mode === 'msg' || mode === 'msgid' || mode === 'msgfixed') {
  await conn.declareQueue('q', { durable: true });
  const consumerConn = await connect({ port });
  let got = 0;
  let target = 0;
  let done = () => undefined;
  await consumerConn.consume('q', (m) => {
    m.ack();
    if (++got === target) done();
  }, { prefetch: 256 });
  run = async (n) => {
    got = 0;
    target = n;
    const all = new Promise((r) => (done = r));
    // msgid: as a task layer publishes (a messageId of its own per message, contentType, priority).
    let k = 0;
    await lanes(n, () => conn.publish('', 'q', value, mode === 'msg' ? { persistent: true } : { persistent: true, contentType: 'application/json', messageId: mode === 'msgid' ? `job-${process.pid}-${k++}` : 'job-0000000000000000000000000000000', priority: 0 }));
    await all;
  };
} else {
  console.error('usage: kv-cpu.mjs <repo root> <kv|kvapplied|msg|msgid|msgfixed> [N]');
  process.exit(2);
}

await run(10_000); // warm-up
const s0 = await stats();
const t0 = performance.now();
await run(N);
const s1 = await stats();
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ root, mode, n: N, brokerCpuUsPerOp: Number((((s1.cpuSeconds - s0.cpuSeconds) * 1e6) / N).toFixed(2)), opsPerSec: Math.round(N / seconds), syncsPerOp: Number(((s1.syncs - s0.syncs) / N).toFixed(3)) }));
await conn.close();
child.send({ type: 'stop' });
await new Promise((r) => child.once('exit', r));
rmSync(dir, { recursive: true, force: true });
process.exit(0);
