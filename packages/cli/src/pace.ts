/**
 * Paces a loop to a rate: the n-th call to wait() (counting from 0) returns
 * no earlier than start + n / rate seconds, so short stalls are caught up and
 * the average rate holds. A loop that falls more than a second behind (say,
 * while the broker blocked publishers) is not paid back with a burst: the
 * schedule restarts from now.
 */
const MAX_CATCH_UP_MS = 1000;

export class Pacer {
  private n = 0;
  private start: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.start = now();
  }

  async wait(): Promise<void> {
    const now = this.now();
    let due = this.start + (this.n * 1000) / this.perSecond;
    if (now - due > MAX_CATCH_UP_MS) {
      this.start = now;
      this.n = 0;
      due = now;
    }
    this.n++;
    const delay = due - now;
    if (delay > 0) await this.sleep(delay);
  }
}
