/**
 * GET /api/rates?seconds=300  -> {intervalMs, samples:[{t, published, delivered, acked, redelivered, returned, deadLettered}]}
 * GET /api/queues/:vhost/:name/rates?seconds=300 -> {intervalMs, samples:[{t, published, delivered, acked, ready, unacked}]}
 * Per-second rates sampled once a second (rates.ts); 10 minutes kept.
 */
import type { HttpContext } from '../context.js';
import type { Router } from '../router.js';
import { queueOf, secondsOf } from './data-common.js';

export function register(router: Router, ctx: HttpContext): void {
  router.get('/api/rates', (req) => ctx.broker.rates.history(secondsOf(req)));
  router.get('/api/queues/:vhost/:name/rates', (req) => {
    const { queue } = queueOf(ctx, req);
    return ctx.broker.rates.queueHistory(queue, secondsOf(req));
  });
}
