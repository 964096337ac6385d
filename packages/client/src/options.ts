/**
 * Connection options: URL parsing, defaults and validation, done once before
 * any socket is opened so a bad option fails fast with INVALID_ARGUMENT.
 */
import { DEFAULT_FRAME_MAX, checkFrameMax, errors } from '@warren/protocol';
import { checkCodec, type Codec } from './codec.js';

/** Options for {@link connect}. Every field is optional; see each one for its default. */
export interface ConnectOptions {
  /**
   * A `warren://user:pass@host:port/vhost` URL; explicit fields below override
   * its parts. The path is the vhost, percent-decoded (`/%2F` or no path is
   * the default vhost `/`; a `/` inside a name is written `%2F`).
   */
  url?: string;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default `5680`. */
  port?: number;
  /** Default `guest`. */
  username?: string;
  /** Default `guest`. */
  password?: string;
  /** The virtual host to open. Default `/` (or the URL's path). */
  vhost?: string;
  /** A name for this connection, shown by the broker's management tools. */
  name?: string;
  /** Largest frame to propose; the server may lower it. Default 16 MiB. */
  frameMax?: number;
  /** Heartbeat interval to propose, in ms; 0 disables. The server's answer wins. Default 30000. */
  heartbeatMs?: number;
  /** Deadline for TCP connect plus the OPEN handshake (each reconnect attempt too), and for the CLOSE handshake. Default 10000. */
  timeoutMs?: number;
  /** Aborts the first connect; connect() then rejects with AbortError (`cause` = `signal.reason`). Ignored once connected. */
  signal?: AbortSignal;
  /** Maximum unconfirmed publishes in flight; further publishes wait. Default 1000. */
  publishWindow?: number;
  /** Extra client properties sent in OPEN. */
  properties?: Record<string, unknown>;
  /**
   * Automatic reconnection after the connection is lost (socket error or
   * close, heartbeat timeout, broker shutdown or restart). On by default;
   * `false` turns it off, `true` or an object turns it on (missing fields take
   * their defaults). Only the first connect() is not retried: it fails fast.
   * See {@link ReconnectOptions}.
   */
  reconnect?: ReconnectOptions | boolean;
  /**
   * What happens to publishes that were written to a connection that is then
   * lost before the broker confirmed them (their outcome is unknown):
   * - `'resend'` (default): they are sent again, in their original order,
   *   once the client has reconnected and recovered its topology. A message
   *   may then arrive twice (at-least-once): make consumers idempotent.
   * - `'reject'`: their promises reject with a retriable ConnectionClosedError
   *   and you decide.
   * Publishes not yet written when the link drops are never lost either way:
   * they wait in the publish buffer and go out after the reconnect.
   */
  publishRecovery?: 'resend' | 'reject';
  /**
   * Bound on the publish buffer: publishes accepted but not yet written to a
   * socket (while disconnected, flow-blocked, or waiting for the publish
   * window). Default 10000. See `whenBufferFull`.
   */
  maxBufferedPublishes?: number;
  /**
   * When the publish buffer is full: `'wait'` (default) keeps the publish()
   * promise pending until there is room (and then until its confirm), so an
   * awaiting producer slows down; bound the wait with a per-call `timeoutMs`
   * or `signal`. `'reject'` fails the publish at once with
   * PublishBufferFullError (retriable), the fail-fast choice for producers.
   */
  whenBufferFull?: 'wait' | 'reject';
  /** Default per-publish deadline in ms (TimeoutError), for publishes that pass none; 0 = none (default). */
  publishTimeoutMs?: number;
  /**
   * How publish() encodes a body that is not bytes or a string, and what
   * `msg.decode()` uses. Default: JSON (`application/json`).
   */
  codec?: Codec;
}

/**
 * Reconnection policy. The delay before attempt n (1, 2, ...) is
 * `min(maxDelayMs, initialDelayMs * factor^(n-1))`, multiplied by a random
 * factor in `[1 - jitter, 1 + jitter]` (then capped at maxDelayMs again) so
 * that many clients do not reconnect in lock step.
 */
export interface ReconnectOptions {
  /** Delay before the first attempt, in ms. Default 100. */
  initialDelayMs?: number;
  /** Largest delay between attempts, in ms. Default 30000. */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt. Default 2. */
  factor?: number;
  /** Randomisation of each delay, a fraction in [0, 1]. Default 0.2. */
  jitter?: number;
  /**
   * Consecutive failed attempts after which the client gives up and closes
   * (the 'closed' event and `closed` carry the last error). Default Infinity.
   */
  maxRetries?: number;
}

export type ResolvedReconnect = Required<ReconnectOptions>;

export interface ResolvedOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  name: string | undefined;
  frameMax: number;
  heartbeatMs: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  publishWindow: number;
  properties: Record<string, unknown>;
  reconnect: ResolvedReconnect | false;
  publishRecovery: 'resend' | 'reject';
  maxBufferedPublishes: number;
  whenBufferFull: 'wait' | 'reject';
  publishTimeoutMs: number;
  codec: Codec;
}

export const DEFAULT_RECONNECT: Readonly<ResolvedReconnect> = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.2,
  maxRetries: Infinity,
});

export const DEFAULT_PORT = 5680;

export const DEFAULT_VHOST = '/';

export interface ParsedUrl {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
}

/**
 * Parses `warren://user:pass@host:port/vhost`. Missing parts take the defaults
 * (guest/guest, 127.0.0.1, 5680, vhost `/`); user, password and vhost are
 * percent-decoded. The path is one segment: `/` or none is the default vhost,
 * `/%2F` too, `/prod` is `prod`; `/a/b` is refused (write `/a%2Fb`).
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
    vhost: vhostOf(u.pathname),
  };
}

function vhostOf(path: string): string {
  const segment = path.startsWith('/') ? path.slice(1) : path;
  if (segment === '') return DEFAULT_VHOST;
  if (segment.includes('/')) throw errors.invalidArgument(`the URL path names one vhost: write '/' inside it as %2F (got ${path})`);
  return decode(segment, 'vhost');
}

function decode(part: string, what = 'credentials'): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw errors.invalidArgument(`invalid percent-encoding in URL ${what}`);
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
  const maxBufferedPublishes = nonNegativeInt(o.maxBufferedPublishes ?? 10_000, 'maxBufferedPublishes');
  if (maxBufferedPublishes < 1) throw errors.invalidArgument('maxBufferedPublishes must be at least 1');
  return {
    host: o.host ?? fromUrl.host ?? '127.0.0.1',
    port,
    username: o.username ?? fromUrl.username ?? 'guest',
    password: o.password ?? fromUrl.password ?? 'guest',
    vhost: o.vhost ?? fromUrl.vhost ?? DEFAULT_VHOST,
    name: o.name,
    frameMax,
    heartbeatMs: nonNegativeInt(o.heartbeatMs ?? 30_000, 'heartbeatMs'),
    timeoutMs: nonNegativeInt(o.timeoutMs ?? 10_000, 'timeoutMs'),
    signal: o.signal,
    publishWindow,
    properties: o.properties ?? {},
    reconnect: resolveReconnect(o.reconnect),
    publishRecovery: oneOf(o.publishRecovery ?? 'resend', ['resend', 'reject'] as const, 'publishRecovery'),
    maxBufferedPublishes,
    whenBufferFull: oneOf(o.whenBufferFull ?? 'wait', ['wait', 'reject'] as const, 'whenBufferFull'),
    publishTimeoutMs: nonNegativeInt(o.publishTimeoutMs ?? 0, 'publishTimeoutMs'),
    codec: checkCodec(o.codec),
  };
}

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw errors.invalidArgument(`${what} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  return value as T;
}

function resolveReconnect(r: ReconnectOptions | boolean | undefined): ResolvedReconnect | false {
  if (r === false) return false;
  if (r === undefined || r === true) return { ...DEFAULT_RECONNECT };
  const out: ResolvedReconnect = {
    initialDelayMs: nonNegativeInt(r.initialDelayMs ?? DEFAULT_RECONNECT.initialDelayMs, 'reconnect.initialDelayMs'),
    maxDelayMs: nonNegativeInt(r.maxDelayMs ?? DEFAULT_RECONNECT.maxDelayMs, 'reconnect.maxDelayMs'),
    factor: r.factor ?? DEFAULT_RECONNECT.factor,
    jitter: r.jitter ?? DEFAULT_RECONNECT.jitter,
    maxRetries: r.maxRetries ?? DEFAULT_RECONNECT.maxRetries,
  };
  if (out.maxDelayMs < out.initialDelayMs) throw errors.invalidArgument('reconnect.maxDelayMs must be at least reconnect.initialDelayMs');
  if (!Number.isFinite(out.factor) || out.factor < 1) throw errors.invalidArgument('reconnect.factor must be a number >= 1');
  if (!(out.jitter >= 0 && out.jitter <= 1)) throw errors.invalidArgument('reconnect.jitter must be between 0 and 1');
  if (out.maxRetries !== Infinity && (!Number.isSafeInteger(out.maxRetries) || out.maxRetries < 0)) {
    throw errors.invalidArgument('reconnect.maxRetries must be a non-negative integer or Infinity');
  }
  return out;
}

/** Delay before reconnect attempt `attempt` (1-based), per {@link ReconnectOptions}. `random` returns [0, 1). */
export function backoffDelay(attempt: number, r: ResolvedReconnect, random: () => number = Math.random): number {
  // initialDelayMs 0 stays 0 (0 * Infinity would be NaN after many attempts).
  const base = r.initialDelayMs === 0 ? 0 : Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** Math.max(0, attempt - 1));
  const jittered = base * (1 + r.jitter * (2 * random() - 1));
  return Math.max(0, Math.min(r.maxDelayMs, Math.round(jittered)));
}
