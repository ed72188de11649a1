// The posix_spawn fast path for function processes (native/spawn), shaped like a ChildProcess.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { streamFd } from '../internals.js';
import type { AddonSpec } from './load-addon.js';

/** What native/spawn/spawn.c offers. */
export interface SpawnAddon {
  /** Sets the function told about each spawn started by `spawn`: (token, pid) or (token, -errno). */
  init(onSpawned: (token: number, pidOrErrno: number) => void): void;
  /** Copies `K=V` entries once, for many spawns to share as their base environment. */
  prepareEnv(envp: string[]): object;
  /**
   * Starts `file` on a pool thread: [0, fd0, fd1, fd2] (parent ends of new socket pairs, else -1)
   * at once, the pid later through onSpawned; or [-errno] when it cannot start at all.
   * stdio: fd, -1 = new pair, -2 = /dev/null, -3 (fd 2 only) = the same channel as fd 1.
   */
  spawn(file: string, argv: string[], baseEnv: object | null, envp: string[], stdio: number[], token: number): number[];
  /** null while running; [code, 0] after an exit, [-1, signo] after a signal, [-errno, -1] on error. */
  wait(pid: number): [number, number] | null;
}

/** Starts function processes without fork(): the caller falls back to child_process.spawn on undefined. */
export interface NativeSpawner {
  /**
   * Starts `program`; its pid comes with the 'spawn' event (child.pid is undefined until then).
   * The environment is `env` plus `extraEnv`; `combineOutput` makes fd 2 the same channel as fd 1
   * (child.stderr is then null).
   */
  spawn(
    program: string,
    args: string[],
    env: Record<string, string>,
    stdio: StdioOptions,
    extraEnv?: Record<string, string>,
    combineOutput?: boolean,
  ): ChildProcess | undefined;
  /** Call on SIGCHLD: collects the exit status of every process it started that has ended. */
  onSigchld(): void;
  /** Processes started (or starting) and not yet collected. */
  readonly running: number;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);
/** How often exits are polled while processes run, in case a SIGCHLD was missed (well inside the PID 1 reaper's 200 ms settle time). */
const POLL_MS = 100;
const STDIO_SAME_AS_1 = -3;
const NO_EXTRA_ENV: string[] = [];

/** A started process: the subset of ChildProcess that function-process.ts and the modes use. */
class NativeChild extends EventEmitter {
  pid: number | undefined = undefined;
  readonly stdin: Socket | null;
  readonly stdout: Socket | null;
  readonly stderr: Socket | null;
  readonly stdio: [Socket | null, Socket | null, Socket | null];
  readonly spawnfile: string;
  readonly spawnargs: string[];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  private openStreams = 0;
  private exited = false;

  constructor(file: string, argv: string[], fds: number[]) {
    super();
    this.spawnfile = file;
    this.spawnargs = argv;
    this.stdin = this.open(fds[1] ?? -1, 0);
    this.stdout = this.open(fds[2] ?? -1, 1);
    this.stderr = this.open(fds[3] ?? -1, 2);
    this.stdio = [this.stdin, this.stdout, this.stderr];
  }

  private open(fd: number, index: number): Socket | null {
    if (fd < 0) return null;
    const socket = new Socket({ fd, readable: index !== 0, writable: index === 0 });
    if (index !== 0) {
      this.openStreams++;
      socket.once('close', () => this.streamClosed());
    }
    return socket;
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.pid === undefined) return false;
    try {
      process.kill(this.pid, signal);
      this.killed = true;
      return true;
    } catch {
      // ESRCH: it has already exited.
      return false;
    }
  }

  /** The pool thread has started it: 'spawn' now (the exit may follow at once). */
  started(pid: number): void {
    this.pid = pid;
    this.emit('spawn');
  }

  /** It could not be started after all: 'error' as child_process reports it, and the streams end. */
  failed(errno: number): void {
    const code = errnoName(errno);
    const syscall = `spawn ${this.spawnfile}`;
    const err = Object.assign(new Error(`${syscall} ${code}`), {
      errno,
      code,
      syscall,
      path: this.spawnfile,
      spawnargs: this.spawnargs.slice(1),
    });
    this.emit('error', err);
    for (const s of this.stdio) s?.destroy();
  }

  /** The exit status is in: 'exit' now, 'close' once the output streams are closed too. */
  ended(result: [number, number]): void {
    const [first, second] = result;
    this.exited = true;
    if (first === -1 && second > 0) this.signalCode = SIGNAL_NAMES.get(second) ?? null;
    else this.exitCode = first >= 0 ? first : null;
    this.emit('exit', this.exitCode, this.signalCode);
    if (this.openStreams === 0) process.nextTick(emitClose, this);
  }

  private streamClosed(): void {
    this.openStreams--;
    // On the next tick: after every listener of the last stream's own 'close', as with child_process.
    if (this.exited && this.openStreams === 0) process.nextTick(emitClose, this);
  }
}

function emitClose(child: NativeChild): void {
  child.emit('close', child.exitCode, child.signalCode);
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [-n, name]));

/** The name of a negative errno (`ENOEXEC` for -8) from the OS table; libuv's own table lacks a few. */
function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? getSystemErrorName(errno);
}

/** The fd a stdio entry stands for: -1 for a new pair, -2 for /dev/null, undefined if unsupported. */
function stdioFd(entry: unknown, index: number): number | undefined {
  if (entry === 'pipe' || entry === undefined || entry === null || entry === 'overlapped') return -1;
  if (entry === 'ignore') return -2;
  if (entry === 'inherit') return index;
  if (typeof entry === 'number' && entry >= 0) return entry;
  return streamFd(entry);
}

/** `K=V` entries of an environment object. */
function envEntries(env: Record<string, string>, into: string[] = []): string[] {
  for (const key in env) into.push(`${key}=${env[key]}`);
  return into;
}

/** Wraps the addon: processes it starts look like ChildProcess objects; exits are collected on SIGCHLD and by a short poll. */
export function createNativeSpawner(addon: SpawnAddon): NativeSpawner {
  const running = new Map<number, NativeChild>();
  /** Spawns handed to the pool thread whose pid is not known yet, by token. */
  const starting = new Map<number, NativeChild>();
  /** Base environments converted once (the watchdog passes the same object on every call). */
  const prepared = new WeakMap<Record<string, string>, object>();
  let nextToken = 0;
  let poll: NodeJS.Timeout | undefined;

  const collect = (): void => {
    for (const [pid, child] of running) {
      const result = addon.wait(pid);
      if (result === null) continue;
      running.delete(pid);
      child.ended(result);
    }
    if (running.size === 0 && poll !== undefined) {
      clearInterval(poll);
      poll = undefined;
    }
  };

  addon.init((token, pidOrErrno) => {
    const child = starting.get(token);
    if (child === undefined) return;
    starting.delete(token);
    if (pidOrErrno <= 0) {
      child.failed(pidOrErrno);
      return;
    }
    running.set(pidOrErrno, child);
    if (poll === undefined) {
      poll = setInterval(collect, POLL_MS);
      poll.unref();
    }
    child.started(pidOrErrno);
    // Its SIGCHLD may have come before its pid was known here.
    const result = addon.wait(pidOrErrno);
    if (result !== null) {
      running.delete(pidOrErrno);
      child.ended(result);
    }
  });

  /** The base handle and the per-call entries for `env` + `extra`; a clash with the base is merged the slow way. */
  const environment = (
    env: Record<string, string>,
    extra: Record<string, string> | undefined,
  ): [object, string[]] | [null, string[]] => {
    if (extra !== undefined) {
      for (const key in extra) if (Object.hasOwn(env, key)) return [null, envEntries({ ...env, ...extra })];
    }
    let base = prepared.get(env);
    if (base === undefined) {
      base = addon.prepareEnv(envEntries(env));
      prepared.set(env, base);
    }
    return [base, extra === undefined ? NO_EXTRA_ENV : envEntries(extra)];
  };

  return {
    spawn(program, args, env, stdio, extraEnv, combineOutput) {
      const entries: unknown[] = typeof stdio === 'string' ? [stdio, stdio, stdio] : stdio;
      if (entries.length > 3) return undefined;
      const fds: number[] = [];
      for (let i = 0; i < 3; i++) {
        const fd = i === 2 && combineOutput === true ? STDIO_SAME_AS_1 : stdioFd(entries[i], i);
        if (fd === undefined) return undefined;
        fds.push(fd);
      }
      const argv = [program, ...args];
      let out: number[];
      const token = nextToken;
      try {
        const [base, envp] = environment(env, extraEnv);
        out = addon.spawn(program, argv, base, envp, fds, token);
      } catch {
        // Arguments the addon refuses: child_process takes the call and reports what is wrong.
        return undefined;
      }
      // A start failure (ENOENT, EACCES, ...): child_process reports it the way the modes expect.
      if ((out[0] ?? -1) < 0) return undefined;
      nextToken = (nextToken + 1) | 0;
      const child = new NativeChild(program, argv, out);
      starting.set(token, child);
      return child as unknown as ChildProcess;
    },
    onSigchld: collect,
    get running() {
      return running.size + starting.size;
    },
  };
}

/** The spawn addon for loadAddon (src/process/load-addon.ts). */
export const SPAWN_ADDON: AddonSpec<SpawnAddon> = {
  file: 'spawn.node',
  folder: 'spawn',
  isAddon: (a) =>
    typeof a.spawn === 'function' &&
    typeof a.wait === 'function' &&
    typeof a.init === 'function' &&
    typeof a.prepareEnv === 'function',
};
