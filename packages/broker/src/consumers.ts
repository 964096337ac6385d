/**
 * One connection's consumers, by consumer tag. CONSUME adds one, CANCEL or
 * the queue's deletion removes it, and closing the connection removes them
 * all (before its unacked deliveries are requeued, so they do not come
 * straight back to a consumer that is going away).
 */
import { errors } from './errors.js';
import { Consumer, type DeliverySink, type Queue } from './queue.js';

export class ConsumerSet {
  private readonly byTag = new Map<string, Consumer>();
  private counter = 0;

  constructor(
    private readonly sink: DeliverySink,
    /** Generated tags are `ctag-<prefix>-<n>`. */
    private readonly tagPrefix: string,
  ) {}

  get size(): number {
    return this.byTag.size;
  }

  add(queue: Queue, tag: string | undefined, prefetch: number, noAck: boolean, exclusive: boolean): Consumer {
    const consumerTag = tag === undefined || tag === '' ? `ctag-${this.tagPrefix}-${++this.counter}` : tag;
    if (this.byTag.has(consumerTag)) throw errors.preconditionFailed(`consumer tag '${consumerTag}' is already in use on this connection`);
    const consumer = new Consumer(consumerTag, queue, this.sink, prefetch, noAck, exclusive);
    queue.addConsumer(consumer);
    this.byTag.set(consumerTag, consumer);
    return consumer;
  }

  cancel(tag: string): void {
    const consumer = this.byTag.get(tag);
    if (consumer === undefined) throw errors.notFound(`consumer '${tag}'`);
    this.byTag.delete(tag);
    consumer.queue.removeConsumer(consumer);
  }

  /** The queue cancelled this consumer (deleted); false when it was no longer ours. */
  forget(consumer: Consumer): boolean {
    if (this.byTag.get(consumer.tag) !== consumer) return false;
    this.byTag.delete(consumer.tag);
    return true;
  }

  /** The socket drained: every queue we consume from may deliver again. */
  drainQueues(): void {
    for (const c of this.byTag.values()) c.queue.drain();
  }

  removeAll(): void {
    for (const c of this.byTag.values()) c.queue.removeConsumer(c);
    this.byTag.clear();
  }
}
