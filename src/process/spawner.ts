// Starts function processes: with the posix_spawn addon when it is loaded, else child_process.spawn; knows its live pids.
import { ChildProcess, spawn } from 'node:child_process';
import type { SpawnOptions } from './function-process.js';
import type { NativeSpawner } from './native-spawn.js';

export interface Started {
  readonly child: ChildProcess;
  /** True when the addon starts it on a pool thread: the pid comes with the 'spawn' event. */
  readonly starting: boolean;
}

/** Created once in boot and handed to the modes (through their deps) and to the PID 1 reaper. */
export interface Spawner {
  /** True with the spawn addon, which can make fd 2 the same channel as fd 1 (combine_output). Loads it if it is still to load. */
  readonly native: boolean;
  /** Loads the spawn addon now if it is still to load (main.ts calls it once the watchdog is ready). */
  prepare(): void;
  /** Starts `program` in its own process group. */
  start(program: string, options: SpawnOptions): Started;
  /** True while `pid` was started here and its exit is still to be collected: the reaper must never wait on it. */
  isOwnChild(pid: number): boolean;
  /** To call on SIGCHLD: the addon collects the exits of its processes (nothing to do without it). */
  onSigchld(): void;
}

/**
 * `native` is the posix_spawn spawner, or a function that makes it (undefined without the addon),
 * called once, by prepare() or by the first start(): the addon then loads after the watchdog is ready.
 */
export function createSpawner(nativeOrLoader?: NativeSpawner | (() => NativeSpawner | undefined)): Spawner {
  let loader = typeof nativeOrLoader === 'function' ? nativeOrLoader : undefined;
  let loaded = typeof nativeOrLoader === 'function' ? undefined : nativeOrLoader;
  const nativeSpawner = (): NativeSpawner | undefined => {
    if (loader !== undefined) {
      loaded = loader();
      loader = undefined;
    }
    return loaded;
  };
  const livePids = new Set<number>();
  const track = (child: ChildProcess, pid: number): void => {
    livePids.add(pid);
    child.once('exit', () => livePids.delete(pid));
  };
  return {
    get native() {
      return nativeSpawner() !== undefined;
    },
    prepare() {
      nativeSpawner();
    },
    start(program, options) {
      const native = nativeSpawner();
      // posix_spawn when the addon is loaded (no fork() of this process: about twice the request rate);
      // child_process for anything it does not take, including start failures, so errors look the same.
      const viaAddon = native?.spawn(
        program,
        options.args,
        options.env,
        options.stdio,
        options.extraEnv,
        options.combineOutput,
      );
      const child = viaAddon ?? spawnChild(program, options);
      const pid = child.pid;
      if (pid !== undefined) track(child, pid);
      else if (viaAddon !== undefined) child.once('spawn', () => child.pid !== undefined && track(child, child.pid));
      return { child, starting: viaAddon !== undefined && pid === undefined };
    },
    isOwnChild: (pid) => livePids.has(pid),
    // Before the addon is loaded nothing was started with it: nothing to collect.
    onSigchld: () => loaded?.onSigchld(),
  };
}

/**
 * child_process.spawn, whose failures all come as an 'error' event. Node reports EMFILE, ENOENT and a
 * few others that way (with no stdio pipes), but throws the rest (ENOMEM...): a thrown one becomes the
 * 'error' of a child that never started, so a mode answers it as any start failure.
 */
function spawnChild(program: string, options: SpawnOptions): ChildProcess {
  try {
    return spawn(program, options.args, {
      env: options.extraEnv ? { ...options.env, ...options.extraEnv } : options.env,
      stdio: options.stdio,
      detached: true,
      windowsHide: true,
    });
  } catch (err) {
    const child = new ChildProcess();
    process.nextTick(() => child.emit('error', err));
    return child;
  }
}
