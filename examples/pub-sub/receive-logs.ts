/**
 * Publish/subscribe, subscriber side: every running copy gets every log line.
 *
 *   node --import tsx examples/pub-sub/receive-logs.ts
 *
 * Each subscriber has its own queue: exclusive (deleted when this process
 * disconnects) and named by the broker (we only care about messages sent
 * while we listen), bound to the fanout exchange.
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';

const conn = await connect(url);
await conn.declareExchange('logs', 'fanout');
const { queue } = await conn.declareQueue('', { exclusive: true });
await conn.bindQueue(queue, 'logs');

console.log(' [*] Waiting for logs. To exit press CTRL+C');
// noAck: a lost log line is acceptable here, and it saves one frame per message.
await conn.consume(queue, (msg) => console.log(` [x] ${msg.body.toString()}`), { noAck: true });

const stop = (): void => void conn.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
