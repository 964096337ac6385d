/**
 * The ready messages of one queue, in delivery order.
 *
 * Each priority level keeps arrival order in a ring buffer, plus a short side
 * list of requeued messages sorted by their original position; the next
 * message is the earlier of the two heads, so a requeue goes back exactly where
 * it was without shifting a long backlog. Messages removed out of order (TTL
 * expiry) are tombstoned (ready=false) and skipped; tombstones are compacted away once they
 * outnumber live entries, so a long-lived head cannot pin a pile of them.
 */
import { Deque } from './deque.js';
import type { QueuedMessage } from './message.js';

class Level {
  readonly ready = new Deque<QueuedMessage>();
  requeued: QueuedMessage[] = [];
  /** Tombstoned entries still physically present. */
  dead = 0;

  peek(): QueuedMessage | undefined {
    const r = this.requeued[0];
    const h = this.ready.peek();
    return r !== undefined && (h === undefined || r.seq < h.seq) ? r : h;
  }

  shift(): QueuedMessage | undefined {
    const r = this.requeued[0];
    const h = this.ready.peek();
    if (r !== undefined && (h === undefined || r.seq < h.seq)) return this.requeued.shift();
    return this.ready.shift();
  }

  insertSorted(qm: QueuedMessage): void {
    const list = this.requeued;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.seq < qm.seq) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, qm);
  }

  get physical(): number {
    return this.ready.length + this.requeued.length;
  }

  compact(): void {
    const live = new Deque<QueuedMessage>(Math.max(16, this.ready.length - this.dead));
    for (const qm of this.ready) if (qm.ready) live.push(qm);
    (this as { ready: Deque<QueuedMessage> }).ready = live;
    this.requeued = this.requeued.filter((qm) => qm.ready);
    this.dead = 0;
  }
}

export class MessageList {
  private readonly levels: Level[];
  private live = 0;
  /** Bytes of bodies of live entries (for x-max-length-bytes). */
  bytes = 0;

  /** maxPriority 0 = no priorities (one level). */
  constructor(readonly maxPriority: number) {
    this.levels = Array.from({ length: maxPriority + 1 }, () => new Level());
  }

  get length(): number {
    return this.live;
  }

  private levelOf(qm: QueuedMessage): Level {
    if (this.maxPriority === 0) return this.levels[0]!;
    const p = qm.message.properties?.priority ?? 0;
    return this.levels[p > this.maxPriority ? this.maxPriority : p]!;
  }

  push(qm: QueuedMessage): void {
    qm.ready = true;
    this.levelOf(qm).ready.push(qm);
    this.live++;
    this.bytes += qm.message.bodySize;
  }

  /** Back to its original position (by seq) within its priority level. */
  requeue(qm: QueuedMessage): void {
    qm.ready = true;
    this.levelOf(qm).insertSorted(qm);
    this.live++;
    this.bytes += qm.message.bodySize;
  }

  /** The next live message without removing it. */
  peek(): QueuedMessage | undefined {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const level = this.levels[i]!;
      for (;;) {
        const qm = level.peek();
        if (qm === undefined) break;
        if (qm.ready) return qm;
        level.shift();
        level.dead--;
      }
    }
    return undefined;
  }

  shift(): QueuedMessage | undefined {
    const qm = this.peek();
    if (qm === undefined) return undefined;
    this.levelOf(qm).shift();
    qm.ready = false;
    this.live--;
    this.bytes -= qm.message.bodySize;
    return qm;
  }

  /** Removes a message from anywhere in the list (expiry). */
  remove(qm: QueuedMessage): void {
    if (!qm.ready) return;
    qm.ready = false;
    this.live--;
    this.bytes -= qm.message.bodySize;
    const level = this.levelOf(qm);
    level.dead++;
    if (level.dead > 1024 && level.dead > level.physical / 2) level.compact();
  }

  /** Removes and returns every live message, in delivery order. */
  drain(): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    for (let qm = this.shift(); qm !== undefined; qm = this.shift()) out.push(qm);
    return out;
  }

  /** Live messages in delivery order, lazily (callers stop early). */
  *iterate(): IterableIterator<QueuedMessage> {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const level = this.levels[i]!;
      const requeued = level.requeued;
      let r = 0;
      for (const qm of level.ready) {
        while (r < requeued.length && requeued[r]!.seq < qm.seq) {
          const q = requeued[r++]!;
          if (q.ready) yield q;
        }
        if (qm.ready) yield qm;
      }
      while (r < requeued.length) {
        const q = requeued[r++]!;
        if (q.ready) yield q;
      }
    }
  }
}
