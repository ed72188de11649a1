// Starts and stops the processes a scenario measures (watchdogs, baselines) and reads their memory.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository root (bench/lib/../..). */
export const ROOT = resolve(import.meta.dirname, '..', '..');

/** Every process started by the suite, so an error or Ctrl-C never leaves one behind. */
const running = new Set();

/**
 * Which fwatchdog to run: the single-file binary when it was built after the last change in src/
 * (`npm run build:binary`), else the bundle under this node (`npm run bench` rebuilds it).
 */
export function ourWatchdog() {
  const binary = join(ROOT, 'dist', 'fwatchdog');
  const viaNode = {
    label: `node dist/fwatchdog.cjs (node ${process.version})`,
    command: process.execPath,
    args: [join(ROOT, 'dist', 'fwatchdog.cjs')],
  };
  if (!existsSync(binary)) return viaNode;
  if (statSync(binary).mtimeMs < newestMtimeMs(join(ROOT, 'src'))) {
    return {
      ...viaNode,
      label: `${viaNode.label}; dist/fwatchdog is older than src/, run npm run build:binary to measure it`,
    };
  }
  return { label: 'dist/fwatchdog (single-file binary)', command: binary, args: [] };
}

function newestMtimeMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The bundle under this node, whatever else exists (the startup scenario measures both). */
export function bundleWatchdog() {
  return { label: 'node dist/fwatchdog.cjs', command: process.execPath, args: [join(ROOT, 'dist', 'fwatchdog.cjs')] };
}

// The ports freePort has handed out: the kernel can give the same port to two listen(0) calls in turn.
const handedOut = new Set();

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released), never the same one twice. */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolvePort, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: given } = srv.address();
        srv.close(() => resolvePort(given));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** One GET; resolves the status code, or 0 when the connection failed. */
export function probe(port, path) {
  return new Promise((resolveStatus) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on('error', () => resolveStatus(0));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

/** Polls `path` until it answers 200 (every `everyMs`); rejects after `maxMs` or if the process exits. */
export async function waitFor200(proc, port, path, maxMs = 10_000, everyMs = 2) {
  const deadline = Date.now() + maxMs;
  for (;;) {
    if (proc.exited)
      throw new Error(`${proc.name} exited (${proc.exitText}) before answering ${path}:\n${proc.logTail()}`);
    if ((await probe(port, path)) === 200) return;
    if (Date.now() > deadline)
      throw new Error(`${proc.name} did not answer 200 on ${path} within ${maxMs} ms:\n${proc.logTail()}`);
    await sleep(everyMs);
  }
}

/**
 * Starts `command args` in its own process group with `env` (merged over a minimal base), its
 * output to a log file in a private temp dir that is also its TMPDIR (so lock files never collide).
 */
export function startProcess(name, command, args, env) {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-bench-'));
  const logPath = join(dir, 'output.log');
  const fd = openSync(logPath, 'w');
  const startedAt = process.hrtime.bigint();
  const startedAtWallMs = Date.now();
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TMPDIR: dir, ...env },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const proc = {
    name,
    child,
    pid: child.pid,
    startedAt,
    startedAtWallMs,
    exited: false,
    exitText: '',
    logTail: () => {
      try {
        return readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        // The log file may already be gone after stop(); there is nothing more to show.
        return '';
      }
    },
    /** The first `bytes` of its output (start-up lines). */
    logHead: (bytes = 8192) => {
      try {
        const text = readFileSync(logPath, 'utf8');
        return text.slice(0, bytes);
      } catch {
        // Gone after stop(): nothing to show.
        return '';
      }
    },
    stop: () => stopProcess(proc, dir),
  };
  child.on('error', (err) => {
    proc.exited = true;
    proc.exitText = err.message;
  });
  proc.closed = new Promise((resolveClosed) => {
    child.on('exit', (code, signal) => {
      proc.exited = true;
      proc.exitText = signal ? `signal ${signal}` : `exit code ${code}`;
      resolveClosed();
    });
  });
  running.add(proc);
  return proc;
}

/** SIGTERM, up to 3 s for a clean exit, then SIGKILL to the whole group; removes the temp dir. */
async function stopProcess(proc, dir) {
  if (running.delete(proc)) {
    if (!proc.exited) {
      signal(proc.pid, 'SIGTERM');
      await Promise.race([proc.closed, sleep(3000)]);
    }
    // Whatever is left in its group (an upstream it started) goes too.
    signal(-proc.pid, 'SIGKILL');
    if (!proc.exited) signal(proc.pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: already gone, which is what we want.
  }
}

/** Kills everything still running (on error or Ctrl-C). */
export function killAll() {
  for (const proc of running) {
    signal(-proc.pid, 'SIGKILL');
    signal(proc.pid, 'SIGKILL');
  }
  running.clear();
}

/** Fields of /proc/<pid>/status in MB (VmRSS, VmHWM, RssAnon), or undefined when the process is gone. */
export function memoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) / 1024 : undefined;
    };
    return { rssMb: field('VmRSS'), peakRssMb: field('VmHWM'), anonMb: field('RssAnon') };
  } catch {
    // Not on Linux, or the process has exited: memory is simply not reported.
    return undefined;
  }
}

/** Starts a watchdog (ours or the reference) with `env`, and waits for `readyPath` to answer 200. */
export async function startWatchdog(name, exe, env, readyPath = '/_/health') {
  const port = await freePort();
  // metrics_port only exists in fwatchdog; the Go originals always bind 8081 and ignore it.
  const proc = startProcess(name, exe.command, exe.args, {
    port: String(port),
    metrics_port: '0',
    healthcheck_interval: '1ms',
    ...env,
  });
  try {
    await waitFor200(proc, port, readyPath);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  proc.port = port;
  return proc;
}

/** The plain Node fork baseline (bench/servers/node-spawn.mjs running `cat`), ready to serve. */
export async function startForkBaseline() {
  const port = await freePort();
  const proc = startProcess(
    'node-spawn baseline',
    process.execPath,
    [join(ROOT, 'bench', 'servers', 'node-spawn.mjs'), String(port), 'cat'],
    {},
  );
  try {
    await waitFor200(proc, port, '/');
  } catch (err) {
    await proc.stop();
    throw err;
  }
  proc.port = port;
  return proc;
}
