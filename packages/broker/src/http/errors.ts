/**
 * Errors as the HTTP API answers them: the status, and a JSON body with the
 * wire protocol's code and name (ErrorCodes in @warren/protocol):
 *
 *   {"error": {"code": 404, "name": "NOT_FOUND", "message": "queue 'q'"}}
 *
 * A handler throws WarrenErrors (errors.ts) as the wire handlers do; the
 * status follows from the code (STATUS_BY_CODE), or from withStatus() where
 * one code means different things. Anything else is an internal error: logged
 * here, sent as 500 INTERNAL_ERROR without details.
 */
import { ErrorCodes, WarrenError } from '@warren/protocol';
import { Unauthenticated } from './authz.js';

const STATUS_BY_CODE = new Map<number, number>([
  [ErrorCodes.INVALID_ARGUMENT, 400],
  [ErrorCodes.FRAME_ERROR, 400],
  [ErrorCodes.COMMAND_INVALID, 400],
  [ErrorCodes.UNSUPPORTED_VERSION, 400],
  [ErrorCodes.ACCESS_REFUSED, 403],
  [ErrorCodes.NOT_FOUND, 404],
  // An exclusive queue of another connection, re-declare with other arguments, if-unused/if-empty, ...
  [ErrorCodes.RESOURCE_LOCKED, 409],
  [ErrorCodes.PRECONDITION_FAILED, 409],
  [ErrorCodes.WRONG_REVISION, 409],
  [ErrorCodes.NO_ROUTE, 409],
  [ErrorCodes.FRAME_TOO_LARGE, 413],
  [ErrorCodes.VALUE_TOO_LARGE, 413],
  [ErrorCodes.BUCKET_FULL, 409],
  [ErrorCodes.RESOURCE_LIMIT, 429],
  [ErrorCodes.NOT_IMPLEMENTED, 501],
  [ErrorCodes.INTERNAL_ERROR, 500],
  [ErrorCodes.STORAGE_ERROR, 503],
  [ErrorCodes.CONNECTION_FORCED, 503],
  [ErrorCodes.TIMEOUT, 504],
]);

const statusOverride = new WeakMap<WarrenError, number>();

/** Answers `err` with this HTTP status instead of its code's usual one (405 with COMMAND_INVALID, say). */
export function withStatus<E extends WarrenError>(err: E, status: number): E {
  statusOverride.set(err, status);
  return err;
}

export interface ErrorBody {
  error: { code: number; name: string; message: string; details?: Record<string, unknown> };
}

/** The status and body for a thrown value; `internal` is true when it was not a WarrenError (log it). */
export function httpError(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (!(err instanceof WarrenError)) {
    return { status: 500, body: { error: { code: ErrorCodes.INTERNAL_ERROR, name: 'INTERNAL_ERROR', message: 'internal error' } }, internal: true };
  }
  const status = err instanceof Unauthenticated ? 401 : (statusOverride.get(err) ?? STATUS_BY_CODE.get(err.code) ?? 500);
  const body: ErrorBody = { error: { code: err.code, name: err.name, message: err.message } };
  if (err.details !== undefined) body.error.details = err.details;
  return { status, body, internal: err.code === ErrorCodes.INTERNAL_ERROR };
}
