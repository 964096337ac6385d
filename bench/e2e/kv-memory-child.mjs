/**
 * Memory per key of Warren's bucket engine, in a process of its own (run with
 * --expose-gc by kv.ts): the heap plus ArrayBuffer bytes held after putting N
 * keys of 100 B into an in-memory bucket, minus what was held before, over N.
 * A durable bucket holds the same in memory (values are kept in memory, the
 * log is for recovery). argv: <keys>. Sends { bytesPerKey } over IPC.
 */
import { KvStore } from '@warren/broker';

const keys = Number(process.argv[2] ?? 1_000_000);
const gc = /** @type {() => void} */ (globalThis.gc);
const held = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const store = await KvStore.open({ dir: null, timers: false, logger: { info() {}, warn() {}, error() {} } });
const { bucket } = await store.create('mem', { durable: false });
const value = Buffer.alloc(100, 120);
const before = held();
for (let i = 0; i < keys; i++) await bucket.put(`task.${i}`, value);
const after = held();
if (bucket.size !== keys) throw new Error(`expected ${keys} keys, found ${bucket.size}`);
process.send?.({ bytesPerKey: Math.round((after - before) / keys) });
await store.close();
process.disconnect?.();
