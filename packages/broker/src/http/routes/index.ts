/**
 * Every route module of the management HTTP API, registered in this order.
 * A new concern writes routes/<concern>.ts exporting
 * `register(router: Router, ctx: HttpContext): void` and adds it here.
 */
import type { RegisterRoutes } from '../context.js';
import { register as health } from './health.js';
import { register as overview } from './overview.js';
import { register as connections } from './connections.js';
import { register as topology } from './topology.js';
import { register as publish } from './publish.js';
import { register as access } from './access.js';
import { register as definitions } from './definitions.js';
import { register as consoleFiles } from './console.js';
import { register as browse } from './browse.js';
import { register as move } from './move.js';
import { register as rates } from './rates.js';
import { register as metrics } from './metrics.js';
import { register as buckets } from './buckets.js';

export const HTTP_ROUTES: readonly RegisterRoutes[] = [
  health,
  overview,
  connections,
  topology,
  publish,
  access,
  definitions,
  browse,
  move,
  rates,
  metrics,
  buckets,
  consoleFiles,
];
