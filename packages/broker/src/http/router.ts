/**
 * A tiny method + path router for the management HTTP API (no framework).
 *
 *   router.get('/api/queues/:vhost/:name', (req) => ...)
 *
 * Paths are matched segment by segment on the raw (still encoded) path, then
 * each parameter is URL-decoded, so a vhost named `/` travels as `%2F`. When
 * two routes match, the one with more literal segments wins. A path that
 * matches only under other methods answers 405; HEAD is served by GET.
 *
 * A handler returns what to answer: a plain value is sent as JSON (200),
 * `undefined` as 204, an HttpReply as it says. It may also write to
 * `req.res` itself (streams, files): then nothing else is sent. Errors it
 * throws are mapped to JSON by the server (server.ts, errors.ts).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { HttpUser } from './authz.js';
import { errors } from '../errors.js';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/**
 * Who may call a route:
 *  - 'tagged' (default): a logged-in user with administrator, management or monitoring;
 *  - 'none': anyone (health checks, console files); req.user is the anonymous user;
 *  - 'metrics': anyone when --http-metrics-open, else monitoring or administrator.
 * Finer checks (vhost, permissions) are the handler's, with req.user (authz.ts).
 */
export type RouteAuth = 'tagged' | 'none' | 'metrics';

export interface RouteOptions {
  auth?: RouteAuth;
}

/** One request as a handler sees it. */
export interface ApiRequest {
  readonly method: string;
  /** The path without the query string, still URL-encoded. */
  readonly path: string;
  /** The route's `:params`, URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The caller (authz.ts); the anonymous user on 'none' routes. */
  readonly user: HttpUser;
  readonly raw: IncomingMessage;
  readonly res: ServerResponse;
  /** The body parsed as JSON (size-limited); `undefined` when empty. Bad JSON: 400 INVALID_ARGUMENT; too large: 413. */
  /** The body parsed as JSON; INVALID_ARGUMENT when it nests objects and arrays more than `maxNesting` levels (default MAX_JSON_NESTING, server.ts). */
  json(maxNesting?: number): Promise<unknown>;
  /** The raw body (size-limited). */
  body(): Promise<Buffer>;
}

/** An answer other than 200 + JSON. */
export class HttpReply {
  constructor(
    readonly status: number,
    /** JSON-serialised unless a string or Buffer (then sent as is, with headers' content-type). */
    readonly body: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}
}

/** 200 (or `status`) with a JSON body. */
export function json(body: unknown, status = 200): HttpReply {
  return new HttpReply(status, body);
}

/** 204, no body. */
export function noContent(): HttpReply {
  return new HttpReply(204, undefined);
}

/** A text body (Prometheus, HTML) with its content type. */
export function text(body: string | Buffer, contentType: string, status = 200): HttpReply {
  return new HttpReply(status, body, { 'content-type': contentType });
}

export type Handler = (req: ApiRequest) => unknown;

export interface Route {
  readonly method: Method;
  readonly pattern: string;
  readonly auth: RouteAuth;
  readonly handler: Handler;
  /** Literal segment text, or null for a parameter. */
  readonly segments: readonly (string | null)[];
  readonly names: readonly (string | null)[];
  readonly literals: number;
  /** A trailing `*name` takes the rest of the path (decoded, `/`-joined). */
  readonly rest: string | null;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw errors.invalidArgument(`bad URL encoding in path segment '${segment}'`);
  }
}

export class Router {
  private readonly routes: Route[] = [];

  get(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.add('GET', pattern, handler, options);
  }
  put(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.add('PUT', pattern, handler, options);
  }
  post(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.add('POST', pattern, handler, options);
  }
  delete(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.add('DELETE', pattern, handler, options);
  }

  /** Adds a route; the same method and pattern twice is a programming error. */
  add(method: Method, pattern: string, handler: Handler, options: RouteOptions = {}): this {
    if (!pattern.startsWith('/')) throw new Error(`route pattern must start with '/': ${pattern}`);
    const parts = pattern.split('/').slice(1);
    let rest: string | null = null;
    if (parts.length > 0 && parts[parts.length - 1]!.startsWith('*')) rest = parts.pop()!.slice(1);
    const segments = parts.map((p) => (p.startsWith(':') ? null : p));
    const names = parts.map((p) => (p.startsWith(':') ? p.slice(1) : null));
    if (this.routes.some((r) => r.method === method && r.pattern === pattern)) throw new Error(`route ${method} ${pattern} registered twice`);
    this.routes.push({
      method,
      pattern,
      auth: options.auth ?? 'tagged',
      handler,
      segments,
      names,
      literals: segments.filter((s) => s !== null).length,
      rest,
    });
    return this;
  }

  /** Every route (for tests and docs). */
  list(): readonly Route[] {
    return this.routes;
  }

  /**
   * The route for a method and (encoded) path: a Match, 'method' when the path
   * exists under other methods only, or null when nothing matches.
   */
  match(method: string, path: string): Match | 'method' | null {
    const parts = path.split('/').slice(1);
    const want = method === 'HEAD' ? 'GET' : method;
    let best: Route | null = null;
    let pathExists = false;
    for (const r of this.routes) {
      if (!fits(r, parts)) continue;
      pathExists = true;
      if (r.method !== want) continue;
      if (best === null || r.literals > best.literals) best = r;
    }
    if (best === null) return pathExists ? 'method' : null;
    const params: Record<string, string> = {};
    best.names.forEach((name, i) => {
      if (name !== null) params[name] = decode(parts[i]!);
    });
    if (best.rest !== null) params[best.rest] = parts.slice(best.segments.length).map(decode).join('/');
    return { route: best, params };
  }
}

function fits(r: Route, parts: string[]): boolean {
  if (r.rest === null ? parts.length !== r.segments.length : parts.length < r.segments.length) return false;
  for (let i = 0; i < r.segments.length; i++) {
    const s = r.segments[i];
    if (s === null ? parts[i] === '' : s !== parts[i]) return false;
  }
  return true;
}
