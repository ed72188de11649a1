// Each template's entry runs under the built binary, configured by the ENV lines of its own Dockerfile.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBinary, ensureSeaNode, startBinary, type RunningBinary } from '../helpers/binary.js';
import { childrenOf, freePort, until } from '../helpers/process.js';
import { send } from '../helpers/http.js';
import { makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const TEMPLATES = join(ROOT, 'templates');
const PNG = readFileSync(join(TEMPLATES, 'static', 'function', 'logo.png'));

/** The `ENV key="value"` lines of a template's Dockerfile. */
function dockerfileEnv(template: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(TEMPLATES, template, 'Dockerfile'), 'utf8').split('\n')) {
    if (!line.startsWith('ENV ')) continue;
    for (const m of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S+))/g))
      env[m[1] as string] = m[2] ?? m[3] ?? '';
  }
  return env;
}

/** A PATH whose `node` is the Node 22 the node-http image runs (the machine's node may be older). */
function pathWithNode22(): string {
  const bin = makeTmpDir('fwd-bin-');
  symlinkSync(ensureSeaNode(), join(bin, 'node'));
  return `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`;
}

interface TemplateRun extends RunningBinary {
  dir: string;
  /** The environment the binary was started with. */
  env: Record<string, string>;
}

/**
 * Copies templates/NAME (as the image's /home/app), optionally replaces files under it, and starts the
 * binary there with the Dockerfile's ENV plus `env`. http templates get a free upstream port.
 */
async function startTemplate(
  name: string,
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): Promise<TemplateRun> {
  const dir = makeTmpDir(`fwd-${name}-`);
  cpSync(join(TEMPLATES, name), dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  const base = dockerfileEnv(name);
  const extra: Record<string, string> = {
    TMPDIR: makeTmpDir(),
    // node-http runs in-process: no node on its PATH at all, as in its image.
    PATH:
      name === 'node-http-server'
        ? pathWithNode22()
        : name === 'node-http'
          ? makeTmpDir('fwd-no-node-')
          : (process.env.PATH ?? '/usr/bin:/bin'),
    PYTHONDONTWRITEBYTECODE: '1',
  };
  if (base.mode === 'http') {
    const port = await freePort();
    extra.http_port = String(port);
    extra.upstream_url = `http://127.0.0.1:${port}`;
  }
  if (base.mode === 'static') extra.static_path = join(dir, 'function');
  const fullEnv = { ...base, ...extra, ...env };
  const wd = await startBinary(fullEnv, { cwd: dir });
  await wd.waitReady(10_000);
  return Object.assign(wd, { dir, env: fullEnv });
}

function secretsDir(secrets: Record<string, string>): string {
  const dir = makeTmpDir('fwd-secrets-');
  for (const [name, value] of Object.entries(secrets)) writeFileSync(join(dir, name), value);
  return dir;
}

/** Resolves once the watchdog's stderr (its log, with the function's stderr) contains `text`. */
async function stderrContains(wd: RunningBinary, text: string): Promise<void> {
  await until(() => wd.stderr.includes(text), 2000, `${JSON.stringify(text)} in the log`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(() => ensureBinary(), 120_000);

describe.each(['node-http', 'node-http-server', 'python3-http'])('the %s template', (name) => {
  it("echoes a JSON request with the handler's status and headers", async () => {
    const wd = await startTemplate(name);
    const res = await send(`${wd.url}/orders?id=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"id": 1, "items": ["a"]}',
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-handled-by']).toBe(name);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.text)).toEqual({ id: 1, items: ['a'] });
  });

  it('answers 400 when a JSON body does not parse and RAW_BODY is off', async () => {
    const wd = await startTemplate(name);
    const res = await send(wd.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{nope' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('invalid JSON body');
  });

  it('with RAW_BODY=true returns a binary body byte-exact', async () => {
    const wd = await startTemplate(name, { RAW_BODY: 'true' });
    const body = Buffer.concat([PNG, randomBytes(64 * 1024)]);
    const res = await send(wd.url, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.body.equals(body)).toBe(true);
  });

  it('GET /config reads the db-password secret from secret_mount_path: 200 when mounted', async () => {
    const wd = await startTemplate(name, { secret_mount_path: secretsDir({ 'db-password': 's3cret\n' }) });
    const res = await send(`${wd.url}/config`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.text)).toEqual({ database: 'configured', passwordChars: 6 });
    expect(res.text).not.toContain('s3cret');
  });

  it('hands a chunked request body to the handler whole', async () => {
    const wd = await startTemplate(name);
    async function* chunks(): AsyncGenerator<string> {
      for (const part of ['part one, ', 'part two, ', 'part three']) {
        yield part;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const res = await send(wd.url, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: chunks() });
    expect(res.status).toBe(200);
    expect(res.text).toBe('part one, part two, part three');
  });

  it('passes OPTIONS, PUT, PATCH and DELETE requests to the handler', async () => {
    const wd = await startTemplate(name);
    for (const method of ['OPTIONS', 'PUT', 'PATCH', 'DELETE']) {
      const body = method === 'OPTIONS' ? '' : method;
      // An explicit Content-Length: node's client sends neither it nor chunked for a DELETE body by default.
      const res = await send(wd.url, {
        method,
        headers: { 'Content-Type': 'text/plain', 'Content-Length': String(body.length) },
        body,
      });
      expect(res.status, method).toBe(200);
      expect(res.headers['x-handled-by'], method).toBe(name);
      expect(res.text, method).toBe(body);
    }
  });

  it('exits 0 on SIGTERM after stopping the handler server', async () => {
    const wd = await startTemplate(name, { healthcheck_interval: '0' });
    const inproc = wd.env.mode === 'inproc';
    if (!inproc)
      expect((await send(`${wd.env.upstream_url}/`, { method: 'POST', body: 'direct' })).text).toBe('direct');
    wd.child.kill('SIGTERM');
    expect(await withTimeout(wd.exited, 5000, 'the watchdog to exit')).toEqual({ code: 0, signal: null });
    await expect(send(wd.url)).rejects.toThrow();
    if (!inproc) await expect(send(`${wd.env.upstream_url}/`)).rejects.toThrow();
  });

  it('GET /config answers 503 with Retry-After when the secret is not mounted', async () => {
    const wd = await startTemplate(name, { secret_mount_path: secretsDir({}) });
    const res = await send(`${wd.url}/config`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('10');
    expect(res.text).toBe('the db-password secret is not mounted\n');
  });
});

// faasd's removal: SIGTERM to every process of the container at once (the upstream and the watchdog).
const SLOW_HANDLERS: Record<string, Record<string, string>> = {
  'node-http-server': {
    'function/handler.ts':
      "export async function handle() {\n  await new Promise((r) => setTimeout(r, 500));\n  return { statusCode: 200, body: 'slow done' };\n}\n",
  },
  'python3-http': {
    'function/handler.py':
      "import time\n\n\ndef handle(event, context):\n    time.sleep(0.5)\n    return {'statusCode': 200, 'body': 'slow done'}\n",
  },
};

describe.each(['node-http-server', 'python3-http'])(
  'the %s template on a container-wide SIGTERM (as faasd sends it)',
  (name) => {
    it('finishes the call in flight, then the server and the watchdog exit 0', async () => {
      const wd = await startTemplate(name, { healthcheck_interval: '1s' }, SLOW_HANDLERS[name]);
      const [upstreamPid] = childrenOf(wd.child.pid as number);
      const inFlight = send(`${wd.url}/`, { method: 'POST', body: 'x' });
      await sleep(150);
      process.kill(upstreamPid as number, 'SIGTERM');
      wd.child.kill('SIGTERM');
      const res = await withTimeout(inFlight, 3000, 'the call in flight');
      expect(res.status).toBe(200);
      expect(res.text).toBe('slow done');
      // The server exits once idle, before the watchdog's healthcheck_interval is over.
      await until(
        () => /Forked function has terminated: exit status 0;.*\(during the shutdown\)/.test(wd.stderr),
        2000,
        'the server to exit 0',
      );
      expect(await withTimeout(wd.exited, 5000, 'the watchdog to exit')).toEqual({ code: 0, signal: null });
      expect(wd.stderr).not.toContain('"levelName":"error"');
    });

    it('exits at once on SIGTERM when idle', async () => {
      const wd = await startTemplate(name, { healthcheck_interval: '1s' });
      const [upstreamPid] = childrenOf(wd.child.pid as number);
      process.kill(upstreamPid as number, 'SIGTERM');
      await until(async () => (await send(`${wd.url}/_/health`)).status === 503, 2000, 'the server to exit');
      wd.child.kill('SIGTERM');
      expect(await withTimeout(wd.exited, 5000, 'the watchdog to exit')).toEqual({ code: 0, signal: null });
      expect(wd.stderr).toContain('Forked function has terminated: exit status 0');
    });
  },
);

describe.each(['node-http', 'node-http-server'])('the %s template', (name) => {
  it('answers 500 when the handler throws, and keeps serving', async () => {
    const handler =
      "import type { Event } from '../types.ts';\nexport async function handle(event: Event) {\n  if (event.path === '/boom') throw new Error('boom');\n  return { statusCode: 202, body: { ok: true } };\n}\n";
    const wd = await startTemplate(name, {}, { 'function/handler.ts': handler });
    expect((await send(`${wd.url}/boom`)).status).toBe(500);
    const ok = await send(`${wd.url}/fine`);
    expect(ok.status).toBe(202);
    expect(ok.headers['content-type']).toBe('application/json');
    expect(ok.text).toBe('{"ok":true}');
  });
});

describe.each(['node-http', 'node-http-server'])('the %s template sources', (name) => {
  it("type-check with the template's tsconfig (erasable syntax only, as Node's type stripping needs)", () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', join(TEMPLATES, name)], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

describe('the python3-http template', () => {
  it('answers 500 when the handler raises, and keeps serving', async () => {
    const handler =
      "def handle(event, context):\n    if event.path == '/boom':\n        raise RuntimeError('boom')\n    return {'statusCode': 202, 'body': {'ok': True}}\n";
    const wd = await startTemplate('python3-http', {}, { 'function/handler.py': handler });
    expect((await send(`${wd.url}/boom`)).status).toBe(500);
    const ok = await send(`${wd.url}/fine`);
    expect(ok.status).toBe(202);
    expect(ok.headers['content-type']).toBe('application/json');
    expect(JSON.parse(ok.text)).toEqual({ ok: true });
  });
});

describe('the python3 template', () => {
  it('echoes a text request through handle(req)', async () => {
    const wd = await startTemplate('python3');
    const res = await send(wd.url, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'héllo' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('héllo');
    expect(res.headers['content-type']).toBe('text/plain');
  });

  it('runs the same entry in serializing mode', async () => {
    const wd = await startTemplate('python3', { mode: 'serializing', RAW_BODY: 'true' });
    const body = Buffer.concat([PNG, randomBytes(4096)]);
    const res = await send(wd.url, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(res.body.equals(body)).toBe(true);
  });

  it('with RAW_BODY=true returns a binary body byte-exact', async () => {
    const wd = await startTemplate('python3', { RAW_BODY: 'true' });
    const body = Buffer.concat([PNG, randomBytes(64 * 1024)]);
    const res = await send(wd.url, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.body.equals(body)).toBe(true);
  });

  it('reads a secret from secret_mount_path with read_secret', async () => {
    const handler =
      "from read_secret import read_secret\n\ndef handle(req):\n    return {'greeting': read_secret('greeting'), 'missing': read_secret('missing')}\n";
    const wd = await startTemplate(
      'python3',
      { secret_mount_path: secretsDir({ greeting: 'hello\n' }) },
      { 'function/handler.py': handler },
    );
    const res = await send(wd.url, { method: 'POST', body: '' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ greeting: 'hello', missing: null });
  });

  it('answers 500 with the exit status when handle() raises, and logs the traceback', async () => {
    const handler = "def handle(req):\n    raise RuntimeError('boom')\n";
    const wd = await startTemplate('python3', {}, { 'function/handler.py': handler });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(res.text).toMatch(/^exit status 1\n/);
    await stderrContains(wd, 'RuntimeError: boom');
  });

  it('answers with content_type as the Content-Type when it is set', async () => {
    const wd = await startTemplate('python3', { content_type: 'text/x-report' });
    const res = await send(wd.url, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'report' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/x-report');
    expect(res.text).toBe('report');
  });
});

describe('the bash-streaming template', () => {
  it('echoes a 1 MiB binary body byte-exact', async () => {
    const wd = await startTemplate('bash-streaming');
    const body = Buffer.concat([PNG, randomBytes(1 << 20)]);
    const res = await send(wd.url, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.body.equals(body)).toBe(true);
  });

  it('streams the lines the example writes on /lines', async () => {
    const wd = await startTemplate('bash-streaming');
    const res = await send(`${wd.url}/lines`, { method: 'POST', body: '' });
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.text).toBe('line 1\nline 2\nline 3\n');
  });

  it('reads a secret with read_secret, and a missing secret fails the request with a 500', async () => {
    const handler = 'value="$(read_secret "${Http_Query#name=}")"\nprintf "%s!" "$value"\n';
    const wd = await startTemplate(
      'bash-streaming',
      { secret_mount_path: secretsDir({ greeting: 'hello\n' }), content_type: 'text/plain' },
      { 'function/handler.sh': handler },
    );
    const res = await send(`${wd.url}/?name=greeting`, { method: 'POST', body: '' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.text).toBe('hello!');
    const missing = await send(`${wd.url}/?name=missing`, { method: 'POST', body: '' });
    expect(missing.status).toBe(500);
    await stderrContains(wd, "no secret named 'missing'");
  });
});

describe('the static template', () => {
  it('serves the site: index.html for /, the logo byte-exact, 301 for a folder, 404 for a missing file', async () => {
    const wd = await startTemplate('static');
    const home = await send(`${wd.url}/`);
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toMatch(/^text\/html/);
    expect(home.text).toContain('Hello from fwatchdog');
    const logo = await send(`${wd.url}/logo.png`);
    expect(logo.status).toBe(200);
    expect(logo.headers['content-type']).toBe('image/png');
    expect(logo.body.equals(PNG)).toBe(true);
    const about = await send(`${wd.url}/about`);
    expect(about.status).toBe(301);
    expect(about.headers.location).toBe('about/');
    expect((await send(`${wd.url}/about/`)).text).toContain('<h1>About</h1>');
    expect((await send(`${wd.url}/nope.html`)).status).toBe(404);
  });
});

describe('the templates folder', () => {
  it('has an entry file next to each template.yml that names it in fprocess', () => {
    for (const name of ['node-http', 'node-http-server', 'python3-http', 'python3', 'bash-streaming']) {
      const yml = readFileSync(join(TEMPLATES, name, 'template.yml'), 'utf8');
      const fprocess = /^fprocess: (.+)$/m.exec(yml)?.[1];
      expect(fprocess, name).toBe(dockerfileEnv(name).fprocess);
      // inproc: fprocess is the module file itself; other modes: an interpreter, then the entry file.
      const words = (fprocess ?? '').split(' ');
      const entry = (dockerfileEnv(name).mode === 'inproc' ? words[0] : words[1]) ?? '';
      expect(existsSync(join(TEMPLATES, name, entry)), `${name}/${entry}`).toBe(true);
    }
  });
});
