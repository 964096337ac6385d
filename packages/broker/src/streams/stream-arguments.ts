/**
 * The queue arguments that make a queue a stream and set its retention, checked at
 * QUEUE_DECLARE time. A stream is declared like any queue with
 * `x-queue-type: "stream"`, and is always durable.
 */
import { errors, type Arguments, type QueueDeclareOptions } from '@warren/protocol';

export interface StreamSettings {
  /** x-max-age: ms a segment's newest message may be kept; null keeps everything. */
  maxAgeMs: number | null;
  /** x-max-length-bytes: total bytes kept; null keeps everything. */
  maxBytes: number | null;
  /** x-stream-segment-bytes: where segments roll; null for the broker default. */
  segmentBytes: number | null;
}

export function isStreamDeclaration(args: Arguments | undefined): boolean {
  return args?.['x-queue-type'] === 'stream';
}

function positiveInt(args: Arguments, key: string, min = 1): number | null {
  const v = args[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw errors.invalidArgument(`stream argument '${key}' must be an integer of at least ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Validates a stream declaration; throws INVALID_ARGUMENT when it cannot be a stream. */
export function parseStreamDeclaration(opts: QueueDeclareOptions): StreamSettings {
  const args = opts.arguments ?? {};
  if (opts.durable !== true || opts.exclusive === true || opts.autoDelete === true) {
    throw errors.invalidArgument('a stream is always durable, never exclusive or auto-delete: declare it with durable true');
  }
  return {
    maxAgeMs: positiveInt(args, 'x-max-age'),
    maxBytes: positiveInt(args, 'x-max-length-bytes'),
    segmentBytes: positiveInt(args, 'x-stream-segment-bytes', 4096),
  };
}
