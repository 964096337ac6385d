/**
 * What the management HTTP API's route modules get (`register(router, ctx)`):
 * the broker and its services, and the API's own options. A route module
 * reads what it needs from here at request time, never at registration.
 */
import type { Access } from '../access.js';
import type { Broker } from '../broker.js';
import type { Logger } from '../logger.js';
import type { Vhosts } from '../vhosts.js';
import type { Router } from './router.js';

export interface HttpOptions {
  /** Port to listen on (0: any free one). */
  port: number;
  /** Interface to listen on. */
  bind: string;
  /** Folder of the web console's built files; undefined: @warren/console's dist/ if installed. */
  consoleDir: string | undefined;
  /** /metrics without credentials. */
  metricsOpen: boolean;
  /** Largest request body accepted, in bytes (413 above). */
  bodyLimit: number;
  /** Sockets open at once (Infinity: no limit); more are closed unanswered. */
  maxConnections: number;
  /** Of those, sockets from one address (Infinity: no limit); more from it are closed unanswered. */
  maxConnectionsPerAddress: number;
  /** How long a client has to send a request's headers (and, over HTTPS, to finish the TLS handshake), in ms. */
  headersTimeoutMs: number;
}

export interface HttpContext {
  /** The whole broker (status, connections, TLS, memory, ...). */
  readonly broker: Broker;
  readonly access: Access;
  readonly vhosts: Vhosts;
  readonly logger: Logger;
  readonly options: HttpOptions;
}

/** A route module: registers its routes; see routes/index.ts. */
export type RegisterRoutes = (router: Router, ctx: HttpContext) => void;
