/**
 * Work queue, worker side. Start several; the broker hands each one task at a
 * time (prefetch 1) and a task leaves the queue only when a worker acks it
 * after finishing. Kill a worker in the middle of a task and the task goes
 * to another worker (marked "redelivered").
 *
 *   node --import tsx examples/work-queue/worker.ts
 *
 * WORK_MS_PER_DOT (default 1000) is how long one dot of a task takes.
 * Ctrl+C (or SIGTERM) stops taking tasks, finishes the current one, and exits;
 * a second Ctrl+C exits at once (the broker then requeues the unfinished task).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type Message } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const QUEUE = 'task_queue';
const msPerDot = Number(process.env.WORK_MS_PER_DOT ?? 1000);
const me = `worker ${process.pid}`;

const conn = await connect(url);
// 'close' with an error: the connection is gone for good (not closed by us).
// Exit non-zero and let the supervisor (Docker, systemd, Kubernetes) restart the process.
conn.on('close', (err) => {
  if (err !== undefined) {
    console.error(`[${me}] connection to the broker lost: ${err.message}`);
    process.exit(1);
  }
});
await conn.declareQueue(QUEUE, { durable: true });

let inFlight: Promise<void> | undefined;

async function work(msg: Message): Promise<void> {
  const task = msg.body.toString();
  console.log(`[${me}] Received ${JSON.stringify(task)}${msg.redelivered ? ' (redelivered)' : ''}`);
  const dots = task.split('.').length - 1;
  await sleep(dots * msPerDot);
  console.log(`[${me}] Done ${JSON.stringify(task)}`);
  msg.ack(); // only now does the broker forget the task
}

// Said before subscribing: tasks already queued arrive as soon as the consumer starts.
console.log(`[${me}] Waiting for tasks. To exit press CTRL+C`);
// prefetch 1: do not send this worker a new task until it acked the previous one,
// so a long task does not hold back tasks that an idle worker could do.
const consuming = conn.consume(
  QUEUE,
  (msg) => {
    inFlight = work(msg).finally(() => (inFlight = undefined));
    return inFlight;
  },
  { prefetch: 1 },
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) process.exit(130);
  stopping = true;
  // Said at once, so the first Ctrl+C is not met with silence while a long task runs.
  console.log(`[${me}] Stopping${inFlight !== undefined ? ' after the current task (Ctrl+C again to quit now)' : ''}`);
  await (await consuming).cancel(); // no new tasks...
  await inFlight; // ...but finish (and ack) the current one
  await conn.close();
  console.log(`[${me}] Stopped`);
}
// Installed before the first task can arrive, so a stop during it is never missed.
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
await consuming;
