/**
 * Routing with a topic exchange (RabbitMQ tutorial 5): the routing key is a
 * dot-separated "<facility>.<severity>", and bindings are patterns.
 *
 *   node --import tsx examples/routing/emit-log-topic.ts kern.critical "A critical kernel error"
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const [key = 'anonymous.info', ...words] = process.argv.slice(2);
const message = words.join(' ') || 'Hello World!';

await using conn = await connect(url);
await conn.declareExchange('topic_logs', 'topic');
await conn.publish('topic_logs', key, message);
console.log(` [x] Sent ${key}: ${JSON.stringify(message)}`);
