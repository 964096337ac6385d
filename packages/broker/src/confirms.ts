/**
 * Publisher confirms for one connection. Publishes settle out of order (a
 * transient publish settles at once, a persistent one after its fsync); which
 * are settled is the protocol's SettledPrefix (shared with the client's acks).
 * Confirms go out once per event-loop turn, as one cumulative CONFIRM for the
 * contiguous settled prefix plus single CONFIRMs for any settled beyond a gap.
 */
import { SettledPrefix } from '@warren/protocol';

export interface ConfirmSink {
  confirm(seq: number, multiple: boolean): void;
}

export class ConfirmTracker {
  private readonly settled = new SettledPrefix();
  /** Confirmed (not nacked) sequence numbers beyond the gap, not yet sent. */
  private unsentAhead: number[] = [];
  /** Every seq <= this has been confirmed or nacked to the client. */
  private sentUpTo = 0;
  private scheduled = false;
  /** Publishes received but not settled. */
  outstanding = 0;
  private readonly flushBound = () => this.flush();

  constructor(private readonly sink: ConfirmSink) {}

  /** The seq the next PUBLISH must carry. */
  expected = 1;

  received(): void {
    this.expected++;
    this.outstanding++;
  }

  /** A publish settled: ok=false means it was nacked (the nack frame is sent by the caller). */
  settle(seq: number, ok: boolean): void {
    this.outstanding--;
    const beyondGap = seq !== this.settled.next;
    this.settled.settle(seq);
    if (ok && beyondGap) this.unsentAhead.push(seq);
    if (ok && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  flush(): void {
    this.scheduled = false;
    const upTo = this.settled.next - 1;
    if (upTo > this.sentUpTo) {
      this.sink.confirm(upTo, true);
      this.sentUpTo = upTo;
    }
    if (this.unsentAhead.length > 0) {
      for (const seq of this.unsentAhead) if (seq > this.sentUpTo) this.sink.confirm(seq, false);
      this.unsentAhead = [];
    }
  }
}
