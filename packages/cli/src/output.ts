/**
 * Exit codes and error printing shared by every verb: 0 on success, non-zero
 * with the error's code name on stderr (`warren: NOT_FOUND: ...`, and
 * `warren: USAGE: ...` for bad usage, commander's own errors included), never
 * a stack trace.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | success |
 * | 1 | the broker refused the request (NOT_FOUND, PRECONDITION_FAILED, NO_ROUTE, ...) |
 * | 2 | bad command-line usage (unknown option, bad value, bad --url) |
 * | 3 | broker unavailable: could not connect, connection lost, timeout, retriable limit |
 * | 4 | authentication failed (ACCESS_REFUSED during the handshake) |
 * | 70 | `warren server` stopped because its storage failed |
 */
import { CommanderError } from 'commander';
import { WarrenError } from '@warren/protocol';

export const ExitCode = {
  OK: 0,
  /** A Warren error answered by the broker (NOT_FOUND, PRECONDITION_FAILED, ...). */
  BROKER_ERROR: 1,
  /** Bad command-line usage. */
  USAGE: 2,
  /** Could not connect, or the connection was lost. */
  UNAVAILABLE: 3,
  /** Authentication failed. */
  ACCESS_REFUSED: 4,
  /** The broker stopped because its storage failed. */
  STORAGE_FATAL: 70,
} as const;

/** Bad command-line usage: exit code 2. */
export class UsageError extends Error {}

/** `warren server` cannot start for a reason the user can fix; the message says how. Exit code 1. */
export class StartError extends Error {}

/** The broker could not be reached: exit code 3. `code` names the cause (ECONNREFUSED, TIMEOUT, ...). */
export class UnavailableError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  if (err instanceof UsageError) return ExitCode.USAGE;
  if (err instanceof UnavailableError) return ExitCode.UNAVAILABLE;
  if (err instanceof WarrenError) {
    if (err.name === 'ACCESS_REFUSED') return ExitCode.ACCESS_REFUSED;
    if (err.retriable) return ExitCode.UNAVAILABLE;
    return ExitCode.BROKER_ERROR;
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || code === 'ETIMEDOUT') return ExitCode.UNAVAILABLE;
  return ExitCode.BROKER_ERROR;
}

export function describeError(err: unknown): string {
  if (err instanceof UsageError) return `USAGE: ${err.message}`;
  if (err instanceof StartError) return err.message;
  if (err instanceof UnavailableError) return `${err.code}: ${err.message}`;
  if (err instanceof WarrenError) return `${err.name}: ${err.message}`;
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code !== undefined) return `${e.code}: ${e.message}`;
  return `ERROR: ${e?.message ?? String(err)}`;
}

export async function runMain(main: () => Promise<unknown>): Promise<void> {
  // `warren consume q | head -1`: a closed pipe ends the program quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? ExitCode.OK);
    throw err;
  });
  try {
    await main();
  } catch (err) {
    // Commander already printed its own usage errors, as `warren: USAGE: ...`
    // (program.ts's outputError), and help/version are not errors.
    if (!(err instanceof CommanderError)) process.stderr.write(`warren: ${describeError(err)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
