/**
 * Dead-lettering: a message a queue gives up (rejected, expired, over its
 * length limit, past its delivery limit) is republished to the queue's
 * dead-letter exchange with an x-death record, as RabbitMQ does. The copy
 * enters its queues through admission like any publish.
 *
 * At-least-once: when the copy is stored, the source stays in storage until
 * the copy is durable, so a crash in between loses neither.
 */
import { newMessage, type Message, type QueuedMessage } from './message.js';
import type { Admission, StoreListener } from './admission.js';
import type { Logger } from './logger.js';
import type { DeathReason, Queue } from './queue.js';
import type { VirtualHost } from './vhost.js';

export class DeadLetters {
  constructor(
    private readonly vhost: VirtualHost,
    private readonly admission: Admission,
    private readonly logger: Logger,
  ) {}

  /** The queue gives qm up: route it to the dead-letter exchange, if any, then settle it. */
  deadLetter(queue: Queue, qm: QueuedMessage, reason: DeathReason): void {
    const m = qm.message;
    const admission = this.admission;
    if (queue.policy.deadLetterExchange === null || queue.deleted) {
      admission.settled(queue, qm);
      return;
    }
    if (m.body === null) {
      // Evicted to disk: read it back first. The message keeps its ref meanwhile.
      admission.loadBodies([m]).then(
        () => this.deadLetter(queue, qm, reason),
        () => admission.settled(queue, qm),
      );
      return;
    }
    const source: StoreListener = {
      stored: (_token, err) => {
        if (err === null) admission.settleInStore(queue, m);
      },
    };
    const durableCopy = this.republish(queue, m, reason, source);
    admission.release(m);
    if (!durableCopy) admission.settleInStore(queue, m);
  }

  /** x-overflow reject-publish-dlx: the refused message goes to the queue's dead-letter exchange. */
  refused(queue: Queue, message: Message): void {
    this.republish(queue, message, 'maxlen', null);
  }

  /**
   * Publishes a dead-lettered copy to the queue's dead-letter exchange with an
   * x-death record. Returns true when the copy is being stored: `copyStored`
   * hears when it is durable.
   */
  private republish(queue: Queue, m: Message, reason: DeathReason, copyStored: StoreListener | null): boolean {
    const policy = queue.policy;
    const exchange = policy.deadLetterExchange!;
    const routingKey = policy.deadLetterRoutingKey ?? m.routingKey;
    const properties = { ...(m.properties ?? {}) };
    const headers: Record<string, unknown> = { ...(properties.headers ?? {}) };
    if (properties.expiration !== undefined) {
      headers['original-expiration'] = properties.expiration;
      delete properties.expiration;
    }
    delete headers['x-delay'];
    delete headers['x-not-before'];
    recordDeath(headers, queue.name, reason, m);
    properties.headers = headers;
    let targets: Set<Queue>;
    try {
      // Its own set: a publish may still be walking the shared one.
      targets = this.vhost.route(exchange, routingKey, headers, new Set());
    } catch (err) {
      this.logger.warn({ queue: queue.name, exchange, err: (err as Error).message }, 'dead-letter exchange unavailable; message dropped');
      return false;
    }
    // A message expiring or overflowing back into its own queue would cycle forever.
    if (reason !== 'rejected') targets.delete(queue);
    // Queues that refuse the copy are skipped silently: there is no publisher to nack.
    const refused = this.admission.refusals(m, targets);
    if (refused !== null) for (const t of refused) targets.delete(t);
    if (targets.size === 0) return false;
    this.vhost.counters.deadLettered++;
    const copy = newMessage(exchange, routingKey, properties, m.body!);
    return this.admission.admit(copy, targets, null, copyStored, 0);
  }
}

/**
 * Adds or updates the x-death entry for (queue, reason), most recent first, as
 * RabbitMQ does; x-first-death-* keep where the message first died.
 */
function recordDeath(headers: Record<string, unknown>, queue: string, reason: DeathReason, m: Message): void {
  const deaths = Array.isArray(headers['x-death']) ? [...(headers['x-death'] as Array<Record<string, unknown>>)] : [];
  const i = deaths.findIndex((d) => d['queue'] === queue && d['reason'] === reason);
  const now = Date.now();
  if (i >= 0) {
    const entry = { ...deaths[i]!, count: Number(deaths[i]!['count'] ?? 0) + 1, time: now };
    deaths.splice(i, 1);
    deaths.unshift(entry);
  } else {
    deaths.unshift({ queue, reason, count: 1, time: now, exchange: m.exchange, 'routing-keys': [m.routingKey] });
  }
  headers['x-death'] = deaths;
  if (headers['x-first-death-queue'] === undefined) {
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-exchange'] = m.exchange;
  }
  headers['x-last-death-queue'] = queue;
  headers['x-last-death-reason'] = reason;
}
