// The posix_spawn fast path for function processes (native/spawn), shaped like a ChildProcess.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The addon's file name: a SEA asset, next to the binary or script, or in the dev build folder. */
export const SPAWN_ADDON_FILE = 'spawn.node';

/** What native/spawn/spawn.c offers. */
export interface SpawnAddon {
  /** [pid, fd0, fd1, fd2] (parent ends of new socket pairs, else -1), or [-errno]. stdio: fd, -1 = new pair, -2 = /dev/null. */
  spawn(file: string, argv: string[], envp: string[], stdio: number[]): number[];
  /** null while running; [code, 0] after an exit, [-1, signo] after a signal, [-errno, -1] on error. */
  wait(pid: number): [number, number] | null;
}

/** Starts function processes without fork(): the caller falls back to child_process.spawn on undefined. */
export interface NativeSpawner {
  spawn(program: string, args: string[], env: Record<string, string>, stdio: StdioOptions): ChildProcess | undefined;
  /** Call on SIGCHLD: collects the exit status of every process it started that has ended. */
  onSigchld(): void;
  /** Processes started and not yet collected. */
  readonly running: number;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));
/** How often exits are polled while processes run, in case a SIGCHLD was missed (well inside the PID 1 reaper's 200 ms settle time). */
const POLL_MS = 100;

/** A started process: the subset of ChildProcess that function-process.ts and the modes use. */
class NativeChild extends EventEmitter {
  readonly pid: number;
  readonly stdin: Socket | null;
  readonly stdout: Socket | null;
  readonly stderr: Socket | null;
  readonly stdio: [Socket | null, Socket | null, Socket | null];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  private openStreams = 0;
  private exited = false;

  constructor(pid: number, fds: number[]) {
    super();
    this.pid = pid;
    const open = (i: number): Socket | null => {
      const fd = fds[i] ?? -1;
      if (fd < 0) return null;
      const socket = new Socket({ fd, readable: i !== 0, writable: i === 0 });
      if (i !== 0) {
        this.openStreams++;
        socket.once('close', () => this.streamClosed());
      }
      return socket;
    };
    this.stdin = open(0);
    this.stdout = open(1);
    this.stderr = open(2);
    this.stdio = [this.stdin, this.stdout, this.stderr];
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    try {
      process.kill(this.pid, signal);
      this.killed = true;
      return true;
    } catch {
      // ESRCH: it has already exited.
      return false;
    }
  }

  /** The exit status is in: 'exit' now, 'close' once the output streams are closed too. */
  ended(result: [number, number]): void {
    const [first, second] = result;
    this.exited = true;
    if (first === -1 && second > 0) this.signalCode = SIGNAL_NAMES.get(second) ?? null;
    else this.exitCode = first >= 0 ? first : null;
    this.emit('exit', this.exitCode, this.signalCode);
    if (this.openStreams === 0) this.emit('close', this.exitCode, this.signalCode);
  }

  private streamClosed(): void {
    this.openStreams--;
    if (this.exited && this.openStreams === 0) this.emit('close', this.exitCode, this.signalCode);
  }
}

/** The fd a stdio entry stands for: -1 for a new pair, -2 for /dev/null, undefined if unsupported. */
function stdioFd(entry: unknown, index: number): number | undefined {
  if (entry === 'pipe' || entry === undefined || entry === null || entry === 'overlapped') return -1;
  if (entry === 'ignore') return -2;
  if (entry === 'inherit') return index;
  if (typeof entry === 'number' && entry >= 0) return entry;
  const fd = (entry as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Wraps the addon: processes it starts look like ChildProcess objects; exits are collected on SIGCHLD and by a short poll. */
export function createNativeSpawner(addon: SpawnAddon): NativeSpawner {
  const running = new Map<number, NativeChild>();
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

  return {
    spawn(program, args, env, stdio) {
      const entries: unknown[] = typeof stdio === 'string' ? [stdio, stdio, stdio] : stdio;
      if (entries.length > 3) return undefined;
      const fds: number[] = [];
      for (let i = 0; i < 3; i++) {
        const fd = stdioFd(entries[i], i);
        if (fd === undefined) return undefined;
        fds.push(fd);
      }
      const envp: string[] = [];
      for (const key of Object.keys(env)) envp.push(`${key}=${env[key]}`);
      let out: number[];
      try {
        out = addon.spawn(program, [program, ...args], envp, fds);
      } catch {
        // Arguments the addon refuses: child_process takes the call and reports what is wrong.
        return undefined;
      }
      const pid = out[0] ?? -1;
      // A start failure (ENOENT, EACCES, ...): child_process reports it the way the modes expect.
      if (pid <= 0) return undefined;
      const child = new NativeChild(pid, out.slice(1));
      running.set(pid, child);
      if (poll === undefined) {
        poll = setInterval(collect, POLL_MS);
        poll.unref();
      }
      return child as unknown as ChildProcess;
    },
    onSigchld: collect,
    get running() {
      return running.size;
    },
  };
}

let current: NativeSpawner | undefined;

/** Makes spawnFunction use `spawner` (undefined: child_process.spawn). main.ts sets it once at start-up. */
export function useNativeSpawner(spawner: NativeSpawner | undefined): void {
  current = spawner;
}

/** The spawner in use, if any. */
export function nativeSpawner(): NativeSpawner | undefined {
  return current;
}

/** What loading the addon needs from the process (passed in by main.ts). */
export interface SpawnAddonLoadInput {
  /** process.dlopen (only main.ts touches process). */
  dlopen(module: { exports: unknown }, filename: string): void;
  /** The running executable (the single-file binary, or node). */
  execPath: string;
  /** The script being run (dist/fwatchdog.cjs), if any. */
  scriptPath: string | undefined;
  /** Where a SEA asset may be extracted. */
  tmpDir: string | undefined;
}

/** The loaded addon and where it came from, or why it could not be loaded. */
export type SpawnAddonLoad = { ok: true; addon: SpawnAddon; from: string } | { ok: false; reason: string };

/** Where the addon may be, in order: next to the binary or script, then the dev build folder. */
export function spawnAddonCandidates(input: Pick<SpawnAddonLoadInput, 'execPath' | 'scriptPath'>): string[] {
  const dev = (dir: string): string => join(dir, '..', 'native', 'spawn', 'build', 'Release', SPAWN_ADDON_FILE);
  const out = [join(dirname(input.execPath), SPAWN_ADDON_FILE), dev(dirname(input.execPath))];
  if (input.scriptPath !== undefined) out.push(join(dirname(input.scriptPath), SPAWN_ADDON_FILE), dev(dirname(input.scriptPath)));
  return out;
}

/** Loads the addon from the single-file binary's assets or the first candidate file that works. */
export function loadSpawnAddon(input: SpawnAddonLoadInput): SpawnAddonLoad {
  let reason = `not found (looked for ${spawnAddonCandidates(input).join(', ')})`;
  const tryFile = (file: string): SpawnAddon | undefined => {
    try {
      const mod = { exports: {} as unknown };
      input.dlopen(mod, file);
      const addon = mod.exports as Partial<SpawnAddon>;
      if (typeof addon.spawn === 'function' && typeof addon.wait === 'function') return addon as SpawnAddon;
      reason = `${file} is not the spawn addon`;
    } catch (err) {
      reason = (err as Error).message;
    }
    return undefined;
  };
  const asset = seaAsset();
  if (asset !== undefined) {
    try {
      const dir = mkdtempSync(join(input.tmpDir ?? tmpdir(), 'fwatchdog-'));
      const file = join(dir, SPAWN_ADDON_FILE);
      writeFileSync(file, asset, { mode: 0o500 });
      const addon = tryFile(file);
      // Once loaded the mapping stays valid: nothing is left behind in TMPDIR.
      rmSync(dir, { recursive: true, force: true });
      if (addon) return { ok: true, addon, from: `asset ${SPAWN_ADDON_FILE}` };
    } catch (err) {
      reason = `cannot extract the ${SPAWN_ADDON_FILE} asset: ${(err as Error).message}`;
    }
  }
  for (const file of spawnAddonCandidates(input)) {
    if (!existsSync(file)) continue;
    const addon = tryFile(file);
    if (addon) return { ok: true, addon, from: file };
  }
  return { ok: false, reason };
}

/** The addon bytes when running as a single-file binary that carries it as an asset. */
function seaAsset(): Buffer | undefined {
  try {
    // The bundle is CommonJS (inside a binary require() sees built-ins only); node:sea exists from Node 20.12.
    if (typeof require !== 'function') return undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a static import would break Node < 20.12 at load
    const sea = require('node:sea') as { isSea(): boolean; getAsset(key: string): ArrayBuffer };
    if (!sea.isSea()) return undefined;
    return Buffer.from(sea.getAsset(SPAWN_ADDON_FILE));
  } catch {
    // Not a single-file binary, or it carries no such asset.
    return undefined;
  }
}
