/**
 * Routing with a topic exchange, subscriber side. In a binding key `*`
 * matches exactly one word and `#` zero or more words:
 *
 *   node --import tsx examples/routing/receive-logs-topic.ts "#"               # everything
 *   node --import tsx examples/routing/receive-logs-topic.ts "kern.*"          # all kernel logs
 *   node --import tsx examples/routing/receive-logs-topic.ts "*.critical"      # critical from anywhere
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const bindingKeys = process.argv.slice(2);
if (bindingKeys.length === 0) {
  console.error('usage: receive-logs-topic.ts <binding key> [binding key...]');
  process.exit(2);
}

const conn = await connect(url);
await conn.declareExchange('topic_logs', 'topic');
const { queue } = await conn.declareQueue('', { exclusive: true });
for (const key of bindingKeys) await conn.bindQueue(queue, 'topic_logs', key);

console.log(` [*] Waiting for ${bindingKeys.join(', ')} logs. To exit press CTRL+C`);
await conn.consume(queue, (msg) => console.log(` [x] ${msg.routingKey}: ${msg.body.toString()}`), { noAck: true });

const stop = (): void => void conn.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
