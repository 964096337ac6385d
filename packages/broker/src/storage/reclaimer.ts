/**
 * Gives disk space back: deletes dead segments and compacts the oldest one.
 *
 * Deletion only ever happens at the OLD end of the log. Settlement and drop records
 * refer back to messages in older segments; deleting a newer segment first would let a
 * crash + recovery resurrect those messages. Deleting the oldest dead segment is always
 * safe: nothing it holds can still matter, and nothing older exists.
 *
 * A few long-unacked messages would then pin every segment after theirs, so the oldest
 * segment is compacted when it is mostly dead and pins dead data: its live messages are
 * re-appended at the head as COPY records (same id, current queues and delivery
 * counts), synced, and only then is the old segment deleted.
 */
import { encodeMessage, messageLayout, recordId, RecordType, validRecordAt } from './format.js';
import type { LogWriter, SegmentState } from './log-writer.js';
import { countsOf, queuesOf, type MessageIndex } from './message-index.js';
import type { SegmentFiles } from './segment-files.js';
import type { StorageLogger, WriteStats } from './types.js';

/** Compaction reads the old segment in spans of at most this many bytes. */
const SPAN_MAX = 4 * 1024 * 1024;

export interface ReclaimerContext {
  index: MessageIndex;
  writer: LogWriter;
  files: SegmentFiles;
  logger: StorageLogger;
  segmentSize: number;
  stats: WriteStats;
}

export class Reclaimer {
  private scheduled = false;
  private again = false;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Segments whose compaction hit a checksum failure: left alone rather than lose the message. */
  private readonly noCompact = new Set<number>();

  constructor(private readonly c: ReclaimerContext) {}

  schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped || this.running) return;
      this.running = this.loop().finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
    });
  }

  /** Resolves once no run is scheduled or in progress. */
  async idle(): Promise<void> {
    while (this.scheduled || this.running) {
      if (this.running) await this.running;
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Stops after the current step; resolves when idle. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    let plan = 0; // segments still to compact under the current plan
    try {
      while (!this.stopped && !this.c.writer.failure) {
        const oldest: SegmentState | undefined = this.c.writer.segments.values().next().value;
        if (!oldest || oldest === this.c.writer.head) return;
        if (this.c.index.live(oldest.no).count === 0) {
          await this.c.writer.whenWritten(oldest.no, oldest.end);
          if (this.c.index.live(oldest.no).count !== 0) continue;
          await this.delete(oldest);
          plan = Math.max(0, plan - 1);
          continue;
        }
        if (plan === 0) plan = this.compactionPlan();
        if (plan === 0 || this.noCompact.has(oldest.no)) return;
        if (!(await this.compact(oldest))) return;
      }
    } catch (err) {
      // Not fatal: space is only reclaimed later (the next schedule retries).
      this.c.logger.error({ err: String(err) }, 'message store: reclaiming disk space failed');
    }
  }

  /**
   * How many of the oldest segments to compact now (0: none). Only when garbage
   * exceeds live data by more than two segments, so an in-order (FIFO) backlog, whose
   * garbage is at most the consumed part of one segment, is never rewritten. Then the
   * shortest prefix of segments whose live bytes (the copy cost) are at most the dead
   * bytes it frees, counting the fully dead segments right behind it that it unpins.
   */
  private compactionPlan(): number {
    const { index, writer, segmentSize } = this.c;
    const segs = [...writer.segments.values()];
    let disk = 0;
    for (const s of segs) disk += s.written;
    if (disk - index.liveBytes <= index.liveBytes + 2 * segmentSize) return 0;
    let cost = 0;
    let freed = 0;
    for (let k = 0; k < segs.length && segs[k] !== writer.head; k++) {
      const s = segs[k]!;
      if (this.noCompact.has(s.no)) return 0;
      const live = index.live(s.no).bytes;
      cost += live;
      freed += s.written - live;
      let trailing = 0;
      for (let t = k + 1; t < segs.length && segs[t] !== writer.head && index.live(segs[t]!.no).count === 0; t++) {
        trailing += segs[t]!.written;
      }
      if (cost <= freed + trailing) return k + 1;
    }
    return 0;
  }

  private async delete(seg: SegmentState): Promise<void> {
    this.c.writer.retire(seg.no);
    try {
      await this.c.files.remove(seg.no);
    } catch (err) {
      // If this deletion may not persist, deleting any newer segment could resurrect
      // messages after a crash: stop reclaiming until the next open rescans.
      this.stopped = true;
      this.c.logger.error(
        { segment: seg.no, err: String(err) },
        'message store: deleting a segment failed; disk space reclamation halted until restart',
      );
      return;
    }
    this.noCompact.delete(seg.no);
    this.c.stats.segmentsDeleted++;
  }

  /** Re-appends the live messages of seg at the head; true once they are all durable there. */
  private async compact(seg: SegmentState): Promise<boolean> {
    const { index, writer, files } = this.c;
    const ids = index.idsInOldestSegment(seg.no);
    let last: Promise<Error | null> | null = null;
    let moved = 0;
    for (let i = 0; i < ids.length; ) {
      if (this.stopped) return false;
      // One read per span of neighbouring live records.
      const first = index.get(ids[i]!);
      if (!first || first.seg !== seg.no) {
        i++;
        continue;
      }
      const start = first.off;
      let end = first.off + first.len;
      let j = i + 1;
      for (; j < ids.length; j++) {
        const e = index.get(ids[j]!);
        if (!e || e.seg !== seg.no) continue;
        if (e.off + e.len - start > SPAN_MAX) break;
        end = e.off + e.len;
      }
      const buf = await files.read(seg.no, start, end - start);
      for (let k = i; k < j; k++) {
        const id = ids[k]!;
        const e = index.get(id);
        if (!e || e.seg !== seg.no) continue; // settled or moved while we read
        const rel = e.off - start;
        if (validRecordAt(buf, rel, rel + e.len) !== e.len || recordId(buf, rel) !== id) {
          this.noCompact.add(seg.no);
          this.c.logger.error(
            { segment: seg.no, id, offset: e.off },
            'message store: a live message failed its checksum; segment kept, not compacted',
          );
          return false;
        }
        const l = messageLayout(buf, rel, e.len);
        const queues = queuesOf(e);
        const counts = countsOf(e);
        const rec = encodeMessage(RecordType.COPY, id, queues, counts, buf.subarray(l.metaStart, l.metaEnd), buf.subarray(l.bodyStart, l.bodyEnd));
        let done!: (err: Error | null) => void;
        const durable = new Promise<Error | null>((resolve) => (done = resolve));
        const loc = writer.append(rec, done, true);
        if (!loc) return false;
        index.place(id, loc.seg, loc.off, rec.length, queues, counts);
        last = durable;
        moved++;
      }
      i = j;
    }
    // Batches complete in order and a failure fails everything after it: the last one decides.
    if (last && (await last)) return false;
    if (moved === 0 && index.live(seg.no).count > 0) {
      // Should not happen (index order invariant broken): never spin on it.
      this.noCompact.add(seg.no);
      this.c.logger.error({ segment: seg.no }, 'message store: compaction found no messages to move');
      return false;
    }
    this.c.stats.compactedMessages += moved;
    this.c.logger.info({ segment: seg.no, moved }, 'message store: compacted segment');
    return true;
  }
}
