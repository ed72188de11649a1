// Regression tests of issue #22 (items 5-7 and the inproc Host): the built binary, raw sockets, a real fd limit.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { rawConnect, rawRequest, type RawConnection } from '../helpers/raw.js';
import { freePort, until } from '../helpers/process.js';
import { send } from '../helpers/http.js';
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

const post = (body: string): string =>
  `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;

describe('issue 22, 5: no fd left for the function (EMFILE)', () => {
  for (const mode of ['streaming', 'serializing', 'classic']) {
    it(`${mode} mode answers 500 "the function could not be started" and serves again once fds are free`, async () => {
      const wd: RunningBinary = await startBinary({
        mode,
        fprocess: 'cat',
        TMPDIR: makeTmpDir(),
        healthcheck_interval: '0',
        log_format: 'text',
      });
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
      // Back to the count before the limit (the request's own connection has closed too): a spawn needs
      // up to nine fds (three pipes, libuv's exec-error pipe, the next connection), so "a few free" is not enough.
      await until(() => fdCount(pid) <= limit - 8, 3000, 'the idle connections to close');
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
    const wd = await startBinary({
      mode: 'inproc',
      fprocess: fixture('inproc/handler.mjs'),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
      secret_mount_path: secrets.path,
      auth_api_key_secret: 'api-key',
    });
    await wd.waitReady();
    const echo = async (headers: string): Promise<{ headers: Record<string, string>; rawHeaders: string[] }> => {
      const answer = await rawRequest(
        wd.port,
        `GET /headers HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`,
      );
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
    const answer = await withTimeout(
      rawRequest(wd.port, `GET /public HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
      3000,
      `GET /public with Host: ${host}`,
    );
    return { status: answer.slice(0, answer.indexOf('\r\n')), body: bodyOf(answer) };
  };

  it('Host: x/admin? cannot move the path the handler reads; Host: a b is served, not a 500', async () => {
    const wd = await startBinary({
      mode: 'inproc',
      fprocess: fixture('inproc/fetch.ts'),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
      log_format: 'text',
    });
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

describe('issue 22, 6: buffered request bodies are bounded by max_buffered_body_bytes', () => {
  /** The binary in `mode` (http: in front of the recording upstream); resolves its port. */
  async function start(mode: string, env: Record<string, string> = {}): Promise<RunningBinary> {
    const tmp = makeTmpDir();
    const upstreamPort = await freePort();
    const extra: Record<string, string> =
      mode === 'http'
        ? {
            fprocess: fixture('upstreams/recording-upstream'),
            upstream_url: `http://127.0.0.1:${upstreamPort}`,
            PORT: String(upstreamPort),
            RECORD_FILE: join(tmp, 'recorded.jsonl'),
            http_buffer_req_body: 'true',
          }
        : { fprocess: 'cat' };
    const wd = await startBinary({
      PATH: process.env.PATH ?? '',
      mode,
      TMPDIR: tmp,
      healthcheck_interval: '0',
      log_format: 'text',
      ...extra,
      ...env,
    });
    await wd.waitReady();
    return wd;
  }

  for (const mode of ['serializing', 'classic', 'http']) {
    it(`${mode}${mode === 'http' ? ' with http_buffer_req_body' : ''}: 413 at once for a Content-Length over the 64 MiB default, and for a chunked body as soon as it passes the cap`, async () => {
      const wd = await start(mode);
      // Only the headers are sent: the answer comes before any of the body.
      const declared = await rawConnect(wd.port);
      declared.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${64 * 1024 * 1024 + 1}\r\n\r\n`);
      const refused = await withTimeout(declared.closed, 3000, 'the 413 for the declared length');
      expect(refused).toMatch(/^HTTP\/1\.1 413 /);
      expect(refused).toContain('request body is larger than max_buffered_body_bytes (67108864 bytes)');

      const small = await start(mode, { max_buffered_body_bytes: '1000' });
      const chunked = await rawConnect(small.port);
      chunked.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      chunked.write(`258\r\n${'a'.repeat(600)}\r\n`);
      chunked.write(`258\r\n${'b'.repeat(600)}\r\n`);
      // No last chunk: the 413 must not wait for the end of the body.
      const over = await withTimeout(chunked.closed, 3000, 'the 413 for the chunked body');
      expect(over).toMatch(/^HTTP\/1\.1 413 /);
      expect(over).toContain('max_buffered_body_bytes (1000 bytes)');
      // Up to the cap is served.
      const fits = await withTimeout(rawRequest(small.port, post('x'.repeat(1000))), 3000, 'a body at the cap');
      expect(fits).toMatch(/^HTTP\/1\.1 200 /);
      await until(() => small.stderr.includes('413'), 2000, 'the 413 in the access log');
    });
  }

  it('a lower max_body_bytes still wins; streaming and http without http_buffer_req_body are not bounded by it', async () => {
    const both = await start('serializing', { max_buffered_body_bytes: '1000', max_body_bytes: '500' });
    const refused = await rawRequest(both.port, post('x'.repeat(501)));
    expect(refused).toMatch(/^HTTP\/1\.1 413 /);
    expect(refused).toContain('max_body_bytes (500 bytes)');
    const streaming = await start('streaming', { max_buffered_body_bytes: '1000' });
    expect(await rawRequest(streaming.port, post('y'.repeat(5000)))).toMatch(/^HTTP\/1\.1 200 /);
    const proxied = await start('http', { max_buffered_body_bytes: '1000', http_buffer_req_body: 'false' });
    expect(await rawRequest(proxied.port, post('z'.repeat(5000)))).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('marshal_request sends the same JSON document, base64 body and all, for a body over one encoding slice', async () => {
    const wd = await start('classic', { marshal_request: 'true' });
    const body = Buffer.alloc(3 * 256 * 1024 * 2 + 7);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const answer = await withTimeout(
      send(`${wd.url}/`, { method: 'POST', body, headers: { 'X-Test': 'a<b' } }),
      5000,
      'the marshalled echo',
    );
    const doc = JSON.parse(answer.text) as { header: Record<string, string[]>; body: { raw: string } };
    expect(doc.header['X-Test']).toEqual(['a<b']);
    expect(Buffer.from(doc.body.raw, 'base64').equals(body)).toBe(true);
    expect(answer.text).toContain('"X-Test":["a\\u003cb"]');
  });
});
