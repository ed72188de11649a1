// Test helpers for `node dist/fwatchdog.cjs` (the bundled entry): build it once, run it, start it, signal it.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { runToExit, until, type RunResult } from './process.js';
import { withTimeout } from './watchdog.js';
import { buildOnce, ROOT } from './build-once.js';

export { ROOT };

export const BUNDLE = join(ROOT, 'dist', 'fwatchdog.cjs');
/** Builds dist/fwatchdog.cjs with `npm run build` unless it is newer than every file in src/. */
export async function ensureBundle(): Promise<void> {
  await buildOnce(BUNDLE, 'build', 60_000);
}

export type CliResult = RunResult;

/** Runs the bundle to completion with `args` and exactly `env` (plus PATH). */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 5000): Promise<CliResult> {
  const done = runToExit(process.execPath, [BUNDLE, ...args], { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env });
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
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await withTimeout(exited, 5000, 'fwatchdog to exit');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout.resume();
  const waitForLog = async (pattern: RegExp | string, ms = 3000): Promise<string> => {
    const find = (): string | undefined =>
      stderr.split('\n').find((l) => (typeof pattern === 'string' ? l.includes(pattern) : pattern.test(l)));
    let hit: string | undefined;
    const found = async (): Promise<boolean> => {
      hit = find();
      if (hit !== undefined) return true;
      if (child.exitCode === null && child.signalCode === null) return false;
      await exited; // its last output may still be in the pipe
      hit = find();
      if (hit !== undefined) return true;
      throw new Error(`fwatchdog exited before logging ${String(pattern)}:\n${stderr}`);
    };
    try {
      await until(found, ms, `log line ${String(pattern)}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}; stderr so far:\n${stderr}`);
    }
    return hit as string;
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
