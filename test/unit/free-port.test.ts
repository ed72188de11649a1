import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/process.js';

describe('freePort (test helper)', () => {
  it('never returns the same port twice in a file, and each one can be listened on', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 120; i++) ports.add(await freePort());
    expect(ports.size).toBe(120);
    for (const port of ports) expect(port).toBeLessThan(32_768);
  });

  it('skips a port another socket holds', async () => {
    const first = await freePort();
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(first + 1, '127.0.0.1', () => r()));
    try {
      const next = await freePort();
      expect(next).not.toBe(first + 1);
      expect(next).not.toBe(first);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });
});
