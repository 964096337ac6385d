/**
 * Rebuilding the queues' contents at start: every message the store
 * recovered goes back to its durable queue, body left on disk until it is
 * delivered. Records of queues that no longer exist (or are not durable) are
 * dropped from the store.
 */
import type { Admission } from './admission.js';
import type { MessageStore } from './storage/index.js';
import type { VirtualHost } from './vhost.js';

/** Returns how many messages were put back. */
export function restoreMessages(store: MessageStore, vhost: VirtualHost, admission: Admission): number {
  let restored = 0;
  // Recovered records each decode their own strings; a backlog mostly shares a few.
  const strings = new Map<string, string>();
  const intern = (v: string): string => {
    const known = strings.get(v);
    if (known !== undefined) return known;
    if (strings.size < 65_536) strings.set(v, v);
    return v;
  };
  for (const [queueName, messages] of store.recovered()) {
    const queue = vhost.queues.get(queueName);
    if (queue === undefined || !queue.durable) {
      store.dropQueue(queueName);
      continue;
    }
    for (const r of messages) {
      admission.readmit(queue, r, intern(r.exchange), intern(r.routingKey));
      restored++;
    }
  }
  // The recovered lists are now owned by the queues.
  store.releaseRecovered();
  return restored;
}
