export type {
  SyncMode,
  StoreOptions,
  StoreHooks,
  StorageLogger,
  MessageRecord,
  RecoveredMessage,
  RecoveryStats,
  WriteStats,
  TopologySnapshot,
} from './types.js';
export { MessageStore, DEFAULT_SEGMENT_SIZE } from './message-store.js';
export { TopologyStore, SnapshotFile, type SnapshotKind } from './topology-store.js';
export { DiskMonitor, type StatfsFn } from './disk-monitor.js';
export { BucketHistogram, FSYNC_BUCKETS, BATCH_BUCKETS } from './histogram.js';
