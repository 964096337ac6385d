/**
 * Bytes allocated per message on the publish -> route -> deliver -> ack path,
 * by V8's sampling heap profiler with garbage included (what the scavenger has
 * to deal with), and where they come from.
 *
 *   node bench/e2e/alloc-probe.mjs [--count N] [--warmup N] [--side broker|client] [--top N] [--depth N] [--props JSON]
 *
 * One process runs the broker (the built @warren/broker, transient queue); a
 * forked one runs a producer connection (confirmed 256 B publishes, 1,000 in
 * flight, as scenario 1) and a consumer connection (prefetch 1,000, manual
 * acks), both through the built @warren/client. After `warmup` messages the
 * chosen side samples (interval 64 B) while `count` more flow, then prints
 * bytes per message in total and by function (self size, top N; with
 * --depth N by function and its N nearest callers). Plain
 * JavaScript on the built packages: `npm run build` first.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
const COUNT = Number(opt('count', '100000'));
const WARMUP = Number(opt('warmup', '50000'));
const SIDE = opt('side', 'broker');
const TOP = Number(opt('top', '25'));
const INTERVAL = 64;
const DEPTH = Number(opt('depth', '0'));
/** --props JSON: publish options (the bench's producers pass { persistent }); none by default. */
const PUBLISH_OPTS = opt('props', undefined) === undefined ? undefined : JSON.parse(opt('props', undefined));

async function startSampling() {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: INTERVAL,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    session.disconnect();
    return profile;
  };
}

/** Self size by function (name file:line), descending. */
function summarise(profile, count) {
  const bySite = new Map();
  let total = 0;
  const name = (f) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  const walk = (node, stack) => {
    const self = node.selfSize;
    const here = name(node.callFrame);
    if (self > 0) {
      // With --depth N, a site is the function and its N nearest callers.
      const key = [here, ...stack.slice(-DEPTH).reverse()].join(' <- ');
      bySite.set(key, (bySite.get(key) ?? 0) + self);
      total += self;
    }
    stack.push(here.split(' ')[0]);
    for (const c of node.children) walk(c, stack);
    stack.pop();
  };
  walk(profile.head, []);
  console.log(`${SIDE}: ${(total / count).toFixed(0)} B per message (${count} messages, sampled every ${INTERVAL} B, garbage included)`);
  for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${(v / count).toFixed(1).padStart(8)}  ${k}`);
}

if (process.argv[2] === '--child') {
  // The client side: producer and consumer connections.
  const { connect } = await import('@warren/client');
  const url = process.argv[3];
  const side = process.argv[4];
  const producer = await connect({ url, heartbeatMs: 0, name: 'probe-producer', copyPublishBodies: false, maxBufferedPublishes: 1_000_000 });
  const consumer = await connect({ url, heartbeatMs: 0, name: 'probe-consumer' });
  const queue = 'alloc-probe';
  await producer.declareQueue(queue, { durable: false });
  await producer.purgeQueue(queue);
  const body = Buffer.alloc(256, 1);
  let received = 0;
  let target = 0;
  let onTarget = () => {};
  await consumer.consume(
    queue,
    (m) => {
      m.ack();
      if (++received === target) onTarget();
    },
    { prefetch: 1000 },
  );
  const run = (n) =>
    new Promise((resolve, reject) => {
      target = received + n;
      onTarget = resolve;
      let sent = 0;
      let inflight = 0;
      const pump = () => {
        while (inflight < 1000 && sent < n) {
          sent++;
          inflight++;
          producer.publish('', queue, body, PUBLISH_OPTS).then(() => {
            inflight--;
            pump();
          }, reject);
        }
      };
      pump();
    });
  await run(WARMUP);
  const stop = side === 'client' ? await startSampling() : null;
  process.send({ type: 'measuring' });
  await new Promise((r) => process.once('message', r));
  await run(COUNT);
  if (stop !== null) summarise(await stop(), COUNT);
  process.send({ type: 'done' });
  await new Promise((r) => process.once('message', r));
  await producer.deleteQueue(queue);
  await consumer.close();
  await producer.close();
  process.exit(0);
} else {
  const { startBroker } = await import('@warren/broker');
  const dataDir = mkdtempSync(join(tmpdir(), 'alloc-probe-'));
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir, sync: 'never', logLevel: 'warn', heartbeatMs: 0 });
  const child = fork(fileURLToPath(import.meta.url), ['--child', `warren://guest:guest@127.0.0.1:${broker.port}`, SIDE, ...args], {
    execArgv: ['--max-semi-space-size=64'],
  });
  let stop = null;
  await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}`))));
    child.on('message', async (m) => {
      if (m.type === 'measuring') {
        if (SIDE === 'broker') stop = await startSampling();
        child.send({ type: 'go' });
      } else if (m.type === 'done') {
        if (stop !== null) summarise(await stop(), COUNT);
        child.send({ type: 'end' });
      }
    });
  });
  await broker.close();
  rmSync(dataDir, { recursive: true, force: true });
}
