import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageStore, type StoreOptions } from '../../src/storage/index.js';

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

export function captureLogger(): { lines: LogLine[]; info: (o: object, m?: string) => void; warn: (o: object, m?: string) => void; error: (o: object, m?: string) => void } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

export function open(dir: string, extra: Partial<StoreOptions> = {}): Promise<MessageStore> {
  return MessageStore.open({ dir, logger: captureLogger(), ...extra });
}

/** Appends and resolves with the id once onDurable reports success. */
export function put(store: MessageStore, queues: string[], body: Buffer | string, routingKey = 'rk'): Promise<number> {
  return new Promise((resolve, reject) => {
    const id = store.append(
      queues,
      { exchange: 'ex', routingKey, properties: { contentType: 'text/plain', headers: { n: 1 } }, body: Buffer.isBuffer(body) ? body : Buffer.from(body) },
      (err) => (err ? reject(err) : resolve(id)),
    );
  });
}

export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'messages'))).filter((n) => n.endsWith('.seg')).sort();
}

export function ids(store: MessageStore, queue: string): number[] {
  return (store.recovered().get(queue) ?? []).map((m) => m.id);
}

/** Deterministic pseudo-random numbers in [0, 1) (xorshift32). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/** n pseudo-random bytes from r. */
export function bytes(n: number, r: () => number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}
