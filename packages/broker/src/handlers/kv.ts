/**
 * Key-value bucket requests (spec section 8.7): each frame goes to the
 * connection's KvSession, which calls the broker's KvStore. KV_GET answers
 * with KV_ENTRY (a FrameReply) and KV_WATCH sends the current values right
 * after its OK (an AfterReply). A connection that puts is blocked by the
 * memory and disk alarms like a publisher (streams take their appends through
 * PUBLISH, so they are blocked already).
 */
import { FrameType } from '@warren/protocol';
import { AfterReply, Answer, FrameReply, type DispatchTable } from '../dispatch.js';

export function registerKvHandlers(table: DispatchTable): void {
  table.register(FrameType.KV_BUCKET_CREATE, Answer.Reply, 'configure', (f, s) => s.kv.createBucket(f.bucket, f.options));
  table.register(FrameType.KV_BUCKET_DELETE, Answer.Reply, 'configure', (f, s) => s.kv.deleteBucket(f.bucket));
  table.register(FrameType.KV_BUCKET_LIST, Answer.Reply, 'monitor', (_f, s) => s.kv.listBuckets());
  // A put adds data as a publish does: the memory and disk alarms block its connection (FLOW) like a publisher's.
  table.register(FrameType.KV_PUT, Answer.Reply, 'write', (f, s) => s.kv.putFrame(f.bucket, f.key, f.options, f.body, f.requestId), true);
  table.register(FrameType.KV_DELETE, Answer.Reply, 'write', (f, s) => s.kv.delete(f.bucket, f.key, f.options, f.requestId));
  table.register(FrameType.KV_GET, Answer.Reply, 'read', (f, s) => {
    const entry = s.kv.get(f.bucket, f.key, f.revision);
    return entry === null ? null : new FrameReply((requestId) => s.kv.sendEntry(requestId, entry));
  });
  table.register(FrameType.KV_KEYS, Answer.Reply, 'read', (f, s) => s.kv.keys(f.bucket, f.filter));
  table.register(FrameType.KV_HISTORY, Answer.Reply, 'read', (f, s) => s.kv.history(f.bucket, f.key));
  table.register(FrameType.KV_WATCH, Answer.Reply, 'read', (f, s) => {
    s.checkConsumerRoom();
    const w = s.kv.watch(f.bucket, f.filter, f.options);
    return new AfterReply(w.result, w.sendInitial);
  });
  table.register(FrameType.KV_UNWATCH, Answer.Reply, 'read', (f, s) => s.kv.unwatch(f.watchId));
}
