/**
 * What request handlers may use of the broker: the vhost and its topology,
 * admission and dead-lettering, and what management reports. Handlers get
 * this interface, never the Broker class, so a handler module depends on the
 * services it uses and nothing imports broker.ts back.
 */
import type { Access } from './access.js';
import type { Admission } from './admission.js';
import type { DeadLetters } from './dead-letter.js';
import type { KvStore } from './kv/kv-store.js';
import type { Logger } from './logger.js';
import type { ResolvedOptions } from './options.js';
import type { Topology } from './topology.js';
import type { VirtualHost } from './vhost.js';
import type { Streams } from './streams/streams.js';

export interface BrokerServices {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly vhost: VirtualHost;
  readonly topology: Topology;
  readonly admission: Admission;
  readonly deadLetters: DeadLetters;
  /** The streams (null when the broker keeps nothing on disk). */
  readonly streams: Streams | null;
  /** Key-value buckets (spec 8.7). */
  readonly kv: KvStore;
  /** Users, permissions and user limits (access.ts). */
  readonly access: Access;
  /** The STATUS report. */
  status(): Record<string, unknown>;
}
