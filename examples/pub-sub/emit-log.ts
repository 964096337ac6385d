/**
 * Publish/subscribe, publisher side (RabbitMQ tutorial 3): broadcast one log
 * line to every subscriber through a fanout exchange.
 *
 *   node --import tsx examples/pub-sub/emit-log.ts "info: Hello World!"
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const message = process.argv.slice(2).join(' ') || 'info: Hello World!';

await using conn = await connect(url);
await conn.declareExchange('logs', 'fanout');
// A fanout exchange ignores the routing key. With nobody subscribed the message
// is dropped, which is what we want for logs.
await conn.publish('logs', '', message);
console.log(` [x] Sent ${JSON.stringify(message)}`);
