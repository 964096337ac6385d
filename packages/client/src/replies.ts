/**
 * Reading the result of an OK reply. Results are server-defined maps
 * (protocol-spec 8.5); a missing or oddly typed field reads as a neutral
 * value instead of failing the request.
 */
import type { QueueDeclareResult } from '@warren/protocol';

export function asArray<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

export function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** QUEUE_DECLARE's result; `name` is what was asked for (empty: server-named). */
export function declareResult(result: unknown, name: string): QueueDeclareResult {
  const r = asRecord(result);
  return {
    queue: typeof r.queue === 'string' ? r.queue : name,
    messageCount: count(r.messageCount),
    consumerCount: count(r.consumerCount),
  };
}

/** QUEUE_DELETE's and QUEUE_PURGE's result: a count, bare or in a map. */
export function messageCountOf(result: unknown): number {
  return typeof result === 'number' ? result : count(asRecord(result).messageCount);
}
