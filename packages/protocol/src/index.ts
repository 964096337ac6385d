export * from './errors.js';
export * from './frames.js';
export * from './codec.js';
export { FrameDecoder, type FrameHandler } from './decoder.js';
export { FrameWriter, type FrameSink } from './writer.js';
export { pack, unpack } from './msgpack.js';
