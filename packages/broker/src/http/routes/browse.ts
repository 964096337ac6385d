/**
 * POST /api/queues/:vhost/:name/browse  {offset?, count?, encoding?}
 *   -> {items, total, ready, delayed}   (streams: offset 'first'|'last'|n; items carry offset and timestamp)
 * Reading messages without side effects (browse.ts): needs read permission on the queue.
 */
import { browseQueue, type BrowseRequest } from '../../browse.js';
import { errors } from '../../errors.js';
import type { HttpContext } from '../context.js';
import type { Router } from '../router.js';
import { bodyObject, queueOf } from './data-common.js';

export function register(router: Router, ctx: HttpContext): void {
  router.post('/api/queues/:vhost/:name/browse', async (req) => {
    const { vhost, queue } = queueOf(ctx, req);
    req.user.require(vhost.name, 'read', 'queue', queue.name, 'browse');
    const body = await bodyObject(req);
    const { offset, count, encoding } = body;
    if (offset !== undefined && typeof offset !== 'number' && offset !== 'first' && offset !== 'last') {
      throw errors.invalidArgument(`offset must be a number (or 'first' / 'last' for a stream)`);
    }
    if (count !== undefined && typeof count !== 'number') throw errors.invalidArgument('count must be a number');
    return browseQueue(vhost, queue, { offset, count, encoding } as BrowseRequest);
  });
}
