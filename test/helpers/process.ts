// Test helpers for waiting on processes and ports: /proc checks, polling, free ports.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { onTestFinished } from 'vitest';
import { withTimeout } from './watchdog.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True when the process is gone or a zombie (checked through /proc, not kill(0)). */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    // No /proc entry: the process has been reaped.
    return true;
  }
}

/** Polls `check` every 10 ms until it is true; fails with `what` after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  let stop = false;
  try {
    await withTimeout(
      (async () => {
        while (!stop && !check()) await sleep(10);
      })(),
      ms,
      what,
    );
  } finally {
    stop = true;
  }
}

/** Waits for the record-pid fixture to write its pid, and returns it. */
export async function pidFrom(file: string): Promise<number> {
  await until(() => existsSync(file) && readFileSync(file, 'utf8').endsWith('\n'), 2000, `pid in ${file}`);
  return Number(readFileSync(file, 'utf8'));
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Kills a leftover process by the pid in `pidFile` at the end of a test (it should already be gone). */
export function killAtEnd(pidFile: string): void {
  onTestFinished(() => {
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0 && !isGone(pid)) process.kill(pid, 'SIGKILL');
  });
}
