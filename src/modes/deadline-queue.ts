// Deadlines of one fixed length for many items, kept with one timer instead of one timer per item.
// Items expire in the order they were added, because every deadline is `added + ms`.
import { performance } from 'node:perf_hooks';

export class DeadlineQueue<T> {
  /** Item -> deadline (performance.now() ms); a Map iterates in insertion order, so the first entry expires first. */
  private readonly items = new Map<T, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly ms: number,
    private readonly onExpire: (item: T) => void,
  ) {}

  get size(): number {
    return this.items.size;
  }

  /** Starts the item's deadline now (`ms` from now). */
  add(item: T): void {
    this.items.set(item, performance.now() + this.ms);
    if (this.timer === undefined) this.arm(this.ms);
  }

  /** The item finished in time (or is gone): it never expires. */
  delete(item: T): void {
    this.items.delete(item);
  }

  private arm(ms: number): void {
    // Unref'd: what keeps the process alive is the work an item stands for, not its deadline.
    this.timer = setTimeout(sweep, Math.max(1, Math.ceil(ms)), this).unref();
  }

  /** Expires every item whose deadline has passed, then sleeps until the next one's. */
  sweep(): void {
    this.timer = undefined;
    const now = performance.now();
    for (const [item, deadline] of this.items) {
      if (deadline > now) {
        this.arm(deadline - now);
        return;
      }
      this.items.delete(item);
      this.onExpire(item);
    }
  }
}

function sweep(queue: { sweep(): void }): void {
  queue.sweep();
}
