/**
 * Push messages onto a queue: the Warren version of RPUSH on a Redis list.
 *
 *   node --import tsx examples/simple-queue/push.ts "first job" "second job"
 *
 * The queue is durable and the messages persistent, so they survive a broker
 * restart; publish() resolves once the broker has them on disk.
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const queue = process.env.QUEUE ?? 'simple-queue';

const items = process.argv.slice(2);
if (items.length === 0) {
  console.error('usage: push.ts <message> [message...]');
  process.exit(2);
}

// `await using` closes the connection when this module finishes, even after a throw.
await using conn = await connect(url);
await conn.declareQueue(queue, { durable: true });
for (const item of items) {
  await conn.publish('', queue, item, { persistent: true });
  console.log(`pushed ${JSON.stringify(item)}`);
}
