// Deadlines of one fixed length for many items, kept with one timer instead of one timer per item.
// Items expire in the order they were added, because every deadline is `added + ms`: the queue is a
// linked list, so adding and cancelling are a few pointer moves (no hashing, no timer) on every request.
import { performance } from 'node:perf_hooks';
import { LinkedList, ListNode } from './linked-list.js';

/** One item's deadline in a DeadlineQueue; cancel() when the item finished in time (or is gone). */
export class Deadline<T> extends ListNode {
  constructor(
    private readonly list: LinkedList<Deadline<T>>,
    readonly item: T,
    /** When it expires (performance.now() ms). */
    readonly at: number,
  ) {
    super();
  }

  /** The item never expires (a second call, or one after it expired, does nothing). */
  cancel(): void {
    this.list.remove(this);
  }
}

export class DeadlineQueue<T> {
  /** In expiry order. */
  private readonly list = new LinkedList<Deadline<T>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly ms: number,
    private readonly onExpire: (item: T) => void,
  ) {}

  get size(): number {
    return this.list.size;
  }

  /**
   * Starts the item's deadline: it expires `ms` after `now` (performance.now(), taken here unless the caller
   * has it). A caller's `now` must not be earlier than that of an item added before: the list stays in expiry order.
   */
  add(item: T, now = performance.now()): Deadline<T> {
    const deadline = new Deadline(this.list, item, now + this.ms);
    this.list.append(deadline);
    if (this.timer === undefined) this.arm(this.ms);
    return deadline;
  }

  private arm(ms: number): void {
    // Unref'd: what keeps the process alive is the work an item stands for, not its deadline.
    this.timer = setTimeout(sweep, Math.max(1, Math.ceil(ms)), this).unref();
  }

  /** Expires every item whose deadline has passed, then sleeps until the next one's. */
  sweep(): void {
    this.timer = undefined;
    const now = performance.now();
    for (let first = this.list.first; first !== undefined; first = this.list.first) {
      if (first.at > now) {
        this.arm(first.at - now);
        return;
      }
      this.list.remove(first);
      this.onExpire(first.item);
    }
  }
}

function sweep(queue: { sweep(): void }): void {
  queue.sweep();
}
