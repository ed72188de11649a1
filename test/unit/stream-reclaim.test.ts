import { describe, expect, it } from 'vitest';
import { createStreamReclaim, RECLAIM_EVERY_BYTES } from '../../src/process/stream-reclaim.js';

describe('stream reclaim', () => {
  it('collects once per `everyBytes` moved, counted across calls and streams', () => {
    let collections = 0;
    const reclaim = createStreamReclaim(() => collections++, 1000);
    reclaim.moved(600);
    expect(collections).toBe(0);
    reclaim.moved(400);
    expect(collections).toBe(1);
    for (let i = 0; i < 10; i++) reclaim.moved(250);
    expect(collections).toBe(3);
  });

  it('collects every few MiB by default, so a 256 MiB stream collects about a hundred times, not per chunk', () => {
    let collections = 0;
    const reclaim = createStreamReclaim(() => collections++);
    // An echo: each 64 KiB in comes back out.
    for (let sent = 0; sent < 256 << 20; sent += 64 << 10) {
      reclaim.moved(64 << 10);
      reclaim.moved(64 << 10);
    }
    expect(collections).toBe(Math.floor((512 << 20) / RECLAIM_EVERY_BYTES));
    expect(collections).toBeLessThan(200);
  });
});
