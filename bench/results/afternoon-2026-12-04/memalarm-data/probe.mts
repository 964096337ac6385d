// usage: npx tsx probe.mts <tree> <guard 0|1> [seconds=120] [max=300000]
// The flood smoke's 16B-none case (128 MiB limit, no consumer) with a timeline: every second the broker's
// /proc RSS, its own view from /api/overview (alarm, rss, heapUsed), and the client's blocked state;
// the broker's info/warn JSON log lines (memory alarm set/cleared, pressure) are echoed with timestamps.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const tree = process.argv[2]!;
const guard = process.argv[3] ?? '1';
const seconds = Number(process.argv[4] ?? 120);
const max = Number(process.argv[5] ?? 300_000);
const { connect } = await import(`${tree}/packages/client/dist/index.js`);
const { procSample } = await import(`${tree}/bench/e2e/common.ts`);
const MIB = 1024 * 1024;
const t0 = performance.now();
const ts = () => ((performance.now() - t0) / 1000).toFixed(1);
const dataDir = mkdtempSync(join(tmpdir(), 'warren-memalarm-'));
const child = spawn(process.execPath, [`${tree}/packages/cli/dist/bin.js`, 'server', '--http-port', '0', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--memory-high-watermark', String(128 * MIB), '--log-level', 'info', '--log-format', 'json'],
  { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WARREN_FRAME_GUARD: guard } });
let out = '';
const ports = await new Promise<{ port: number; http: number }>((resolve, reject) => {
  const onData = (d: string) => {
    out += d;
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
    const h = /:(\d+) \(HTTPS? management\)/.exec(out);
    if (m && h) resolve({ port: Number(m[1]), http: Number(h[1]) });
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    onData(d);
    for (const line of d.split('\n')) if (/memory|alarm|pressure/.test(line)) console.log(ts(), 'LOG', line.slice(0, 400));
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { onData(d); process.stderr.write(d); });
  child.once('exit', (c) => reject(new Error(`exit ${c}: ${out}`)));
});
console.log(ts(), 'ports', ports, 'guard', guard);
const conn = await connect({ url: `warren://guest:guest@127.0.0.1:${ports.port}`, reconnect: false });
await conn.declareQueue('flood');
let blocked = false; let blockedMs = 0; let since = 0; let events = 0;
conn.on('blocked', () => { blocked = true; events++; since = performance.now(); });
conn.on('unblocked', () => { blocked = false; blockedMs += performance.now() - since; });
let published = 0; let confirmed = 0;
const auth = 'Basic ' + Buffer.from('guest:guest').toString('base64');
const timeline = setInterval(async () => {
  const s = procSample(child.pid!);
  let ov: any = {};
  try { ov = await (await fetch(`http://127.0.0.1:${ports.http}/api/overview`, { headers: { authorization: auth } })).json(); } catch (e) { ov = { err: String(e) }; }
  console.log(ts(), `procRSS ${((s?.rssBytes ?? 0) / MIB).toFixed(1)} | broker alarm ${ov.memory?.alarm} rss ${((ov.memory?.rssBytes ?? 0) / MIB).toFixed(1)} heap ${((ov.memory?.heapBytes ?? 0) / MIB).toFixed(1)} | client blocked ${blocked} events ${events} | published ${published} confirmed ${confirmed}`);
}, 1000);
const body = Buffer.alloc(16, 0x61);
const end = performance.now() + seconds * 1000;
const inFlight = new Set<Promise<void>>();
while (performance.now() < end && published < max) {
  const p: Promise<void> = conn.publish('', 'flood', body).then(() => { inFlight.delete(p); confirmed++; });
  inFlight.add(p); published++;
  if (inFlight.size >= 2000) await Promise.race([Promise.race(inFlight), new Promise((r) => setTimeout(r, Math.max(0, end - performance.now())))]);
}
await Promise.race([Promise.all(inFlight), new Promise((r) => setTimeout(r, 5000))]);
if (blocked) blockedMs += performance.now() - since;
clearInterval(timeline);
console.log(ts(), JSON.stringify({ guard, published, confirmed, blockedSeconds: blockedMs / 1000, events }));
await conn.close().catch(() => {});
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });
