/**
 * Exit codes and error printing shared by every verb: 0 on success, non-zero
 * with the error's code name on stderr, never a stack trace.
 */
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

export class UsageError extends Error {}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return ExitCode.USAGE;
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
  if (err instanceof WarrenError) return `${err.name}: ${err.message}`;
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code !== undefined) return `${e.code}: ${e.message}`;
  return `ERROR: ${e?.message ?? String(err)}`;
}

export async function runMain(main: () => Promise<unknown>): Promise<void> {
  try {
    await main();
  } catch (err) {
    process.stderr.write(`warren: ${describeError(err)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
