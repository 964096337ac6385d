/**
 * The broker as a connection sees it (the Broker class implements it): the
 * services handlers use, the handshake's needs and the dispatch table. An
 * interface, so connection.ts never imports broker.ts.
 */
import type { Logger } from './logger.js';
import type { DispatchTable } from './dispatch.js';
import type { BrokerServices } from './services.js';
import type { Session } from './session.js';
import type { FlowControl } from './flow-control.js';

/** What a connection needs from the broker: the services its handlers use, plus the handshake and the dispatch table. */
export interface BrokerContext extends BrokerServices {
  readonly logger: Logger;
  readonly serverProperties: Record<string, unknown>;
  /** Why publishers are blocked right now (memory or disk alarm), or null. */
  readonly publishBlockReason: string | null;
  /** Publisher flow control: holds reading a publisher while the broker is saturated and a queue it feeds grows. */
  readonly flow: FlowControl;
  /** Which handler answers which frame type. */
  readonly handlers: DispatchTable;
  /**
   * A connection from `address` is no longer waiting to log in (logged in, or closed before it did):
   * it stops counting against maxPendingConnectionsPerAddress. Called once per connection.
   */
  loginEnded(address: string): void;
  connectionClosed(session: Session): void;
}
