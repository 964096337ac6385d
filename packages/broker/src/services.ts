/**
 * What request handlers may use of the broker beyond their session's vhost:
 * options, the logger, the vhost registry and what management reports.
 * Everything a request names (exchanges, queues, streams, buckets) is looked
 * up in `session.vhost` (vhost.ts), which also carries its topology,
 * admission, dead-lettering and stores. Handlers get this interface, never
 * the Broker class, so a handler module depends on the services it uses and
 * nothing imports broker.ts back.
 */
import type { Access } from './access.js';
import type { Logger } from './logger.js';
import type { ResolvedOptions } from './options.js';
import type { Vhosts } from './vhosts.js';

export interface BrokerServices {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  /** Every vhost (add, delete, limits: handlers/vhosts.ts). */
  readonly vhosts: Vhosts;
  /** Users, permissions and user limits (access.ts). */
  readonly access: Access;
  /** The STATUS report. */
  status(): Record<string, unknown>;
}
