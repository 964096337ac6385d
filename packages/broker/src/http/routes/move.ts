/**
 * POST /api/queues/:vhost/:name/move  {count?, toQueue? | toExchange? (+ routingKey?), toVhost?}
 *   -> {moved, skipped}
 * Moves ready messages durably (move.ts); toExchange '$x-death' redrives each
 * message to where it was dead-lettered from. Needs read on the source queue
 * and write on the destination (the queue, or each exchange a message is
 * routed through); the monitoring tag alone changes nothing.
 */
import { errors } from '../../errors.js';
import { moveMessages, X_DEATH } from '../../move.js';
import type { HttpContext } from '../context.js';
import type { Router } from '../router.js';
import { bodyObject, queueOf } from './data-common.js';

export function register(router: Router, ctx: HttpContext): void {
  router.post('/api/queues/:vhost/:name/move', async (req) => {
    const { vhost, queue } = queueOf(ctx, req);
    const user = req.user;
    if (!user.isAdmin && !user.isManagement) throw errors.accessRefused(`user '${user.name}' may not move messages: needs the administrator or management tag`);
    const body = await bodyObject(req);
    const { count, toQueue, toExchange, routingKey, toVhost } = body;
    if (toVhost !== undefined && toVhost !== vhost.name) throw errors.invalidArgument('messages move within their vhost only (toVhost must be the same vhost)');
    if (count !== undefined && count !== null && (typeof count !== 'number' || !Number.isInteger(count) || count < 0)) {
      throw errors.invalidArgument('count must be an integer >= 0 (omit it to move all)');
    }
    if (toQueue !== undefined && typeof toQueue !== 'string') throw errors.invalidArgument('toQueue must be a string');
    if (toExchange !== undefined && typeof toExchange !== 'string') throw errors.invalidArgument('toExchange must be a string');
    if (routingKey !== undefined && typeof routingKey !== 'string') throw errors.invalidArgument('routingKey must be a string');
    user.require(vhost.name, 'read', 'queue', queue.name, 'move messages out of');
    // The default exchange travels as 'amq.default' (as in the publish route).
    const exchange = toExchange === 'amq.default' ? '' : toExchange;
    if (toQueue !== undefined) user.require(vhost.name, 'write', 'queue', toQueue, 'move messages into');
    else if (exchange !== undefined && exchange !== X_DEATH) user.require(vhost.name, 'write', 'exchange', exchange, 'move messages through');
    const target = {
      ...(toQueue !== undefined ? { queue: toQueue } : {}),
      ...(exchange !== undefined ? { exchange } : {}),
      ...(routingKey !== undefined ? { routingKey } : {}),
      // '$x-death': only through exchanges the caller may write to.
      mayWrite: (x: string) => user.may(vhost.name, 'write', x),
    };
    return moveMessages(vhost, queue, target, (count as number | undefined) ?? null);
  });
}
