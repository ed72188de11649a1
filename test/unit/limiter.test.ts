import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../src/server/limiter.js';

describe('createLimiter', () => {
  it('lets everything through without max_inflight', () => {
    const l = createLimiter({ maxInflight: 0, maxQueue: 0, queueTimeoutMs: 0 });
    for (let i = 0; i < 100; i++) expect(l.tryEnter()).toBe(true);
    expect(l.inFlight).toBe(100);
    expect(l.full).toBe(false);
  });

  it('starts waiting requests in arrival order as slots free, skipping one that left', () => {
    const waits: number[] = [];
    const l = createLimiter({ maxInflight: 1, maxQueue: 3, queueTimeoutMs: 0, onQueueWait: (s) => waits.push(s) });
    expect(l.tryEnter()).toBe(true);
    const started: string[] = [];
    const refused: string[] = [];
    l.wait(
      () => started.push('a'),
      (r) => refused.push(`a:${r}`),
    );
    const leaveB = l.wait(
      () => started.push('b'),
      (r) => refused.push(`b:${r}`),
    );
    l.wait(
      () => started.push('c'),
      (r) => refused.push(`c:${r}`),
    );
    expect(l.full).toBe(true);
    l.wait(
      () => started.push('d'),
      (r) => refused.push(`d:${r}`),
    );
    expect(refused).toEqual(['d:queue_full']);
    leaveB?.();
    expect(l.queued).toBe(2);
    l.release();
    l.release();
    expect(started).toEqual(['a', 'c']);
    expect(l.inFlight).toBe(1);
    expect(waits).toHaveLength(3); // a, b (left), c
    leaveB?.(); // a second call does nothing
    expect(l.queued).toBe(0);
  });

  it('refuses with max_inflight when there is no queue, and everything with closed after close()', () => {
    const l = createLimiter({ maxInflight: 1, maxQueue: 1, queueTimeoutMs: 0 });
    const refusedNoQueue: string[] = [];
    const noQueue = createLimiter({ maxInflight: 1, maxQueue: 0, queueTimeoutMs: 0 });
    noQueue.tryEnter();
    noQueue.wait(
      () => undefined,
      (r) => refusedNoQueue.push(r),
    );
    expect(refusedNoQueue).toEqual(['max_inflight']);
    l.tryEnter();
    const refused: string[] = [];
    l.wait(
      () => refused.push('started'),
      (r) => refused.push(r),
    );
    l.close();
    expect(refused).toEqual(['closed']);
    expect(l.tryEnter()).toBe(false);
    l.wait(
      () => refused.push('started'),
      (r) => refused.push(r),
    );
    expect(refused).toEqual(['closed', 'closed']);
  });
});
