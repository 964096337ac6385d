/**
 * The settling side of one socket's lifetime: ACK, NACK and REJECT frames for
 * the delivery tags it received, with acks coalesced per event-loop turn.
 *
 * The server numbers deliveries 1, 2, 3... per connection. The session tracks
 * which tags are settled (acked, nacked, rejected, or noAck). Acks are not sent
 * at once but at the end of the turn: those whose tag and every tag below it
 * are settled go out as one cumulative ACK (multiple), the others one by one.
 * A cumulative ACK only reaches deliveries the application acked: any tag
 * below it that was nacked or rejected was sent before it (a NACK or REJECT
 * first sends the acks waiting), and deliveries still in flight carry higher
 * tags. Any other frame (a nack, a reject, a multiple ack, a publish, a
 * request) sends the waiting acks first, so the server sees everything in the
 * order the application did it; only acks in a row are merged.
 *
 * Once the socket is gone (or CLOSE was sent) settling is a no-op: the server
 * requeued what was unacknowledged, and a tag must never reach another socket.
 */
import { SettledPrefix, type FrameWriter } from '@warren/protocol';

/**
 * Tags settled out of order are remembered until the tags below them settle.
 * A delivery the application never settles would make that set grow without
 * end; past this size the session stops coalescing and acks one by one.
 */
const MAX_SETTLED_AHEAD = 65_536;

export class Session {
  /** False once the socket is gone (or CLOSE was sent): settling is then a no-op. */
  open = true;
  /** Every delivery tag <= this was settled by a `multiple` ack or nack. */
  settledUpTo = 0;
  /** Which tags are settled: every tag below `settled.next`, and those above it in its set. */
  private readonly settled = new SettledPrefix();
  private coalescing = true;
  /** Acks of this turn not yet sent, in call order. */
  private pendingAcks: number[] = [];
  private scheduled = false;
  private readonly flushBound = (): void => this.flushAcks();
  /** The link's writer: the typed sends reuse their header arrays, nothing is allocated per frame. */
  constructor(private readonly writer: FrameWriter) {}

  /** A delivery that needs no settle frame (noAck) still takes its tag. */
  settledOnArrival(tag: number): void {
    this.markSettled(tag);
  }

  ack(tag: number, multiple: boolean): void {
    if (multiple) {
      this.flushAcks();
      this.markSettledUpTo(tag);
      this.sendAck(tag, true);
      return;
    }
    this.markSettled(tag);
    if (!this.coalescing) {
      this.sendAck(tag, false);
      return;
    }
    this.pendingAcks.push(tag);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushBound);
      this.writer.setBeforeNextSend(this.flushBound);
    }
  }

  nack(tag: number, multiple: boolean, requeue: boolean): void {
    this.flushAcks();
    if (multiple) this.markSettledUpTo(tag);
    else this.markSettled(tag);
    this.writer.nack(tag, multiple, requeue);
  }

  reject(tag: number, requeue: boolean): void {
    this.flushAcks();
    this.markSettled(tag);
    this.writer.reject(tag, requeue);
  }

  /** Sends the acks waiting for the end of the turn (also run before any other frame goes out). */
  flushAcks(): void {
    if (!this.scheduled) return;
    this.scheduled = false;
    this.writer.setBeforeNextSend(undefined);
    const pending = this.pendingAcks;
    if (pending.length === 0) return;
    this.pendingAcks = [];
    if (!this.open) return;
    // Every tag below settled.next is settled: the highest pending one below it covers the others.
    const unsettledFrom = this.settled.next;
    let covered = 0;
    let top = 0;
    for (const tag of pending) {
      if (tag < unsettledFrom) {
        covered++;
        if (tag > top) top = tag;
      }
    }
    if (covered > 1) this.sendAck(top, true);
    for (const tag of pending) {
      if (covered <= 1 || tag >= unsettledFrom) this.sendAck(tag, false);
    }
  }

  private sendAck(tag: number, multiple: boolean): void {
    this.writer.ack(tag, multiple);
  }

  private markSettled(tag: number): void {
    // Once not coalescing, only the prefix is kept (nothing is remembered above a gap).
    if (!this.coalescing && tag !== this.settled.next) return;
    this.settled.settle(tag);
    if (this.settled.aheadCount > MAX_SETTLED_AHEAD) this.stopCoalescing();
  }

  private markSettledUpTo(tag: number): void {
    if (tag > this.settledUpTo) this.settledUpTo = tag;
    this.settled.settleUpTo(tag);
  }

  /** Some delivery stays unsettled for good: ack one by one from now on. */
  private stopCoalescing(): void {
    this.flushAcks();
    this.coalescing = false;
    this.settled.forgetAhead();
  }
}
