/**
 * GET /api/health      {status:'ok'}, no credentials (load balancers);
 * GET /api/health/alarms  200 {status:'ok', alarms} or 503 {status:'alarm', alarms} (memory or disk alarm: publishers blocked);
 * GET /api/whoami      the caller: {name, tags}.
 */
import type { HttpContext } from '../context.js';
import { json, type Router } from '../router.js';

export function register(router: Router, ctx: HttpContext): void {
  router.get('/api/health', () => ({ status: 'ok' }), { auth: 'none' });
  router.get('/api/health/alarms', () => {
    const memory = ctx.broker.memory;
    const alarms = { memory: memory.memoryAlarm, disk: memory.diskAlarm };
    return alarms.memory || alarms.disk ? json({ status: 'alarm', alarms, reason: ctx.broker.publishBlockReason }, 503) : { status: 'ok', alarms };
  });
  router.get('/api/whoami', (req) => ({ name: req.user.name, tags: req.user.tags }));
}
