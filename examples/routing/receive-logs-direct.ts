/**
 * Routing with a direct exchange, subscriber side: one binding per severity.
 *
 *   node --import tsx examples/routing/receive-logs-direct.ts warning error
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const severities = process.argv.slice(2);
if (severities.length === 0) {
  console.error('usage: receive-logs-direct.ts [info] [warning] [error]');
  process.exit(2);
}

const conn = await connect(url);
await conn.declareExchange('direct_logs', 'direct');
const { queue } = await conn.declareQueue('', { exclusive: true });
for (const severity of severities) await conn.bindQueue(queue, 'direct_logs', severity);

console.log(` [*] Waiting for ${severities.join(', ')} logs. To exit press CTRL+C`);
await conn.consume(queue, (msg) => console.log(` [x] ${msg.routingKey}: ${msg.body.toString()}`), { noAck: true });

const stop = (): void => void conn.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
