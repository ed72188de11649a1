import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../src/deadline-queue.js';
import { until } from '../helpers/process.js';

describe('DeadlineQueue', () => {
  it('expires each item once its own deadline passed, in order, and never one that was deleted', async () => {
    const expired: Array<[string, number]> = [];
    const t0 = performance.now();
    const queue = new DeadlineQueue<string>(60, (item) => expired.push([item, performance.now() - t0]));
    queue.add('a');
    const gone = queue.add('gone');
    await new Promise((r) => setTimeout(r, 30));
    queue.add('b'); // 30 ms later: expires about 30 ms after a
    gone.cancel();
    gone.cancel(); // twice: nothing more happens
    await until(() => expired.length === 2, 2000, 'a and b expired');
    expect(expired.map(([item]) => item)).toEqual(['a', 'b']);
    expect(expired[0]?.[1]).toBeGreaterThanOrEqual(59);
    expect(expired[1]?.[1]).toBeGreaterThanOrEqual(89);
    expect(queue.size).toBe(0);
    gone.cancel(); // after the queue emptied: still nothing
    // The timer re-arms for items added after the queue emptied.
    queue.add('c');
    await until(() => expired.length === 3, 2000, 'c expired');
    expect(expired[2]?.[0]).toBe('c');
  });

  it('keeps the others in order when the first, a middle and the last deadline are cancelled', async () => {
    const expired: string[] = [];
    const queue = new DeadlineQueue<string>(20, (item) => expired.push(item));
    const d = ['a', 'b', 'c', 'd', 'e', 'f'].map((item) => queue.add(item));
    d[0]?.cancel();
    d[2]?.cancel();
    d[5]?.cancel();
    expect(queue.size).toBe(3);
    const g = queue.add('g'); // appended after a cancelled tail
    await until(() => expired.length === 4, 2000, 'the rest expired');
    expect(expired).toEqual(['b', 'd', 'e', 'g']);
    expect(queue.size).toBe(0);
    g.cancel(); // after it expired: nothing happens
    expect(queue.size).toBe(0);
  });
});
