/**
 * Virtual hosts and their limits (protocol-spec 8.9), as `conn.vhosts`.
 * Managing vhosts is for administrators; needs a broker with the `vhosts`
 * capability. Which vhost a connection uses is chosen when it connects (the
 * URL's path, or `connect({ vhost })`).
 *
 * @example
 * await admin.vhosts.add('prod', { maxQueues: 500 });
 * await admin.vhosts.setLimits('prod', { maxConnections: 100 });
 * const app = await connect('warren://app:secret@127.0.0.1:5680/prod');
 */
import type { VhostInfo, VhostLimits } from '@warren/protocol';
import type { SendRequest } from './link.js';
import type { ReplyMapper } from './requests.js';
import { asArray, asRecord } from './replies.js';

type Request = <T>(build: SendRequest, map: ReplyMapper<T>) => Promise<T>;
const nothing = (): void => undefined;

function limitsOf(reply: unknown): VhostLimits {
  const r = asRecord(reply);
  const n = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  return { maxConnections: n(r['maxConnections']), maxQueues: n(r['maxQueues']) };
}

export class Vhosts {
  /** @internal */
  constructor(private readonly request: Request) {}

  /** Creates a vhost, durably (PRECONDITION_FAILED if it exists), optionally with limits. */
  add(vhost: string, limits: Partial<VhostLimits> = {}): Promise<void> {
    return this.request((w, id) => w.vhostAdd(id, vhost, { ...limits }), nothing);
  }

  /**
   * Deletes a vhost and everything in it (exchanges, queues and their
   * messages, streams, buckets), durably; its connections are closed
   * (CONNECTION_FORCED). The default vhost `/` cannot be deleted.
   */
  delete(vhost: string): Promise<void> {
    return this.request((w, id) => w.vhostDelete(id, vhost), nothing);
  }

  /** Every vhost with its connections, queues, ready messages and limits. */
  list(): Promise<VhostInfo[]> {
    return this.request((w, id) => w.vhostList(id), asArray<VhostInfo>);
  }

  /**
   * Changes a vhost's limits: a number sets one, null removes it, a key left
   * out keeps its value. Resolves with the limits now in force. Lowering a
   * limit closes nothing and deletes nothing; it refuses what would go over.
   */
  setLimits(vhost: string, limits: Partial<VhostLimits>): Promise<VhostLimits> {
    return this.request((w, id) => w.vhostLimitsSet(id, vhost, { ...limits }), limitsOf);
  }

  /** Removes every limit of a vhost. */
  clearLimits(vhost: string): Promise<VhostLimits> {
    return this.setLimits(vhost, { maxConnections: null, maxQueues: null });
  }
}
