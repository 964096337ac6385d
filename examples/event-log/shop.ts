/** The topology the event-log examples share: the stream `orders`, fed by the fanout exchange `shop`. */
import type { Connection } from '@warren/client';

export async function setupShop(conn: Connection): Promise<void> {
  // Kept for 30 days; older segments are deleted whole.
  await conn.declareStream('orders', { maxAge: '30d' });
  await conn.declareExchange('shop', 'fanout', { durable: true });
  await conn.bindQueue('orders', 'shop');
}

export interface Order {
  id: number;
  amount: number;
}
