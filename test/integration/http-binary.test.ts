import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';
import { freePort } from '../helpers/process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BUNDLE = join(ROOT, 'dist', 'fwatchdog.cjs');

interface Running {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts the built watchdog in http mode with the upstream fixture and waits for the lock file. */
async function startBinary(env: Record<string, string>): Promise<Running> {
  const tmp = makeTmpDir();
  const upstreamPort = await freePort();
  const child = spawn(process.execPath, [BUNDLE], {
    env: { PATH: process.env.PATH ?? '', TMPDIR: tmp, mode: 'http', fprocess: fixture('upstreams/upstream'), upstream_url: `http://127.0.0.1:${upstreamPort}`, PORT: String(upstreamPort), port: '0', metrics_port: '0', log_format: 'text', healthcheck_interval: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout?.resume();
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await withTimeout(
    (async () => {
      while (!err.includes('Writing lock-file')) {
        if (child.exitCode !== null) throw new Error(`watchdog exited early:\n${err}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    })(),
    5000,
    'watchdog ready',
  );
  const port = Number(/Listening on port: (\d+)/.exec(err)?.[1]);
  return { child, url: `http://127.0.0.1:${port}`, stderr: () => err, exit };
}

describe('http mode: the built binary', () => {
  beforeAll(() => {
    if (!existsSync(BUNDLE)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  });

  it('exits non-zero when the upstream process exits', async () => {
    const wd = await startBinary({});
    await send(`${wd.url}/exit?code=0`);
    const code = await withTimeout(wd.exit, 5000, 'watchdog exit');
    expect(code).toBe(1);
    expect(wd.stderr()).toContain('Forked function has terminated: exit status 0');
  });

  it('on SIGTERM finishes the in-flight request first, then sends SIGTERM to the upstream, and exits 0', async () => {
    const marks = join(makeTmpDir(), 'sigterm.txt');
    const wd = await startBinary({ SIGTERM_FILE: marks });
    const inFlight = send(`${wd.url}/slow?ms=400`);
    await withTimeout(
      (async () => {
        while (!wd.stderr().includes('request /slow?ms=400 started')) await new Promise((r) => setTimeout(r, 5));
      })(),
      3000,
      'request at the upstream',
    );
    wd.child.kill('SIGTERM');
    const res = await withTimeout(inFlight, 3000, 'in-flight request');
    expect(res.status).toBe(200);
    expect(res.text).toBe('slow done');
    expect(await withTimeout(wd.exit, 5000, 'watchdog exit')).toBe(0);
    // The upstream got SIGTERM once, when it had nothing in flight any more.
    expect(readFileSync(marks, 'utf8')).toBe('SIGTERM 0\n');
  });
});
