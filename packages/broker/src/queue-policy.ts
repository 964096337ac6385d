/**
 * Queue arguments that change behaviour, parsed and validated once at
 * declare time. Unknown arguments are kept but ignored, as RabbitMQ does.
 */
import type { Arguments } from '@warren/protocol';
import { errors } from './errors.js';

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

export interface QueuePolicy {
  /** x-message-ttl: ms a message may wait in the queue. */
  messageTtl: number | null;
  /** x-expires: ms the queue may stay unused before it is deleted. */
  expires: number | null;
  /** x-dead-letter-exchange ('' is the default exchange). */
  deadLetterExchange: string | null;
  /** x-dead-letter-routing-key; the message's own key when absent. */
  deadLetterRoutingKey: string | null;
  /** x-max-length: ready messages. */
  maxLength: number | null;
  /** x-max-length-bytes: bytes of ready message bodies. */
  maxLengthBytes: number | null;
  /** x-overflow. */
  overflow: Overflow;
  /** x-delivery-limit: deliveries without an ack before the message is dead-lettered. */
  deliveryLimit: number | null;
  /** x-max-priority: 0 = no priorities. */
  maxPriority: number;
  /** x-single-active-consumer. */
  singleActiveConsumer: boolean;
  /** x-consumer-timeout: ms a delivery may stay unacked before it is requeued. */
  consumerTimeout: number | null;
}

function nonNegativeInt(args: Arguments, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | null {
  const v = args[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw errors.invalidArgument(`queue argument '${key}' must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function string(args: Arguments, key: string): string | null {
  const v = args[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw errors.invalidArgument(`queue argument '${key}' must be a string`);
  return v;
}

export function parseQueuePolicy(args: Arguments): QueuePolicy {
  const overflow = string(args, 'x-overflow') ?? 'drop-head';
  if (overflow !== 'drop-head' && overflow !== 'reject-publish' && overflow !== 'reject-publish-dlx') {
    throw errors.invalidArgument(`queue argument 'x-overflow' must be drop-head, reject-publish or reject-publish-dlx`);
  }
  const sac = args['x-single-active-consumer'];
  if (sac !== undefined && sac !== null && typeof sac !== 'boolean') {
    throw errors.invalidArgument(`queue argument 'x-single-active-consumer' must be a boolean`);
  }
  return {
    messageTtl: nonNegativeInt(args, 'x-message-ttl'),
    expires: nonNegativeInt(args, 'x-expires', 1),
    deadLetterExchange: string(args, 'x-dead-letter-exchange'),
    deadLetterRoutingKey: string(args, 'x-dead-letter-routing-key'),
    maxLength: nonNegativeInt(args, 'x-max-length'),
    maxLengthBytes: nonNegativeInt(args, 'x-max-length-bytes'),
    overflow,
    deliveryLimit: nonNegativeInt(args, 'x-delivery-limit', 1),
    maxPriority: nonNegativeInt(args, 'x-max-priority', 1, 255) ?? 0,
    singleActiveConsumer: sac === true,
    consumerTimeout: nonNegativeInt(args, 'x-consumer-timeout', 1),
  };
}
