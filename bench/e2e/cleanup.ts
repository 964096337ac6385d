/**
 * What the benchmarks leave on the shared peers must go however a run ends:
 * RabbitMQ, NATS and Redis keep queues, streams and keys between runs (a
 * queue of millions of messages left behind skews every later run).
 *
 * TrackingDriver remembers the queues and exchanges (streams, keys) declared
 * through it and not deleted since; withSystem deletes them in its finally
 * block, and the cleanups registered here run on SIGINT / SIGTERM (run.ts),
 * when no finally block gets to run.
 */
import type { Delivered, Driver, PublishOpts, QueueOptions } from './drivers.js';

const cleanups = new Set<() => Promise<void>>();

/** Registers what to undo if the run is interrupted; call the returned function once it is undone. */
export function onInterrupt(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Runs every registered cleanup (side by side), for at most `timeoutMs`. */
export async function runInterruptCleanups(timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...cleanups].map((fn) => fn())),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}

export class TrackingDriver implements Driver {
  /** Declared and not deleted since. */
  readonly queues = new Set<string>();
  readonly exchanges = new Set<string>();

  readonly messageCount?: (name: string, durable: boolean) => Promise<number>;

  constructor(private readonly d: Driver) {
    if (d.messageCount !== undefined) this.messageCount = (name, durable) => d.messageCount!(name, durable);
  }

  get system() {
    return this.d.system;
  }
  get confirms() {
    return this.d.confirms;
  }
  get serverProperties() {
    return this.d.serverProperties;
  }
  get blocked() {
    return this.d.blocked;
  }
  async declareQueue(name: string, durable: boolean, opts?: QueueOptions): Promise<void> {
    // Noted first: a declare that fails half-way may still have created it.
    this.queues.add(name);
    await this.d.declareQueue(name, durable, opts);
  }
  async deleteQueue(name: string): Promise<void> {
    await this.d.deleteQueue(name);
    this.queues.delete(name);
  }
  purgeQueue(name: string): Promise<void> {
    return this.d.purgeQueue(name);
  }
  async declareExchange(name: string, type: 'fanout' | 'topic' | 'direct'): Promise<void> {
    this.exchanges.add(name);
    await this.d.declareExchange(name, type);
  }
  async deleteExchange(name: string): Promise<void> {
    await this.d.deleteExchange(name);
    this.exchanges.delete(name);
  }
  bindQueue(queue: string, exchange: string, key: string): Promise<void> {
    return this.d.bindQueue(queue, exchange, key);
  }
  publish(exchange: string, key: string, body: Buffer, opts: PublishOpts): Promise<void> | undefined {
    return this.d.publish(exchange, key, body, opts);
  }
  consume(queue: string, prefetch: number, handler: (m: Delivered) => void, from?: string): Promise<void> {
    return this.d.consume(queue, prefetch, handler, from);
  }
  close(): Promise<void> {
    return this.d.close();
  }

  /**
   * Deletes what is left. When this connection cannot (closed by the broker, say),
   * `reopen` gives a fresh one for another try. Returns what could not be deleted.
   */
  async dropAll(reopen?: () => Promise<Driver>): Promise<string[]> {
    if (this.queues.size === 0 && this.exchanges.size === 0) return [];
    const attempt = async (d: Driver): Promise<string[]> => {
      const failed: string[] = [];
      for (const q of [...this.queues]) await d.deleteQueue(q).then(() => this.queues.delete(q), () => failed.push(`queue ${q}`));
      for (const e of [...this.exchanges]) await d.deleteExchange(e).then(() => this.exchanges.delete(e), () => failed.push(`exchange ${e}`));
      return failed;
    };
    const failed = await attempt(this.d);
    if (failed.length === 0 || reopen === undefined) return failed;
    let fresh: Driver | undefined;
    try {
      fresh = await reopen();
      return await attempt(fresh);
    } catch {
      return failed;
    } finally {
      await fresh?.close().catch(() => {});
    }
  }
}
