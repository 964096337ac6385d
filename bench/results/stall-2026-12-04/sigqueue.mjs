// Does Node queue --heapsnapshot-signal signals? A child with a ~60 MB heap and a 10 ms ticker that reports every gap
// over 200 ms (ms since the epoch); the parent sends SIGUSR2 every 0.7 s for 7 s (10 signals), then stops, and lists
// when each snapshot file was finished, relative to the first signal.
import { fork } from 'node:child_process';
import { readdirSync, statSync, rmSync, mkdirSync } from 'node:fs';
const dir = '/tmp/stall-sigq';
if (process.argv[2] === 'child') {
  globalThis.keep = Array.from({ length: 600000 }, (_, i) => ({ i, s: 'x' + i }));
  let last = Date.now();
  setInterval(() => { const now = Date.now(); if (now - last > 200) process.stderr.write(`GAP ${now - last} ${last} ${now}\n`); last = now; }, 10);
  process.send({ ready: true });
} else {
  rmSync(dir, { recursive: true, force: true }); mkdirSync(dir);
  const c = fork(new URL(import.meta.url).pathname, ['child'], { execArgv: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  await new Promise((r) => c.once('message', r));
  const t0 = Date.now();
  c.stderr.on('data', (d) => { for (const l of String(d).trim().split('\n')) { const [, g, a, b] = l.split(' '); console.log(`child frozen ${g} ms: +${((a - t0) / 1000).toFixed(1)} s .. +${((b - t0) / 1000).toFixed(1)} s`); } });
  for (let i = 0; i < 10; i++) { c.kill('SIGUSR2'); await new Promise((r) => setTimeout(r, 700)); }
  console.log(`10 signals sent, the last at +${((Date.now() - t0 - 700) / 1000).toFixed(1)} s`);
  await new Promise((r) => setTimeout(r, 90000));
  const files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).map((f) => statSync(`${dir}/${f}`)).sort((a, b) => a.mtimeMs - b.mtimeMs);
  console.log(`snapshots: ${files.length}, finished at ${files.map((s) => `+${((s.mtimeMs - t0) / 1000).toFixed(1)}s (${(s.size / 1e6).toFixed(0)} MB)`).join(', ')}`);
  c.kill();
  rmSync(dir, { recursive: true, force: true });
}
