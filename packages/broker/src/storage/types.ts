/** Public shapes of the storage engine (the broker integrates against these). */
import type { MessageProperties } from '@warren/protocol';

export type SyncMode = 'always' | 'never';

export interface StorageLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

/**
 * Test-only fault and ordering hooks. A hook that throws or rejects is treated
 * exactly like the real write / fdatasync failing; a hook that returns a
 * pending promise holds the operation back (lets a test gate the sync).
 */
export interface StoreHooks {
  beforeWrite?: (segment: number, bytes: number) => void | Promise<void>;
  /**
   * Before a segment's fdatasync. A batch written through the segment's O_DSYNC handle is
   * synced by that write itself: then this runs once the write has returned, where the
   * fdatasync would (the bytes are durable, nothing is reported yet; a throw fails the batch).
   */
  beforeSync?: (segment: number) => void | Promise<void>;
  /**
   * Before the log writer opens a segment's O_DSYNC write handle: a throw or rejection is
   * treated like that open failing (EMFILE, ENFILE and EINVAL fall back to write + fdatasync).
   */
  beforeOpenDsync?: (segment: number) => void | Promise<void>;
  /** Before a segment file is deleted. */
  beforeRemove?: (segment: number) => void | Promise<void>;
  /** Before the fsync of the segment directory (which makes created and deleted names durable). */
  beforeSyncDir?: () => void | Promise<void>;
}

export interface StoreOptions {
  /** The data folder; segments live in dir/messages. */
  dir: string;
  /** Default 'always': durable (fdatasync'ed, or written with O_DSYNC) before any onDurable callback. */
  sync?: SyncMode;
  /** Default 64 MiB. */
  segmentSize?: number;
  logger?: StorageLogger;
  /** A write or fsync error: the store refuses all further work. */
  onFatal?: (err: Error) => void;
  hooks?: StoreHooks;
}

export interface MessageRecord {
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  body: Buffer;
}

export interface RecoveredMessage {
  id: number;
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  bodySize: number;
  /** Deliveries recorded before the restart (redelivered = deliveryCount > 0). */
  deliveryCount: number;
}

export interface RecoveryStats {
  /** Valid records scanned. */
  records: number;
  /** Bytes cut off torn / zero-filled segment tails. */
  truncatedBytes: number;
  /** Corrupt records skipped in the middle of a segment. */
  droppedRecords: number;
  durationMs: number;
  /** Live (unsettled) messages recovered. */
  messages: number;
}

/** Counters of the group-commit writer (tests and benchmarks read them). */
export interface WriteStats {
  /** Records handed to the writer. */
  records: number;
  /** write batches (one writev series each). */
  batches: number;
  /** Segment syncs: fdatasync calls and writes through an O_DSYNC handle. */
  syncs: number;
  /** Segments deleted and messages re-appended by compaction. */
  segmentsDeleted: number;
  compactedMessages: number;
}

export type TopologyArguments = Record<string, unknown>;

export interface TopologySnapshot {
  exchanges: Array<{
    name: string;
    type: string;
    durable: true;
    autoDelete: boolean;
    internal: boolean;
    alternateExchange?: string;
    arguments: TopologyArguments;
  }>;
  queues: Array<{ name: string; durable: true; autoDelete: boolean; arguments: TopologyArguments }>;
  bindings: Array<{
    kind: 'queue' | 'exchange';
    destination: string;
    source: string;
    routingKey: string;
    arguments: TopologyArguments | null;
  }>;
}
