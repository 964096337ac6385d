/**
 * Every route module of the management HTTP API, registered in this order.
 * A new concern writes routes/<concern>.ts exporting
 * `register(router: Router, ctx: HttpContext): void` and adds it here.
 */
import type { RegisterRoutes } from '../context.js';
import { register as health } from './health.js';
import { register as consoleFiles } from './console.js';

export const HTTP_ROUTES: readonly RegisterRoutes[] = [health, consoleFiles];
