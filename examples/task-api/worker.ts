/**
 * The task worker: takes primality tasks, computes them, and publishes each
 * result into the task's own result queue (see api.ts). Run as many as you
 * like; each takes PREFETCH tasks at a time (default 1).
 *
 *   WARREN_URL=warren://guest:guest@127.0.0.1:5680 node --import tsx examples/task-api/worker.ts
 */
import { connect, MessageReturnedError } from '@warren/client';
import { isPrime } from './primes.js';
import { TASKS_QUEUE, resultQueue, type Task, type TaskResult } from './tasks.js';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const prefetch = Number(process.env.PREFETCH ?? 1);
const me = `worker ${process.pid}`;

const conn = await connect({ url, name: me });
// 'close' with an error: the connection is gone for good (not closed by us).
// Exit non-zero and let the supervisor (Docker, systemd, Kubernetes) restart the process.
conn.on('close', (err) => {
  if (err !== undefined) {
    console.error(`[${me}] connection to the broker lost: ${err.message}`);
    process.exit(1);
  }
});
await conn.declareQueue(TASKS_QUEUE, { durable: true });

let inFlight = 0;
let drained: (() => void) | undefined;

const consumer = await conn.consume(
  TASKS_QUEUE,
  async (msg) => {
    let task: Task;
    try {
      task = JSON.parse(msg.body.toString()) as Task;
      if (typeof task.id !== 'string' || typeof task.number !== 'string') throw new Error('bad shape');
    } catch {
      console.error(`[${me}] dropping a malformed task: ${msg.body.toString().slice(0, 100)}`);
      msg.reject({ requeue: false });
      return;
    }
    inFlight++;
    try {
      let result: TaskResult;
      try {
        result = { status: 'SUCCESS', result: isPrime(BigInt(task.number)) };
      } catch (err) {
        result = { status: 'FAILURE', result: (err as Error).message };
      }
      console.log(`[${me}] task ${task.id}: ${task.number} -> ${result.status} ${String(result.result)}`);
      try {
        // mandatory: if the result queue has expired, nobody is waiting; say so instead of dropping silently.
        await conn.publish('', resultQueue(task.id), JSON.stringify(result), {
          persistent: true,
          mandatory: true,
          contentType: 'application/json',
          correlationId: task.id,
        });
      } catch (err) {
        if (!(err instanceof MessageReturnedError)) throw err; // not acked: the broker gives the task to someone else
        console.log(`[${me}] task ${task.id}: its result queue is gone (expired), result discarded`);
      }
      // Ack only after the result is stored: a crash before this line means the task is redone.
      msg.ack();
    } finally {
      if (--inFlight === 0) drained?.();
    }
  },
  { prefetch },
);
console.log(`[${me}] waiting for tasks on "${TASKS_QUEUE}"`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) process.exit(130);
  stopping = true;
  await consumer.cancel();
  if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
  await conn.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
