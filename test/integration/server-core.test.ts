import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { send, type RawResponse } from '../helpers/http.js';
import { rawConnect, rawRequest } from '../helpers/raw.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout, type TestWatchdog } from '../helpers/watchdog.js';
import { freePort, isGone, pidFrom, sleep, until } from '../helpers/process.js';

/** Starts `n` slow requests (X-Sleep seconds) and waits until the watchdog counts them in flight. */
async function occupy(wd: TestWatchdog, n: number, seconds: string): Promise<Array<Promise<RawResponse>>> {
  const pending = Array.from({ length: n }, () =>
    send(wd.url, { method: 'POST', headers: { 'X-Sleep': seconds }, body: 'slow' }),
  );
  for (const p of pending) p.catch(() => undefined);
  await until(() => wd.watchdog.inFlight === n, 2000, `${n} requests in flight`);
  return pending;
}

describe('health, readiness and the lock file', () => {
  it('answers /_/health GET 200 OK, other methods 405, and /_/ready 200 with an empty body', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    const health = await send(`${wd.url}/_/health`);
    expect(health.status).toBe(200);
    expect(health.text).toBe('OK');
    for (const method of ['HEAD', 'POST']) {
      const res = await send(`${wd.url}/_/health`, { method });
      expect(res.status).toBe(405);
      expect(res.text).toBe('');
    }
    const ready = await send(`${wd.url}/_/ready`);
    expect(ready.status).toBe(200);
    expect(ready.text).toBe('');
    expect((await send(`${wd.url}/_/ready`, { method: 'POST' })).status).toBe(405);
  });

  it('is unhealthy and unready with no lock file until ready, then writes the lock file', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' }, { waitReady: false });
    expect(existsSync(wd.config.lockFilePath)).toBe(false);
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(503);
    expect(await withTimeout(wd.watchdog.markReadyWhenReady(1000), 2000, 'ready')).toBe(true);
    expect(existsSync(wd.config.lockFilePath)).toBe(true);
    expect(wd.config.lockFilePath).toBe(join(wd.tmpDir, '.lock'));
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
    await wd.logs.waitFor(`Writing lock-file to: ${wd.config.lockFilePath}`);
  });

  it('removes a stale lock file left by an earlier run, so nothing reports healthy before this run is ready', async () => {
    const wd = await startWatchdog(
      { fprocess: 'cat' },
      { waitReady: false, configure: (c) => writeFileSync(c.lockFilePath, '') },
    );
    expect(existsSync(wd.config.lockFilePath)).toBe(false);
    await wd.logs.waitFor('Removing stale lock-file');
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    await withTimeout(wd.watchdog.markReadyWhenReady(1000), 2000, 'ready');
    expect(existsSync(wd.config.lockFilePath)).toBe(true);
  });

  it('turns unhealthy when the lock file is deleted by someone else, and healthy again when it is back', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    rmSync(wd.config.lockFilePath);
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(503);
    writeFileSync(wd.config.lockFilePath, '');
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
  });

  it('with suppress_lock=true writes no lock file but still reports healthy and ready', async () => {
    const wd = await startWatchdog({ fprocess: 'cat', suppress_lock: 'true' });
    expect(existsSync(wd.config.lockFilePath)).toBe(false);
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
    await wd.logs.waitFor(/suppress_lock.* is enabled/);
  });

  it('answers /_/ready by asking the function (its own GET <ready_path>) when ready_path is set', async () => {
    const file = join(makeTmpDir(), 'calls.txt');
    const wd = await startWatchdog({ fprocess: fixture('record-probe'), CALLS_FILE: file, ready_path: '/ready' });
    const res = await send(`${wd.url}/_/ready?q=1`, { headers: { 'X-Action': 'a' } });
    expect([res.status, res.text]).toEqual([200, '']);
    const env = readFileSync(file, 'utf8').split('\n');
    expect(env).toContain('Http_Path=/ready');
    expect(env).toContain('Http_Method=GET');
    expect(env.some((l) => l.startsWith('Http_X_Action') || l.startsWith('Http_Query'))).toBe(false);
  });

  it('answers /_/ready 429 with an empty body while max_inflight requests are running', async () => {
    const wd = await startWatchdog({ fprocess: fixture('maybe-sleep'), max_inflight: '1' });
    const pending = await occupy(wd, 1, '0.4');
    const ready = await send(`${wd.url}/_/ready`);
    expect(ready.status).toBe(429);
    expect(ready.text).toBe('');
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
    expect((await withTimeout(pending[0] as Promise<RawResponse>, 3000, 'slow request')).status).toBe(200);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
  });
});

describe('max_inflight', () => {
  it("answers 429 with the originals' body and headers beyond max_inflight concurrent requests", async () => {
    const wd = await startWatchdog({ fprocess: fixture('maybe-sleep'), max_inflight: '2' });
    const pending = await occupy(wd, 2, '0.4');
    const extra = await Promise.all([
      send(wd.url, { method: 'POST', body: 'x' }),
      send(wd.url, { method: 'POST', body: 'y' }),
    ]);
    for (const res of extra) {
      expect(res.status).toBe(429);
      expect(res.text).toBe('Concurrent request limit exceeded. Max concurrent requests: 2\n');
      expect(res.headers['content-type']).toBe('text/plain');
      expect(res.headers['x-openfaas-internal']).toBe('faas-middleware');
    }
    const done = await withTimeout(Promise.all(pending), 3000, 'slow requests');
    expect(done.map((r) => r.text)).toEqual(['slow', 'slow']);
  });

  it('releases the slot after a failed process, an exec_timeout and a client abort', async () => {
    const wd = await startWatchdog({ fprocess: fixture('maybe-sleep'), max_inflight: '1', exec_timeout: '200ms' });
    // Timeout: the function sleeps past exec_timeout.
    const timedOut = await send(wd.url, { method: 'POST', headers: { 'X-Sleep': '2' }, body: 'x' });
    expect(timedOut.status).toBe(504);
    expect(wd.watchdog.inFlight).toBe(0);
    // Client abort: the client goes away while the function sleeps.
    const conn = await rawConnect(wd.port);
    conn.write('POST / HTTP/1.1\r\nHost: x\r\nX-Sleep: 2\r\nContent-Length: 1\r\n\r\nx');
    await until(() => wd.watchdog.inFlight === 1, 2000, 'aborted request in flight');
    conn.socket.destroy();
    await until(() => wd.watchdog.inFlight === 0, 2000, 'slot released after abort');
    expect((await send(wd.url, { method: 'POST', body: 'again' })).text).toBe('again');
  });

  it('releases the slot when the process exits non-zero', async () => {
    const wd = await startWatchdog({ fprocess: `${fixture('exit-code')} 3 quiet`, max_inflight: '1' });
    for (let i = 0; i < 3; i++) expect((await send(wd.url, { method: 'POST', body: 'x' })).status).toBe(500);
    expect(wd.watchdog.inFlight).toBe(0);
  });
});

describe('max_body_bytes', () => {
  it('answers 413 to a Content-Length over the limit without starting the function', async () => {
    const calls = join(makeTmpDir(), 'calls');
    const wd = await startWatchdog({ fprocess: fixture('record-call'), max_body_bytes: '10', CALLS_FILE: calls });
    const res = await send(wd.url, { method: 'POST', path: '/too-big', body: 'x'.repeat(11) });
    expect(res.status).toBe(413);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    expect(res.text).toContain('max_body_bytes');
    expect((await send(wd.url, { method: 'POST', path: '/fits', body: 'x'.repeat(10) })).text).toBe('x'.repeat(10));
    // The function records each call it gets: only the second request reached it.
    expect(readFileSync(calls, 'utf8')).toBe('POST /fits\n');
  });

  it('answers 413 to a chunked body that grows over the limit and stops the function', async () => {
    const dir = makeTmpDir();
    const pidFile = join(dir, 'pid');
    const wd = await startWatchdog({
      fprocess: `${fixture('record-pid')} wc -c`,
      max_body_bytes: '1000',
      PID_FILE: pidFile,
    });
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(600, 'a');
      await sleep(50);
      yield Buffer.alloc(600, 'b');
    }
    const res = await withTimeout(send(wd.url, { method: 'POST', body: body() }), 3000, '413 response');
    expect(res.status).toBe(413);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    const pid = await pidFrom(pidFile);
    await until(() => isGone(pid), 3000, 'function process gone');
    await until(() => wd.watchdog.inFlight === 0, 1000, 'slot released');
  });
});

describe('metrics', () => {
  it("exposes the originals' metric names, help texts, labels and buckets with values after known requests", async () => {
    const metricsPort = await freePort();
    const wd = await startWatchdog({
      fprocess: fixture('maybe-sleep'),
      metrics_port: String(metricsPort),
      max_inflight: '1',
    });
    expect(wd.metricsPort).toBe(metricsPort);
    const murl = `http://127.0.0.1:${metricsPort}/metrics`;
    const before = await send(murl);
    expect(before.status).toBe(200);
    expect(before.text).toContain(
      '# HELP http_requests_in_flight total HTTP requests in-flight\n# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight 0\n',
    );

    await send(wd.url);
    await send(`${wd.url}/x?y=1`);
    await send(wd.url, { method: 'POST', body: 'p' });
    await send(wd.url, { method: 'PROPFIND' });
    const pending = await occupy(wd, 1, '0.3');
    expect((await send(wd.url, { method: 'POST', body: 'z' })).status).toBe(429);
    await withTimeout(Promise.all(pending), 3000, 'slow request');
    await send(`${wd.url}/_/health`); // not counted

    const text = (await send(murl)).text;
    expect(text).toContain(
      '# HELP http_requests_total total HTTP requests processed\n# TYPE http_requests_total counter\n',
    );
    expect(text).toContain(
      '# HELP http_request_duration_seconds Seconds spent serving HTTP requests.\n# TYPE http_request_duration_seconds histogram\n',
    );
    expect(text).toContain('http_requests_total{code="200",method="get"} 2\n');
    expect(text).toContain('http_requests_total{code="200",method="post"} 2\n');
    expect(text).toContain('http_requests_total{code="200",method="unknown"} 1\n');
    expect(text).toContain('http_requests_total{code="429",method="post"} 1\n');
    expect(text).toContain('http_request_duration_seconds_count{code="200",method="get"} 2\n');
    const buckets = [
      ...text.matchAll(/http_request_duration_seconds_bucket\{le="([^"]+)",code="200",method="get"\}/g),
    ].map((m) => m[1]);
    expect(buckets).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
    expect(text).toContain('http_requests_in_flight 0\n');

    const other = await send(`http://127.0.0.1:${metricsPort}/other`);
    expect(other.status).toBe(404);
    expect(other.text).toBe('404 page not found\n');
  });

  it('counts requests in flight while they run', async () => {
    const metricsPort = await freePort();
    const wd = await startWatchdog({ fprocess: fixture('maybe-sleep'), metrics_port: String(metricsPort) });
    const pending = await occupy(wd, 2, '0.3');
    expect((await send(`http://127.0.0.1:${metricsPort}/metrics`)).text).toContain('http_requests_in_flight 2\n');
    await withTimeout(Promise.all(pending), 3000, 'slow requests');
  });
});

describe('Go routing behaviour', () => {
  it('redirects unclean paths with 301 and the Go body for GET, keeping the query', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    const res = await send(wd.url, { path: '/a//b/./c/../d?q=1&r' });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/a/b/d?q=1&r');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toBe('<a href="/a/b/d?q=1&amp;r">Moved Permanently</a>.\n\n');
    const head = await send(wd.url, { path: '/x/./y', method: 'HEAD' });
    expect(head.status).toBe(301);
    expect(head.headers.location).toBe('/x/y');
  });

  it('redirects an unclean POST with an empty body and never runs the function', async () => {
    const calls = join(makeTmpDir(), 'calls');
    const wd = await startWatchdog({ fprocess: fixture('record-call'), CALLS_FILE: calls });
    const res = await send(wd.url, { path: '/a/../b', method: 'POST', body: 'data' });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/b');
    expect(res.text).toBe('');
    expect((await send(wd.url, { path: '/b', method: 'POST', body: 'data' })).text).toBe('data');
    // The function records each call it gets: only the request to the clean path reached it.
    expect(readFileSync(calls, 'utf8')).toBe('POST /b\n');
  });

  it('answers OPTIONS * itself with 200', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    const raw = await rawRequest(wd.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('routes an absolute-form request target by its path, health included', async () => {
    const wd = await startWatchdog({ fprocess: fixture('env-dump') });
    const fn = await rawRequest(
      wd.port,
      'GET http://example.com/a%20b?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
    );
    expect(fn).toMatch(/^HTTP\/1\.1 200 /);
    expect(fn).toContain('Http_Path=/a b\n');
    expect(fn).toContain('Http_Query=x=1\n');
    const health = await rawRequest(
      wd.port,
      'GET http://example.com/_/health HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
    );
    expect(health).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\nOK$/);
  });

  it('logs an absolute-form request by its routed target, and the function reads that target', async () => {
    const wd = await startWatchdog({ fprocess: fixture('env-dump') });
    const fn = await rawRequest(
      wd.port,
      'GET http://example.com/p?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
    );
    expect(fn).toContain('Http_Path=/p\n');
    const line = JSON.parse(await wd.logs.waitFor('"msg":"request"')) as Record<string, unknown>;
    expect(line.url).toBe('/p?x=1');
  });

  it('answers malformed requests with 4xx and keeps serving', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    expect(await rawRequest(wd.port, 'THIS IS NOT HTTP\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawRequest(wd.port, 'GET / HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawRequest(wd.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 400 /,
    );
    expect(
      await rawRequest(
        wd.port,
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      ),
    ).toMatch(/^HTTP\/1\.1 400 /);
    expect(
      await rawRequest(wd.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat((1 << 20) + 10)}\r\n\r\n`),
    ).toMatch(/^HTTP\/1\.1 431 /);
    expect(await rawRequest(wd.port, 'GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 [24]\d\d /,
    );
    // CONNECT is refused instead of leaving the socket open for ever (Node's default without a listener).
    expect(
      await withTimeout(
        rawRequest(wd.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'),
        2000,
        'CONNECT answer',
      ),
    ).toMatch(/^HTTP\/1\.1 405 /);
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
    expect((await send(wd.url, { method: 'POST', body: 'still here' })).text).toBe('still here');
  });
});

describe('read_timeout and write_timeout', () => {
  it('cuts off a client that trickles its headers after read_timeout', async () => {
    const wd = await startWatchdog({ fprocess: 'cat', read_timeout: '300ms' });
    const conn = await rawConnect(wd.port);
    conn.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => conn.write('X-Slow: 1\r\n'), 50);
    try {
      const got = await withTimeout(conn.closed, 2000, 'connection closed by read_timeout');
      expect(got).toMatch(/^(HTTP\/1\.1 408 |$)/);
    } finally {
      clearInterval(trickle);
    }
  });

  it('cuts off a client that trickles its body after read_timeout, and stops the function', async () => {
    const wd = await startWatchdog({ fprocess: 'wc -c', read_timeout: '300ms' });
    const conn = await rawConnect(wd.port);
    conn.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
    const trickle = setInterval(() => conn.write('a'), 50);
    try {
      const got = await withTimeout(conn.closed, 2000, 'connection closed by read_timeout');
      expect(got).not.toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      clearInterval(trickle);
    }
    await until(() => wd.watchdog.inFlight === 0, 2000, 'request finished');
  });

  it('never writes a second status line into a streamed response when read_timeout cuts a trickled body', async () => {
    const wd = await startWatchdog({ fprocess: 'cat', read_timeout: '300ms' });
    const conn = await rawConnect(wd.port);
    conn.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
    const trickle = setInterval(() => conn.write('a'), 50);
    try {
      const got = await withTimeout(conn.closed, 2000, 'connection closed by read_timeout');
      expect(got).toMatch(/^HTTP\/1\.1 200 /);
      expect(got.match(/HTTP\/1\.1 /g)).toHaveLength(1);
      expect(got.endsWith('0\r\n\r\n')).toBe(false);
    } finally {
      clearInterval(trickle);
    }
  });

  it('cuts a response that takes longer than write_timeout and stops the function', async () => {
    const dir = makeTmpDir();
    const pidFile = join(dir, 'pid');
    const wd = await startWatchdog({
      fprocess: `${fixture('record-pid')} ${fixture('maybe-sleep')}`,
      write_timeout: '300ms',
      exec_timeout: '10s',
      PID_FILE: pidFile,
    });
    await expect(
      withTimeout(send(wd.url, { method: 'POST', headers: { 'X-Sleep': '5' }, body: 'x' }), 2000, 'write_timeout'),
    ).rejects.toThrow(/socket hang up|ECONNRESET/);
    const pid = await pidFrom(pidFile);
    await until(() => isGone(pid), 3000, 'function process gone');
    await until(() => wd.watchdog.inFlight === 0, 1000, 'slot released');
  });
});

describe('logs', () => {
  it('writes one JSON access line per function request by default', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    await send(`${wd.url}/p?q=1`, { method: 'POST', body: 'hi' });
    const line = JSON.parse(await wd.logs.waitFor('"msg":"request"')) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, msg: 'request', method: 'POST', url: '/p?q=1', status: 200, bytes: 2 });
    expect(typeof line.durationMs).toBe('number');
  });

  it("writes the originals' access line with log_format=text", async () => {
    const wd = await startWatchdog({ fprocess: 'cat', log_format: 'text' });
    await send(wd.url, { method: 'POST', body: 'hi' });
    await wd.logs.waitFor(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} POST \/ - 200 - ContentLength: 2B \(\d+\.\d{4}s\)$/);
    expect(wd.logs.lines.some((l) => /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} Listening on port: \d+$/.test(l))).toBe(
      true,
    );
  });

  it('writes the access line of a function request whatever its User-Agent (kube-probe included)', async () => {
    const wd = await startWatchdog({ fprocess: 'cat', log_format: 'text' });
    await send(`${wd.url}/probe`, { headers: { 'User-Agent': 'kube-probe/1.29' } });
    await wd.logs.waitFor('GET /probe - 200');
  });

  it('logs function stderr lines with a time and stream prefix, or untouched with prefix_logs=false', async () => {
    const prefixed = await startWatchdog({ fprocess: `${fixture('exit-code')} 0`, log_format: 'text' });
    await send(prefixed.url, { method: 'POST', body: 'x' });
    await prefixed.logs.waitFor(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} stderr: err line$/);

    const raw = await startWatchdog({
      fprocess: `${fixture('exit-code')} 0`,
      log_format: 'text',
      prefix_logs: 'false',
    });
    await send(raw.url, { method: 'POST', body: 'x' });
    await raw.logs.waitFor(/^err line$/);
  });

  it('logs the last stderr line of a short-lived process even without a final newline', async () => {
    const wd = await startWatchdog({ fprocess: `sh -c "printf 'first\\nno newline tail' >&2"`, prefix_logs: 'false' });
    expect((await send(wd.url)).status).toBe(200);
    await wd.logs.waitFor(/^first$/);
    await wd.logs.waitFor(/^no newline tail$/);
  });

  it('survives a 1 MiB stderr line followed by 10 MiB of stderr, and serves the next request', async () => {
    const wd = await startWatchdog({ fprocess: fixture('long-stderr-line'), prefix_logs: 'false' });
    const res = await withTimeout(send(wd.url), 10_000, 'long-stderr-line request');
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok');
    const cut = wd.logs.lines.find((l) => l.startsWith('xxxx'));
    expect(cut).toBe(`${'x'.repeat(65536)} [fwatchdog: line cut at log_buffer_size]`);
    await until(
      () => wd.logs.lines.filter((l) => l.startsWith('yyy')).length === 10 * 1024,
      5000,
      'every stderr line logged',
    );
    const next = await withTimeout(send(wd.url), 10_000, 'next request');
    expect(next.text).toBe('ok');
  });
});
