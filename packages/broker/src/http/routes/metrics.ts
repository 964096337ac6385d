/**
 * GET /metrics: Prometheus text exposition (metrics.ts), collected at scrape
 * time. Open with --http-metrics-open, else monitoring or administrator
 * (the router's 'metrics' auth).
 */
import { BrokerMetrics } from '../../metrics.js';
import type { HttpContext } from '../context.js';
import { text, type Router } from '../router.js';

export function register(router: Router, ctx: HttpContext): void {
  let metrics: BrokerMetrics | null = null;
  router.get(
    '/metrics',
    async () => {
      // Created at the first scrape: the process metrics start their sampling then.
      metrics ??= new BrokerMetrics(ctx.broker);
      return text(await metrics.text(), metrics.contentType);
    },
    { auth: 'metrics' },
  );
}
