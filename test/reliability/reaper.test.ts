// The reaper's rules with a fake addon: own children are never touched; orphans are reaped once settled.
import { describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { createReaper, type ReaperAddon } from '../../src/process/reaper.js';
import { MemorySink } from '../helpers/watchdog.js';
import { until } from '../helpers/process.js';

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
  it('reaps an orphan only once it has stayed a zombie for settleMs, so libuv reaps its own children first', () => {
    let clock = 0;
    const zombies = new Set([101, 102]);
    const addon = fakeAddon(zombies);
    const reaper = createReaper(addon, { logger, intervalMs: 0, settleMs: 200, now: () => clock });
    onTestFinished(() => reaper.stop());
    expect(reaper.scan()).toBe(0);
    clock = 50;
    expect(reaper.scan()).toBe(0); // a second scan in the same moment proves nothing
    zombies.delete(102); // libuv reaped its own child meanwhile
    zombies.add(103); // a new zombie appears
    clock = 210;
    expect(reaper.scan()).toBe(1);
    expect(addon.reaped).toEqual([101]);
    clock = 420;
    expect(reaper.scan()).toBe(1);
    expect(addon.reaped).toEqual([101, 103]);
    expect(reaper.reaped).toBe(2);
  });

  it('never waits on a process the watchdog started, however long it stays a zombie', () => {
    let clock = 0;
    const zombies = new Set([201, 202]);
    const addon = fakeAddon(zombies);
    const reaper = createReaper(addon, { logger, intervalMs: 0, now: () => clock, isOwnChild: (pid) => pid === 201 });
    onTestFinished(() => reaper.stop());
    for (let i = 0; i < 5; i++) {
      reaper.scan();
      clock += 1000;
    }
    expect(addon.reaped).toEqual([202]);
    expect(zombies.has(201)).toBe(true);
  });

  it('after a SIGCHLD poke, keeps scanning until the orphan is reaped', async () => {
    const zombies = new Set([301]);
    const addon = fakeAddon(zombies);
    const reaper = createReaper(addon, { logger, settleMs: 20, intervalMs: 0 });
    onTestFinished(() => reaper.stop());
    reaper.poke();
    reaper.poke(); // coalesced
    await until(() => addon.reaped.length > 0, 1000, 'the orphan to be reaped');
    expect(addon.reaped).toEqual([301]);
  });
});
