/**
 * Work queue, producer side (the classic RabbitMQ "work queues" tutorial).
 * Each argument is one task; every dot in it is one unit of work for a worker.
 *
 *   node --import tsx examples/work-queue/producer.ts "First task." "Second task.." "Long task......"
 *
 * The queue is durable and the messages persistent: a confirmed task survives
 * a broker restart, and one that a worker was handling when it died is handed
 * to another worker.
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const QUEUE = 'task_queue';

const tasks = process.argv.slice(2);
if (tasks.length === 0) tasks.push('Hello World.', 'Second task..', 'Third task...', 'Fourth task....', 'Fifth task.....');

await using conn = await connect(url);
await conn.declareQueue(QUEUE, { durable: true });

// Publish them all at once; each promise resolves when the broker has the task on disk.
await Promise.all(
  tasks.map(async (task) => {
    await conn.publish('', QUEUE, task, { persistent: true, contentType: 'text/plain' });
    console.log(` [x] Sent ${JSON.stringify(task)}`);
  }),
);
