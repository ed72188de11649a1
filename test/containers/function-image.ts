// The checks every function image gets as a real container (templates and the suite's own fork images):
// the example answer, PID 1, non-root on a read-only root, logs, HEALTHCHECK before ready / when ready /
// after SIGTERM, `podman stop` during a slow request, and, for functions that leave orphans, no zombies.
import { readFileSync } from 'node:fs';
import { beforeAll, it, type ExpectStatic } from 'vitest';
import { send, type RawResponse } from '../helpers/http.js';
import { childrenOf, freePort, sleep, until, zombieChildren } from '../helpers/process.js';
import { cmdline, podman, podmanOk, runContainer, uidOf, ULIMITS, waitReady, type Container } from './podman.js';

export interface ExampleRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  status: number;
  /** Text the answer must contain. */
  bodyIncludes: string;
}

export interface FunctionImageSpec {
  /** Builds the image (once, before the checks); resolves its tag. */
  build(): Promise<string>;
  /** Environment for every container of it. */
  env?: Record<string, string>;
  example: ExampleRequest;
  /** A request that takes about a second, with what the container needs for it (e.g. a slow handler mounted over the example). */
  slow?: { request: ExampleRequest; mounts?: [string, string][]; env?: Record<string, string> };
  /** Environment that makes each request leave orphans (count: how many per request). */
  orphans?: { env: Record<string, string>; count: number };
  /** An image for another architecture (arm64), run here under user-mode emulation: looser time bounds. */
  emulated?: boolean;
}

/** Minutes a template build may take (the first one on a machine also lays down the base image's layers). */
export const BUILD_TIMEOUT_MS = 10 * 60_000;
const CHECK_TIMEOUT_MS = 90_000;
/** Under emulation an arm64 watchdog takes ~10 times as long to start (0.8 s for `node -e 0` instead of 0.09 s). */
const EMULATED_CHECK_TIMEOUT_MS = 240_000;

/** A host process's arguments without the emulator in front (qemu-user via binfmt shows as `<qemu> <program path> ARGV...`). */
function programCmdline(pid: number): string {
  return cmdline(pid).replace(/^\S*(?:qemu-[\w-]+|binfmt-P)\S* \S+ /, '');
}

function request(c: Container, r: ExampleRequest): Promise<RawResponse> {
  return send(`${c.url}${r.path}`, { method: r.method ?? 'GET', headers: r.headers, body: r.body });
}

function expectAnswer(expect: ExpectStatic, res: RawResponse, r: ExampleRequest): void {
  expect(res.status, res.text).toBe(r.status);
  expect(res.text).toContain(r.bodyIncludes);
}

/** A Go-style duration as the templates write them ("5s", "500ms", "1m"), in ms. */
function durationMs(text: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text ?? '');
  if (!m) return 0;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[m[2] as string]!;
}

/** The pid of a host process inside its innermost pid namespace (the last NSpid field). */
function namespacePid(hostPid: number): number {
  const line = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${hostPid}/status`, 'utf8'))?.[1] ?? '';
  return Number(line.trim().split(/\s+/).at(-1));
}

/** Adds the image's checks to the current describe block; they run at the same time, each with its own container. */
export function functionImageChecks(spec: FunctionImageSpec): void {
  const checkMs = spec.emulated ? EMULATED_CHECK_TIMEOUT_MS : CHECK_TIMEOUT_MS;
  const readyMs = spec.emulated ? 60_000 : 20_000;
  let image = '';
  const imageEnv: Record<string, string> = {};
  let healthcheck: string[] = [];

  beforeAll(async () => {
    image = await spec.build();
    const env = JSON.parse(await podmanOk(['image', 'inspect', image, '--format', '{{json .Config.Env}}'])) as
      | string[]
      | null;
    for (const kv of env ?? []) imageEnv[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    // Docker-format images only: the OCI config has no HEALTHCHECK.
    const check = JSON.parse(
      await podmanOk(['image', 'inspect', image, '--format', '{{json .Config.Healthcheck}}']),
    ) as { Test?: string[] } | null;
    healthcheck = check?.Test?.[0] === 'CMD' ? check.Test.slice(1) : [];
  }, BUILD_TIMEOUT_MS);

  /** The spec's environment, and a free loopback port for an http-mode upstream (the containers share the host's network). */
  async function envFor(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const env = { ...spec.env, ...extra };
    if ((env.mode ?? imageEnv.mode) === 'http' && env.http_port === undefined) {
      const port = await freePort();
      env.http_port = String(port);
      env.upstream_url = `http://127.0.0.1:${port}`;
    }
    return env;
  }

  it.concurrent(
    'answers the example request with the watchdog as PID 1, non-root on a read-only root, logging to podman logs; HEALTHCHECK exits 0',
    async ({ expect, onTestFinished }) => {
      expect(healthcheck.length, 'the image keeps its HEALTHCHECK (podman build --format docker)').toBeGreaterThan(0);
      const c = await runContainer(image, onTestFinished, { env: await envFor() });
      await waitReady(c, readyMs);
      expectAnswer(expect, await request(c, spec.example), spec.example);

      const pid = await c.hostPid();
      expect(namespacePid(pid)).toBe(1);
      expect(cmdline(pid)).toContain('fwatchdog');
      expect(uidOf(pid)).not.toBe(0);
      // An arm64 image holds the arm64 watchdog (its build's --platform picked it from the manifest list): an
      // x86-64 one would run here too, natively, and pass every other check.
      if (spec.emulated)
        expect(
          (await podmanOk(['exec', c.id, healthcheck[0] as string, '--version'], { timeoutMs: 60_000 })).trim(),
        ).toMatch(/\tArch: linux\/arm64$/);
      expect((await podmanOk(['inspect', c.id, '--format', '{{.HostConfig.ReadonlyRootfs}}'])).trim()).toBe('true');
      expect(await c.healthcheck()).toBe(0);

      const logs = await c.logs();
      expect(logs).toContain(`Listening on port: ${c.port}`);
      const path = spec.example.path.split('?')[0] as string;
      expect(
        logs.split('\n').some((l) => l.includes(`"url":"${path}`) && l.includes(`"status":${spec.example.status}`)),
        `access line for ${path} in:\n${logs}`,
      ).toBe(true);
    },
    checkMs,
  );

  it.concurrent(
    'HEALTHCHECK exits 1 before the watchdog is ready',
    async ({ expect, onTestFinished }) => {
      expect(healthcheck.length, 'the image has a HEALTHCHECK CMD').toBeGreaterThan(0);
      // In a container of the image where the watchdog has not written its lock file yet.
      const name = `fwatchdog-test-${process.pid}-fresh-${Date.now()}`;
      onTestFinished(async () => {
        await podman(['rm', '-f', '-t', '0', '--ignore', name]);
      });
      const fresh = await podman(
        ['run', '--rm', '--name', name, '--network', 'host', '--read-only', ...ULIMITS, image, ...healthcheck],
        { timeoutMs: 30_000 },
      );
      expect(fresh.code, fresh.stderr).toBe(1);
      expect(fresh.stderr).toContain('unable to find lock file');
      if ((spec.env?.mode ?? imageEnv.mode) !== 'http') return;
      // http mode: the watchdog listens but waits for an upstream that never answers (it listens elsewhere).
      const env = await envFor();
      env.upstream_url = `http://127.0.0.1:${await freePort()}`;
      const c = await runContainer(image, onTestFinished, { env });
      await until(
        async () => (await c.logs()).includes(`Listening on port: ${c.port}`),
        readyMs,
        'the watchdog to listen',
        100,
      );
      expect((await send(`${c.url}/_/health`)).status).toBe(503);
      expect(await c.healthcheck()).toBe(1);
    },
    checkMs,
  );

  it.concurrent(
    'after SIGTERM during a slow request: HEALTHCHECK exits 1 at once, the request is answered, exit code 0',
    async ({ expect, onTestFinished }) => {
      // podman stop puts the container in a "stopping" state where podman exec is refused: send the signal
      // with podman kill instead. The image's healthcheck_interval (5 s in the templates) leaves the check time
      // to run before the watchdog exits (an exec still running then is killed: 137).
      // Under emulation a `podman exec` can take longer than 5 s to start: the watchdog serves longer there.
      const interval: Record<string, string> = spec.emulated ? { healthcheck_interval: '20s' } : {};
      const c = await runContainer(image, onTestFinished, {
        env: await envFor({ ...spec.slow?.env, ...interval }),
        mounts: spec.slow?.mounts,
      });
      await waitReady(c, readyMs);
      expect(await c.healthcheck()).toBe(0);
      const pending = spec.slow ? request(c, spec.slow.request) : undefined;
      pending?.catch(() => undefined);
      if (pending) await sleep(300); // the request is in the function now
      await podmanOk(['kill', '--signal', 'TERM', c.id]);
      await sleep(200);
      expect(await c.running()).toBe(true); // still serving for healthcheck_interval
      expect(await c.healthcheck()).toBe(1);
      if (pending && spec.slow) expectAnswer(expect, await pending, spec.slow.request);
      await until(async () => !(await c.running()), spec.emulated ? 45_000 : 15_000, 'the container to exit', 100);
      expect(await c.exitCode()).toBe(0);
    },
    checkMs,
  );

  it.concurrent(
    'on podman stop during a slow request: the request is answered, exit code 0, within the drain (no SIGKILL)',
    async ({ expect, onTestFinished }) => {
      const c = await runContainer(image, onTestFinished, {
        env: await envFor(spec.slow?.env),
        mounts: spec.slow?.mounts,
      });
      await waitReady(c, readyMs);
      const pending = spec.slow ? request(c, spec.slow.request) : undefined;
      pending?.catch(() => undefined);
      if (pending) await sleep(300); // the request is in the function now
      const stopMs = await c.stop(10);
      if (pending && spec.slow) expectAnswer(expect, await pending, spec.slow.request);
      expect(await c.exitCode()).toBe(0);
      // The drain: serve for the image's healthcheck_interval, then wait for the request (1 s), then exit;
      // podman's 10 s (then SIGKILL, exit code 137) was not needed.
      const drainMs =
        durationMs(spec.env?.healthcheck_interval ?? imageEnv.healthcheck_interval) + (pending ? 1000 : 0);
      expect(stopMs).toBeLessThan(Math.min(drainMs + (spec.emulated ? 6000 : 3000), 10_000));
    },
    checkMs,
  );

  if (spec.orphans) {
    const { env, count } = spec.orphans;
    it.concurrent(
      'reaps the orphans a function leaves: no zombies',
      async ({ expect, onTestFinished }) => {
        const c = await runContainer(image, onTestFinished, { env: await envFor(env) });
        await waitReady(c, readyMs);
        const pid = await c.hostPid();
        for (let i = 0; i < 3; i++)
          expect((await send(`${c.url}/`, { method: 'POST', body: 'x' })).text).toContain('ok');
        // The orphans (sleep 0.5) are PID 1's children now; once they exit they are zombies until reaped.
        const sleeping = childrenOf(pid).filter((child) => {
          try {
            return programCmdline(child).startsWith('sleep');
          } catch {
            // Exited and reaped while we looked.
            return false;
          }
        });
        expect(sleeping.length).toBeGreaterThanOrEqual(count);
        await until(
          () => childrenOf(pid).length === 0 && zombieChildren(pid).length === 0,
          spec.emulated ? 15_000 : 5000,
          'the orphans to be reaped',
        );
        expect(await c.running()).toBe(true);
      },
      checkMs,
    );
  }
}
