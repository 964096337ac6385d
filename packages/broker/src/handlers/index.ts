/**
 * Every concern's handlers, registered into one dispatch table. A new concern
 * (streams, key-value buckets, users) writes handlers/<concern>.ts with a
 * register function and adds it here.
 */
import type { DispatchTable } from '../dispatch.js';
import { registerAccessHandlers } from './access.js';
import { registerConsumeHandlers } from './consume.js';
import { registerKvHandlers } from './kv.js';
import { registerManagementHandlers } from './management.js';
import { registerPublishHandlers } from './publish.js';
import { registerStreamHandlers } from './streams.js';
import { registerTopologyHandlers } from './topology.js';
import { registerVhostHandlers } from './vhosts.js';

export const CORE_HANDLERS: ReadonlyArray<(table: DispatchTable) => void> = [
  registerTopologyHandlers,
  registerPublishHandlers,
  registerConsumeHandlers,
  registerManagementHandlers,
  registerStreamHandlers,
  registerKvHandlers,
  registerVhostHandlers,
  registerAccessHandlers,
];

/** A table with every concern's handlers. */
export function registerHandlers(table: DispatchTable, concerns = CORE_HANDLERS): DispatchTable {
  for (const register of concerns) register(table);
  return table;
}
