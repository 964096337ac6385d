/** Key-value buckets: the engine (bucket.ts), its log (kv-store.ts) and names (keys.ts). */
export { KvStore, DEFAULT_KV_SEGMENT_SIZE, type KvStoreOptions, type BucketInfo, type KvRecoveryStats } from './kv-store.js';
export { Bucket, type Revision, type KvOp, type PutOptions, type DeleteOptions, type WatchOptions, type WatchListener, type Watch } from './bucket.js';
export { bucketConfig, type BucketOptions, type BucketConfig, type CreateOptions, MAX_HISTORY } from './options.js';
export { KvSession, KvEntryReply, KvWatchReply, type FrameOut } from './kv-session.js';
export { checkKey, checkBucketName, keyMatcher, type KeyFilter } from './keys.js';
