/**
 * `warren server`: the broker in the foreground. Flags are checked by their
 * parsers, before anything touches the data folder; a port that cannot be
 * listened on is one line with a hint. Logs: pretty one-line events with the
 * plain banner on a terminal, JSON only on stdout otherwise (the banner then
 * goes to stderr, so stdout stays one format).
 */
import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import type { BrokerOptions } from '@warren/broker';
import { DEFAULT_PORT } from '@warren/client';
import { ExitCode, StartError, UsageError } from '../output.js';

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

/** A listen failure the user can fix, as one line with the fix; undefined for anything else. */
export function listenFailure(err: unknown, host: string, port: number): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return `EADDRINUSE: port ${port} on ${host} is already in use (another warren server?): stop it, or choose another port with --port or WARREN_PORT`;
  }
  if (code === 'EACCES') return `EACCES: not allowed to listen on port ${port} (ports below 1024 need privileges): choose another with --port or WARREN_PORT`;
  if (code === 'EADDRNOTAVAIL') return `EADDRNOTAVAIL: ${host} is not an address of this machine: choose another with --host or WARREN_HOST`;
  return undefined;
}

function parseUser(value: string, previous: string[] = []): string[] {
  if (!value.includes(':')) throw new UsageError(`--user expects name:password, got '${value}'`);
  return [...previous, value];
}

export function serverCommand(): Command {
  return new Command('server')
    .description('Start a Warren broker in the foreground')
    .addOption(new Option('-p, --port <port>', 'TCP port to listen on (0: any free port)').env('WARREN_PORT').default(DEFAULT_PORT).argParser(int('port', 65535)))
    .addOption(new Option('-H, --host <host>', 'interface to listen on').env('WARREN_HOST').default('0.0.0.0'))
    .addOption(new Option('-d, --data-dir <dir>', 'data folder for durable queues and messages').env('WARREN_DATA_DIR').default('./.warren-data'))
    .addOption(new Option('--in-memory', 'keep nothing on disk (durable queues behave as transient)').env('WARREN_IN_MEMORY'))
    .addOption(
      new Option('--sync <mode>', "'always': confirm only after fdatasync; 'never': faster, may lose recent confirms on power loss")
        .choices(['always', 'never'])
        .env('WARREN_SYNC')
        .default('always'),
    )
    .addOption(new Option('--memory-budget <bytes>', 'durable message bodies cached in RAM before paging to disk (default 256 MiB)').env('WARREN_MEMORY_BUDGET').argParser(int('memory budget')))
    .addOption(new Option('--memory-high-watermark <bytes>', "block publishers while the broker's memory (RSS) is above this (default 40% of RAM)").env('WARREN_MEMORY_HIGH_WATERMARK').argParser(int('memory high watermark')))
    .addOption(new Option('--paging-window <n>', 'ready messages a queue keeps in RAM; the rest are paged to disk (default 2048, 0: never page)').env('WARREN_PAGING_WINDOW').argParser(int('paging window')))
    .addOption(new Option('--disk-free-limit <bytes>', 'block publishers when free disk space falls below this').env('WARREN_DISK_FREE_LIMIT').argParser(int('disk free limit')))
    .addOption(new Option('--max-connections <n>', 'refuse connections above this many').env('WARREN_MAX_CONNECTIONS').argParser(int('max connections')))
    .addOption(new Option('--frame-max <bytes>', 'largest frame (message) accepted').env('WARREN_FRAME_MAX').argParser(int('frame max')))
    .addOption(new Option('--heartbeat <ms>', 'heartbeat interval proposed to clients (0 disables)').env('WARREN_HEARTBEAT_MS').argParser(int('heartbeat')))
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
    .addHelpText('after', '\nExample:\n  $ warren server --port 5680 --data-dir /var/lib/warren\n  $ WARREN_PORT=5681 warren server --sync never')
    .action(async (o) => {
      const firstUser = await namedUser(o);
      if (o.requireUser === true && firstUser === undefined && o.user === undefined && o.usersFile === undefined) {
        throw new UsageError(
          'no user configured, and guest cannot log in from other hosts: set WARREN_USER and WARREN_PASSWORD (or WARREN_PASSWORD_FILE), or give --users-file',
        );
      }
      const options: BrokerOptions = {
        port: o.port,
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
        ...(o.diskFreeLimit !== undefined ? { diskFreeLimit: o.diskFreeLimit } : {}),
        ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
        ...(o.frameMax !== undefined ? { frameMax: o.frameMax } : {}),
        ...(o.heartbeat !== undefined ? { heartbeatMs: o.heartbeat } : {}),
      };
      // Loaded here, not at the top: the other verbs start faster without the broker.
      const { startBroker } = await import('@warren/broker');
      let broker;
      try {
        broker = await startBroker(options);
      } catch (err) {
        const line = listenFailure(err, o.host, o.port);
        if (line !== undefined) throw new StartError(line);
        throw err;
      }
      // Plain text beside pretty logs (or no logs); with JSON logs, stdout carries JSON only.
      (options.prettyLogs || options.logLevel === 'silent' ? process.stdout : process.stderr).write(
        `warren ${String(broker.serverProperties['version'])} listening on ${broker.host}:${broker.port}\n` +
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
    });
}
