/** Shared by the data routes (browse, move, rates): the vhost and queue named in the path, after the visibility check. */
import { errors } from '../../errors.js';
import type { Queue } from '../../queue.js';
import type { VirtualHost } from '../../vhost.js';
import type { HttpContext } from '../context.js';
import type { ApiRequest } from '../router.js';

/** The request body as an object ({} when empty); 400 for anything else. */
export async function bodyObject(req: ApiRequest): Promise<Record<string, unknown>> {
  const body = await req.json();
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw errors.invalidArgument('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** The :vhost and :name of the path: 403 when the caller may not see the vhost, 404 when either is unknown. */
export function queueOf(ctx: HttpContext, req: ApiRequest): { vhost: VirtualHost; queue: Queue } {
  const vname = req.params['vhost']!;
  req.user.requireSee(vname);
  const vhost = ctx.vhosts.get(vname);
  if (vhost === undefined) throw errors.notFound(`vhost '${vname}'`);
  const queue = vhost.queues.get(req.params['name']!);
  if (queue === undefined) throw errors.notFound(`queue '${req.params['name']}' in vhost '${vname}'`);
  return { vhost, queue };
}

/** `?seconds=` (default 300, 1..600). */
export function secondsOf(req: ApiRequest): number {
  const raw = req.query.get('seconds');
  if (raw === null) return 300;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 600) throw errors.invalidArgument('seconds must be an integer 1..600');
  return n;
}
