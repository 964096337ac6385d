/**
 * Connecting a verb to the broker: the --url option (or WARREN_URL) and the
 * TLS files (--tls-ca, --tls-cert, --tls-key), URL validation as a usage
 * error, and connection failures turned into "unavailable" (exit 3) with the
 * cause's code, so scripts can tell a typo from a broker that is down.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { connect, NotWarrenBrokerError, parseUrl, WarrenError, type Connection, type ConnectOptions, type TlsOptions } from '@warren/client';
import { UnavailableError, UsageError } from './output.js';

export const DEFAULT_URL = 'warren://guest:guest@127.0.0.1:5680';

/**
 * Handshake deadline of a CLI call. A broker answers OPEN in milliseconds (a
 * refused login after about a second); a peer silent for this long is most
 * likely not a broker, and a command should not hang on it.
 */
export const CONNECT_TIMEOUT_MS = 5000;

export interface ConnectionOptions {
  url: string;
  /** PEM files: the CA to trust, and a client certificate with its key (mutual TLS). */
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** Adds --url (env WARREN_URL) and the TLS files (env WARREN_TLS_CA, _CERT, _KEY) to a verb. */
export function withUrlOption(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('-u, --url <url>', 'broker (and vhost) to connect to: warren://user:password@host:port[/vhost], or warrens://... for TLS (port 5681)').env('WARREN_URL').default(DEFAULT_URL),
    )
    .addOption(new Option('--tls-ca <file>', "PEM file of the CA that signed the broker's certificate (TLS; default: the system's CAs)").env('WARREN_TLS_CA'))
    .addOption(new Option('--tls-cert <file>', 'PEM client certificate, for brokers that require one (mutual TLS)').env('WARREN_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', "PEM key of --tls-cert").env('WARREN_TLS_KEY'));
}

/** Node TLS options from the --tls-* files; undefined when none is given. */
export function tlsFiles(opts: ConnectionOptions): TlsOptions | undefined {
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new UsageError('give --tls-cert and --tls-key together (a client certificate and its key)');
  const read = (flag: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new UsageError(`cannot read ${flag} '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const ca = read('--tls-ca', opts.tlsCa);
  const cert = read('--tls-cert', opts.tlsCert);
  const key = read('--tls-key', opts.tlsKey);
  if (ca === undefined && cert === undefined) return undefined;
  return { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert, key } : {}) };
}

/** Adds --json (machine-readable output on stdout) to a verb. */
export function withJsonOption(cmd: Command, description = 'print JSON instead of a table'): Command {
  return cmd.option('--json', description);
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/^(warrens?:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}

/** Where a URL points, for messages (no password), and whether it is TLS. */
function target(url: string): { host: string; port: number; tls: boolean } {
  let parsed;
  try {
    parsed = parseUrl(url);
  } catch (err) {
    const why = (err as Error).message.startsWith('invalid URL') ? 'expected warren://user:password@host:port or warrens://...' : (err as Error).message;
    throw new UsageError(`invalid --url '${url}': ${why}`);
  }
  if (!Number.isInteger(parsed.port) || parsed.port < 1 || parsed.port > 65535) {
    throw new UsageError(`invalid --url '${url}': port must be 1-65535`);
  }
  return parsed;
}

/** host:port for messages, with an IPv6 host in brackets ([::1]:5680) as in a URL. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Opens a connection named after the verb, or throws UsageError / UnavailableError / ACCESS_REFUSED. */
/**
 * Connects for `verb`. One-shot verbs (the default) fail when the link drops;
 * a long-running verb (`warren worker`) passes `{ reconnect: true, name }` and
 * keeps the SDK's automatic reconnection.
 */
export async function open(opts: ConnectionOptions, verb: string, longRunning?: { reconnect: true; name: string }): Promise<Connection> {
  const { host, port, tls: secure } = target(opts.url);
  const where = hostPort(host, port);
  const tls = tlsFiles(opts);
  if (tls !== undefined && !secure) throw new UsageError(`--tls-ca, --tls-cert and --tls-key are for TLS: use a warrens:// URL (default port 5681), not '${redact(opts.url)}'`);
  try {
    // A one-shot command must fail (exit 3) when the link drops, not wait for
    // the broker to come back: no automatic reconnection (clients that have it).
    const options: ConnectOptions & { reconnect?: unknown } = {
      url: opts.url,
      name: longRunning?.name ?? `warren-cli ${verb}`,
      ...(longRunning ? {} : { reconnect: false }),
      timeoutMs: CONNECT_TIMEOUT_MS,
      ...(tls !== undefined ? { tls } : {}),
    };
    return await connect(options);
  } catch (err) {
    if (err instanceof WarrenError && err.name === 'ACCESS_REFUSED') throw err;
    if (err instanceof NotWarrenBrokerError) {
      throw new UnavailableError('NOT_A_BROKER', `not a Warren broker at ${where} (check --url or WARREN_URL): it answered with something else`);
    }
    if (err instanceof WarrenError && err.name === 'TIMEOUT') throw new UnavailableError('TIMEOUT', err.message);
    const cause = (err as { cause?: unknown }).cause as NodeJS.ErrnoException | undefined;
    // A system error names itself (ECONNREFUSED, CERT_HAS_EXPIRED, ...); a WarrenError cause has a numeric code: use the error's name.
    const code = typeof cause?.code === 'string' ? cause.code : err instanceof WarrenError ? err.name : 'UNAVAILABLE';
    // The SDK's own words when it says which scheme to use (a warren:// URL at a TLS port, or the other way round).
    const schemeHint = /use a warrens?:\/\/ URL/.test((err as Error).message);
    // Node writes "connect ECONNREFUSED ::1:5680": bracket an IPv6 host there too.
    const why = schemeHint ? (err as Error).message : (cause?.message ?? (err as Error).message).replace(` ${host}:${port}`, ` ${where}`);
    const hint =
      secure && !schemeHint && (err as Error).message.startsWith('TLS connection')
        ? ' (is --tls-ca the CA that signed the broker certificate?)'
        : code === 'ECONNREFUSED'
          ? ' (is a broker running there? start one with `warren server`, or check --url or WARREN_URL)'
          : '';
    throw new UnavailableError(code, `cannot connect to ${where}: ${why}${hint}`);
  }
}

/** Runs `fn` on a fresh connection and closes it afterwards, whatever happens. */
export async function withConnection<T>(opts: ConnectionOptions, verb: string, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await open(opts, verb);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}
