/**
 * `warren server`: the broker in the foreground. Flags are checked by their
 * parsers, before anything touches the data folder; a port that cannot be
 * listened on is one line with a hint. Logs: pretty one-line events with the
 * plain banner on a terminal, JSON only on stdout otherwise (the banner then
 * goes to stderr, so stdout stays one format).
 */
import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import type { BrokerOptions, TlsConfig } from '@warren/broker';
import { DEFAULT_PORT, DEFAULT_TLS_PORT } from '@warren/client';
import { ExitCode, StartError, UsageError } from '../output.js';
import { parseSize } from '../parse.js';

function int(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0 || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? 'a non-negative integer' : `an integer from 0 to ${max}`;
      throw new UsageError(`${name} must be ${range}, got '${value}'`);
    }
    return n;
  };
}

/** A size option: bytes, or a number with a unit (512MB, 512MiB, 1GiB; parse.ts). */
function size(name: string) {
  return (value: string): number => {
    const n = parseSize(value);
    if (n === null) throw new UsageError(`${name} must be a size in bytes, such as 1048576, 512MB (10^6), 512MiB (2^20) or 1GiB, got '${value}'`);
    return n;
  };
}

/**
 * The user from --user-name / WARREN_USER with its password from
 * WARREN_PASSWORD or a file (Docker secrets): checked before anything starts.
 */
async function namedUser(o: { userName?: string; password?: string; passwordFile?: string }): Promise<{ username: string; password: string } | undefined> {
  if (o.userName === undefined) {
    if (o.password !== undefined || o.passwordFile !== undefined) throw new UsageError('a password was given (WARREN_PASSWORD or WARREN_PASSWORD_FILE) but no user: set WARREN_USER too');
    return undefined;
  }
  if (o.userName === '' || o.userName.includes(':')) throw new UsageError(`WARREN_USER must be a non-empty name without ':', got '${o.userName}'`);
  if (o.password !== undefined && o.passwordFile !== undefined) throw new UsageError('give WARREN_PASSWORD or WARREN_PASSWORD_FILE, not both');
  let password = o.password;
  if (o.passwordFile !== undefined) {
    try {
      password = (await readFile(o.passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(`cannot read the password file '${o.passwordFile}': ${(err as Error).message}`);
    }
  }
  if (password === undefined || password === '') throw new UsageError(`user '${o.userName}' has no password: set WARREN_PASSWORD or WARREN_PASSWORD_FILE`);
  return { username: o.userName, password };
}

/** The management HTTP API's port unless --http-port says otherwise (the broker's DEFAULT_HTTP_PORT). */
export const DEFAULT_HTTP_PORT = 15680;

/**
 * A listen failure the user can fix, as one line with the fix; undefined for
 * anything else. `tlsPort`: the TLS listener's port, when there is one;
 * `http`: the HTTP API's port and interface, when it is on (the error's port
 * and address tell which listener failed).
 */
export function listenFailure(
  err: unknown,
  host: string,
  port: number | undefined,
  tlsPort?: number,
  http?: { port: number; bind: string },
): string | undefined {
  const e = err as (NodeJS.ErrnoException & { port?: number; address?: string }) | undefined;
  const code = e?.code;
  const failed = e?.port ?? port ?? tlsPort;
  if (http !== undefined && e?.port === http.port) {
    if (code === 'EADDRINUSE') return `EADDRINUSE: HTTP port ${http.port} on ${http.bind} is already in use: choose another with --http-port or WARREN_HTTP_PORT (or 'off')`;
    if (code === 'EACCES') return `EACCES: not allowed to listen on HTTP port ${http.port} (ports below 1024 need privileges): choose another with --http-port or WARREN_HTTP_PORT`;
    if (code === 'EADDRNOTAVAIL') return `EADDRNOTAVAIL: ${http.bind} is not an address of this machine: choose another with --http-bind or WARREN_HTTP_BIND`;
  }
  const flag = tlsPort !== undefined && (failed === tlsPort || port === undefined) ? '--tls-port or WARREN_TLS_PORT' : '--port or WARREN_PORT';
  if (code === 'EADDRINUSE') {
    return `EADDRINUSE: port ${failed} on ${host} is already in use (another warren server?): stop it, or choose another port with ${flag}`;
  }
  if (code === 'EACCES') return `EACCES: not allowed to listen on port ${failed} (ports below 1024 need privileges): choose another with ${flag}`;
  if (code === 'EADDRNOTAVAIL') return `EADDRNOTAVAIL: ${host} is not an address of this machine: choose another with --host or WARREN_HOST`;
  return undefined;
}

/** --http-port: a port, or 'off' for no management HTTP API. */
function httpPortOrOff(value: string): number | 'off' {
  if (value === 'off') return 'off';
  return int('HTTP port', 65535)(value);
}

/** --port: a port, or 'off' for no plain TCP listener (TLS only). */
function portOrOff(value: string): number | 'off' {
  if (value.trim().toLowerCase() === 'off') return 'off';
  return int('port', 65535)(value);
}

/** The TLS settings from --tls-*: undefined without a certificate; files are read by the broker at start. */
function tlsConfig(o: {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsPort?: number;
  tlsVerifyPeer?: boolean;
  tlsKeyPassphraseFile?: string;
}): TlsConfig | undefined {
  if (o.tlsCert === undefined && o.tlsKey === undefined) {
    const stray = [
      ['--tls-ca', o.tlsCa],
      ['--tls-port', o.tlsPort],
      ['--tls-verify-peer', o.tlsVerifyPeer],
      ['--tls-key-passphrase-file', o.tlsKeyPassphraseFile],
    ].find(([, v]) => v !== undefined);
    if (stray !== undefined) throw new UsageError(`${String(stray[0])} needs TLS: give --tls-cert and --tls-key (WARREN_TLS_CERT, WARREN_TLS_KEY)`);
    return undefined;
  }
  if (o.tlsCert === undefined || o.tlsKey === undefined) throw new UsageError('TLS needs both --tls-cert and --tls-key (PEM files)');
  if (o.tlsVerifyPeer === true && o.tlsCa === undefined) throw new UsageError('--tls-verify-peer needs --tls-ca: the CA that signs client certificates');
  return {
    cert: o.tlsCert,
    key: o.tlsKey,
    ...(o.tlsCa !== undefined ? { ca: o.tlsCa } : {}),
    ...(o.tlsPort !== undefined ? { port: o.tlsPort } : {}),
    ...(o.tlsVerifyPeer === true ? { verifyPeer: true } : {}),
    ...(o.tlsKeyPassphraseFile !== undefined ? { keyPassphraseFile: o.tlsKeyPassphraseFile } : {}),
  };
}

/** A listening address as a URL host: a wildcard as localhost, IPv6 in brackets. */
function displayHost(bind: string): string {
  if (bind === '0.0.0.0' || bind === '::') return 'localhost';
  return bind.includes(':') ? `[${bind}]` : bind;
}

/** host:port, an IPv6 host in brackets ([::]:5680). */
function hostPort(host: string, port: number | null): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function parseUser(value: string, previous: string[] = []): string[] {
  if (!value.includes(':')) throw new UsageError(`--user expects name:password, got '${value}'`);
  return [...previous, value];
}

export function serverCommand(): Command {
  return new Command('server')
    .description('Start a Warren broker in the foreground')
    .addOption(new Option('-p, --port <port>', "plain TCP port to listen on (0: any free port; 'off': TLS only)").env('WARREN_PORT').default(DEFAULT_PORT).argParser(portOrOff))
    .addOption(
      new Option(
        '-H, --host <host>',
        "address to listen on, for TCP, TLS and (unless --http-bind) HTTP: 0.0.0.0 every IPv4 interface (not IPv6), '::' IPv4 and IPv6, 127.0.0.1 this machine only",
      )
        .env('WARREN_HOST')
        .default('0.0.0.0'),
    )
    .addOption(new Option('-d, --data-dir <dir>', 'data folder for durable queues and messages').env('WARREN_DATA_DIR').default('./.warren-data'))
    .addOption(new Option('--in-memory', 'keep nothing on disk (durable queues behave as transient)').env('WARREN_IN_MEMORY'))
    .addOption(
      new Option('--sync <mode>', "'always': confirm only after fdatasync; 'never': faster, may lose recent confirms on power loss")
        .choices(['always', 'never'])
        .env('WARREN_SYNC')
        .default('always'),
    )
    .addOption(new Option('--memory-budget <bytes>', 'durable message bodies cached in RAM before paging to disk (default 256 MiB)').env('WARREN_MEMORY_BUDGET').argParser(size('memory budget')))
    .addOption(new Option('--memory-high-watermark <bytes>', "block publishers while the broker's memory (RSS) is above this (default 40% of RAM)").env('WARREN_MEMORY_HIGH_WATERMARK').argParser(size('memory high watermark')))
    .addOption(new Option('--paging-window <n>', 'ready messages a queue keeps in RAM; the rest are paged to disk (default 65536, 0: never page; 2048 under memory pressure)').env('WARREN_PAGING_WINDOW').argParser(int('paging window')))
    .addOption(
      new Option('--paging-window-bytes <bytes>', "RAM a queue's ready messages may take (bodies + 512 B each) before the rest are paged to disk (default 64 MiB, 0: never page; 4 MiB under memory pressure)")
        .env('WARREN_PAGING_WINDOW_BYTES')
        .argParser(size('paging window bytes')),
    )
    .addOption(
      new Option('--no-flow-control', "never hold a publisher while the broker is saturated and a queue it feeds grows under consumers that keep taking messages (flow control is on by default)").env(
        'WARREN_NO_FLOW_CONTROL',
      ),
    )
    .addOption(new Option('--disk-free-limit <bytes>', 'block publishers when free disk space falls below this (default 50 MiB)').env('WARREN_DISK_FREE_LIMIT').argParser(size('disk free limit')))
    .addOption(
      new Option('--kv-watch-backlog <bytes>', 'key-value changes a watch may have queued for a client that reads too slowly; past it the watch ends with RESOURCE_LIMIT (default 16 MiB)')
        .env('WARREN_KV_WATCH_BACKLOG')
        .argParser(size('kv watch backlog')),
    )
    .addOption(new Option('--max-connections <n>', 'refuse connections above this many (default 10000)').env('WARREN_MAX_CONNECTIONS').argParser(int('max connections')))
    .addOption(
      new Option('--max-consumers-per-connection <n>', 'consumers, stream subscriptions and key-value watches one connection may have, together; one more is refused with RESOURCE_LIMIT (default 4096; 0: no limit)')
        .env('WARREN_MAX_CONSUMERS_PER_CONNECTION')
        .argParser(int('max consumers per connection')),
    )
    .addOption(
      new Option('--max-pending-connections-per-address <n>', 'connections from one address (IPv6: one /64) that have not logged in yet; one more is refused with RESOURCE_LIMIT (default 64; 0: no limit)')
        .env('WARREN_MAX_PENDING_CONNECTIONS_PER_ADDRESS')
        .argParser(int('max pending connections per address')),
    )
    .addOption(new Option('--frame-max <bytes>', 'largest frame (message) accepted (default 16 MiB, at most 256 MiB)').env('WARREN_FRAME_MAX').argParser(size('frame max')))
    .addOption(new Option('--heartbeat <ms>', 'heartbeat interval proposed to clients (default 60000; 0 disables)').env('WARREN_HEARTBEAT_MS').argParser(int('heartbeat')))
    .addOption(new Option('--tls-cert <file>', 'PEM certificate (chain) of the TLS listener; with --tls-key turns TLS on (re-read on SIGHUP)').env('WARREN_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'PEM private key of --tls-cert').env('WARREN_TLS_KEY'))
    .addOption(new Option('--tls-key-passphrase-file <file>', 'file holding the passphrase of an encrypted --tls-key').env('WARREN_TLS_KEY_PASSPHRASE_FILE'))
    .addOption(new Option('--tls-port <port>', `TLS port to listen on (default ${DEFAULT_TLS_PORT}; 0: any free port)`).env('WARREN_TLS_PORT').argParser(int('TLS port', 65535)))
    .addOption(new Option('--tls-ca <file>', 'PEM CA certificate(s) that sign client certificates: clients are asked for one (login as its CN with EXTERNAL)').env('WARREN_TLS_CA'))
    .addOption(new Option('--tls-verify-peer', 'mutual TLS: refuse TLS clients without a certificate signed by --tls-ca').env('WARREN_TLS_VERIFY_PEER'))
    .addOption(
      new Option('--http-port <port>', `port of the management HTTP API and web console (HTTPS with --tls-cert; 0: any free port; 'off': none)`)
        .env('WARREN_HTTP_PORT')
        .default(DEFAULT_HTTP_PORT)
        .argParser(httpPortOrOff),
    )
    .addOption(
      new Option('--http-max-connections <n>', 'sockets the HTTP API holds open at once; more are closed at once, unanswered (default 1024; 0: no limit)')
        .env('WARREN_HTTP_MAX_CONNECTIONS')
        .argParser(int('HTTP max connections')),
    )
    .addOption(
      new Option('--http-max-connections-per-address <n>', 'of those, sockets from one address (raise it behind a reverse proxy); more are closed at once (default 64; 0: no limit)')
        .env('WARREN_HTTP_MAX_CONNECTIONS_PER_ADDRESS')
        .argParser(int('HTTP max connections per address')),
    )
    .addOption(new Option('--http-bind <address>', 'interface the HTTP API listens on (default: --host)').env('WARREN_HTTP_BIND'))
    .addOption(new Option('--http-console-dir <dir>', "serve the web console's files from this folder (default: the @warren/console package, if installed)").env('WARREN_HTTP_CONSOLE_DIR'))
    .addOption(new Option('--http-metrics-open', 'serve /metrics (Prometheus) without credentials; otherwise it needs a monitoring or administrator user').env('WARREN_HTTP_METRICS_OPEN'))
    .addOption(new Option('--user <name:password>', 'an administrator, created or its password reset at every start (repeatable); no guest then').argParser(parseUser))
    .addOption(new Option('--users-file <path>', 'administrators from a file, applied at every start: lines of name:scrypt$... (see `warren hash-password`)').env('WARREN_USERS_FILE'))
    .addOption(new Option('--user-name <name>', 'an administrator, created or its password reset at every start, with WARREN_PASSWORD or --password-file (keeps the password out of ps); no guest then').env('WARREN_USER'))
    .addOption(new Option('--password-file <path>', "that user's password, read from a file (a Docker secret, say); a trailing newline is ignored").env('WARREN_PASSWORD_FILE'))
    .addOption(new Option('--password <password>', "that user's password; prefer the variable or --password-file, a flag shows in ps").env('WARREN_PASSWORD'))
    .addOption(new Option('--require-user', 'refuse to start with only the guest user, who cannot log in from other hosts (the Docker image sets this)').env('WARREN_REQUIRE_USER'))
    .addOption(new Option('--allow-guest-remote', 'let guest/guest log in from other hosts (demos only)').env('WARREN_ALLOW_GUEST_REMOTE'))
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .env('WARREN_LOG_LEVEL')
        .default('info'),
    )
    .addOption(new Option('--log-format <format>', "'json' for collectors, 'pretty' for a terminal").choices(['json', 'pretty']).env('WARREN_LOG_FORMAT'))
    .addHelpText(
      'after',
      '\nExample:\n  $ warren server --port 5680 --data-dir /var/lib/warren\n  $ WARREN_PORT=5690 warren server --sync never\n' +
        '  $ warren server --tls-cert server.crt --tls-key server.key --port off   # TLS only, on 5681\n' +
        '  $ warren server --tls-cert server.crt --tls-key server.key --tls-ca clients-ca.crt --tls-verify-peer\n' +
        '  $ kill -HUP <pid>   # re-read the TLS certificate and key\n' +
        '  $ warren server --http-port 8080 --http-bind 127.0.0.1   # management API and console on http://127.0.0.1:8080\n' +
        '  $ warren server --http-port off                          # no HTTP API\n' +
        '  $ warren server --memory-high-watermark 512MiB --disk-free-limit 2GB\n' +
        '\nSizes (<bytes>): a number of bytes, or with a unit: 512MB (10^6 each), 512MiB or 512M (2^20 each), 1.5GiB, 64KiB.',
    )
    .action(async (o) => {
      const firstUser = await namedUser(o);
      if (o.requireUser === true && firstUser === undefined && o.user === undefined && o.usersFile === undefined) {
        throw new UsageError(
          'no user configured, and guest cannot log in from other hosts: set WARREN_USER and WARREN_PASSWORD (or WARREN_PASSWORD_FILE), or give --users-file',
        );
      }
      const tls = tlsConfig(o);
      if (o.port === 'off' && tls === undefined) throw new UsageError("--port off leaves nothing to listen on: turn TLS on with --tls-cert and --tls-key");
      const options: BrokerOptions = {
        ...(o.port === 'off' ? { tcp: false } : { port: o.port }),
        ...(tls !== undefined ? { tls } : {}),
        host: o.host,
        dataDir: o.dataDir,
        inMemory: Boolean(o.inMemory),
        sync: o.sync,
        logLevel: o.logLevel,
        prettyLogs: (o.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty',
        allowGuestRemote: Boolean(o.allowGuestRemote),
        users: [
          ...(firstUser !== undefined ? [firstUser] : []),
          ...((o.user as string[] | undefined) ?? []).map((u) => {
            const i = u.indexOf(':');
            return { username: u.slice(0, i), password: u.slice(i + 1) };
          }),
        ],
        ...(o.usersFile !== undefined ? { usersFile: o.usersFile } : {}),
        ...(o.memoryBudget !== undefined ? { memoryBudget: o.memoryBudget } : {}),
        ...(o.memoryHighWatermark !== undefined ? { memoryHighWatermark: o.memoryHighWatermark } : {}),
        ...(o.pagingWindow !== undefined ? { pagingWindow: o.pagingWindow } : {}),
        ...(o.pagingWindowBytes !== undefined ? { pagingWindowBytes: o.pagingWindowBytes } : {}),
        ...(o.diskFreeLimit !== undefined ? { diskFreeLimit: o.diskFreeLimit } : {}),
        ...(o.flowControl === false ? { flowControl: false } : {}),
        ...(o.kvWatchBacklog !== undefined ? { kvWatchBacklogBytes: o.kvWatchBacklog } : {}),
        ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
        ...(o.maxConsumersPerConnection !== undefined ? { maxConsumersPerConnection: o.maxConsumersPerConnection as number } : {}),
        ...(o.maxPendingConnectionsPerAddress !== undefined ? { maxPendingConnectionsPerAddress: o.maxPendingConnectionsPerAddress as number } : {}),
        ...(o.frameMax !== undefined ? { frameMax: o.frameMax } : {}),
        ...(o.heartbeat !== undefined ? { heartbeatMs: o.heartbeat } : {}),
        ...(o.httpPort !== 'off' ? { httpPort: o.httpPort as number } : {}),
        ...(o.httpBind !== undefined ? { httpBind: o.httpBind as string } : {}),
        ...(o.httpConsoleDir !== undefined ? { httpConsoleDir: o.httpConsoleDir as string } : {}),
        ...(o.httpMetricsOpen === true ? { httpMetricsOpen: true } : {}),
        ...(o.httpMaxConnections !== undefined ? { httpMaxConnections: o.httpMaxConnections as number } : {}),
        ...(o.httpMaxConnectionsPerAddress !== undefined ? { httpMaxConnectionsPerAddress: o.httpMaxConnectionsPerAddress as number } : {}),
      };
      // Loaded here, not at the top: the other verbs start faster without the broker.
      const { startBroker } = await import('@warren/broker');
      let broker;
      try {
        broker = await startBroker(options);
      } catch (err) {
        const http = options.httpPort !== undefined && options.httpPort !== null ? { port: options.httpPort, bind: options.httpBind ?? o.host } : undefined;
        const line = listenFailure(err, o.host, o.port === 'off' ? undefined : o.port, tls !== undefined ? (tls.port ?? DEFAULT_TLS_PORT) : undefined, http);
        if (line !== undefined) throw new StartError(line);
        // A certificate, key or CA file that cannot be used: one line naming it.
        if (tls !== undefined && err instanceof Error && /\bTLS\b/.test(err.message)) throw new StartError(err.message);
        throw err;
      }
      // Plain text beside pretty logs (or no logs); with JSON logs, stdout carries JSON only.
      const certificate = broker.tls?.certificate;
      (options.prettyLogs || options.logLevel === 'silent' ? process.stdout : process.stderr).write(
        `warren ${String(broker.serverProperties['version'])} listening on ${hostPort(broker.host, broker.port)}${options.tcp === false ? ' (TLS only)' : ''}\n` +
          (certificate !== undefined
            ? `TLS on ${hostPort(broker.host, broker.tlsPort)}  certificate: ${certificate.subject}  SHA-256 ${certificate.fingerprint256}  ` +
              `client certificates: ${tls?.verifyPeer === true ? 'required' : tls?.ca !== undefined ? 'optional' : 'not asked for'}\n`
            : '') +
          (broker.httpPort !== null
            ? `management API and console: ${broker.tls !== null ? 'https' : 'http'}://${displayHost(options.httpBind ?? broker.host)}:${broker.httpPort}\n`
            : '') +
          `data folder: ${options.inMemory ? '(in memory)' : broker.dataDir}  sync: ${options.sync}\n`,
      );
      // Exit once the broker has stopped, whether a signal or a storage failure stopped it.
      void broker.stopped.then((err) => process.exit(err !== null ? ExitCode.STORAGE_FATAL : 0));
      const stop = (signal: string) => {
        broker.logger.info({ signal }, 'shutting down');
        void broker.close();
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      // SIGHUP re-reads the TLS files (new connections get them); a failure is logged and the old ones stay.
      if (broker.tls !== null) {
        process.on('SIGHUP', () => {
          broker.logger.info({ signal: 'SIGHUP' }, 'reloading the TLS certificate');
          broker.reloadTls().catch(() => {});
        });
      }
    });
}
