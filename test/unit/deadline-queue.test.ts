import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../src/modes/deadline-queue.js';
import { until } from '../helpers/process.js';

describe('DeadlineQueue', () => {
  it('expires each item once its own deadline passed, in order, and never one that was deleted', async () => {
    const expired: Array<[string, number]> = [];
    const t0 = performance.now();
    const queue = new DeadlineQueue<string>(60, (item) => expired.push([item, performance.now() - t0]));
    queue.add('a');
    queue.add('gone');
    await new Promise((r) => setTimeout(r, 30));
    queue.add('b'); // 30 ms later: expires about 30 ms after a
    queue.delete('gone');
    await until(() => expired.length === 2, 2000, 'a and b expired');
    expect(expired.map(([item]) => item)).toEqual(['a', 'b']);
    expect(expired[0]?.[1]).toBeGreaterThanOrEqual(59);
    expect(expired[1]?.[1]).toBeGreaterThanOrEqual(89);
    expect(queue.size).toBe(0);
    // The timer re-arms for items added after the queue emptied.
    queue.add('c');
    await until(() => expired.length === 3, 2000, 'c expired');
    expect(expired[2]?.[0]).toBe('c');
  });
});
