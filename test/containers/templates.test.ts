// Every template in templates/ built with podman on the stand-ins of its base images and run as a real container.
// A new template needs a line in EXAMPLES (and, if it runs code per request, a slow handler in fixtures/slow/).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build-once.js';
import { send } from '../helpers/http.js';
import { freePort } from '../helpers/process.js';
import { BUILD_TIMEOUT_MS, functionImageChecks, type ExampleRequest } from './function-image.js';
import { build, podman, podmanOk, runContainer, waitReady } from './podman.js';
import { runImage, watchdogImage } from './run-images.js';
import { ensure, STANDINS, standinFor, type ImageArch } from './standins.js';

const TEMPLATES = join(ROOT, 'templates');
const SLOW = join(import.meta.dirname, 'fixtures', 'slow');

/** The example each template's function/ answers. */
const EXAMPLES: Record<string, ExampleRequest> = {
  'python3-http': {
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'text/plain' },
    body: 'hello from a container',
    status: 200,
    bodyIncludes: 'hello from a container',
  },
  'node-http': {
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'text/plain' },
    body: 'hello from a container',
    status: 200,
    bodyIncludes: 'hello from a container',
  },
  'node-http-server': {
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'text/plain' },
    body: 'hello from a container',
    status: 200,
    bodyIncludes: 'hello from a container',
  },
  python3: {
    method: 'POST',
    path: '/',
    body: 'hello from a container',
    status: 200,
    bodyIncludes: 'hello from a container',
  },
  'bash-streaming': {
    method: 'POST',
    path: '/',
    body: 'hello from a container',
    status: 200,
    bodyIncludes: 'hello from a container',
  },
  static: { path: '/', status: 200, bodyIncludes: 'Hello from fwatchdog' },
};

/** The handler file in function/ that fixtures/slow/NAME/ replaces (mounted read-only) for the slow request. */
function slowHandler(name: string): [string, string][] | undefined {
  const dir = join(SLOW, name);
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir).map((file) => [join(dir, file), `/home/app/function/${file}`]);
}

/** --build-arg values: the watchdog image, and a stand-in (of `arch`) for each base image named by an ARG default. */
async function buildArgs(name: string, arch: ImageArch = 'amd64'): Promise<Record<string, string>> {
  const args: Record<string, string> = { WATCHDOG_IMAGE: watchdogImage() };
  for (const m of readFileSync(join(TEMPLATES, name, 'Dockerfile'), 'utf8').matchAll(/^ARG (\w+)=(\S+)$/gm)) {
    const [, arg, image] = m as unknown as [string, string, string];
    if (arg === 'WATCHDOG_IMAGE') continue;
    const standin = standinFor(image, arch);
    if (!standin)
      throw new Error(
        `templates/${name}: no local stand-in for ${arg}=${image}; add one to test/containers/standins.ts`,
      );
    args[arg] = await ensure(standin);
  }
  return args;
}

async function buildTemplate(
  name: string,
  tag: string,
  args: Record<string, string>,
  platform?: string,
): Promise<string> {
  const r = await build(join(TEMPLATES, name), tag, args, { platform });
  if (r.code !== 0) throw new Error(`podman build templates/${name} failed:\n${r.stderr.slice(-4000)}`);
  return tag;
}

const names = readdirSync(TEMPLATES).filter((n) => existsSync(join(TEMPLATES, n, 'Dockerfile')));

it('has an example request for every template', () => {
  expect(names.filter((n) => EXAMPLES[n] === undefined)).toEqual([]);
});

describe.each(names.filter((n) => EXAMPLES[n] !== undefined))('the %s template image', (name) => {
  const example = EXAMPLES[name] as ExampleRequest;
  const mounts = slowHandler(name);
  functionImageChecks({
    build: async () => buildTemplate(name, runImage(name), await buildArgs(name)),
    example,
    slow: mounts
      ? { request: { method: 'POST', path: '/', body: 'x', status: 200, bodyIncludes: 'slept' }, mounts }
      : undefined,
  });
});

// linux/arm64, under emulation: every template builds with --platform linux/arm64 on the arm64 stand-ins of its
// bases (its runtime, python3 or node, is the base's arm64 one) and answers its example request; the in-process
// template (node-http, mode=inproc) gets every check. The fork and http paths are checked in full by the
// arm64 fork images of watchdog-image.test.ts.
const INPROC = 'node-http';

describe('linux/arm64: the node-http template image (inproc, under emulation)', () => {
  functionImageChecks({
    build: async () =>
      buildTemplate(INPROC, runImage(INPROC, 'arm64'), await buildArgs(INPROC, 'arm64'), 'linux/arm64'),
    example: EXAMPLES[INPROC] as ExampleRequest,
    slow: slowHandler(INPROC)
      ? {
          request: { method: 'POST', path: '/', body: 'x', status: 200, bodyIncludes: 'slept' },
          mounts: slowHandler(INPROC),
        }
      : undefined,
    emulated: true,
  });
});

describe('linux/arm64: every other template', () => {
  for (const name of names.filter((n) => n !== INPROC && EXAMPLES[n] !== undefined)) {
    it.concurrent(
      `${name} builds for linux/arm64 on arm64 stand-ins and answers its example request`,
      async ({ expect, onTestFinished }) => {
        const image = await buildTemplate(name, runImage(name, 'arm64'), await buildArgs(name, 'arm64'), 'linux/arm64');
        expect((await podmanOk(['image', 'inspect', image, '--format', '{{.Architecture}}'])).trim()).toBe('arm64');
        const mode = (
          JSON.parse(await podmanOk(['image', 'inspect', image, '--format', '{{json .Config.Env}}'])) as string[]
        ).find((kv) => kv.startsWith('mode='));
        const env: Record<string, string> = {};
        if (mode === 'mode=http') {
          const port = await freePort();
          Object.assign(env, { http_port: String(port), upstream_url: `http://127.0.0.1:${port}` });
        }
        const c = await runContainer(image, onTestFinished, { env });
        await waitReady(c, 180_000);
        const example = EXAMPLES[name] as ExampleRequest;
        const res = await send(`${c.url}${example.path}`, {
          method: example.method ?? 'GET',
          headers: example.headers,
          body: example.body,
        });
        expect(res.status, res.text).toBe(example.status);
        expect(res.text).toContain(example.bodyIncludes);
        const version = await podman(['exec', c.id, '/opt/fwatchdog/fwatchdog', '--version'], { timeoutMs: 60_000 });
        expect(version.stdout).toContain('Arch: linux/arm64');
      },
      BUILD_TIMEOUT_MS,
    );
  }
});

describe('a template on a base without what it needs', () => {
  it.each([
    ['python3-http', 'python3'],
    ['python3', 'python3'],
    ['bash-streaming', 'bash'],
  ])(
    '%s fails to build on a base without %s, saying so',
    async (name, what) => {
      const base = await ensure(STANDINS.busyboxMusl);
      const r = await build(join(TEMPLATES, name), runImage(name, 'broken'), {
        WATCHDOG_IMAGE: watchdogImage(),
        BASE: base,
      });
      expect(r.code).not.toBe(0);
      expect(r.stderr + r.stdout).toContain(`${name}: the base image ${base} has no ${what}`);
    },
    120_000,
  );
});
