// 1000 logins (50 at a time, one user, as the `logins` scenario's storm) against an in-process broker
// whose user's stored hash has N = 2^14 or N = 2^17 (r=8, p=1): verify uses the hash's own N, so both
// run the same code. Order A B B A per round. Prints ms for the storm and for the first login alone.
// Run from the repo root after `npm run build`: node bench/results/evening2-2026-12-04/harden/login-storm.mjs [rounds]
import { scryptSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../../../../packages/broker/dist/index.js';
import { connect } from '../../../../packages/client/dist/index.js';

const hash = (pw, N) => {
  const salt = randomBytes(16);
  const key = scryptSync(pw, salt, 32, { N, r: 8, p: 1, maxmem: 128 * N * 8 * 2 });
  return `scrypt$${N}$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
};
async function storm(N) {
  const dir = mkdtempSync(join(tmpdir(), 'harden-logins-'));
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dir, logLevel: 'silent', users: [{ username: 'app', passwordHash: hash('pw-123456', N) }] });
  const url = `warren://app:pw-123456@127.0.0.1:${broker.port}`;
  try {
    let t0 = performance.now();
    const first = await connect({ url, reconnect: false });
    const firstMs = performance.now() - t0;
    await first.close();
    t0 = performance.now();
    for (let i = 0; i < 1000; i += 50) {
      const conns = await Promise.all(Array.from({ length: 50 }, () => connect({ url, reconnect: false })));
      await Promise.all(conns.map((c) => c.close()));
    }
    return { firstMs, stormMs: performance.now() - t0 };
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
const rounds = Number(process.argv[2] ?? 1);
const rows = [];
for (let i = 0; i < rounds; i++) for (const e of [14, 17, 17, 14]) rows.push({ N: `2^${e}`, ...(await storm(2 ** e)) });
for (const r of rows) console.log(JSON.stringify({ N: r.N, firstLoginMs: +r.firstMs.toFixed(1), storm1000Ms: +r.stormMs.toFixed(0) }));
