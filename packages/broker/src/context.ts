import type { Frame } from '@warren/protocol';
import type { Logger } from './logger.js';
import type { UserStore } from './auth.js';
import type { VirtualHost } from './vhost.js';
import type { Message } from './message.js';
import type { Queue } from './queue.js';
import type { Connection } from './connection.js';
import type { ResolvedOptions } from './options.js';
import type { MessageStore } from './storage/index.js';
import type { Streams } from './streams/streams.js';

/** What a connection needs from the broker. */
export interface BrokerContext {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly users: UserStore;
  readonly vhost: VirtualHost;
  readonly store: MessageStore | null;
  /** The streams (null when the broker keeps nothing on disk). */
  readonly streams: Streams | null;
  readonly serverProperties: Record<string, unknown>;
  /** Why publishers are blocked right now (memory or disk alarm), or null. */
  readonly publishBlockReason: string | null;
  /** Handles a request frame; returns the OK result, or NO_REPLY when it replied itself. */
  handleRequest(conn: Connection, frame: Frame): Promise<unknown>;
  /** Stores a persistent message for these durable queues; returns its store id. */
  persist(queues: string[], message: Message, onDurable: (err: Error | null) => void): number;
  /** Counts a newly published body against the memory budget. */
  accountBody(message: Message): void;
  /** Releases the memory of a message no queue took. */
  releaseBody(message: Message): void;
  /** x-overflow reject-publish-dlx: the refused message goes to the queue's dead-letter exchange. */
  deadLetterRefused(queue: Queue, message: Message): void;
  connectionClosed(conn: Connection): void;
}
