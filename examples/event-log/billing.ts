/**
 * Event log, a live service: bills each order once. It reads the stream as the
 * named consumer `billing` and commits each order after billing it, so when it is
 * stopped and started again it goes on right after the last order it billed:
 * nothing is skipped, nothing billed twice (barring a crash between billing and
 * the commit: at-least-once).
 *
 *   node --import tsx examples/event-log/billing.ts
 */
import { connect } from '@warren/client';
import { setupShop, type Order } from './shop.js';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';

const conn = await connect(url);
await setupShop(conn);
// The first time ever, start with the orders recorded from now on; afterwards, after the last commit.
const consumer = await conn.consumeStream('order-events', { name: 'billing', offset: 'next' });
console.log(` [*] Billing from offset ${consumer.startOffset}. To exit press CTRL+C`);
process.once('SIGINT', () => void conn.close());
process.once('SIGTERM', () => void conn.close());
for await (const msg of consumer) {
  const order = JSON.parse(msg.body.toString()) as Order;
  await msg.commit(); // billed: do not bill it again
  console.log(` [x] Billed order #${order.id}: ${order.amount} EUR (offset ${msg.offset})`);
}
