// Test helpers for the built single-file binary (dist/fwatchdog): build it if missing, start it, wait, stop it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { send } from './http.js';
import { withTimeout } from './watchdog.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BINARY = join(ROOT, 'dist', 'fwatchdog');

/** Builds dist/fwatchdog with `npm run build:binary` unless it exists (npm test builds it first). */
export function ensureBinary(): void {
  if (existsSync(BINARY)) return;
  execFileSync('npm', ['run', 'build:binary', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
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

/** A free TCP port on 127.0.0.1 (for upstreams the binary starts itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Starts dist/fwatchdog with exactly `env` (nothing inherited: no PATH unless given) plus port=0,
 * metrics_port=0 unless set, and waits for its `Listening on port: N` line. Registers a SIGKILL teardown.
 */
export async function startBinary(env: Record<string, string>, options: { args?: string[]; cwd?: string; listenMs?: number } = {}): Promise<RunningBinary> {
  const child = spawn(BINARY, options.args ?? [], { env: { port: '0', metrics_port: '0', ...env }, cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
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
      const poll = async (): Promise<void> => {
        for (;;) {
          const res = await send(`${url}/_/ready`).catch(() => undefined);
          if (res?.status === 200) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await withTimeout(poll(), ms, 'GET /_/ready to answer 200');
    },
  };
}

/** Runs the binary to completion with `args` and exactly `env`; returns its exit code and output. */
export function runBinary(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
