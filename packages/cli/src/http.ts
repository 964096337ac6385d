/**
 * Verbs served by the broker's management HTTP API (queue browse / move,
 * stream browse): where the API is and who calls it.
 *
 * --http-url (or WARREN_HTTP_URL) names the API; by default it is the host of
 * --url on port 15680, over HTTPS when --url is warrens:// (with the same
 * --tls-* files). That default is taken only when --url is at the default wire
 * port (5680, or 5681 for warrens://): a broker on another port has its API on
 * a port that cannot be told from it, and guessing 15680 would silently read
 * another broker, so it is a usage error that asks for --http-url. The credentials are --http-url's own when it has some, else
 * --url's; the vhost is --vhost, else --url's path. API errors come back as
 * the wire protocol's (same names, same exit codes).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Command, Option } from 'commander';
import { ErrorCodes, WarrenError } from '@warren/protocol';
import { DEFAULT_PORT, DEFAULT_TLS_PORT, parseUrl } from '@warren/client';
import { tlsFiles, withUrlOption, type ConnectionOptions } from './connection.js';
import { UnavailableError, UsageError } from './output.js';

export const DEFAULT_HTTP_PORT = 15680;
const TIMEOUT_MS = 30_000;

export interface HttpOptions extends ConnectionOptions {
  httpUrl?: string;
  vhost?: string;
}

/** --url and the TLS files, --http-url and --vhost. */
export function withHttpOptions(cmd: Command): Command {
  return withUrlOption(cmd)
    .addOption(
      new Option('--http-url <url>', `management HTTP API (default: the host of --url, port ${DEFAULT_HTTP_PORT}, https when --url is warrens://; required when --url is not at its default port, ${DEFAULT_PORT} or ${DEFAULT_TLS_PORT} for warrens://)`).env('WARREN_HTTP_URL'),
    )
    .option('--vhost <vhost>', "virtual host (default: --url's path, else '/')");
}

interface Target {
  url: URL;
  username: string;
  password: string;
  vhost: string;
}

function targetOf(o: HttpOptions): Target {
  let wire;
  try {
    wire = parseUrl(o.url);
  } catch (err) {
    throw new UsageError(`invalid --url '${o.url}': ${(err as Error).message}`);
  }
  const scheme = wire.tls ? 'https' : 'http';
  const host = wire.host.includes(':') ? `[${wire.host}]` : wire.host;
  if (o.httpUrl === undefined && wire.port !== (wire.tls ? DEFAULT_TLS_PORT : DEFAULT_PORT)) {
    // Never guess: with two brokers, port 15680 would be the other one's API.
    throw new UsageError(
      `--url names port ${wire.port}; the management API's port cannot be told from it: pass --http-url ${scheme}://${host}:PORT (or set WARREN_HTTP_URL)`,
    );
  }
  let url: URL;
  try {
    url = new URL(o.httpUrl ?? `${scheme}://${host}:${DEFAULT_HTTP_PORT}`);
  } catch {
    throw new UsageError(`invalid --http-url '${o.httpUrl}': expected http(s)://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`invalid --http-url '${o.httpUrl}': expected http:// or https://`);
  const own = url.username !== '';
  const username = own ? decodeURIComponent(url.username) : wire.username;
  const password = own ? decodeURIComponent(url.password) : wire.password;
  url.username = '';
  url.password = '';
  return { url, username, password, vhost: o.vhost ?? wire.vhost };
}

/** The path of a queue (or stream) resource of the vhost: /api/queues/<vhost>/<name><suffix>. */
export function queuePath(vhost: string, name: string, suffix = ''): string {
  return `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}${suffix}`;
}

/** Calls the API; resolves with the parsed JSON answer, throws WarrenError / UnavailableError. */
export async function callApi(o: HttpOptions, method: string, path: (vhost: string) => string, body?: unknown): Promise<unknown> {
  const t = targetOf(o);
  const secure = t.url.protocol === 'https:';
  const tls = tlsFiles(o);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const where = `${t.url.hostname}:${t.url.port || (secure ? 443 : 80)}`;
  const target = new URL(path(t.vhost), t.url);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      target,
      {
        method,
        headers: {
          authorization: `Basic ${Buffer.from(`${t.username}:${t.password}`).toString('base64')}`,
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        },
        timeout: TIMEOUT_MS,
        ...(secure && tls !== undefined ? tls : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new UnavailableError('TIMEOUT', `management API at ${where} did not answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof UnavailableError) reject(err);
      else reject(new UnavailableError(err.code ?? 'UNAVAILABLE', `cannot reach the management API at ${where}: ${err.message} (check --http-url or WARREN_HTTP_URL; the broker serves it with --http-port)`));
    });
    req.end(payload);
  });
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new UnavailableError('NOT_A_BROKER', `${where} answered HTTP ${status} with something other than JSON: is --http-url the broker's management API?`);
  }
  if (status >= 200 && status < 300) return parsed;
  const e = (parsed as { error?: { code?: number; message?: string } } | undefined)?.error;
  if (status === 401) throw new WarrenError(ErrorCodes.ACCESS_REFUSED, `management API login failed for user '${t.username}'`);
  if (e !== undefined && typeof e.code === 'number') throw new WarrenError(e.code, e.message ?? `HTTP ${status}`);
  throw new WarrenError(ErrorCodes.INTERNAL_ERROR, `management API answered HTTP ${status}`);
}
