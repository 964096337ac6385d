/**
 * Connection options: URL parsing, defaults and validation, done once before
 * any socket is opened so a bad option fails fast with INVALID_ARGUMENT.
 */
import { DEFAULT_FRAME_MAX, checkFrameMax, errors } from '@warren/protocol';

/** Options for {@link connect}. Every field is optional; see each one for its default. */
export interface ConnectOptions {
  /** A `warren://user:pass@host:port` URL; explicit fields below override its parts. */
  url?: string;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default `5680`. */
  port?: number;
  /** Default `guest`. */
  username?: string;
  /** Default `guest`. */
  password?: string;
  /** A name for this connection, shown by the broker's management tools. */
  name?: string;
  /** Largest frame to propose; the server may lower it. Default 16 MiB. */
  frameMax?: number;
  /** Heartbeat interval to propose, in ms; 0 disables. The server's answer wins. Default 30000. */
  heartbeatMs?: number;
  /** Deadline for TCP connect plus the OPEN handshake, and for the CLOSE handshake. Default 10000. */
  timeoutMs?: number;
  /** Aborts connecting; the promise then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Maximum unconfirmed publishes in flight; further publishes wait. Default 1000. */
  publishWindow?: number;
  /** Extra client properties sent in OPEN. */
  properties?: Record<string, unknown>;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  name: string | undefined;
  frameMax: number;
  heartbeatMs: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  publishWindow: number;
  properties: Record<string, unknown>;
}

export const DEFAULT_PORT = 5680;

export interface ParsedUrl {
  host: string;
  port: number;
  username: string;
  password: string;
}

/**
 * Parses `warren://user:pass@host:port`. Missing parts take the defaults
 * (guest/guest, 127.0.0.1, 5680); user and password are percent-decoded.
 */
export function parseUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw errors.invalidArgument(`invalid URL: ${url}`);
  }
  if (u.protocol !== 'warren:') throw errors.invalidArgument(`unsupported URL scheme "${u.protocol}"; expected "warren:"`);
  // WHATWG URL leaves IPv6 brackets on hostname; net.connect wants them off.
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return {
    host: host === '' ? '127.0.0.1' : host,
    port: u.port === '' ? DEFAULT_PORT : Number(u.port),
    username: u.username === '' ? 'guest' : decode(u.username),
    password: u.username === '' && u.password === '' ? 'guest' : decode(u.password),
  };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw errors.invalidArgument('invalid percent-encoding in URL credentials');
  }
}

function nonNegativeInt(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw errors.invalidArgument(`${what} must be a non-negative integer`);
  return value;
}

export function resolveOptions(input: string | ConnectOptions | undefined): ResolvedOptions {
  const o: ConnectOptions = typeof input === 'string' ? { url: input } : (input ?? {});
  const fromUrl: Partial<ParsedUrl> = o.url === undefined ? {} : parseUrl(o.url);
  const port = o.port ?? fromUrl.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw errors.invalidArgument(`port must be an integer between 0 and 65535`);
  const frameMax = o.frameMax ?? DEFAULT_FRAME_MAX;
  checkFrameMax(frameMax);
  const publishWindow = nonNegativeInt(o.publishWindow ?? 1000, 'publishWindow');
  if (publishWindow < 1) throw errors.invalidArgument('publishWindow must be at least 1');
  return {
    host: o.host ?? fromUrl.host ?? '127.0.0.1',
    port,
    username: o.username ?? fromUrl.username ?? 'guest',
    password: o.password ?? fromUrl.password ?? 'guest',
    name: o.name,
    frameMax,
    heartbeatMs: nonNegativeInt(o.heartbeatMs ?? 30_000, 'heartbeatMs'),
    timeoutMs: nonNegativeInt(o.timeoutMs ?? 10_000, 'timeoutMs'),
    signal: o.signal,
    publishWindow,
    properties: o.properties ?? {},
  };
}
