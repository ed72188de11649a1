// Helpers for the reliability suite: run the built watchdog as a child process and inspect /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { BUNDLE, ensureBundle, ROOT } from '../helpers/cli.js';
import { childrenOf, until } from '../helpers/process.js';
import { withTimeout } from '../helpers/watchdog.js';

export { BUNDLE };
export const REAPER_ADDON = join(ROOT, 'native', 'reaper', 'build', 'Release', 'reaper.node');

/** Number of open file descriptors of `pid`. */
export function fdCount(pid: number | 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set size and its high-water mark of `pid`, in KiB. */
export function memoryKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** The argv prefix that runs a command as PID 1 of a new PID namespace, or undefined if none works here. */
export function pidNamespacePrefix(): string[] | undefined {
  for (const prefix of [
    ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'],
    ['unshare', '--user', '--map-root-user', '--pid', '--fork', '--mount-proc', '--kill-child'],
  ]) {
    const r = spawnSync(prefix[0] as string, [...prefix.slice(1), 'true'], { stdio: 'ignore' });
    if (r.status === 0) return prefix;
  }
  return undefined;
}

export interface RunningBinary {
  /** The process that runs the watchdog (the host pid of node, also when in a PID namespace). */
  pid: number;
  /** The spawned process (node itself, or unshare). */
  child: ChildProcess;
  url: string;
  port: number;
  /** Everything the watchdog wrote to stderr and stdout so far. */
  readonly stderr: string;
  readonly stdout: string;
  /** Resolves with the exit code (or the signal name) of the spawned process. */
  exited: Promise<number | string>;
}

export interface BinaryOptions {
  /** argv prefix such as pidNamespacePrefix(). */
  prefix?: string[];
  /** Script to run instead of dist/fwatchdog.cjs. */
  script?: string;
  /** An executable to run instead of node + script (the single-file binary). */
  executable?: string;
  /** Keep only the first 256 KiB of stdout/stderr (high-volume logs). */
  discardOutput?: boolean;
}

/**
 * Starts `node dist/fwatchdog.cjs` with `env` (port 0, metrics off), waits for "Listening on port"
 * and the lock file, and registers teardown: SIGTERM, then SIGKILL of the whole group.
 */
export async function startBinary(env: Record<string, string>, options: BinaryOptions = {}): Promise<RunningBinary> {
  await ensureBundle();
  const prefix = options.prefix ?? [];
  const argv = [
    ...prefix,
    ...(options.executable !== undefined ? [options.executable] : [process.execPath, options.script ?? BUNDLE]),
  ];
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', port: '0', metrics_port: '0', log_format: 'text', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  let pid = child.pid as number;
  onTestFinished(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(r, 3000, false))]);
    if (!done) {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // Already gone.
      }
      await exited;
    }
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.setEncoding('utf8');
  child.stdout?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (!options.discardOutput || stderr.length < 1 << 18) stderr += d;
  });
  child.stdout?.on('data', (d: string) => {
    if (!options.discardOutput || stdout.length < 1 << 18) stdout += d;
  });
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      const check = (): void => {
        const m = /Listening on port: (\d+)/.exec(stderr);
        if (m && /Writing lock-file|suppress_lock/.test(stderr)) resolve(Number(m[1]));
      };
      child.stderr?.on('data', check);
      child.once('exit', (code) => reject(new Error(`watchdog exited with ${code} before listening:\n${stderr}`)));
    }),
    5000,
    'the watchdog binary to listen',
  );
  if (prefix.length > 0) {
    await until(() => childrenOf(child.pid as number).length > 0, 2000, 'the namespaced watchdog process');
    pid = childrenOf(child.pid as number)[0] as number;
  }
  return {
    pid,
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    get stderr() {
      return stderr;
    },
    get stdout() {
      return stdout;
    },
    exited,
  };
}

/** Prints a scenario's figures when RELIABILITY_REPORT=1 (for the README table); silent otherwise. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  if (process.env.RELIABILITY_REPORT !== '1') return;
  process.stdout.write(`[reliability] ${scenario}: ${JSON.stringify(figures)}\n`);
}
