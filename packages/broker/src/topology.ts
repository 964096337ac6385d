/**
 * The topology's life beyond the vhost's rules: saving it after a durable
 * change, dropping the stored messages of a removed queue (durably, before a
 * topology that may reuse the name is saved), exclusive queues that die with
 * their connection, and auto-deleted queues.
 */
import type { Logger } from './logger.js';
import type { Queue } from './queue.js';
import type { VirtualHost } from './vhost.js';
import type { MessageStore, TopologyStore } from './storage/index.js';

export interface TopologyHost {
  readonly store: MessageStore | null;
  readonly topologyStore: TopologyStore | null;
}

export class Topology {
  /** Exclusive queues by the connection (session) owning them. */
  private readonly exclusive = new Map<object, Set<Queue>>();

  constructor(
    readonly vhost: VirtualHost,
    private readonly host: TopologyHost,
    private readonly logger: Logger,
  ) {}

  /** Saves the durable part of the topology (no-op in memory). */
  async save(): Promise<void> {
    const store = this.host.topologyStore;
    // A vhost being deleted loses everything anyway; its folder is going away under the save.
    if (store === null || this.vhost.deleted) return;
    await store.save(this.vhost.snapshot());
  }

  /** A queue was declared: remember an exclusive owner, save a durable one. */
  async created(queue: Queue): Promise<void> {
    if (queue.owner !== null) {
      let owned = this.exclusive.get(queue.owner);
      if (owned === undefined) this.exclusive.set(queue.owner, (owned = new Set()));
      owned.add(queue);
    }
    // Exclusive queues die with their connection, so they are never saved.
    if (queue.durable && !queue.options.exclusive) await this.save();
  }

  /** A connection closed: its exclusive queues go. */
  ownerClosed(owner: object): void {
    const owned = this.exclusive.get(owner);
    if (owned === undefined) return;
    this.exclusive.delete(owner);
    for (const q of owned) {
      this.vhost.removeQueue(q, `exclusive queue '${q.name}' was deleted with its owner's connection`);
      this.removedInBackground(q);
    }
  }

  /** An auto-delete queue lost its last consumer, or an x-expires queue went unused. */
  autoDelete(queue: Queue, reason: string): void {
    this.logger.info({ vhost: this.vhost.name, queue: queue.name, reason }, 'queue deleted');
    this.vhost.removeQueue(queue, reason);
    this.removedInBackground(queue);
  }

  /** removed() with nobody to answer: a failure is logged (the storage failure itself stops the broker). */
  private removedInBackground(queue: Queue): void {
    this.removed(queue).catch((err: unknown) =>
      this.logger.error({ vhost: this.vhost.name, queue: queue.name, err }, 'a removed queue could not be dropped from storage'),
    );
  }

  /** After the vhost removed a queue: drop its stored messages, then save the topology. */
  async removed(queue: Queue): Promise<void> {
    const store = this.host.store;
    if (!queue.durable || store === null || this.vhost.deleted) return;
    // The drop must be durable before a topology that may reuse the name is.
    await new Promise<void>((resolve, reject) => store.dropQueue(queue.name, (err) => (err === null ? resolve() : reject(err))));
    if (!queue.options.exclusive) await this.save();
  }
}
