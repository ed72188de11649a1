// Test helpers for waiting on processes and ports: /proc checks, polling, free ports.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { onTestFinished } from 'vitest';
import { withTimeout } from './watchdog.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The fields of /proc/<pid>/stat the tests use, or undefined once the process is reaped. */
export function procStat(pid: number): { state: string; ppid: number; pgrp: number; session: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state = '?', ppid, pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session) };
  } catch {
    // No /proc entry: the process has been reaped.
    return undefined;
  }
}

/** True when the process is gone or a zombie (checked through /proc, not kill(0)). */
export function isGone(pid: number): boolean {
  const state = procStat(pid)?.state;
  return state === undefined || state === 'Z';
}

/** Direct children of `pid` (every thread's), from /proc/<pid>/task/<tid>/children. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const p of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' '))
        if (p.trim() !== '') out.push(Number(p));
    } catch {
      // The thread ended between readdir and read: it has no children to report.
    }
  }
  return out;
}

/** Children of `pid` that are zombies. */
export function zombieChildren(pid: number): number[] {
  return childrenOf(pid).filter((c) => procStat(c)?.state === 'Z');
}

/**
 * Polls `check` every `everyMs` until it is true; fails with `what` after `ms` (the poll stops then too).
 * An async check (a request, say) is awaited before the next one; one that throws fails the wait at once.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  everyMs = 10,
): Promise<void> {
  let stop = false;
  try {
    await withTimeout(
      (async () => {
        while (!stop && !(await check())) await sleep(everyMs);
      })(),
      ms,
      what,
    );
  } finally {
    stop = true;
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` with exactly `env` until it exits (SIGKILLed if the test ends first); resolves its exit and output. */
export function runToExit(command: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Waits for the record-pid fixture to write its pid, and returns it. */
export async function pidFrom(file: string): Promise<number> {
  await until(() => existsSync(file) && readFileSync(file, 'utf8').endsWith('\n'), 2000, `pid in ${file}`);
  return Number(readFileSync(file, 'utf8'));
}

// Free ports come from a block of their own for each vitest worker, below the kernel's ephemeral range
// (32768 and up): asking the kernel for port 0 twice can return the same port twice (CI once gave a
// container port and metrics_port both 46661). Here a worker walks its block in turn, so no two calls
// in a test file return the same port, two workers never share one, and the kernel never gives one
// to a socket bound to port 0 in the meantime.
const PORT_BLOCK = 400;
const PORT_BLOCKS = 30; // 20000..31999
// FWATCHDOG_TEST_PORT_SHIFT moves every worker's block by that many blocks, so that two test runs on one
// machine (two checkouts, say) do not walk the same ports.
const portShift = Number(process.env.FWATCHDOG_TEST_PORT_SHIFT ?? 0);
const portBlockStart = 20_000 + ((Number(process.env.VITEST_POOL_ID ?? 1) - 1 + portShift) % PORT_BLOCKS) * PORT_BLOCK;
let portCursor = Math.floor(Math.random() * PORT_BLOCK);

/** A TCP port on 127.0.0.1 that was free a moment ago, and not one of the last 399 this test file was given. */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < PORT_BLOCK; tried++) {
    const port = portBlockStart + (portCursor++ % PORT_BLOCK);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${portBlockStart}..${portBlockStart + PORT_BLOCK - 1}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Kills a leftover process by the pid in `pidFile` at the end of a test (it should already be gone). */
export function killAtEnd(pidFile: string): void {
  onTestFinished(() => {
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0 && !isGone(pid)) process.kill(pid, 'SIGKILL');
  });
}
