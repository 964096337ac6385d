/**
 * The management HTTP API's listener (node:http, or node:https when the
 * broker has a TLS certificate: the same certificate, key and CA, reloaded
 * with them). It parses the request, finds the route (router.ts), checks the
 * caller (authz.ts), runs the handler and answers JSON; errors become JSON
 * with the wire protocol's codes (errors.ts). Route modules live in routes/,
 * each with a `register(router, ctx)` (routes/index.ts lists them).
 *
 * Nothing here runs on the publish -> deliver -> ack path: every figure a
 * route shows is computed when it is asked for.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { ErrorCodes, WarrenError } from '@warren/protocol';
import { errors } from '../errors.js';
import { ANONYMOUS, authenticate, Unauthenticated, type HttpUser } from './authz.js';
import type { HttpContext, HttpOptions, RegisterRoutes } from './context.js';
import { httpError, withStatus } from './errors.js';
import { HttpReply, Router, type ApiRequest, type Route } from './router.js';
import { HTTP_ROUTES } from './routes/index.js';

export type { HttpContext, HttpOptions, RegisterRoutes };

/** 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** A request (headers and body) must be complete within this, in ms. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** An idle keep-alive socket is closed after this, in ms. */
export const KEEP_ALIVE_TIMEOUT_MS = 5000;
/** Requests one keep-alive socket may carry; the last is answered with `connection: close`. */
export const MAX_REQUESTS_PER_SOCKET = 1000;
/** The port of `warren server`'s HTTP API unless --http-port says otherwise. */
export const DEFAULT_HTTP_PORT = 15680;

const COMMON_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** BigInt arguments (int.exact) as numbers when exact, else strings. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

export class HttpApi {
  readonly router = new Router();
  private server: Server | null = null;
  private unsubscribeReload: (() => void) | null = null;

  constructor(
    readonly ctx: HttpContext,
    modules: readonly RegisterRoutes[] = HTTP_ROUTES,
  ) {
    for (const register of modules) register(this.router, ctx);
  }

  /** Whether it serves HTTPS (the broker has a TLS certificate). */
  get secure(): boolean {
    return this.ctx.broker.tls !== null;
  }

  /** The bound port (useful with port 0), null before listen(). */
  get port(): number | null {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : null;
  }

  async listen(): Promise<void> {
    const o = this.ctx.options;
    const tls = this.ctx.broker.tls;
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    // Timeouts are checked every second (Node's default: every 30 s, which would stretch them).
    const limits = { connectionsCheckingInterval: 1000, headersTimeout: Math.min(o.headersTimeoutMs, REQUEST_TIMEOUT_MS), requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS };
    let server: Server;
    if (tls !== null) {
      // The TLS handshake gets the same deadline as the headers (Node's default: 2 minutes).
      const s = createHttpsServer({ ...tls.options, ...limits, handshakeTimeout: o.headersTimeoutMs }, onRequest);
      this.unsubscribeReload = tls.onReload((options) => s.setSecureContext(options));
      s.on('tlsClientError', (_err, socket) => socket.destroy());
      server = s as unknown as Server;
    } else {
      server = createHttpServer(limits, onRequest);
    }
    // A cap on sockets, not only on each socket's time: past it Node closes new sockets at once.
    if (Number.isFinite(o.maxConnections)) server.maxConnections = o.maxConnections;
    server.maxRequestsPerSocket = MAX_REQUESTS_PER_SOCKET;
    let droppedAt = -Infinity;
    const dropped = (remote: string | null, why: string, max: number): void => {
      // At most one line per 10 s: a flood of refused sockets must not flood the log too.
      const now = Date.now();
      if (now - droppedAt < 10_000) return;
      droppedAt = now;
      this.ctx.logger.warn({ remote, max }, `HTTP connection refused: ${why}`);
    };
    server.on('drop', (data) => dropped(data?.remoteAddress ?? null, 'limit reached', o.maxConnections));
    // And per source address, so that one client cannot take every place (sockets, not requests: a
    // socket's address is counted from accept to close, whatever it sends).
    if (Number.isFinite(o.maxConnectionsPerAddress)) {
      const byAddress = new Map<string, number>();
      server.on('connection', (socket: Socket) => {
        const address = socket.remoteAddress ?? 'unknown';
        const n = byAddress.get(address) ?? 0;
        if (n >= o.maxConnectionsPerAddress) {
          dropped(address, 'too many from this address', o.maxConnectionsPerAddress);
          socket.destroy();
          return;
        }
        byAddress.set(address, n + 1);
        socket.once('close', () => {
          const left = (byAddress.get(address) ?? 1) - 1;
          if (left <= 0) byAddress.delete(address);
          else byAddress.set(address, left);
        });
      });
    }
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error & { port?: number }): void => {
        err.port ??= o.port;
        reject(err);
      };
      server.once('error', failed);
      server.listen(o.port, o.bind, () => {
        server.off('error', failed);
        server.on('error', (err) => this.ctx.logger.error({ err }, 'HTTP server error'));
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.unsubscribeReload?.();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const console = req.headers['x-warren-console'] === '1';
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
      const method = req.method ?? 'GET';
      const match = this.router.match(method, path);
      if (match === null) throw errors.notFound(`endpoint ${method} ${path}`);
      if (match === 'method') {
        res.setHeader('allow', this.allowed(path).join(', '));
        throw withStatus(new WarrenError(ErrorCodes.COMMAND_INVALID, `method ${method} is not allowed on ${path}`), 405);
      }
      this.checkOrigin(req, method);
      const user = await this.authorize(req, match.route);
      const apiReq = this.request(req, res, method, path, match.params, query, user);
      const result = await match.route.handler(apiReq);
      if (res.headersSent || res.writableEnded) return;
      this.send(res, result);
    } catch (err) {
      this.fail(req, res, err, console);
    }
  }

  private allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const m of ['GET', 'PUT', 'POST', 'DELETE']) {
      const r = this.router.match(m, path);
      if (r !== null && r !== 'method') methods.add(m);
    }
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods];
  }

  /**
   * A browser page of another site cannot change anything: a state-changing
   * request's Origin (when sent) must be this host. `Origin: null` is refused
   * too: browsers send it from sandboxed frames, data: URLs and after a
   * cross-site redirect, all of which a hostile page can arrange. So is a
   * request the browser marks `Sec-Fetch-Site: cross-site` or `same-site`.
   */
  private checkOrigin(req: IncomingMessage, method: string): void {
    if (method === 'GET' || method === 'HEAD') return;
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') throw errors.accessRefused(`cross-origin request refused (Sec-Fetch-Site: ${site})`);
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (origin === 'null') throw errors.accessRefused(`cross-origin request from an opaque origin ('null') refused`);
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      host = '';
    }
    if (host !== req.headers.host) throw errors.accessRefused(`cross-origin request from '${origin}' refused`);
  }

  private async authorize(req: IncomingMessage, route: Route): Promise<HttpUser> {
    if (route.auth === 'none') return ANONYMOUS;
    if (route.auth === 'metrics' && this.ctx.options.metricsOpen) return ANONYMOUS;
    const user = await authenticate(req, this.ctx.access, this.ctx.broker.options.authFailureDelayMs, (reason, username) =>
      this.ctx.logger.info({ user: username, remote: req.socket.remoteAddress, reason, via: 'http' }, 'HTTP login refused'),
    );
    // guest logs in from loopback only; through a browser, a page of another site can reach a loopback
    // broker by pointing its own name at 127.0.0.1 (DNS rebinding): then the Host header is not loopback.
    if (user.name === 'guest' && !this.ctx.broker.options.allowGuestRemote && !isLoopbackHost(req.headers.host)) {
      this.ctx.logger.info({ user: 'guest', remote: req.socket.remoteAddress, host: req.headers.host, reason: `user 'guest' may only use a loopback Host`, via: 'http' }, 'HTTP login refused');
      throw new Unauthenticated('login refused');
    }
    if (route.auth === 'metrics') user.requireMonitor('read /metrics');
    else if (!user.tagged) throw errors.accessRefused(`user '${user.name}' may not use the management API: needs the administrator, management or monitoring tag`);
    return user;
  }

  private request(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    params: Record<string, string>,
    query: URLSearchParams,
    user: HttpUser,
  ): ApiRequest {
    const limit = this.ctx.options.bodyLimit;
    let body: Promise<Buffer> | null = null;
    const readBody = (): Promise<Buffer> => (body ??= readLimited(req, res, limit));
    return {
      method,
      path,
      params,
      query,
      headers: req.headers,
      user,
      raw: req,
      res,
      body: readBody,
      async json(maxNesting = MAX_JSON_NESTING): Promise<unknown> {
        const buf = await readBody();
        if (buf.length === 0) return undefined;
        let value: unknown;
        try {
          value = JSON.parse(buf.toString('utf8')) as unknown;
        } catch (err) {
          throw errors.invalidArgument(`the request body is not valid JSON: ${(err as Error).message}`);
        }
        if (nestedTooDeep(value, maxNesting)) throw errors.invalidArgument(`the request body nests objects and arrays more than ${maxNesting} levels deep`);
        return value;
      },
    };
  }

  private send(res: ServerResponse, result: unknown): void {
    const reply = result instanceof HttpReply ? result : result === undefined ? new HttpReply(204, undefined) : new HttpReply(200, result);
    const headers: Record<string, string> = { ...COMMON_HEADERS, 'cache-control': 'no-store', ...reply.headers };
    if (reply.body === undefined || reply.status === 204) {
      res.writeHead(reply.status, headers).end();
      return;
    }
    let payload: string | Buffer;
    if (typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) payload = reply.body;
    else {
      payload = toJson(reply.body);
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
    headers['content-length'] = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, headers).end(payload);
  }

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown, console: boolean): void {
    const { status, body, internal } = httpError(err);
    if (internal) this.ctx.logger.error({ err, method: req.method, url: req.url }, 'HTTP request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const headers: Record<string, string> = { ...COMMON_HEADERS, 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' };
    // The console handles 401 itself: no browser login dialog for it.
    if (err instanceof Unauthenticated && !console) headers['www-authenticate'] = 'Basic realm="warren", charset="UTF-8"';
    if (status === 413) headers['connection'] = 'close';
    if (status === 429) headers['retry-after'] = '5';
    const payload = toJson(body);
    headers['content-length'] = String(Buffer.byteLength(payload));
    res.writeHead(status, headers).end(payload);
  }
}

/** Whether a Host header names this machine's loopback: localhost (or a name under .localhost), 127.0.0.0/8 or [::1], with any port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const m = /^(?:\[([^\]]*)\]|([^:]*))(?::\d*)?$/.exec(host.trim().toLowerCase());
  if (m === null) return false;
  if (m[1] !== undefined) return m[1] === '::1';
  const name = m[2]!.replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || (isIP(name) === 4 && name.startsWith('127.'));
}

/**
 * Deepest nesting of objects and arrays a JSON body may have, the body itself
 * counting as 1: the wire protocol's limit for a frame header (protocol-spec 3,
 * "Nesting"). A publish's `properties.headers` sits at the same depth in both.
 */
export const MAX_JSON_NESTING = 64;


/** Whether objects and arrays in `value` nest more than `max` levels (without recursion: the value may be deep). */
export function nestedTooDeep(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/** The body, up to `limit` bytes: FRAME_TOO_LARGE (413) above it, without reading the rest. */
function readLimited(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const tooLarge = (): WarrenError => new WarrenError(ErrorCodes.FRAME_TOO_LARGE, `the request body is larger than ${limit} bytes`);
  if (Number.isFinite(declared) && declared > limit) {
    res.once('finish', () => req.destroy());
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        res.once('finish', () => req.destroy());
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
