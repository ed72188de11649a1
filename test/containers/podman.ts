// podman for the container suite: builds, containers run the way containers.md says (runc, host network,
// explicit ulimits, read-only), and what the tests read from them (host pid, exit code, logs, health).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort, until } from '../helpers/process.js';

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs podman with crun replaced by runc (crun fails here: "cgroups in hybrid mode not supported"). */
export function podman(args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<PodmanResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'podman',
      ['--runtime', 'runc', ...args],
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** podman ARGS that must succeed; its stdout. */
export async function podmanOk(args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  const r = await podman(args, options);
  if (r.code !== 0)
    throw new Error(
      `podman ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`,
    );
  return r.stdout;
}

export async function imageExists(tag: string): Promise<boolean> {
  return (await podman(['image', 'exists', tag])).code === 0;
}

/** Limits at or below the hard ones: podman cannot raise them here ("setrlimit RLIMIT_NOFILE: Operation not permitted"). */
function ulimits(): string[] {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name: string): number => {
    const value = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1];
    return value === undefined || value === 'unlimited' ? Infinity : Number(value);
  };
  const nofile = Math.min(1024, hard('Max open files'));
  const nproc = Math.min(4096, hard('Max processes'));
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}
export const ULIMITS = ulimits();

/** podman build in the Docker format (the OCI format drops HEALTHCHECK); `buildArgs` as --build-arg; `platform` e.g. linux/arm64. */
export function build(
  context: string,
  tag: string,
  buildArgs: Record<string, string> = {},
  options: { file?: string; timeoutMs?: number; platform?: string } = {},
): Promise<PodmanResult> {
  const args = ['build', '--format', 'docker', '--network', 'host', ...ULIMITS, '-t', tag];
  if (options.file) args.push('-f', options.file);
  if (options.platform) args.push('--platform', options.platform);
  for (const [k, v] of Object.entries(buildArgs)) args.push('--build-arg', `${k}=${v}`);
  args.push(context);
  return podman(args, { timeoutMs: options.timeoutMs ?? 600_000 });
}

export interface Container {
  id: string;
  name: string;
  /** http://127.0.0.1:PORT, the watchdog's port on the host's loopback (host network). */
  url: string;
  port: number;
  metricsPort: number;
  /** The container's PID 1 as the host sees it. */
  hostPid(): Promise<number>;
  logs(): Promise<string>;
  /** Exit code once it has stopped. */
  exitCode(): Promise<number>;
  running(): Promise<boolean>;
  /** Runs the image's HEALTHCHECK command in the container; its exit code. */
  healthcheck(): Promise<number>;
  /** podman stop -t `timeoutS`; how long it took in ms. */
  stop(timeoutS: number): Promise<number>;
}

export interface RunOptions {
  /** Extra environment (port and metrics_port are set to free ports). */
  env?: Record<string, string>;
  /** Command instead of the image's CMD. */
  command?: string[];
  /** Bind mounts host:container (read-only). */
  mounts?: [string, string][];
  /** --read-only (default true): the root is read-only, /tmp a tmpfs. */
  readOnly?: boolean;
}

let counter = 0;

/** A test's onTestFinished (from its context: the checks run concurrently). */
export type OnFinished = (fn: () => Promise<void>) => void;

/** Starts `image` detached on free loopback ports; removed (forcibly) when the test finishes. */
export async function runContainer(
  image: string,
  onFinished: OnFinished,
  options: RunOptions = {},
): Promise<Container> {
  const port = await freePort();
  const metricsPort = await freePort();
  const name = `fwatchdog-test-${process.pid}-${++counter}`;
  const args = ['run', '-d', '--name', name, '--network', 'host', ...ULIMITS];
  if (options.readOnly !== false) args.push('--read-only');
  for (const [host, inside] of options.mounts ?? []) args.push('-v', `${host}:${inside}:ro`);
  for (const [k, v] of Object.entries({ port: String(port), metrics_port: String(metricsPort), ...options.env }))
    args.push('-e', `${k}=${v}`);
  args.push(image, ...(options.command ?? []));
  const id = (await podmanOk(args)).trim();
  onFinished(async () => {
    await podman(['rm', '-f', '-t', '0', id]);
  });
  const inspect = async (format: string): Promise<string> =>
    (await podmanOk(['inspect', id, '--format', format])).trim();
  const healthcheckCommand = JSON.parse(
    await podmanOk(['image', 'inspect', image, '--format', '{{json .Config.Healthcheck}}']),
  ) as { Test?: string[] } | null;
  return {
    id,
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    metricsPort,
    hostPid: async () => Number(await inspect('{{.State.Pid}}')),
    logs: async () => {
      const r = await podman(['logs', id]);
      return r.stdout + r.stderr;
    },
    exitCode: async () => Number(await inspect('{{.State.ExitCode}}')),
    running: async () => (await inspect('{{.State.Running}}')) === 'true',
    healthcheck: async () => {
      const test = healthcheckCommand?.Test ?? [];
      if (test[0] !== 'CMD' || test.length < 2)
        throw new Error(
          `${image} has no HEALTHCHECK CMD [...] (got ${JSON.stringify(test)}): was it built with --format docker?`,
        );
      return (await podman(['exec', id, ...test.slice(1)])).code;
    },
    stop: async (timeoutS) => {
      const t0 = performance.now();
      await podmanOk(['stop', '-t', String(timeoutS), id], { timeoutMs: (timeoutS + 30) * 1000 });
      return performance.now() - t0;
    },
  };
}

/** Waits until `url` + `path` answers 200 (the container's watchdog is ready). */
export async function waitReady(container: Container, ms = 20_000, path = '/_/health'): Promise<void> {
  const ready = async (): Promise<boolean> => {
    const status = await fetchStatus(`${container.url}${path}`);
    if (status === 0 && !(await container.running()))
      throw new Error(`container exited (${await container.exitCode()}):\n${await container.logs()}`);
    return status === 200;
  };
  try {
    await until(ready, ms, `${container.name} ready on ${path}`, 50);
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${await container.logs()}`);
  }
}

async function fetchStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    // Not listening yet (or gone): 0, the caller decides.
    return 0;
  }
}

/** /proc/<pid>/cmdline of a host pid, NUL-separated arguments joined by spaces. */
export function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
}

/** The real uid of a host pid. */
export function uidOf(pid: number): number {
  const line = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line?.[1]);
}
