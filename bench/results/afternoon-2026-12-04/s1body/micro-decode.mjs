// Decoder-only A/B: scenario-1-like PUBLISH frames (256 B bodies) decoded from 256 KiB chunks as the broker's
// FrameSocket does (copyBodiesBelow = ARENA_COPY_BELOW, reused publish frame, shared properties); the last 20k
// bodies are kept (a queue). A = /work/wt-base dist, B = /work/wt-s1body dist, in one process, ABBA x 5.
// node micro-decode.mjs
const A = await import('/work/wt-base/packages/protocol/dist/index.js');
const B = await import('/work/wt-s1body/packages/protocol/dist/index.js');
const body = Buffer.alloc(256, 7);
const frame = (i) => A.encodeFrame({ type: A.FrameType.PUBLISH, seq: i, exchange: '', routingKey: 'warren-bench.s1', flags: 0, properties: null, body });
const one = frame(1);
const per = Math.floor((256 * 1024) / one.length);
const chunk = Buffer.concat(Array.from({ length: per }, (_, i) => frame(i + 1)));
const KEEP = 20000;
function run(P, msgs) {
  const d = new P.FrameDecoder(1 << 24, { copyBodiesBelow: P.ARENA_COPY_BELOW, reusePublishFrame: true, sharePublishProperties: true });
  const keep = new Array(KEEP);
  let k = 0;
  const onFrame = (f) => { keep[k] = f.body; k = k + 1 === KEEP ? 0 : k + 1; };
  const t = process.hrtime.bigint();
  let n = 0;
  while (n < msgs) { d.push(Buffer.from(chunk), onFrame); n += per; }
  return Number(process.hrtime.bigint() - t) / n;
}
run(A, 300000); run(B, 300000);
const res = { A: [], B: [] };
for (let r = 0; r < 5; r++) for (const [name, P] of [['A', A], ['B', B], ['B', B], ['A', A]]) res[name].push(run(P, 1000000));
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('ns/msg A', res.A.map((x) => x.toFixed(0)).join(' '), 'median', med(res.A).toFixed(0));
console.log('ns/msg B', res.B.map((x) => x.toFixed(0)).join(' '), 'median', med(res.B).toFixed(0));
let lower = 0;
for (let i = 0; i < res.A.length; i++) lower += res.B[i] < res.A[i];
console.log(`B lower in ${lower}/${res.A.length} pairs`);
