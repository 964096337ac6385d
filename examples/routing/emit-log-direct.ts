/**
 * Routing with a direct exchange (RabbitMQ tutorial 4): the severity is the
 * routing key, and only queues bound with that key get the message.
 *
 *   node --import tsx examples/routing/emit-log-direct.ts error "Run. Run. Or it will explode."
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const [severity = 'info', ...words] = process.argv.slice(2);
const message = words.join(' ') || 'Hello World!';

await using conn = await connect(url);
await conn.declareExchange('direct_logs', 'direct');
await conn.publish('direct_logs', severity, message);
console.log(` [x] Sent ${severity}: ${JSON.stringify(message)}`);
