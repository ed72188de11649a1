// max_inflight with an optional bounded queue (max_queue, queue_timeout): who runs now, who waits, who is refused.
import { performance } from 'node:perf_hooks';
import type { LimiterState, RefusalReason } from '../metrics/metrics.js';

export type LimiterRefusal = Extract<RefusalReason, 'max_inflight' | 'queue_full' | 'queue_timeout'>;

export interface LimiterOptions {
  /** Requests running at once; 0 = no limit (no queue either). */
  maxInflight: number;
  /** Requests that may wait for a slot; 0 = refuse at once when every slot is taken. */
  maxQueue: number;
  /** Longest wait in the queue, in ms; 0 = until a slot frees or the client leaves. */
  queueTimeoutMs: number;
  /** Called with the seconds a request spent in the queue, whatever ended the wait. */
  onQueueWait?: (seconds: number) => void;
}

export interface Limiter extends LimiterState {
  /** Takes a slot if one is free (always, without max_inflight): true means the request runs now. */
  tryEnter(): boolean;
  /**
   * For a request that found no free slot: queues it, to call `start` once a slot frees, or calls
   * `refuse` with the reason (now when the queue is full, later on queue_timeout). Each is called at
   * most once, never both. Returns, for a queued request, the function that drops it (the client
   * left; then neither is called); it does nothing once the request has started or been refused.
   */
  wait(start: () => void, refuse: (reason: LimiterRefusal | 'closed') => void): (() => void) | undefined;
  /** A started request is done: its slot goes to the longest-waiting request, if any. */
  release(): void;
  /** True when a new request would be refused at once (/_/ready answers 429). */
  readonly full: boolean;
  /** The watchdog is stopping for good: every waiting request, and every later one, gets `refuse('closed')`. */
  close(): void;
}

interface Waiter {
  start: () => void;
  refuse: (reason: LimiterRefusal | 'closed') => void;
  since: number;
  timer: NodeJS.Timeout | undefined;
}

export function createLimiter(options: LimiterOptions): Limiter {
  const { maxInflight, maxQueue, queueTimeoutMs, onQueueWait } = options;
  let inFlight = 0;
  let closed = false;
  // A Set keeps arrival order and drops a leaving client in O(1).
  const queue = new Set<Waiter>();

  const leave = (w: Waiter): void => {
    queue.delete(w);
    if (w.timer !== undefined) clearTimeout(w.timer);
    onQueueWait?.((performance.now() - w.since) / 1000);
  };

  const timeOut = (w: Waiter): void => {
    if (!queue.has(w)) return;
    leave(w);
    w.refuse('queue_timeout');
  };

  return {
    get inFlight() {
      return inFlight;
    },
    get queued() {
      return queue.size;
    },
    get full() {
      return maxInflight > 0 && inFlight >= maxInflight && queue.size >= maxQueue;
    },
    tryEnter() {
      if (closed || (maxInflight > 0 && inFlight >= maxInflight)) return false;
      inFlight++;
      return true;
    },
    wait(start, refuse) {
      if (closed) {
        refuse('closed');
        return undefined;
      }
      if (maxInflight <= 0 || inFlight < maxInflight) {
        inFlight++;
        start();
        return undefined;
      }
      if (queue.size >= maxQueue) {
        refuse(maxQueue > 0 ? 'queue_full' : 'max_inflight');
        return undefined;
      }
      const w: Waiter = { start, refuse, since: performance.now(), timer: undefined };
      if (queueTimeoutMs > 0) w.timer = setTimeout(timeOut, queueTimeoutMs, w);
      queue.add(w);
      return () => {
        if (queue.has(w)) leave(w);
      };
    },
    release() {
      inFlight--;
      while (inFlight < maxInflight && queue.size > 0) {
        const next = queue.values().next().value as Waiter;
        leave(next);
        inFlight++;
        next.start();
      }
    },
    close() {
      closed = true;
      for (const w of [...queue]) {
        leave(w);
        w.refuse('closed');
      }
    },
  };
}
