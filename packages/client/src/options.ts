/**
 * Connection options: URL parsing, defaults and validation, done once before
 * any socket is opened so a bad option fails fast with INVALID_ARGUMENT.
 */
import type { ConnectionOptions as NodeTlsOptions } from 'node:tls';
import { DEFAULT_FRAME_MAX, checkFrameMax, errors } from '@warren/protocol';
import { checkCodec, type Codec } from './codec.js';

/** Options for {@link connect}. Every field is optional; see each one for its default. */
export interface ConnectOptions {
  /**
   * A `warren://user:pass@host:port/vhost` URL, or `warrens://...` for TLS
   * (default port 5681); explicit fields below override its parts. The path is
   * the vhost, percent-decoded (`/%2F` or no path is the default vhost `/`; a
   * `/` inside a name is written `%2F`). `?mechanism=external` logs in with
   * the TLS client certificate (see `mechanism`).
   */
  url?: string;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default `5680`, or `5681` over TLS. */
  port?: number;
  /** Default `guest` (with EXTERNAL: none, the certificate names the user). */
  username?: string;
  /** Default `guest`. */
  password?: string;
  /** The virtual host to open. Default `/` (or the URL's path). */
  vhost?: string;
  /**
   * TLS: `true`, or Node's TLS options (`ca`, `cert`, `key`, `passphrase`,
   * `servername`, `rejectUnauthorized`, ... as for `tls.connect`; not `host`
   * or `port`), used for the first connect and every reconnect. A `warrens://`
   * URL turns it on; `false` turns it off. Default: off. The server's
   * certificate is checked against Node's CAs or `ca` unless
   * `rejectUnauthorized: false`.
   */
  tls?: boolean | TlsOptions;
  /**
   * How to log in: `'PLAIN'` (default: username and password) or
   * `'EXTERNAL'`: the server takes the user from the verified TLS client
   * certificate's CN (needs `tls` with `cert` and `key`). With EXTERNAL a
   * `username` given is sent as the name the certificate must match.
   */
  mechanism?: 'PLAIN' | 'EXTERNAL';
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
   * window). Never exceeded, whatever `whenBufferFull` says (after a
   * reconnect, up to `publishWindow` in-flight publishes come back to it for
   * re-sending on top). Default 10000. See `whenBufferFull` and
   * `conn.writable()`.
   */
  maxBufferedPublishes?: number;
  /**
   * When the publish buffer is full: `'wait'` (default) keeps the publish()
   * promise pending until there is room (and then until its confirm), so an
   * awaiting producer slows down; bound the wait with a per-call `timeoutMs`
   * or `signal`. The waiting publishes form a line of at most
   * `maxBufferedPublishes` more; a publish beyond that (a producer that does
   * not await: use `await conn.writable()`) fails with PublishBufferFullError.
   * `'reject'` fails the publish at once with PublishBufferFullError
   * (retriable), the fail-fast choice for producers. `send()` never waits: it
   * throws PublishBufferFullError on a full buffer in both modes.
   */
  whenBufferFull?: 'wait' | 'reject';
  /** Default per-publish deadline in ms (TimeoutError), for publishes that pass none; 0 = none (default). */
  publishTimeoutMs?: number;
  /**
   * Body ownership. `true` (default): publish() and send() copy a Buffer or
   * Uint8Array body before they return, so the caller may reuse it at once.
   * `false`: they take ownership of it instead (no copy, which saves about
   * 10 µs per 64 KiB body): the caller must not change it until the publish
   * settles (for send(): until flushPublishes() resolves), because it may
   * still be written, or re-sent after a reconnect.
   */
  copyPublishBodies?: boolean;
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

/** Node's `tls.connect` options, but where to connect, which come from the URL or `host` and `port`. */
export type TlsOptions = Omit<NodeTlsOptions, 'host' | 'port' | 'path' | 'socket' | 'onread'>;

export interface ResolvedOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  /** Node TLS options when connecting over TLS, else undefined. */
  tls: TlsOptions | undefined;
  mechanism: 'PLAIN' | 'EXTERNAL';
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
  copyPublishBodies: boolean;
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
/** The default port of `warrens://` (TLS). */
export const DEFAULT_TLS_PORT = 5681;

export const DEFAULT_VHOST = '/';

export interface ParsedUrl {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  /** `warrens://`. */
  tls: boolean;
  /** The URL names a user (else username and password are the guest defaults). */
  hasUser: boolean;
  /** From `?mechanism=`, when given. */
  mechanism?: 'PLAIN' | 'EXTERNAL';
}

/**
 * Parses `warren://user:pass@host:port/vhost` or `warrens://...` (TLS).
 * Missing parts take the defaults (guest/guest, 127.0.0.1, 5680 or 5681 for
 * warrens, vhost `/`); user, password and vhost are percent-decoded. The path
 * is one segment: `/` or none is the default vhost, `/%2F` too, `/prod` is
 * `prod`; `/a/b` is refused (write `/a%2Fb`). The query may hold
 * `mechanism=plain|external`.
 */
export function parseUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw errors.invalidArgument(`invalid URL: ${url}`);
  }
  if (u.protocol !== 'warren:' && u.protocol !== 'warrens:') throw errors.invalidArgument(`unsupported URL scheme "${u.protocol}"; expected "warren:" or "warrens:" (TLS)`);
  const tls = u.protocol === 'warrens:';
  // WHATWG URL leaves IPv6 brackets on hostname; net.connect wants them off.
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const out: ParsedUrl = {
    host: host === '' ? '127.0.0.1' : host,
    port: u.port === '' ? (tls ? DEFAULT_TLS_PORT : DEFAULT_PORT) : Number(u.port),
    username: u.username === '' ? 'guest' : decode(u.username),
    password: u.username === '' && u.password === '' ? 'guest' : decode(u.password),
    vhost: vhostOf(u.pathname),
    tls,
    hasUser: u.username !== '',
  };
  const mechanism = u.searchParams.get('mechanism');
  if (mechanism !== null) out.mechanism = oneOf(mechanism.toUpperCase(), ['PLAIN', 'EXTERNAL'] as const, 'the URL\'s mechanism');
  return out;
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
  const tls = resolveTls(o.tls, fromUrl.tls === true);
  const mechanism = oneOf(o.mechanism ?? fromUrl.mechanism ?? 'PLAIN', ['PLAIN', 'EXTERNAL'] as const, 'mechanism');
  if (mechanism === 'EXTERNAL' && tls === undefined) throw errors.invalidArgument('mechanism EXTERNAL needs TLS (a warrens:// URL or the tls option) with a client certificate');
  const port = o.port ?? fromUrl.port ?? (tls !== undefined ? DEFAULT_TLS_PORT : DEFAULT_PORT);
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
    // EXTERNAL: the certificate names the user; a name given is the one it must match.
    username: o.username ?? (mechanism === 'EXTERNAL' ? (fromUrl.hasUser === true ? fromUrl.username! : '') : (fromUrl.username ?? 'guest')),
    password: mechanism === 'EXTERNAL' ? '' : (o.password ?? fromUrl.password ?? 'guest'),
    vhost: o.vhost ?? fromUrl.vhost ?? DEFAULT_VHOST,
    tls,
    mechanism,
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
    copyPublishBodies: o.copyPublishBodies ?? true,
    codec: checkCodec(o.codec),
  };
}

function resolveTls(option: boolean | TlsOptions | undefined, fromUrl: boolean): TlsOptions | undefined {
  if (option === false) return undefined;
  if (option === true || (option === undefined && fromUrl)) return {};
  if (option === undefined) return undefined;
  if (typeof option !== 'object' || option === null) throw errors.invalidArgument('tls must be a boolean or an object of Node TLS options');
  for (const key of ['host', 'port', 'path', 'socket', 'onread']) {
    if (key in option) throw errors.invalidArgument(`tls.${key} is not allowed: the URL or the host and port options say where to connect`);
  }
  return option;
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
