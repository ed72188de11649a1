// The reaper's rule with a fake addon: only zombies that outlive a settle period are reaped, by pid.
import { describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { createReaper, type ReaperAddon } from '../../src/process/reaper.js';
import { MemorySink, withTimeout } from '../helpers/watchdog.js';

function fakeAddon(zombies: Set<number>): ReaperAddon & { reaped: number[] } {
  const reaped: number[] = [];
  return {
    reaped,
    zombieChildren: () => [...zombies],
    reap(pid) {
      if (!zombies.delete(pid)) return -10; // ECHILD
      reaped.push(pid);
      return pid;
    },
  };
}

const logger = createLogger({ format: 'text', prefixLogs: true, err: new MemorySink(), out: new MemorySink() });

describe('zombie reaper', () => {
  it('reaps a zombie only once it was seen in two scans, so libuv reaps its own children first', () => {
    const zombies = new Set([101, 102]);
    const addon = fakeAddon(zombies);
    const reaper = createReaper(addon, { logger, intervalMs: 0 });
    onTestFinished(() => reaper.stop());
    expect(reaper.scan()).toBe(0);
    expect(addon.reaped).toEqual([]);
    zombies.delete(102); // libuv reaped its own child between the scans
    zombies.add(103); // a new zombie appears
    expect(reaper.scan()).toBe(1);
    expect(addon.reaped).toEqual([101]);
    expect(reaper.scan()).toBe(1);
    expect(addon.reaped).toEqual([101, 103]);
    expect(reaper.reaped).toBe(2);
  });

  it('never calls waitpid on a pid it has not seen as a zombie twice', () => {
    const zombies = new Set<number>();
    const addon = fakeAddon(zombies);
    const reaper = createReaper(addon, { logger, intervalMs: 0 });
    onTestFinished(() => reaper.stop());
    for (let i = 0; i < 5; i++) {
      zombies.clear();
      zombies.add(200 + i); // each zombie lives for one scan only
      reaper.scan();
    }
    expect(addon.reaped).toEqual([]);
  });

  it('after a SIGCHLD poke, keeps scanning until the orphan is reaped', async () => {
    const zombies = new Set([301]);
    const addon = fakeAddon(zombies);
    const reaper = createReaper(addon, { logger, settleMs: 20, intervalMs: 0 });
    onTestFinished(() => reaper.stop());
    reaper.poke();
    reaper.poke(); // coalesced
    await withTimeout(
      (async () => {
        while (addon.reaped.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      1000,
      'the orphan to be reaped',
    );
    expect(addon.reaped).toEqual([301]);
  });
});
