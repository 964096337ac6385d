/**
 * Outstanding requests, matched to their replies by requestId (replies may
 * come in any order). A reply is mapped synchronously while its frame is
 * being dispatched, so side effects (such as registering a consumer) happen
 * before any later frame from the same read is looked at.
 */
import type { WarrenError } from '@warren/protocol';

/**
 * Turns the reply frame's payload into the request's result; may throw a WarrenError.
 * `early`, when set, takes what a KV_APPLIED says ahead of the reply (protocol-spec 8.7).
 */
export type ReplyMapper<T> = ((reply: unknown) => T) & { early?: (payload: unknown) => void };

interface Pending {
  map: ReplyMapper<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** What `map.early` threw: the request fails with it once its reply comes. */
  earlyError?: unknown;
}

const MAX_ID = 0xffff_ffff;

export class RequestTable {
  private readonly pending = new Map<number, Pending>();
  private lastId = 0;

  get size(): number {
    return this.pending.size;
  }

  /** Allocates an id (u32, never 0, never one still in use) and registers the request. */
  start<T>(map: ReplyMapper<T>): { id: number; promise: Promise<T> } {
    let id = this.lastId;
    do {
      id = id >= MAX_ID ? 1 : id + 1;
    } while (this.pending.has(id));
    this.lastId = id;
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { map: map as ReplyMapper<unknown>, resolve: resolve as (v: unknown) => void, reject });
    });
    return { id, promise };
  }

  /** Settles request `id` with a reply payload. Returns false for an unknown id. */
  reply(id: number, payload: unknown): boolean {
    const p = this.pending.get(id);
    if (p === undefined) return false;
    this.pending.delete(id);
    if (p.earlyError !== undefined) {
      p.reject(p.earlyError);
      return true;
    }
    let value: unknown;
    try {
      value = p.map(payload);
    } catch (err) {
      p.reject(err);
      return true;
    }
    p.resolve(value);
    return true;
  }

  /**
   * Something about request `id` that comes ahead of its reply (KV_APPLIED): handed to its
   * mapper's `early`; the request stays outstanding. Returns false for an unknown id.
   */
  early(id: number, payload: unknown): boolean {
    const p = this.pending.get(id);
    if (p === undefined) return false;
    if (p.map.early === undefined || p.earlyError !== undefined) return true;
    try {
      p.map.early(payload);
    } catch (err) {
      p.earlyError = err ?? new Error('early hook threw');
    }
    return true;
  }

  /** Rejects request `id`. Returns false for an unknown id. */
  fail(id: number, err: WarrenError): boolean {
    const p = this.pending.get(id);
    if (p === undefined) return false;
    this.pending.delete(id);
    p.reject(err);
    return true;
  }

  /** Rejects every outstanding request (the connection is gone). */
  failAll(err: WarrenError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}
