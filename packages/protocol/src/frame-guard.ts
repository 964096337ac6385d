/**
 * A test/dev guard for the decoder's reused frames. With `reusePublishFrame` (the
 * broker) or `reuseDeliverFrame` (the client) the decoder rewrites ONE frame object per
 * connection: a receiver may use it only while its onFrame handler runs and must copy
 * the fields it keeps. That is a convention; this guard makes breaking it fail loudly.
 *
 * With the guard on (decoder option `guardReusedFrames`, default: the environment
 * variable WARREN_FRAME_GUARD=1, which the test suite sets), such a decoder hands out a
 * fresh frame object each time and poisons it as soon as the handler returns: every
 * field becomes an accessor that throws, and each such late access is also recorded
 * (takeFrameGuardViolations), so one swallowed by a catch still fails the test that
 * checks. With the guard off nothing of this runs: the decoder's push is the plain one.
 */
import type { Frame } from './frames.js';

export const FRAME_GUARD_ENV = 'WARREN_FRAME_GUARD';

/** Whether WARREN_FRAME_GUARD=1 (read once per decoder, never per frame). */
export function frameGuardFromEnv(): boolean {
  return typeof process !== 'undefined' && process.env?.[FRAME_GUARD_ENV] === '1';
}

const VIOLATIONS = Symbol.for('warren.frameGuardViolations');

function violations(): string[] {
  const g = globalThis as { [VIOLATIONS]?: string[] };
  return (g[VIOLATIONS] ??= []);
}

/** The late accesses recorded since the last call (and forgets them). */
export function takeFrameGuardViolations(): string[] {
  return violations().splice(0);
}

/** Makes every field of frame throw (and be recorded) when read or written from now on. */
export function poisonFrame(frame: Frame, kind: string): void {
  const fail = (key: string, how: string): never => {
    const msg = `${kind} frame used after its handler returned (${how} .${key}): the decoder reuses this object; copy its fields instead of keeping the frame`;
    violations().push(msg);
    throw new Error(msg);
  };
  for (const key of Object.keys(frame)) {
    Object.defineProperty(frame, key, {
      get: () => fail(key, 'read'),
      set: () => fail(key, 'write'),
      enumerable: true,
      configurable: false,
    });
  }
  Object.freeze(frame);
}
