// Reaps orphaned zombies re-parented to the watchdog (PID 1), leaving libuv's own children alone.
import type { Logger } from '../log/logger.js';
import type { AddonSpec } from './load-addon.js';

/** What the native addon (native/reaper) offers. */
export interface ReaperAddon {
  /** Pids of this process's children that are zombies right now. */
  zombieChildren(): number[];
  /** waitpid(pid, WNOHANG): the pid when reaped, 0 if it is still running, -errno on error. */
  reap(pid: number): number;
}

export interface ReaperOptions {
  logger: Logger;
  /**
   * How long a zombie must stay unreaped before it is ours to reap. libuv reaps the children it
   * spawned on the first loop turn after SIGCHLD; a zombie still there one timer later is an orphan.
   */
  settleMs?: number;
  /** Safety-net scan period, in case a SIGCHLD was missed (0 = off). */
  intervalMs?: number;
  /** Processes the watchdog started itself (libuv or the spawn addon collects them): never reaped here. */
  isOwnChild?: (pid: number) => boolean;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface Reaper {
  /** Call on SIGCHLD: schedules a scan (coalesced). */
  poke(): void;
  /** One scan now; returns how many zombies it reaped. */
  scan(): number;
  /** Zombies reaped so far. */
  readonly reaped: number;
  stop(): void;
}

/**
 * Creates the reaper. It never calls waitpid(-1) and never touches a process the watchdog started
 * (`isOwnChild`): their exit codes belong to libuv or the spawn addon. Any other zombie child is an
 * orphan re-parented to PID 1; it is reaped by pid once it has stayed a zombie for `settleMs`
 * (a second guard, for children started some other way: libuv reaps its own on the loop turn after SIGCHLD).
 */
export function createReaper(addon: ReaperAddon, options: ReaperOptions): Reaper {
  const settleMs = options.settleMs ?? 200;
  const intervalMs = options.intervalMs ?? 5000;
  const isOwnChild = options.isOwnChild ?? ((): boolean => false);
  const now = options.now ?? ((): number => performance.now());
  /** Zombie pid -> when it was first seen. */
  let suspects = new Map<number, number>();
  let reaped = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const onTimer = (): void => {
    timer = undefined;
    scan();
  };
  const schedule = (): void => {
    if (timer !== undefined || stopped) return;
    timer = setTimeout(onTimer, settleMs);
    timer.unref();
  };

  function scan(): number {
    let zombies: number[];
    try {
      zombies = addon.zombieChildren();
    } catch (err) {
      options.logger.warn('zombie reaper: cannot list child processes', { err: String(err) });
      return 0;
    }
    const t = now();
    const next = new Map<number, number>();
    let count = 0;
    for (const pid of zombies) {
      if (isOwnChild(pid)) continue;
      const firstSeen = suspects.get(pid);
      if (firstSeen === undefined || t - firstSeen < settleMs) {
        next.set(pid, firstSeen ?? t);
        continue;
      }
      const r = addon.reap(pid);
      if (r === pid) count++;
      else if (r === 0) next.set(pid, firstSeen);
    }
    suspects = next;
    reaped += count;
    if (count > 0 && options.logger.debugEnabled)
      options.logger.debug(`zombie reaper: reaped ${count} orphaned process(es)`);
    if (next.size > 0) schedule();
    return count;
  }

  const interval = intervalMs > 0 ? setInterval(scan, intervalMs) : undefined;
  interval?.unref();

  return {
    poke: schedule,
    scan,
    get reaped() {
      return reaped;
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      if (interval !== undefined) clearInterval(interval);
    },
  };
}

/** The reaper addon for loadAddon (src/process/load-addon.ts). */
export const REAPER_ADDON: AddonSpec<ReaperAddon> = {
  file: 'reaper.node',
  folder: 'reaper',
  isAddon: (a) => typeof a.zombieChildren === 'function' && typeof a.reap === 'function',
};
