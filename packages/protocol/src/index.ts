export * from './errors.js';
export * from './frames.js';
export * from './codec.js';
export { FrameDecoder, type FrameHandler } from './decoder.js';
export { FrameWriter, type FrameSink } from './writer.js';
export { ReadArena, adoptArenaReads, ARENA_SIZE, ARENA_COPY_BELOW, type ChunkHandler } from './reader.js';
export { pack, unpack } from './msgpack.js';
