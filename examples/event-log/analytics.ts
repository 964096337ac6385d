/**
 * Event log, a replay: a new analytics service computes revenue from every order
 * ever recorded, by reading the stream from its first offset up to where it ends
 * now. Reading takes nothing away: billing.ts (and any later replay) sees the same
 * orders.
 *
 *   node --import tsx examples/event-log/analytics.ts
 */
import { connect } from '@warren/client';
import { setupShop, type Order } from './shop.js';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';

await using conn = await connect(url);
await setupShop(conn);
const end = (await conn.streamInfo('order-events')).next;
let orders = 0;
let revenue = 0;
if (end > 0) {
  for await (const msg of await conn.consumeStream('order-events', { offset: 'first' })) {
    revenue += (JSON.parse(msg.body.toString()) as Order).amount;
    orders++;
    if (msg.offset === end - 1) break;
  }
}
console.log(` [x] Replayed ${orders} orders: revenue ${revenue} EUR`);
