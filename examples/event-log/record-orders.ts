/**
 * Event log, writer side: records orders once, in the stream `order-events`, through the
 * fanout exchange `shop-events` (a queue bound to it too would get each order as well).
 * Every service reads the stream on its own: see billing.ts and analytics.ts.
 *
 *   node --import tsx examples/event-log/record-orders.ts 5      # record 5 orders
 */
import { connect } from '@warren/client';
import { setupShop } from './shop.js';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const count = Number(process.argv[2] ?? '3');

await using conn = await connect(url);
await setupShop(conn);
const before = (await conn.streamInfo('order-events')).next;
// publish() resolves once the order is on disk (fdatasync'ed): it is in the log for good.
await Promise.all(
  Array.from({ length: count }, (_, i) => {
    const order = { id: before + i + 1, amount: 10 * (((before + i) % 5) + 1) };
    return conn.publish('shop-events', 'order.created', JSON.stringify(order), { contentType: 'application/json' });
  }),
);
console.log(` [x] Recorded ${count} orders`);
