/**
 * Virtual host requests (protocol-spec 8.9): add, delete and list vhosts, and
 * set their limits. The registry (vhosts.ts) does the work, durably, before
 * the reply. They manage the whole broker, not the session's vhost: the
 * authorizer admits administrators only.
 */
import { FrameType, type VhostLimits } from '@warren/protocol';
import { vhostInfo } from '../management.js';
import { Answer, type Access, type DispatchTable } from '../dispatch.js';
import { errors } from '../errors.js';
import { checkLimit, deleteVhost } from '../vhosts.js';

/** Administrators only (the access authorizer, authorizer.ts). */
const ADMINISTER: Access = 'administer';

/** The limits a request names: an absent key is left out, nil clears, else a non-negative integer. */
export function limitsOf(options: Record<string, unknown>): Partial<VhostLimits> {
  const out: Partial<VhostLimits> = {};
  for (const key of ['maxConnections', 'maxQueues'] as const) {
    if (key in options && options[key] !== undefined) out[key] = checkLimit(options[key], key);
  }
  return out;
}

export function registerVhostHandlers(table: DispatchTable): void {
  table.register(FrameType.VHOST_ADD, Answer.Reply, ADMINISTER, async (f, _session, { vhosts }) => {
    const limits = limitsOf(f.options);
    if (!(await vhosts.add(f.vhost, limits))) throw errors.preconditionFailed(`vhost '${f.vhost}' already exists`);
    return null;
  });
  table.register(FrameType.VHOST_DELETE, Answer.Reply, ADMINISTER, async (f, _session, { vhosts, access }) => {
    await deleteVhost(vhosts, access, f.vhost);
    return null;
  });
  table.register(FrameType.VHOST_LIST, Answer.Reply, ADMINISTER, (_f, _session, { vhosts }) => [...vhosts].map(vhostInfo));
  table.register(FrameType.VHOST_LIMITS_SET, Answer.Reply, ADMINISTER, (f, _session, { vhosts }) => vhosts.setLimits(f.vhost, limitsOf(f.options)));
}
