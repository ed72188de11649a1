import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/process.js';

describe('freePort (test helper)', () => {
  it('never returns the same port twice in a file, and stays below the ephemeral range of the kernel', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 120; i++) ports.add(await freePort());
    expect(ports.size).toBe(120);
    for (const port of ports) expect(port).toBeLessThan(32_768);
  });

  it('skips a port another socket holds, all the way round its block', async () => {
    const first = await freePort();
    // The port the helper would give next: first + 1, or the block's first port when first ends the block.
    const held = (first - 20_000) % 400 === 399 ? first - 399 : first + 1;
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(held, '127.0.0.1', () => r()));
    try {
      const given: number[] = [];
      for (let i = 0; i < 399; i++) given.push(await freePort());
      expect(given).not.toContain(held);
      expect(given.at(-1)).toBe(first); // the walk came back round, past the held port
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });
});
