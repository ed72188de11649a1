// Regression tests of issue #22 (items 5-7 and the inproc Host): the built binary, raw sockets, a real fd limit.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { rawConnect, rawRequest, type RawConnection } from '../helpers/raw.js';
import { until } from '../helpers/process.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';
import { createSecretMount } from '../helpers/auth-secrets.js';

const KEY = 'my-api-key-22c';

beforeAll(() => ensureBinary(), 120_000);

/** Opens `n` idle connections (the watchdog accepts what its fds allow; libuv closes the rest). */
async function openIdle(port: number, n: number): Promise<RawConnection[]> {
  const conns: RawConnection[] = [];
  for (let i = 0; i < n; i++) conns.push(await rawConnect(port));
  return conns;
}

/** The body of a raw answer, chunked or not. */
function bodyOf(answer: string): string {
  const split = answer.indexOf('\r\n\r\n');
  const head = answer.slice(0, split).toLowerCase();
  let rest = answer.slice(split + 4);
  if (!head.includes('transfer-encoding: chunked')) return rest;
  let body = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return body;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 4 + size);
  }
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

const post = (body: string): string => `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;

describe('issue 22, 5: no fd left for the function (EMFILE)', () => {
  for (const mode of ['streaming', 'serializing', 'classic']) {
    it(`${mode} mode answers 500 "the function could not be started" and serves again once fds are free`, async () => {
      const wd: RunningBinary = await startBinary({ mode, fprocess: 'cat', TMPDIR: makeTmpDir(), healthcheck_interval: '0', log_format: 'text' });
      await wd.waitReady();
      const pid = wd.child.pid as number;
      // The request's connection is accepted first; then idle ones take every fd left under a real limit.
      const conn = await rawConnect(wd.port);
      await until(() => fdCount(pid) > 0, 1000, 'the connection to be accepted');
      const limit = fdCount(pid) + 8;
      execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`]);
      const idle = await openIdle(wd.port, 40);
      await until(() => fdCount(pid) >= limit - 1, 2000, 'the fds to be taken');
      conn.write(post('hello'));
      const answer = await withTimeout(conn.closed, 3000, `the ${mode} answer under EMFILE`);
      expect(answer).toMatch(/^HTTP\/1\.1 500 /);
      expect(answer).toContain('the function could not be started');
      await until(() => /status=500|"status":500| 500 /.test(wd.stderr), 2000, 'the access line with 500');
      for (const c of idle) c.socket.destroy();
      await until(() => fdCount(pid) < limit - 4, 2000, 'the idle connections to close');
      const again = await withTimeout(rawRequest(wd.port, post('hello')), 3000, 'the answer once fds are free');
      expect(again).toMatch(/^HTTP\/1\.1 200 /);
      expect(again).toMatch(/\r\n\r\n(5\r\n)?hello(\r\n0\r\n\r\n)?$/);
      expect(wd.stderr).not.toContain('uncaught exception');
      expect(wd.child.exitCode).toBeNull();
    });
  }
});

describe('issue 22, 7: the accepted API key never reaches an inproc handler', () => {
  it('a second Authorization header is what req.headers.authorization holds, never the accepted Bearer key', async () => {
    const secrets = createSecretMount({ 'api-key': KEY });
    const wd = await startBinary({ mode: 'inproc', fprocess: fixture('inproc/handler.mjs'), TMPDIR: makeTmpDir(), healthcheck_interval: '0', secret_mount_path: secrets.path, auth_api_key_secret: 'api-key' });
    await wd.waitReady();
    const echo = async (headers: string): Promise<{ headers: Record<string, string>; rawHeaders: string[] }> => {
      const answer = await rawRequest(wd.port, `GET /headers HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      return JSON.parse(bodyOf(answer)) as { headers: Record<string, string>; rawHeaders: string[] };
    };
    const both = await echo(`Authorization: Bearer ${KEY}\r\nAuthorization: Basic dXNlcjpwdw==\r\n`);
    expect(both.headers.authorization).toBe('Basic dXNlcjpwdw==');
    expect(both.rawHeaders).not.toContain(`Bearer ${KEY}`);
    const viaHeader = await echo(`X-Api-Key: ${KEY}\r\nAuthorization: Bearer ${KEY}\r\n`);
    expect(viaHeader.headers.authorization).toBeUndefined();
    expect(viaHeader.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(viaHeader)).not.toContain(KEY);
    expect(JSON.stringify(both)).not.toContain(KEY);
  });
});

describe('issue 22, low: the inproc fetch handler builds request.url from a valid Host only', () => {
  const fetchRequest = async (wd: RunningBinary, host: string): Promise<{ status: string; body: string }> => {
    const answer = await withTimeout(rawRequest(wd.port, `GET /public HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), 3000, `GET /public with Host: ${host}`);
    return { status: answer.slice(0, answer.indexOf('\r\n')), body: bodyOf(answer) };
  };

  it('Host: x/admin? cannot move the path the handler reads; Host: a b is served, not a 500', async () => {
    const wd = await startBinary({ mode: 'inproc', fprocess: fixture('inproc/fetch.ts'), TMPDIR: makeTmpDir(), healthcheck_interval: '0', log_format: 'text' });
    await wd.waitReady();
    for (const host of ['x/admin?', 'x/admin#', 'a b', 'x@evil.example', 'x:99999', '[::1', 'evil\\x']) {
      const { status, body } = await fetchRequest(wd, host);
      expect(status, host).toMatch(/^HTTP\/1\.1 201 /);
      const seen = JSON.parse(body) as { path: string; host: string };
      expect(seen.path, host).toBe('/public');
      expect(seen.host, host).toBe('localhost');
    }
    // A valid authority is kept as sent.
    for (const host of ['example.com:8080', '127.0.0.1', '[::1]:8080', 'my_svc.ns']) {
      const seen = JSON.parse((await fetchRequest(wd, host)).body) as { path: string; host: string };
      expect(seen.host, host).toBe(host);
      expect(seen.path, host).toBe('/public');
    }
    expect(wd.stderr).not.toMatch(/failed|TypeError/);
  });
});
