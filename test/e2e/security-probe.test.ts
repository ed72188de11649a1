// Regression tests of issue #22 (the readiness probe, refused requests, pipelining behind a refusal, the
// metrics port, the access log) against the built binary: raw sockets in, and what the function or the
// upstream received read back from what the fixtures recorded.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { freePort, sleep, until } from '../helpers/process.js';
import { send } from '../helpers/http.js';
import { rawConnect, rawRequest } from '../helpers/raw.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const KEY = 'probe-api-key-3b1d';
const FORK_MODES = ['classic', 'serializing', 'streaming'] as const;

/** The calls test/fixtures/record-probe recorded: each one's Http_* lines and body line. */
function calls(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('call\n')
    .filter(Boolean)
    .map((c) => c.split('\n').filter(Boolean));
}

async function forkWatchdog(mode: string, env: Record<string, string> = {}): Promise<{ wd: RunningBinary; file: string }> {
  const tmp = makeTmpDir();
  const file = join(tmp, 'calls.txt');
  const wd = await startBinary({ PATH: process.env.PATH ?? '', TMPDIR: tmp, mode, fprocess: fixture('record-probe'), CALLS_FILE: file, log_format: 'text', healthcheck_interval: '0', ...env });
  await until(async () => (await send(`${wd.url}/_/health`).catch(() => undefined))?.status === 200, 5000, '/_/health to answer 200');
  return { wd, file };
}

/** A GET /_/ready that tries to smuggle input into the function: a header, a query, a body. */
const HOSTILE_READY = 'GET /_/ready?drop=all HTTP/1.1\r\nHost: x\r\nX-Action: delete-all\r\nX-Api-Key: stolen\r\nContent-Length: 4\r\nConnection: close\r\n\r\nevil';

describe('issue #22: the readiness probe', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  for (const mode of FORK_MODES) {
    it(`${mode}: 20 parallel /_/ready run the function once, with the watchdog's own request, and get the watchdog's answer`, async () => {
      const mount = createSecretMount({ 'api-key': KEY });
      const { wd, file } = await forkWatchdog(mode, { ready_path: '/slow-ready', secret_mount_path: mount.path, auth_api_key_secret: 'api-key', max_inflight: '1' });
      writeFileSync(file, '');
      const answers = await withTimeout(Promise.all(Array.from({ length: 20 }, () => rawRequest(wd.port, HOSTILE_READY))), 5000, 'the 20 probes');
      for (const a of answers) {
        expect(a).toMatch(/^HTTP\/1\.1 200 /);
        expect(a).not.toContain('function-output');
        expect(a).toMatch(/\r\n\r\n$/); // an empty body
      }
      const recorded = calls(file);
      expect(recorded).toHaveLength(1);
      const env = recorded[0] as string[];
      expect(env).toContain('Http_Method=GET');
      expect(env).toContain('Http_Path=/slow-ready');
      expect(env).toContain('body=');
      expect(env.join('\n')).not.toMatch(/delete-all|stolen|drop=all|evil/);
      expect(env.some((l) => l.startsWith('Http_X_'))).toBe(false);
      expect(env.filter((l) => l.startsWith('Http_Content_Length')).every((l) => l === 'Http_Content_Length=0')).toBe(true);
      // A function request without the key is still refused.
      expect((await send(`${wd.url}/x`)).status).toBe(401);
    });
  }

  it('streaming (cgi_response): a function that says 503 on ready_path makes /_/ready 503, without its body', async () => {
    const tmp = makeTmpDir();
    const wd = await startBinary({ PATH: process.env.PATH ?? '', TMPDIR: tmp, mode: 'streaming', fprocess: fixture('cgi-ready'), READY_FILE: join(tmp, 'ready'), cgi_response: 'true', ready_path: '/ready', healthcheck_interval: '0' });
    await until(async () => (await send(`${wd.url}/_/health`).catch(() => undefined))?.status === 200, 5000, '/_/health to answer 200');
    const notYet = await rawRequest(wd.port, 'GET /_/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(notYet).toMatch(/^HTTP\/1\.1 503 /);
    expect(notYet).not.toContain('not yet');
    writeFileSync(join(tmp, 'ready'), '');
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
  });

  it('http: no client header, query or body reaches the upstream through /_/ready', async () => {
    const tmp = makeTmpDir();
    const file = join(tmp, 'recorded.jsonl');
    const upstreamPort = await freePort();
    const mount = createSecretMount({ 'api-key': KEY });
    const wd = await startBinary({ PATH: process.env.PATH ?? '', TMPDIR: tmp, mode: 'http', fprocess: fixture('upstreams/recording-upstream'), upstream_url: `http://127.0.0.1:${upstreamPort}`, PORT: String(upstreamPort), RECORD_FILE: file, ready_path: '/ready', secret_mount_path: mount.path, auth_api_key_secret: 'api-key', max_inflight: '1', healthcheck_interval: '0' });
    await wd.waitReady();
    writeFileSync(file, '');
    const answers = await Promise.all(Array.from({ length: 10 }, () => rawRequest(wd.port, HOSTILE_READY)));
    for (const a of answers) {
      expect(a).toMatch(/^HTTP\/1\.1 200 /);
      expect(a).not.toMatch(/\r\n\r\nok/);
    }
    const recorded = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { url: string; rawHeaders: string[]; body: string });
    expect(recorded.length).toBeGreaterThanOrEqual(1);
    expect(recorded.length).toBeLessThanOrEqual(10);
    for (const r of recorded) {
      expect(r.url).toBe('/ready');
      expect(r.body).toBe('');
      const names = r.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(names).not.toContain('x-api-key');
      expect(names).not.toContain('x-action');
      expect(r.rawHeaders.join(' ')).not.toMatch(/stolen|delete-all/);
    }
  });

  it('inproc: the handler sees the watchdog\'s GET <ready_path>, the client gets an empty 200', async () => {
    const wd = await startBinary({ mode: 'inproc', fprocess: fixture('inproc/handler.mjs'), TMPDIR: makeTmpDir(), healthcheck_interval: '0', ready_path: '/am-i-ready' });
    await wd.waitReady();
    const a = await rawRequest(wd.port, HOSTILE_READY);
    expect(a).toMatch(/^HTTP\/1\.1 200 /);
    expect(a).not.toContain('hello');
  });
});
