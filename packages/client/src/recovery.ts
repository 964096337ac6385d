/**
 * Topology recovery: after a reconnect, the recorded topology is replayed on
 * the new link in dependency order (exchanges, queues, exchange bindings,
 * queue bindings, consumers, key-value buckets and watches, stream consumers),
 * each stage pipelined. Items the broker refuses
 * are reported and dropped; RESOURCE_LOCKED (the broker has not yet noticed
 * that our old socket is gone and still holds its exclusive queue or
 * consumer) drops the link to try again on the next one.
 */
import { ErrorCodes, WarrenError, type QueueDeclareOptions, type QueueDeclareResult } from '@warren/protocol';
import type { Consumer } from './consumer.js';
import { ConnectionClosedError } from './errors.js';
import { sendRequest, type Link } from './link.js';
import { declareResult } from './replies.js';
import type { RecoveryItem } from './status.js';
import { sendBinding, type QueueRecord, type Topology } from './topology.js';
import type { KvRegistry, KvRequest } from './kv.js';
import type { StreamConsumers } from './stream-consumer.js';

/** What recovery reads and reports to, supplied by the Connection. */
export interface RecoveryTarget {
  readonly topology: Topology;
  /** Key-value buckets and watches, re-opened and resumed after the topology. */
  readonly kv: KvRegistry;
  /** Stream consumers, subscribed again last. */
  readonly streams: StreamConsumers;
  /** close() was called: consumers are not re-subscribed. */
  readonly closing: boolean;
  /** The link is still the connection's current one. */
  isCurrent(link: Link): boolean;
  /** An item was refused and dropped. */
  recoveryError(err: WarrenError, item: RecoveryItem): void;
  /** A server-named queue came back under a new name. */
  queueRenamed(oldName: string, newName: string): void;
}

/** Thrown inside recovery when its link is gone: the next link starts over. */
const LINK_GONE = Symbol('link gone');

const noop = (): void => {};

/**
 * Replays the topology on `link`. Resolves with the errors of the items that
 * were dropped, or null when the link went away meanwhile (nothing more to
 * do: the next link replays again). Rejects only on a bug.
 */
export async function recoverTopology(target: RecoveryTarget, link: Link): Promise<WarrenError[] | null> {
  const topo = target.topology;
  const recoveryErrors: WarrenError[] = [];
  const failed = (item: RecoveryItem, drop: (err: WarrenError) => void) => (err: unknown): void => {
    if (!target.isCurrent(link) || !(err instanceof WarrenError) || err instanceof ConnectionClosedError) throw LINK_GONE;
    if (err.code === ErrorCodes.RESOURCE_LOCKED) {
      link.transport.destroy(new ConnectionClosedError(`recovery: ${err.message}; retrying on a new connection`, { cause: err }));
      throw LINK_GONE;
    }
    drop(err);
    recoveryErrors.push(err);
    target.recoveryError(err, item);
  };
  const stage = async (jobs: Promise<unknown>[]): Promise<void> => {
    await Promise.all(jobs);
    if (!target.isCurrent(link)) throw LINK_GONE;
  };
  try {
    await stage(
      [...topo.exchanges.values()].map((x) =>
        sendRequest(link, (w, requestId) => w.exchangeDeclare(requestId, x.name, x.type, x.options), noop).catch(
          failed({ kind: 'exchange', name: x.name }, () => topo.exchangeDeleted(x.name)),
        ),
      ),
    );
    await stage(
      [...topo.queues.values()].map((q) =>
        recoverQueue(target, link, q).catch(failed({ kind: 'queue', name: q.name }, () => topo.queueDeleted(q.name))),
      ),
    );
    const bindings = [...topo.bindings.values()];
    for (const kind of ['exchange', 'queue'] as const) {
      await stage(
        bindings
          .filter((b) => b.kind === kind)
          .map((b) =>
            sendRequest(link, (w, requestId) => sendBinding(w, true, b, requestId), noop).catch(
              failed(
                { kind: 'binding', destinationKind: b.kind, destination: b.destination, source: b.source, routingKey: b.routingKey },
                () => topo.unbound(b),
              ),
            ),
          ),
      );
    }
    const consumers: Consumer[] = [];
    for (const c of topo.consumers.values()) {
      if (!c.established || c.isEnded) continue; // not started yet: its own consume() call sends it
      if (c.cancelRequested || target.closing) {
        topo.consumers.delete(c.tag);
        c.end(null, true);
        continue;
      }
      consumers.push(c);
    }
    await stage(
      consumers.map((c) => {
        c.consumeSent = true;
        return sendRequest(link, (w, requestId) => w.consume(requestId, c.queue, c.options), (r) => topo.consumeConfirmed(c, r)).catch(
          failed({ kind: 'consumer', tag: c.tag, queue: c.queue }, (err) => {
            if (topo.consumers.get(c.tag) === c) topo.consumers.delete(c.tag);
            c.end(err, true);
          }),
        );
      }),
    );
    const onLink: KvRequest = (send, map) => sendRequest(link, send, map);
    await stage(target.kv.recoverBuckets(onLink, (name) => failed({ kind: 'kv-bucket', name }, noop)));
    await stage(target.kv.recoverWatches(onLink, (w) => failed({ kind: 'kv-watch', bucket: w.bucket }, (err) => w.end(err))));
    await stage(
      target.streams.recover(onLink, (c) => failed({ kind: 'stream-consumer', tag: c.tag, stream: c.stream }, (err) => target.streams.drop(c, err))),
    );
  } catch (err) {
    if (err === LINK_GONE) return null;
    throw err;
  }
  return recoveryErrors;
}

/** A server-named queue: keep the old name if the queue survived (passive check), else declare a new one. */
async function recoverQueue(target: RecoveryTarget, link: Link, q: QueueRecord): Promise<void> {
  const declare = (name: string, options: QueueDeclareOptions): Promise<QueueDeclareResult> =>
    sendRequest(link, (w, requestId) => w.queueDeclare(requestId, name, options), (r) => declareResult(r, name));
  if (!q.serverNamed) {
    await declare(q.name, q.options);
    return;
  }
  if (q.options.exclusive !== true) {
    try {
      await declare(q.name, { ...q.options, passive: true });
      return;
    } catch (err) {
      if (!(err instanceof WarrenError) || (err.code !== ErrorCodes.NOT_FOUND && err.code !== ErrorCodes.RESOURCE_LOCKED)) throw err;
    }
  }
  const { queue } = await declare('', q.options);
  if (queue !== q.name) target.queueRenamed(q.name, queue);
}
