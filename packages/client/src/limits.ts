/**
 * Per-call limits (an AbortSignal, a timeout) around a promise that does not
 * know about them: used by consume() to bound waiting for CONSUME's reply.
 */
import type { WarrenError } from '@warren/protocol';
import { AbortError, TimeoutError } from './errors.js';

/**
 * `p`, or AbortError / TimeoutError if `signal` fires or `timeoutMs` passes
 * first; `onGiveUp` then undoes what `p` was doing. `p` is always observed,
 * so its late rejection is never unhandled.
 */
export function withLimits<T>(p: Promise<T>, signal: AbortSignal | undefined, timeoutMs: number | undefined, what: string, onGiveUp: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const giveUp = (err: WarrenError): void => {
      if (!finish()) return;
      reject(err);
      onGiveUp();
    };
    const onAbort = (): void => giveUp(new AbortError(signal!.reason));
    if (timeoutMs !== undefined && timeoutMs > 0) timer = setTimeout(() => giveUp(new TimeoutError(`${what} within ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        if (finish()) resolve(v);
      },
      (err: unknown) => {
        if (finish()) reject(err);
      },
    );
  });
}
