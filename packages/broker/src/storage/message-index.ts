/**
 * The in-memory index of live (unsettled) messages: id -> where its latest record
 * is (segment, offset, length) and which queues still hold it, with their delivery
 * counts. No bodies, no metadata: ~100 B per message. Also keeps the live count and
 * live bytes of every segment, which drive segment deletion and compaction.
 *
 * Invariant used by compaction: Map insertion order == log order of the record an
 * entry points at (new messages are appended, moved ones are deleted and re-set).
 */

export class IndexEntry {
  constructor(
    public seg: number,
    public off: number,
    public len: number,
    /** One queue (the common case, no array) or several. */
    public q: string | string[],
    public dc: number | number[],
    /** Recovery only: the message's metadata until the recovered lists are built. */
    public m: object | null = null,
  ) {}
}

export interface SegmentLive {
  count: number;
  bytes: number;
}

export class MessageIndex {
  private readonly entries = new Map<number, IndexEntry>();
  private readonly perSegment = new Map<number, SegmentLive>();
  /** The perSegment entry used last (nearly always the head's): spares a Map lookup per add and remove. Seg -1: none. */
  private lastSeg = -1;
  private lastLive: SegmentLive = { count: 0, bytes: 0 };
  private readonly names = new Map<string, string>();
  /** The name intern() returned last (nearly always the same queue): spares a Map lookup per add. */
  private lastName: string | null = null;
  /** Sum of the record lengths of all live messages. */
  liveBytes = 0;

  get size(): number {
    return this.entries.size;
  }

  get(id: number): IndexEntry | undefined {
    return this.entries.get(id);
  }

  [Symbol.iterator](): IterableIterator<[number, IndexEntry]> {
    return this.entries.entries();
  }

  /** One shared string per queue name (recovery would otherwise hold a copy per message). */
  intern(name: string): string {
    const last = this.lastName;
    if (name === last) return last;
    let known = this.names.get(name);
    if (known === undefined) this.names.set(name, (known = name));
    this.lastName = known;
    return known;
  }

  /** Adds a message, or moves it (compaction copy / recovery replay): replaces its state. */
  place(id: number, seg: number, off: number, len: number, queues: readonly string[], counts: readonly number[] | null): IndexEntry | undefined {
    this.remove(id);
    return this.add(id, seg, off, len, queues, counts);
  }

  /** Adds a message whose id the index cannot hold yet (skips place's lookup: a miss in a big Map is slow). */
  add(id: number, seg: number, off: number, len: number, queues: readonly string[], counts: readonly number[] | null): IndexEntry | undefined {
    if (queues.length === 0) return undefined;
    // No closures in here (one referring to `this` or an argument costs a context on every call).
    const e = queues.length === 1 ? new IndexEntry(seg, off, len, this.intern(queues[0]!), counts?.[0] ?? 0) : this.entryOfMany(seg, off, len, queues, counts);
    this.entries.set(id, e);
    const s = this.segmentLive(seg);
    if (s) {
      s.count++;
      s.bytes += len;
    } else {
      this.lastLive = { count: 1, bytes: len };
      this.lastSeg = seg;
      this.perSegment.set(seg, this.lastLive);
    }
    this.liveBytes += len;
    return e;
  }

  /** perSegment.get(seg), through the one-entry cache. */
  private segmentLive(seg: number): SegmentLive | undefined {
    if (seg === this.lastSeg) return this.lastLive;
    const s = this.perSegment.get(seg);
    if (s !== undefined) {
      this.lastSeg = seg;
      this.lastLive = s;
    }
    return s;
  }

  private entryOfMany(seg: number, off: number, len: number, queues: readonly string[], counts: readonly number[] | null): IndexEntry {
    const q = queues.map((n) => this.intern(n));
    const dc = queues.map((_, i) => counts?.[i] ?? 0);
    return new IndexEntry(seg, off, len, q, dc);
  }

  /** Forgets a message entirely. Returns the entry it had, if any. */
  remove(id: number): IndexEntry | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    this.removeEntry(id, e);
    return e;
  }

  /** remove() of an entry already looked up. */
  private removeEntry(id: number, e: IndexEntry): void {
    this.entries.delete(id);
    const s = this.segmentLive(e.seg)!;
    s.count--;
    s.bytes -= e.len;
    if (s.count === 0) {
      this.perSegment.delete(e.seg);
      if (this.lastSeg === e.seg) this.lastSeg = -1;
    }
    this.liveBytes -= e.len;
  }

  /**
   * Drops queue's reference to id. Returns 'none' (no such live ref), 'ref' (other
   * queues still hold it) or the segment number the now-dead message lived in.
   */
  removeQueue(id: number, queue: string): 'none' | 'ref' | number {
    const e = this.entries.get(id);
    if (!e) return 'none';
    if (typeof e.q === 'string') {
      if (e.q !== queue) return 'none';
      this.removeEntry(id, e);
      return e.seg;
    }
    const i = e.q.indexOf(queue);
    if (i < 0) return 'none';
    if (e.q.length === 2) {
      e.q = e.q[1 - i]!;
      e.dc = (e.dc as number[])[1 - i]!;
    } else {
      e.q.splice(i, 1);
      (e.dc as number[]).splice(i, 1);
    }
    return 'ref';
  }

  /** Removes queue from every message; calls onDead for each message that died. */
  dropQueue(queue: string, onDead?: (id: number, seg: number) => void): number {
    let refs = 0;
    for (const [id, e] of this.entries) {
      const holds = typeof e.q === 'string' ? e.q === queue : e.q.includes(queue);
      if (!holds) continue;
      refs++;
      const r = this.removeQueue(id, queue);
      if (typeof r === 'number') onDead?.(id, r);
    }
    this.names.delete(queue);
    if (this.lastName === queue) this.lastName = null;
    return refs;
  }

  /** Counts one delivery of id on queue. False when there is no such live ref. */
  delivered(id: number, queue: string): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    if (typeof e.q === 'string') {
      if (e.q !== queue) return false;
      (e.dc as number)++;
      return true;
    }
    const i = e.q.indexOf(queue);
    if (i < 0) return false;
    (e.dc as number[])[i]!++;
    return true;
  }

  live(seg: number): SegmentLive {
    return this.perSegment.get(seg) ?? { count: 0, bytes: 0 };
  }

  /**
   * Ids whose latest record is in seg, which must be the oldest segment holding
   * live messages: by the ordering invariant they are a prefix of the map.
   */
  idsInOldestSegment(seg: number): number[] {
    const ids: number[] = [];
    for (const [id, e] of this.entries) {
      if (e.seg !== seg) break;
      ids.push(id);
    }
    return ids;
  }
}

export function queuesOf(e: IndexEntry): string[] {
  return typeof e.q === 'string' ? [e.q] : e.q.slice();
}
export function countsOf(e: IndexEntry): number[] {
  return typeof e.dc === 'number' ? [e.dc] : e.dc.slice();
}
