/**
 * Virtual host requests (protocol-spec 8.9): add, delete and list vhosts, and
 * set their limits. The registry (vhosts.ts) does the work, durably, before
 * the reply. They manage the whole broker, not the session's vhost: the
 * authorizer admits administrators only.
 */
import { FrameType, type VhostInfo, type VhostLimits } from '@warren/protocol';
import { Answer, type Access, type DispatchTable } from '../dispatch.js';
import { errors } from '../errors.js';
import { checkLimit } from '../vhosts.js';

/** Administrators only (the access authorizer, authorizer.ts). */
const ADMINISTER: Access = 'administer';

/** The limits a request names: an absent key is left out, nil clears, else a non-negative integer. */
function limitsOf(options: Record<string, unknown>): Partial<VhostLimits> {
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
    await vhosts.delete(f.vhost);
    // Its permissions go with it: a vhost added again under the name starts with none.
    for (const p of access.listPermissions({ vhost: f.vhost })) await access.clearPermissions(p.username, f.vhost);
    return null;
  });
  table.register(FrameType.VHOST_LIST, Answer.Reply, ADMINISTER, (_f, _session, { vhosts }) => {
    const out: VhostInfo[] = [];
    for (const v of vhosts) {
      let messages = 0;
      for (const q of v.queues.values()) messages += q.messageCount;
      out.push({ name: v.name, connections: v.sessions.size, queues: v.queues.size, messages, ...v.limits });
    }
    return out;
  });
  table.register(FrameType.VHOST_LIMITS_SET, Answer.Reply, ADMINISTER, (f, _session, { vhosts }) => vhosts.setLimits(f.vhost, limitsOf(f.options)));
}
