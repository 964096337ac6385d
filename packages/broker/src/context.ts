import type { Frame } from '@warren/protocol';
import type { Logger } from './logger.js';
import type { UserStore } from './auth.js';
import type { VirtualHost } from './vhost.js';
import type { Message, QueuedMessage } from './message.js';
import type { Consumer, Queue } from './queue.js';
import type { Connection } from './connection.js';
import type { ResolvedOptions } from './options.js';
import type { MessageStore } from './storage/index.js';

/** What a connection needs from the broker. */
export interface BrokerContext {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly users: UserStore;
  readonly vhost: VirtualHost;
  readonly store: MessageStore | null;
  readonly serverProperties: Record<string, unknown>;
  /** Why publishers are blocked right now (memory or disk alarm), or null. */
  readonly publishBlockReason: string | null;
  /** Handles a request frame; returns the OK result, or NO_REPLY when it replied itself. */
  handleRequest(conn: Connection, frame: Frame): Promise<unknown>;
  /** Stores a persistent message for these durable queues; returns its store id. */
  persist(queues: string[], message: Message, onDurable: (err: Error | null) => void): number;
  /** Counts a newly published body against the memory budget. */
  accountBody(message: Message): void;
  /** A delivery was rejected or nacked without requeue. */
  rejected(queue: Queue, consumer: Consumer | null, qm: QueuedMessage): void;
  connectionClosed(conn: Connection): void;
}
