/**
 * Admission: how a message enters queues and how it leaves memory again.
 *
 * Publishes (handlers/publish.ts) and dead-lettered copies (dead-letter.ts)
 * both come in through admit(): queues at their length limit refuse it
 * (x-overflow reject-publish*), a persistent message is stored once for every
 * durable queue that takes it, its body is counted against the memory budget,
 * and `refs` counts the queues holding it. The same module counts them down
 * (settled/release) and frees the body at zero, so the life of a message's
 * memory reads in one file. A confirm for a stored message waits for its
 * fsync: the StoreListener hears about it then.
 */
import type { WarrenError } from '@warren/protocol';
import { errors } from './errors.js';
import type { Logger } from './logger.js';
import type { MemoryBudget } from './memory.js';
import type { Message, QueuedMessage } from './message.js';
import type { Queue } from './queue.js';
import type { MessageRecord, MessageStore, RecoveredMessage } from './storage/index.js';

/** Hears once the durable write of an admitted message has finished. */
export interface StoreListener {
  /** err: the storage failure, else the refusal of a queue that did not take it, else null (confirm). */
  stored(token: number, err: WarrenError | null): void;
}

export interface AdmissionHost {
  /** null while in memory only (no data folder). */
  readonly store: MessageStore | null;
  readonly logger: Logger;
}

export class Admission {
  private readonly oneQueue: string[] = [''];
  constructor(
    private readonly host: AdmissionHost,
    private readonly memory: MemoryBudget,
  ) {}

  // -- entering queues -------------------------------------------------------

  /**
   * The queues that refuse this message (x-overflow reject-publish(-dlx) at
   * their limit), or null. Decided once per queue, before anything is stored
   * or enqueued; allocates only when one refuses.
   */
  refusals(message: Message, queues: Set<Queue>): Queue[] | null {
    let refused: Queue[] | null = null;
    for (const q of queues) if (q.rejectsPublish(message)) (refused ??= []).push(q);
    return refused;
  }

  /** The error a refused publish is nacked with. */
  refusal(refused: Queue[]): WarrenError {
    return errors.queueFull(refused[0]!.name, refused[0]!.policy.overflow);
  }

  /**
   * Enqueues the message on every queue except the refused ones. Returns true
   * when a durable write is under way: `listener.stored(token, ...)` is then
   * called once it is fsynced (or failed). A message no queue took keeps its
   * body accounted until dropUnclaimed().
   */
  admit(message: Message, queues: Set<Queue>, refused: Queue[] | null, listener: StoreListener | null, token: number): boolean {
    const accepted = queues.size - (refused === null ? 0 : refused.length);
    const store = this.host.store;
    let durable: string[] | null = null;
    if (store !== null && message.properties?.persistent === true) {
      if (queues.size === 1 && refused === null) {
        // The common case without an array per message (store.append does not keep it).
        for (const q of queues) {
          if (!q.durable) break;
          durable = this.oneQueue;
          durable[0] = q.name;
        }
      } else {
        for (const q of queues) if (q.durable && (refused === null || !refused.includes(q))) (durable ??= []).push(q.name);
      }
    }
    if (durable !== null) {
      // Only a message every holder keeps on disk may leave memory before delivery.
      message.evictable = durable.length === accepted;
      message.storeId = this.persist(store!, durable, message, refused, listener, token);
    }
    message.refs = accepted;
    this.memory.add(message.bodySize);
    if (refused === null) {
      for (const q of queues) q.enqueue(message);
    } else {
      for (const q of queues) if (!refused.includes(q)) q.enqueue(message);
    }
    return durable !== null;
  }

  private persist(
    store: MessageStore,
    queues: string[],
    message: Message,
    refused: Queue[] | null,
    listener: StoreListener | null,
    token: number,
  ): number {
    // The message itself is the record (no object literal per message): its body is set until it is durable.
    return store.append(
      queues,
      message as MessageRecord,
      (err) => {
        if (err === null) {
          message.durable = true;
          this.evictIfOverBudget(message);
        }
        if (listener === null) return;
        if (err !== null) listener.stored(token, errors.storage(`message not stored: ${err.message}`));
        else listener.stored(token, refused === null ? null : this.refusal(refused));
      },
    );
  }

  /** Past the budget, a durable body lives on disk only until it is delivered. */
  evictIfOverBudget(message: Message): void {
    if (message.evictable && message.body !== null && message.refs > 0 && this.memory.overBudget) {
      message.body = null;
      this.memory.release(message.bodySize);
    }
  }

  /** A message recovered from the store at start, back in its queue (body on disk). */
  readmit(queue: Queue, r: RecoveredMessage, exchange: string, routingKey: string): void {
    const message: Message = {
      exchange,
      routingKey,
      properties: r.properties,
      body: null,
      bodySize: r.bodySize,
      storeId: r.id,
      refs: 1,
      durable: true,
      evictable: true,
    };
    queue.enqueue(message, r.deliveryCount);
  }

  // -- leaving queues --------------------------------------------------------

  /** The queue no longer holds qm: settle it in storage, release the memory at the last holder. */
  settled(queue: Queue, qm: QueuedMessage): void {
    this.settleInStore(queue, qm.message);
    this.release(qm.message);
  }

  /** Marks the message done for this queue in storage (its record may then be compacted). */
  settleInStore(queue: Queue, m: Message): void {
    if (m.storeId !== 0 && queue.durable && !queue.deleted) this.host.store?.settle(queue.name, m.storeId);
  }

  /** One holder fewer; the body's memory goes at zero. */
  release(m: Message): void {
    if (--m.refs === 0 && m.body !== null) {
      m.body = null;
      this.memory.release(m.bodySize);
    }
  }

  /** Frees the body of a message that no queue took (every queue refused it). */
  dropUnclaimed(m: Message): void {
    if (m.refs === 0 && m.body !== null) {
      m.body = null;
      this.memory.release(m.bodySize);
    }
  }

  /** Records a delivery attempt in storage (durable queues), so redelivery survives a restart. */
  delivering(queue: Queue, qm: QueuedMessage): void {
    const id = qm.message.storeId;
    if (id !== 0 && queue.durable) this.host.store?.delivered(queue.name, id);
  }

  /** Reads evicted bodies back from disk before they are delivered. */
  async loadBodies(messages: Message[]): Promise<void> {
    const store = this.host.store;
    if (store === null) return;
    await Promise.all(
      messages.map(async (m) => {
        if (m.body !== null) return;
        try {
          const body = await store.readBody(m.storeId);
          if (m.body === null && m.refs > 0) {
            m.body = body;
            this.memory.reloaded(m.bodySize);
          }
        } catch (err) {
          this.host.logger.error({ err, id: m.storeId }, 'could not read a stored message body');
          throw err;
        }
      }),
    );
  }
}
