/**
 * Limits requests in flight; `run` queues beyond the limit. The queue holds every znode of the source
 * at once (200,000 partitions queue up in one Promise.all), so it is a FIFO with a moving head, not
 * Array.shift, which copies the whole array each time (quadratic: it dominated reads at 100k znodes).
 */
export class Limiter {
  private active = 0;
  private waiting: (() => void)[] = [];
  private head = 0;
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.wakeNext();
    }
  }

  private wakeNext(): void {
    if (this.head >= this.waiting.length) return;
    const next = this.waiting[this.head++]!;
    // Drop the consumed prefix now and then, so memory follows the queue, not its history.
    if (this.head >= 4096 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    next();
  }
}
