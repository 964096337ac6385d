/**
 * Vitest setup (every test file): the suite runs with WARREN_FRAME_GUARD=1 (see
 * vitest.config.ts), so the decoders that reuse PUBLISH / DELIVER frames poison each
 * frame once its handler returns (packages/protocol/src/frame-guard.ts). A late read
 * throws where it happens; this check also fails the test if something swallowed it.
 */
import { afterEach, expect } from 'vitest';

const VIOLATIONS = Symbol.for('warren.frameGuardViolations');

afterEach(() => {
  const seen = (globalThis as { [VIOLATIONS]?: string[] })[VIOLATIONS]?.splice(0) ?? [];
  expect(seen, 'a reused PUBLISH / DELIVER frame was used after its handler returned').toEqual([]);
});
