// Test helpers for `node dist/fwatchdog.cjs` (the bundled entry): build it once, run it, start it, signal it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { withTimeout } from './watchdog.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BUNDLE = join(ROOT, 'dist', 'fwatchdog.cjs');
const LOCK = join(ROOT, 'dist', '.cli-test-build-lock');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/fwatchdog.cjs with `npm run build` unless it is newer than every file in src/.
 * A directory lock keeps parallel test files from rewriting the bundle while another one runs it.
 */
export async function ensureBundle(): Promise<void> {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A stale lock (a killed run) older than a minute is taken over.
      if (Date.now() - statSync(LOCK).mtimeMs > 60_000) break;
      if (Date.now() > deadline) throw new Error(`build lock ${LOCK} held for too long`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < newestMtimeMs(join(ROOT, 'src'))) {
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    }
  } finally {
    rmdirSync(LOCK);
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the bundle to completion with `args` and exactly `env` (plus PATH). */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 5000): Promise<CliResult> {
  const child = spawn(process.execPath, [BUNDLE, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return withTimeout(done, timeoutMs, `fwatchdog ${args.join(' ')} to exit`);
}

export interface RunningCli {
  child: ChildProcess;
  url: string;
  port: number;
  readonly stderr: string;
  /** Resolves with the exit code/signal once the process exited and its pipes closed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once a stderr line matches `pattern`. */
  waitForLog(pattern: RegExp | string, ms?: number): Promise<string>;
}

/** Starts the bundle with port=0, metrics_port=0 (unless given) and `env`; waits for it to write its lock file. */
export async function startCli(env: Record<string, string>): Promise<RunningCli> {
  const child = spawn(process.execPath, [BUNDLE], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', port: '0', metrics_port: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await withTimeout(exited, 5000, 'fwatchdog to exit');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout.resume();
  const waitForLog = async (pattern: RegExp | string, ms = 3000): Promise<string> => {
    const find = (): string | undefined => stderr.split('\n').find((l) => (typeof pattern === 'string' ? l.includes(pattern) : pattern.test(l)));
    let stop = false;
    const poll = async (): Promise<string> => {
      while (!stop) {
        const hit = find();
        if (hit !== undefined) return hit;
        if (child.exitCode !== null || child.signalCode !== null) {
          await exited;
          const late = find();
          if (late !== undefined) return late;
          throw new Error(`fwatchdog exited before logging ${String(pattern)}:\n${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return '';
    };
    try {
      return await withTimeout(poll(), ms, `log line ${String(pattern)}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}; stderr so far:\n${stderr}`);
    } finally {
      stop = true;
    }
  };
  const listening = await waitForLog(/Listening on port: \d+/, 5000);
  const port = Number(/Listening on port: (\d+)/.exec(listening)?.[1]);
  await waitForLog(/Writing lock-file to|suppress_lock/, 5000);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    port,
    get stderr() {
      return stderr;
    },
    exited,
    waitForLog,
  };
}
