/**
 * Preload for the bench broker (WARREN_BENCH_BROKER_ARGS="--import /work/coord/s1dyn-data/trace.mjs"):
 * records the transient queue's dynamics into WARREN_TRACE_OUT (JSON, written at exit).
 * WARREN_TRACE_DIST: the broker's dist folder (the tree under test), so the patched classes are the ones the broker uses.
 *
 * samples every WARREN_TRACE_MS (default 5) ms: time, loop ELU and CPU over the interval, the queue's ready and paged
 * counts and counters, consumer unacked, consumer connection congested/buffered bytes/bytesWritten, publisher paused
 * for flow and bytesRead, flow holds on.
 * events: hold start/end (with reason), EluProbe fresh samples, queueHolds fresh samples, stats marks (phase bounds).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = process.env.WARREN_TRACE_DIST;
const out = process.env.WARREN_TRACE_OUT;
const every = Number(process.env.WARREN_TRACE_MS ?? 5);
const imp = (f) => import(pathToFileURL(join(dist, f)).href);
const { FlowControl, EluProbe } = await imp('flow-control.js');
const { Queue } = await imp('queue.js');
const { Connection } = await imp('connection.js');
const { FrameSocket } = await import(pathToFileURL(join(dist, '../../protocol/dist/frame-socket.js')).href);

const t0 = performance.now();
const now = () => performance.now() - t0;
const events = [];
const samples = [];
const queues = new Set();
const consumers = new Set();
const publishers = new Set();
let flow;

const addConsumer = Queue.prototype.addConsumer;
Queue.prototype.addConsumer = function (c) {
  if (!this.name.startsWith('amq.')) {
    queues.add(this);
    consumers.add(c);
  }
  return addConsumer.call(this, c);
};
const becomePublisher = Connection.prototype.becomePublisher;
Connection.prototype.becomePublisher = function () {
  publishers.add(this);
  return becomePublisher.call(this);
};

/** Every socket read: [t, role (0 publisher, 1 consumer, 2 other), bytes, ms spent handling it]. */
const chunks = [];
const roleOf = new WeakMap();
const onData = FrameSocket.prototype.onData;
FrameSocket.prototype.onData = function (chunk) {
  const a = performance.now();
  onData.call(this, chunk);
  let r = roleOf.get(this);
  if (r === undefined) {
    r = 2;
    for (const p of publishers) if (p.fs === this) r = 0;
    for (const c of consumers) if (c.sink.fs === this) r = 1;
    if (r !== 2) roleOf.set(this, r);
  }
  const b = performance.now();
  chunks.push(a - t0, r, chunk.length, b - a);
};

const published = FlowControl.prototype.published;
FlowControl.prototype.published = function (conn, queue) {
  flow = this;
  const before = this.holdsTotal;
  const s = this.samples.get(queue);
  const inResume = s !== undefined && this.now() < s.resumeUntil;
  published.call(this, conn, queue);
  if (this.holdsTotal !== before) {
    const h = this.held.get(conn);
    events.push({ t: now(), ev: 'hold', ready: queue.messageCount, paged: queue.pagedCount, resume: inResume });
    if (h !== undefined) h._t = now();
  }
};
const release = FlowControl.prototype.release;
FlowControl.prototype.release = function (conn) {
  const h = this.held.get(conn);
  if (h !== undefined) {
    const n = this.now();
    const t = this.tuning;
    let reason;
    if (conn.closed) reason = 'closed';
    else if (h.queue.messageCount <= t.lowWater) reason = 'low';
    else if (n - h.progressAt >= t.windowMs) reason = 'stalled';
    else if (n - h.since >= t.maxHoldMs) reason = 'max';
    else reason = '?';
    events.push({ t: now(), ev: 'end', reason, ready: h.queue.messageCount, paged: h.queue.pagedCount, ms: n - h.since });
  }
  return release.call(this, conn);
};
const queueHolds = FlowControl.prototype.queueHolds;
FlowControl.prototype.queueHolds = function (queue) {
  const s0 = this.samples.get(queue);
  const at = s0?.at;
  const r = queueHolds.call(this, queue);
  const s = this.samples.get(queue);
  if (s !== undefined && s.at !== at) {
    events.push({ t: now(), ev: 'qs', holds: s.holds, count: s.count });
    // The timer-sampled probe (s1dyn): reading its answer has no side effect; log it where the old probe would have sampled.
    if (newProbe && s.holds && this.probe instanceof EluProbe) events.push({ t: now(), ev: 'elu', sat: this.probe.saturated(), gap: 0 });
  }
  return r;
};
const newProbe = typeof EluProbe.prototype.tick === 'function';
const saturated = EluProbe.prototype.saturated;
EluProbe.prototype.saturated = function () {
  const at = this.lastAt;
  const r = saturated.call(this);
  if (this.lastAt !== at) events.push({ t: now(), ev: 'elu', sat: r, gap: this.lastAt - at });
  return r;
};

let lastElu = performance.eventLoopUtilization();
let lastCpu = process.cpuUsage();
let lastT = now();
const timer = setInterval(() => {
  const t = now();
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const d = performance.eventLoopUtilization(elu, lastElu);
  const s = { t, dt: t - lastT, elu: d.utilization, cpu: (cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000 };
  lastElu = elu;
  lastCpu = cpu;
  lastT = t;
  for (const q of queues) {
    s.ready = q.messageCount;
    s.paged = q.pagedCount;
    s.pub = q.counters.published;
    s.del = q.counters.delivered;
    s.ack = q.counters.acked;
  }
  for (const c of consumers) {
    s.unacked = c.unacked;
    const conn = c.sink;
    s.cong = conn.congested ? 1 : 0;
    s.cbuf = conn.fs?.bufferedBytes;
    s.cw = conn.fs?.socket.bytesWritten;
  }
  for (const p of publishers) {
    s.pflow = p.fs?.isPausedFor('flow') ? 1 : 0;
    s.pr = p.fs?.socket.bytesRead;
  }
  s.held = flow?.held.size ?? 0;
  samples.push(s);
}, every);
timer.unref();

process.on('message', (m) => {
  if (m?.type === 'stats') events.push({ t: now(), ev: 'stats' });
});
process.on('exit', () => {
  if (out !== undefined) writeFileSync(out, JSON.stringify({ every, events, samples, chunks }));
});
