/**
 * Browsing a queue or a stream without side effects (management API): a
 * snapshot of N messages from a position, with properties, headers and body.
 * Unlike RabbitMQ's "get messages" nothing is consumed or requeued: the
 * queue's order, the redelivered flags and the delivery counts stay as they
 * were. Bodies evicted to disk (or paged out without one) are read from the
 * message store without putting them back in RAM.
 */
import { unpack, type MessageProperties } from '@warren/protocol';
import { errors } from './errors.js';
import type { Queue } from './queue.js';
import type { VirtualHost } from './vhost.js';

export const BROWSE_MAX = 1000;

export type PayloadEncoding = 'auto' | 'base64';

export interface BrowseRequest {
  /** Position (queues: 0 = the head) or stream offset ('first' | 'last' | number). */
  offset?: number | 'first' | 'last';
  count?: number;
  encoding?: PayloadEncoding;
}

export interface BrowseItem {
  position?: number;
  offset?: number;
  timestamp?: number;
  /** 'ready' in delivery order, then 'delayed' (x-delay) by due time. */
  state?: 'ready' | 'delayed';
  deliverAt?: number;
  deliveryCount?: number;
  redelivered?: boolean;
  exchange: string;
  routingKey: string;
  properties: MessageProperties;
  payload: string;
  payloadEncoding: 'string' | 'base64';
  payloadBytes: number;
}

export interface BrowseResult {
  items: BrowseItem[];
  /** Queues: ready + delayed messages; streams: messages kept. */
  total: number;
  ready?: number;
  delayed?: number;
  /** Streams: the first offset kept and the next offset to be written. */
  first?: number;
  next?: number;
}

/** Text when the body is valid UTF-8 without control characters (and 'auto'), else base64. */
export function encodePayload(body: Buffer, encoding: PayloadEncoding): { payload: string; payloadEncoding: 'string' | 'base64' } {
  if (encoding === 'auto') {
    const text = body.toString('utf8');
    // eslint-disable-next-line no-control-regex
    if (Buffer.byteLength(text) === body.length && !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text)) {
      return { payload: text, payloadEncoding: 'string' };
    }
  }
  return { payload: body.toString('base64'), payloadEncoding: 'base64' };
}

function countOf(req: BrowseRequest): number {
  const count = req.count ?? 10;
  if (!Number.isInteger(count) || count < 0 || count > BROWSE_MAX) throw errors.invalidArgument(`count must be an integer 0..${BROWSE_MAX}`);
  return count;
}

function encodingOf(req: BrowseRequest): PayloadEncoding {
  const e = req.encoding ?? 'auto';
  if (e !== 'auto' && e !== 'base64') throw errors.invalidArgument(`encoding must be 'auto' or 'base64'`);
  return e;
}

export async function browseQueue(vhost: VirtualHost, queue: Queue, req: BrowseRequest): Promise<BrowseResult> {
  if (queue.isStream) return browseStream(vhost, queue, req);
  const count = countOf(req);
  const encoding = encodingOf(req);
  const offset = req.offset ?? 0;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw errors.invalidArgument('offset must be an integer >= 0');
  const snapshot = queue.browse(offset, count);
  const items: BrowseItem[] = [];
  for (let i = 0; i < snapshot.length; i++) {
    const b = snapshot[i]!;
    const m = b.message;
    let body = m.body;
    if (body === null) {
      if (vhost.store === null || m.storeId === 0) throw errors.internal();
      body = await vhost.store.readBody(m.storeId);
    }
    items.push({
      position: offset + i,
      state: b.state,
      ...(b.state === 'delayed' ? { deliverAt: b.deliverAt } : {}),
      deliveryCount: b.deliveryCount,
      redelivered: b.deliveryCount > 0,
      exchange: m.exchange,
      routingKey: m.routingKey,
      properties: m.properties ?? {},
      ...encodePayload(body, encoding),
      payloadBytes: m.bodySize,
    });
  }
  return { items, total: queue.messageCount + queue.delayedCount, ready: queue.messageCount, delayed: queue.delayedCount };
}

/** A stream from an offset ('first', 'last' or a number, clamped into what is kept) through its own reader. */
export async function browseStream(vhost: VirtualHost, queue: Queue, req: BrowseRequest): Promise<BrowseResult> {
  const log = vhost.streams?.log(queue.name);
  if (log === undefined) throw errors.notFound(`stream '${queue.name}'`);
  const count = countOf(req);
  const encoding = encodingOf(req);
  const spec = req.offset ?? 'first';
  let start: number;
  if (spec === 'first' || spec === 'last') start = await log.resolveStart(spec);
  else if (typeof spec === 'number' && Number.isInteger(spec) && spec >= 0) start = log.clamp(spec);
  else throw errors.invalidArgument(`offset must be 'first', 'last' or an integer >= 0`);
  const items: BrowseItem[] = [];
  const reader = log.reader(start);
  try {
    while (items.length < count) {
      const batch = await reader.read(count - items.length);
      if (batch.length === 0) break;
      for (const r of batch) {
        const [exchange, routingKey, properties] = unpack(r.meta) as [string, string, MessageProperties | null];
        items.push({
          offset: r.offset,
          timestamp: r.timestamp,
          exchange,
          routingKey,
          properties: properties ?? {},
          ...encodePayload(r.body, encoding),
          payloadBytes: r.body.length,
        });
      }
    }
  } finally {
    await reader.close();
  }
  return { items, total: log.messages, first: log.first, next: log.next };
}
