// A producer or consumer process for pause-repro.mjs (the SDK from the worktree's dist).
// argv: <role> <url> <queue> <count> <json opts>
import { connect } from '@warren/client';
const [role, url, queue, countS, optsS] = process.argv.slice(2);
const count = Number(countS);
const o = JSON.parse(optsS ?? '{}');
const conn = await connect({ url, heartbeatMs: 0, name: `stall-${role}`, copyPublishBodies: false, maxBufferedPublishes: 1_000_000 });
const send = (m) => process.send(m);
if (role === 'producer') {
  let published = 0, confirmed = 0, failed = 0, firstErr;
  const opts = { persistent: o.persistent === true };
  const ok = () => { confirmed++; };
  const bad = (e) => { failed++; firstErr ??= String(e?.code ?? e); };
  const one = () => {
    const body = Buffer.alloc(o.bodySize ?? 256);
    body.writeUInt32LE(published, 0);
    published++;
    conn.publish('', queue, body, opts).then(ok, bad);
  };
  const report = () => send({ type: 'stats', published, confirmed, failed, firstErr, buffered: conn.bufferedPublishes, unconfirmed: published - confirmed - failed });
  setInterval(report, 200);
  process.on('message', (m) => {
    if (m.type !== 'go') return;
    if (o.rate > 0) {
      // Paced like bench/e2e/worker.ts: a 1 ms timer that catches up on every message due (a pause => a burst).
      const t0 = performance.now();
      const t = setInterval(() => {
        const due = Math.min(count, Math.floor(((performance.now() - t0) * o.rate) / 1000));
        while (published < due) one();
        if (published >= count) clearInterval(t);
      }, 1);
    } else {
      // As fast as the client lets us: await writable() (its back-pressure signal).
      (async () => { while (published < count) { await conn.writable(); one(); if ((published & 1023) === 0) await new Promise((r) => setImmediate(r)); } })();
    }
  });
} else {
  const seen = new Uint8Array(count);
  let delivered = 0, unique = 0, dupes = 0, redelivered = 0;
  await conn.consume(queue, (m) => {
    delivered++;
    if (m.redelivered) redelivered++;
    const i = m.body.readUInt32LE(0);
    if (seen[i]) dupes++; else { seen[i] = 1; unique++; }
    m.ack();
  }, { prefetch: o.prefetch ?? 1000 });
  setInterval(() => send({ type: 'stats', delivered, unique, dupes, redelivered }), 200);
}
send({ type: 'ready' });
