// Deadlines of one fixed length for many items, kept with one timer instead of one timer per item.
// Items expire in the order they were added, because every deadline is `added + ms`: the queue is a
// linked list, so adding and cancelling are a few pointer moves (no hashing, no timer) on every request.
import { performance } from 'node:perf_hooks';

/** One item's deadline in a DeadlineQueue; cancel() when the item finished in time (or is gone). */
export class Deadline<T> {
  /** @internal The neighbours in the queue's list (undefined at its ends). */
  prev: Deadline<T> | undefined = undefined;
  /** @internal */
  next: Deadline<T> | undefined = undefined;
  /** @internal False once expired or cancelled. */
  queued = true;

  constructor(
    private readonly queue: DeadlineQueue<T>,
    readonly item: T,
    /** When it expires (performance.now() ms). */
    readonly at: number,
  ) {}

  /** The item never expires (a second call, or one after it expired, does nothing). */
  cancel(): void {
    if (this.queued) this.queue.unlink(this);
  }
}

export class DeadlineQueue<T> {
  private head: Deadline<T> | undefined = undefined;
  private tail: Deadline<T> | undefined = undefined;
  private count = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly ms: number,
    private readonly onExpire: (item: T) => void,
  ) {}

  get size(): number {
    return this.count;
  }

  /**
   * Starts the item's deadline: it expires `ms` after `now` (performance.now(), taken here unless the caller
   * has it). A caller's `now` must not be earlier than that of an item added before: the list stays in expiry order.
   */
  add(item: T, now = performance.now()): Deadline<T> {
    const deadline = new Deadline(this, item, now + this.ms);
    if (this.tail === undefined) this.head = deadline;
    else {
      this.tail.next = deadline;
      deadline.prev = this.tail;
    }
    this.tail = deadline;
    this.count++;
    if (this.timer === undefined) this.arm(this.ms);
    return deadline;
  }

  /** @internal Takes a queued deadline out of the list (Deadline.cancel, or expiry). */
  unlink(deadline: Deadline<T>): void {
    deadline.queued = false;
    const { prev, next } = deadline;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    deadline.prev = deadline.next = undefined;
    this.count--;
  }

  private arm(ms: number): void {
    // Unref'd: what keeps the process alive is the work an item stands for, not its deadline.
    this.timer = setTimeout(sweep, Math.max(1, Math.ceil(ms)), this).unref();
  }

  /** Expires every item whose deadline has passed, then sleeps until the next one's. */
  sweep(): void {
    this.timer = undefined;
    const now = performance.now();
    for (let first = this.head; first !== undefined; first = this.head) {
      if (first.at > now) {
        this.arm(first.at - now);
        return;
      }
      this.unlink(first);
      this.onExpire(first.item);
    }
  }
}

function sweep(queue: { sweep(): void }): void {
  queue.sweep();
}
