/**
 * Moving ready messages out of a queue (management "move", and the redrive of
 * a dead-letter queue): to another queue of the same vhost, or through an
 * exchange with a routing key, or back where each one was dead-lettered from
 * ('$x-death': the exchange and routing key of its latest x-death entry).
 *
 * A moved message keeps its exchange, routing key, properties and headers
 * (x-death included); in its new queue it starts with delivery count 0, as a
 * fresh publish would. It is the same message: no copy is admitted, its body
 * is not duplicated in RAM.
 *
 * Crash safety: a message stored for the source queue is moved in the store
 * with ONE record (MessageStore.move: a COPY carrying its new queue list), so
 * a crash at any moment leaves it either in the source or in its new queues,
 * never in both, never in neither. The answer waits for those records'
 * fsync. Messages that go nowhere (no route, destination full or a stream)
 * stay in the source queue, at their places.
 */
import type { WarrenError } from '@warren/protocol';
import { errors } from './errors.js';
import { newMessage, type QueuedMessage } from './message.js';
import type { Queue } from './queue.js';
import type { VirtualHost } from './vhost.js';

/** Where moved messages go: a queue, or an exchange (with a routing key), or '$x-death'. */
export interface MoveTarget {
  queue?: string;
  exchange?: string;
  routingKey?: string;
  /** '$x-death': whether the caller may publish through this exchange (messages that would need another one stay). */
  mayWrite?: (exchange: string) => boolean;
}

export interface MoveResult {
  moved: number;
  /** Messages that had nowhere to go and stayed in the source queue. */
  skipped: number;
}

/** The exchange name meaning "where each message was dead-lettered from". */
export const X_DEATH = '$x-death';
const BATCH = 256;

/** Checks the request before anything moves; throws NOT_FOUND / PRECONDITION_FAILED. */
export function checkMove(vhost: VirtualHost, source: Queue, target: MoveTarget): void {
  if (source.isStream) throw errors.preconditionFailed(`queue '${source.name}' is a stream: its messages cannot be moved`);
  if ((target.queue === undefined) === (target.exchange === undefined)) {
    throw errors.invalidArgument('a move needs exactly one of toQueue and toExchange');
  }
  if (target.queue !== undefined) {
    const q = vhost.queues.get(target.queue);
    if (q === undefined) throw errors.notFound(`queue '${target.queue}'`);
    if (q === source) throw errors.preconditionFailed('a queue cannot be moved to itself');
    if (q.isStream) throw errors.preconditionFailed(`queue '${q.name}' is a stream: move to it through an exchange is not supported`);
    return;
  }
  const x = target.exchange!;
  if (x === X_DEATH || x === '') return;
  const e = vhost.exchanges.get(x);
  if (e === undefined) throw errors.notFound(`exchange '${x}'`);
  if (e.options.internal) throw errors.accessRefused(`exchange '${x}' is internal`);
}

/** Where one message goes: a fresh set of queues (maybe empty). */
function targetsOf(vhost: VirtualHost, target: MoveTarget, qm: QueuedMessage): Set<Queue> {
  const out = new Set<Queue>();
  if (target.queue !== undefined) {
    const q = vhost.queues.get(target.queue);
    if (q !== undefined && !q.deleted) out.add(q);
    return out;
  }
  let exchange = target.exchange!;
  let routingKey = target.routingKey ?? '';
  const headers = qm.message.properties?.headers;
  if (exchange === X_DEATH) {
    const death = Array.isArray(headers?.['x-death']) ? (headers!['x-death'] as Array<Record<string, unknown>>)[0] : undefined;
    const keys = death?.['routing-keys'];
    if (death === undefined || typeof death['exchange'] !== 'string') return out;
    exchange = death['exchange'];
    routingKey = Array.isArray(keys) && typeof keys[0] === 'string' ? keys[0] : '';
    if (target.mayWrite !== undefined && !target.mayWrite(exchange)) return out;
  }
  try {
    vhost.route(exchange, routingKey, headers, out);
  } catch {
    out.clear(); // exchange gone (or internal): nowhere to go
  }
  for (const q of out) if (q.isStream || q.deleted) out.delete(q);
  if (out.size > 0) {
    const refused = vhost.admission.refusals(qm.message, out);
    if (refused !== null) for (const q of refused) out.delete(q);
  }
  return out;
}

/**
 * Moves up to `count` ready messages (null: as many as the queue holds when
 * the move starts) from the head of `source`. Resolves once every stored move
 * is durable.
 */
export async function moveMessages(
  vhost: VirtualHost,
  source: Queue,
  target: MoveTarget,
  count: number | null,
  /** Called after each batch (tests kill the broker from there). */
  onBatch?: (moved: number) => void,
): Promise<MoveResult> {
  checkMove(vhost, source, target);
  const admission = vhost.admission;
  const limit = count ?? source.messageCount;
  const durable: Array<Promise<Error | null>> = [];
  const skippedQms: QueuedMessage[] = [];
  let moved = 0;
  try {
    while (moved + skippedQms.length < limit && !source.deleted) {
      const batch = source.takeReady(Math.min(BATCH, limit - moved - skippedQms.length));
      if (batch.length === 0) break;
      // A stored body evicted to disk is needed for the COPY record: read the batch's back first.
      const missing = batch.filter((qm) => qm.message.body === null && qm.message.storeId !== 0).map((qm) => qm.message);
      if (missing.length > 0) {
        try {
          await admission.loadBodies(missing);
        } catch (err) {
          source.putBack(batch);
          throw err;
        }
      }
      if (source.deleted) {
        // Deleted meanwhile: these go with it (its store records are dropped).
        for (const qm of batch) admission.settled(source, qm);
        break;
      }
      for (const qm of batch) {
        const targets = targetsOf(vhost, target, qm);
        if (targets.size === 0 || qm.message.body === null) {
          skippedQms.push(qm);
          continue;
        }
        const p = moveOne(vhost, source, qm, targets);
        if (p !== null) durable.push(p);
        moved++;
      }
      onBatch?.(moved);
      // A long move must not hold the event loop: other connections go on between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    if (skippedQms.length > 0 && !source.deleted) source.putBack(skippedQms);
    else for (const qm of skippedQms) admission.settled(source, qm);
  }
  const results = await Promise.all(durable);
  const failed = results.find((e) => e !== null);
  if (failed) throw errors.storage(`move not stored: ${failed.message}`, failed);
  return { moved, skipped: skippedQms.length };
}

/** Moves one taken message to its targets; returns the durable write to wait for, if any. */
function moveOne(vhost: VirtualHost, source: Queue, qm: QueuedMessage, targets: Set<Queue>): Promise<Error | null> | null {
  const m = qm.message;
  const admission = vhost.admission;
  const store = vhost.store;
  const persistent = m.properties?.persistent === true;
  const stored = store !== null && m.storeId !== 0 && source.durable;
  const durableTargets: string[] = [];
  if (store !== null && persistent) for (const t of targets) if (t.durable) durableTargets.push(t.name);
  if (!stored && durableTargets.length > 0) {
    // Not on disk for the source (a transient queue): it enters the durable ones as a new stored message.
    const copy = newMessage(m.exchange, m.routingKey, m.properties, m.body!);
    let done!: (err: Error | null) => void;
    const p = new Promise<Error | null>((resolve) => (done = resolve));
    const storing = admission.admit(copy, targets, null, { stored: (_t, err: WarrenError | null) => done(err) }, 0);
    admission.settled(source, qm);
    return storing ? p : null;
  }
  let p: Promise<Error | null> | null = null;
  let holders = targets;
  if (stored) {
    let done!: (err: Error | null) => void;
    p = new Promise<Error | null>((resolve) => (done = resolve));
    const added = store.move(m.storeId, source.name, durableTargets, { exchange: m.exchange, routingKey: m.routingKey, properties: m.properties, body: m.body! }, done);
    if (added === null) {
      p = null; // not live on the source in the store (cannot happen): moved in memory only
    } else if (added.length < durableTargets.length) {
      // A durable target that already holds this message gets a copy of its own, in memory only.
      holders = new Set(targets);
      for (const t of targets) {
        if (!t.durable || added.includes(t.name)) continue;
        holders.delete(t);
        admission.admit(newMessage(m.exchange, m.routingKey, m.properties, m.body!), new Set([t]), null, null, 0);
      }
    }
    for (const t of holders) if (!t.durable || !persistent) m.evictable = false;
  } else {
    m.evictable = false;
  }
  m.refs += holders.size;
  for (const t of holders) t.enqueue(m);
  // The source's ref goes; nothing is settled in the store for it (the move record did that).
  admission.release(m);
  return p;
}
