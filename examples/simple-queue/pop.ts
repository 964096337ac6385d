/**
 * Pop the oldest message from a queue: the Warren version of LPOP / BLPOP.
 *
 *   node --import tsx examples/simple-queue/pop.ts          # prints it, or "(empty)" and exits 1
 *   node --import tsx examples/simple-queue/pop.ts --wait   # waits until there is one
 *
 * Unlike LPOP, a message is only removed when it is acknowledged: if this
 * process dies between receiving and acking, the message goes back to the queue.
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const queue = process.env.QUEUE ?? 'simple-queue';
const wait = process.argv.includes('--wait');

await using conn = await connect(url);
await conn.declareQueue(queue, { durable: true });

if (!wait) {
  // One request, one answer: a message, or null when the queue is empty.
  const msg = await conn.get(queue);
  if (msg === null) {
    console.log('(empty)');
    process.exitCode = 1;
  } else {
    console.log(msg.body.toString());
    msg.ack();
  }
} else {
  // Subscribe, take the first message, and leave: `break` cancels the consumer.
  // prefetch 1 means the broker hands us exactly one message at a time.
  const consumer = await conn.consume(queue, { prefetch: 1 });
  console.error(`waiting for a message on "${queue}"...`);
  for await (const msg of consumer) {
    console.log(msg.body.toString());
    msg.ack();
    break;
  }
}
