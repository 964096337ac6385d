/** The topology the event-log examples share: the stream `order-events`, fed by the fanout exchange `shop-events`. */
import type { Connection } from '@warren/client';

export async function setupShop(conn: Connection): Promise<void> {
  // Kept for 30 days; older segments are deleted whole.
  await conn.declareStream('order-events', { maxAge: '30d' });
  await conn.declareExchange('shop-events', 'fanout', { durable: true });
  await conn.bindQueue('order-events', 'shop-events');
}

export interface Order {
  id: number;
  amount: number;
}
