/**
 * @warren/protocol: Warren's wire protocol (protocol-spec.md), shared by the
 * broker and the client.
 *
 * - frames.ts        frame type bytes and typed frame objects;
 * - frame-schema.ts  the header layout of every frame (FRAME_SCHEMA), and
 *                    headerOf / parseFrame derived from it;
 * - frame-sends.ts   the typed send methods derived from it (writer.deliver(...));
 * - properties.ts    the message property validator;
 * - codec.ts, msgpack.ts, decoder.ts, writer.ts, reader.ts: bytes <-> frames
 *                    (prelude, MessagePack, incremental decoding, batched writes,
 *                    arena reads);
 * - frame-socket.ts  one socket speaking frames, the layer under the broker's
 *                    connections and the client's transport;
 * - kv-fast.ts       KV_PUT and its answers encoded and decoded by hand;
 * - props-fast.ts    small flat message properties encoded and decoded by hand
 *                    (PUBLISH / DELIVER fast paths);
 * - settled-prefix.ts which numbers of a sequence are settled (confirms, acks);
 * - errors.ts        error codes and the typed errors both sides raise;
 * - frame-guard.ts   test/dev guard: a reused PUBLISH / DELIVER frame kept past its handler throws.
 */
export * from './errors.js';
export * from './frames.js';
export { FRAME_SCHEMA, headerOf, parseFrame, hasBody, layoutOf, specKind, type FrameSchema, type FrameLayout, type Field, type FieldKind } from './frame-schema.js';
export { sendMethodName, type ErrorLike, type FrameSends, type SendArgs } from './frame-sends.js';
export { isPlainObject, invalidProperty, invalidPropertyOf, propertyExpectation, propertiesShapeProblem, headerShapeProblem, INVALID_PROPERTY } from './properties.js';
export * from './codec.js';
export { FrameDecoder, type FrameHandler } from './decoder.js';
export { FRAME_GUARD_ENV, takeFrameGuardViolations } from './frame-guard.js';
export { FrameWriter, strSize, writeStr, writeStrHeader, type FrameSink } from './writer.js';
// Installs the hand-written KV_PUT, KV_APPLIED and OK sends on FrameWriter (and the decoder's KV fast paths).
export { KvRevision } from './kv-fast.js';
export { ReadArena, adoptArenaReads, ARENA_SIZE, ARENA_COPY_BELOW, type ChunkHandler } from './reader.js';
export { pack, unpack, packScratch, unpackRange } from './msgpack.js';
export { MAX_HEADER_VALUES, MAX_NESTING } from './profile.js';
export { FrameSocket, WRITE_HIGH_WATER, END_GRACE_MS, type FrameSocketHandlers, type FrameSocketOptions, type FrameSocketTarget } from './frame-socket.js';
export { SettledPrefix } from './settled-prefix.js';
