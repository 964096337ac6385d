/**
 * Connecting a verb to the broker: the --url option (or WARREN_URL), URL
 * validation as a usage error, and connection failures turned into
 * "unavailable" (exit 3) with the cause's code, so scripts can tell a typo
 * from a broker that is down.
 */
import { Command, Option } from 'commander';
import { connect, NotWarrenBrokerError, parseUrl, WarrenError, type Connection, type ConnectOptions } from '@warren/client';
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
}

/** Adds --url (env WARREN_URL) to a verb. */
export function withUrlOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('-u, --url <url>', 'broker (and vhost) to connect to: warren://user:password@host:port[/vhost]').env('WARREN_URL').default(DEFAULT_URL),
  );
}

/** Adds --json (machine-readable output on stdout) to a verb. */
export function withJsonOption(cmd: Command, description = 'print JSON instead of a table'): Command {
  return cmd.option('--json', description);
}

/** Where a URL points, for messages (no password). */
function target(url: string): { host: string; port: number } {
  let parsed;
  try {
    parsed = parseUrl(url);
  } catch (err) {
    const why = (err as Error).message.startsWith('invalid URL') ? 'expected warren://user:password@host:port' : (err as Error).message;
    throw new UsageError(`invalid --url '${url}': ${why}`);
  }
  if (!Number.isInteger(parsed.port) || parsed.port < 1 || parsed.port > 65535) {
    throw new UsageError(`invalid --url '${url}': port must be 1-65535`);
  }
  return parsed;
}

/** Opens a connection named after the verb, or throws UsageError / UnavailableError / ACCESS_REFUSED. */
export async function open(opts: ConnectionOptions, verb: string): Promise<Connection> {
  const { host, port } = target(opts.url);
  try {
    // A one-shot command must fail (exit 3) when the link drops, not wait for
    // the broker to come back: no automatic reconnection (clients that have it).
    const options: ConnectOptions & { reconnect?: unknown } = { url: opts.url, name: `warren-cli ${verb}`, reconnect: false, timeoutMs: CONNECT_TIMEOUT_MS };
    return await connect(options);
  } catch (err) {
    if (err instanceof WarrenError && err.name === 'ACCESS_REFUSED') throw err;
    if (err instanceof NotWarrenBrokerError) {
      throw new UnavailableError('NOT_A_BROKER', `not a Warren broker at ${host}:${port} (check --url or WARREN_URL): it answered with something else`);
    }
    if (err instanceof WarrenError && err.name === 'TIMEOUT') throw new UnavailableError('TIMEOUT', err.message);
    const cause = (err as { cause?: unknown }).cause as NodeJS.ErrnoException | undefined;
    const code = cause?.code ?? (err instanceof WarrenError ? err.name : 'UNAVAILABLE');
    const why = cause?.message ?? (err as Error).message;
    throw new UnavailableError(code, `cannot connect to ${host}:${port}: ${why}`);
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
