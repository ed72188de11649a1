import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { WatchdogError } from '../../src/errors.js';
import type { RequestGuard } from '../../src/auth/request-guard.js';
import { chunksOf, send, sha256 } from '../helpers/http.js';
import { fixture, startWatchdog, withTimeout, type TestWatchdog } from '../helpers/watchdog.js';
import { freePort, until } from '../helpers/process.js';

interface Echo {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: Record<string, string>;
  length: number;
  sha256: string;
  pid: number;
}

/** True when something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function startHttp(
  env: Record<string, string> = {},
  options: { waitReady?: boolean; prefix?: string; guard?: RequestGuard } = {},
): Promise<TestWatchdog & { upstreamPort: number }> {
  const port = await freePort();
  const wd = await startWatchdog(
    {
      mode: 'http',
      fprocess: fixture('upstreams/upstream'),
      upstream_url: `http://127.0.0.1:${port}${options.prefix ?? ''}`,
      PORT: String(port),
      ...env,
    },
    { waitReady: options.waitReady ?? true, ...(options.guard ? { guard: options.guard } : {}) },
  );
  return { ...wd, upstreamPort: port };
}

describe('http mode: forwarding', () => {
  it('forwards method, raw path and query, end-to-end headers with the incoming Host, and adds X-Forwarded-*', async () => {
    const wd = await startHttp();
    const res = await send(`${wd.url}/a%20b/c?x=%20y&z`, {
      method: 'PATCH',
      headers: {
        Host: 'fn.example.com',
        'X-Custom': 'v1',
        'X-Forwarded-For': '10.0.0.1',
        Connection: 'keep-alive, X-Drop-Me',
        'X-Drop-Me': 'secret',
        'Keep-Alive': 'timeout=5',
        TE: 'trailers',
        'Proxy-Authorization': 'Basic x',
      },
      body: 'abc',
    });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.text) as Echo;
    expect(echo.method).toBe('PATCH');
    expect(echo.url).toBe('/a%20b/c?x=%20y&z');
    expect(echo.headers.host).toBe('fn.example.com');
    expect(echo.headers['x-custom']).toBe('v1');
    expect(echo.headers['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(echo.headers['x-forwarded-host']).toBe('fn.example.com');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['content-length']).toBe('3');
    for (const hop of ['x-drop-me', 'keep-alive', 'te', 'proxy-authorization', 'transfer-encoding'])
      expect(echo.headers[hop]).toBeUndefined();
    // No injected User-Agent and no gzip negotiation the caller did not ask for.
    expect(echo.headers['user-agent']).toBeUndefined();
    expect(echo.headers['accept-encoding']).toBeUndefined();
    // Response: upstream headers relayed (repeated Set-Cookie kept apart), X-Duration-Seconds ours.
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(Number(res.headers['x-duration-seconds'])).toBeGreaterThan(0);
  });

  it('keeps the upstream_url path prefix and does not double a trailing slash', async () => {
    const wd = await startHttp({}, { prefix: '/api/' });
    const res = await send(`${wd.url}/x?y=1`);
    expect((JSON.parse(res.text) as Echo).url).toBe('/api/x?y=1');
  });

  it('sends an empty POST with Content-Length: 0 and a GET with no body headers', async () => {
    const wd = await startHttp();
    const post = JSON.parse((await send(`${wd.url}/p`, { method: 'POST' })).text) as Echo;
    expect(post.headers['content-length']).toBe('0');
    expect(post.headers['transfer-encoding']).toBeUndefined();
    const get = JSON.parse((await send(`${wd.url}/g`)).text) as Echo;
    expect(get.headers['content-length']).toBeUndefined();
    expect(get.headers['transfer-encoding']).toBeUndefined();
  });

  it('streams a 10 MB binary body with Content-Length byte-exact, and the upstream sees that Content-Length', async () => {
    const wd = await startHttp();
    const body = randomBytes(10 << 20);
    const echo = JSON.parse(
      (await withTimeout(send(`${wd.url}/upload`, { method: 'PUT', body }), 10_000, '10 MB upload')).text,
    ) as Echo;
    expect(echo.headers['content-length']).toBe(String(body.length));
    expect(echo.headers['transfer-encoding']).toBeUndefined();
    expect(echo.length).toBe(body.length);
    expect(echo.sha256).toBe(sha256(body));
    const back = await withTimeout(
      send(`${wd.url}/echo-body`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-bin' } }),
      10_000,
      '10 MB echo',
    );
    expect(back.headers['content-type']).toBe('application/x-bin');
    expect(back.body.equals(body)).toBe(true);
  });

  it('keeps a chunked 10 MB binary body chunked', async () => {
    const wd = await startHttp();
    const body = randomBytes(10 << 20);
    const echo = JSON.parse(
      (
        await withTimeout(
          send(`${wd.url}/upload`, { method: 'POST', body: chunksOf(body, 64 * 1024) }),
          10_000,
          'chunked upload',
        )
      ).text,
    ) as Echo;
    expect(echo.headers['transfer-encoding']).toBe('chunked');
    expect(echo.headers['content-length']).toBeUndefined();
    expect(echo.sha256).toBe(sha256(body));
  });

  it('with http_buffer_req_body=true sends a chunked body upstream with Content-Length', async () => {
    const wd = await startHttp({ http_buffer_req_body: 'true' });
    const body = randomBytes(300 * 1024);
    const echo = JSON.parse(
      (await send(`${wd.url}/upload`, { method: 'POST', body: chunksOf(body, 10_000) })).text,
    ) as Echo;
    expect(echo.headers['content-length']).toBe(String(body.length));
    expect(echo.headers['transfer-encoding']).toBeUndefined();
    expect(echo.sha256).toBe(sha256(body));
    const empty = JSON.parse(
      (
        await send(`${wd.url}/empty`, {
          method: 'POST',
          headers: { 'Transfer-Encoding': 'chunked' },
          body: chunksOf(Buffer.alloc(0), 1),
        })
      ).text,
    ) as Echo;
    expect(empty.headers['content-length']).toBe('0');
  });

  it('relays gzip bytes untouched and replaces the upstream X-Duration-Seconds', async () => {
    const wd = await startHttp();
    const gz = await send(`${wd.url}/gzip`);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.body.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(true);
    const st = await send(`${wd.url}/status?code=201`);
    expect(st.status).toBe(201);
    expect(st.headers['x-custom']).toBe('c');
    expect(st.headers['x-duration-seconds']).not.toBe('99');
  });

  it('logs the upstream stdout and stderr lines and the call id on the access line', async () => {
    const wd = await startHttp({ log_callid: 'true', log_format: 'text' });
    await wd.out.waitFor('stdout: upstream listening on');
    await wd.logs.waitFor('stderr: upstream stderr line');
    await send(`${wd.url}/who`, { headers: { 'X-Call-Id': 'call-42' } });
    await wd.logs.waitFor(/GET \/who - 200 - ContentLength: \d+B \([\d.]+s\) \[call-42\]/);
  });

  it('retries once when the upstream closed a pooled keep-alive connection, so every request succeeds', async () => {
    const wd = await startHttp({ CLOSE_AFTER_RESPONSE: '1' });
    const agent = new (await import('node:http')).Agent({ keepAlive: true });
    onTestFinished(() => agent.destroy());
    for (let i = 0; i < 40; i++) {
      const res = await send(`${wd.url}/n${i}`, {
        method: i % 2 === 0 ? 'GET' : 'POST',
        body: i % 2 === 0 ? undefined : 'payload',
        agent,
      });
      expect(res.status, `request ${i}`).toBe(200);
    }
  });
});

describe('http mode: readiness', () => {
  it('answers 503 on health with no lock file until the upstream listens, and early requests wait instead of failing', async () => {
    const wd = await startHttp({ START_DELAY_MS: '400' }, { waitReady: false });
    const ready = wd.watchdog.markReadyWhenReady(5000);
    const lock = `${wd.tmpDir}/.lock`;
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(503);
    expect(await listening(wd.upstreamPort)).toBe(false);
    expect(existsSync(lock)).toBe(false);
    const early = send(`${wd.url}/early`);
    expect(await withTimeout(ready, 3000, 'upstream ready')).toBe(true);
    expect(await listening(wd.upstreamPort)).toBe(true);
    const res = await withTimeout(early, 3000, 'early request');
    expect(res.status).toBe(200);
    expect((JSON.parse(res.text) as Echo).url).toBe('/early');
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
    expect(existsSync(lock)).toBe(true);
  });

  it('answers 504 to an early request whose timeout ends before the upstream is ready', async () => {
    const wd = await startHttp({ START_DELAY_MS: '1500', exec_timeout: '200ms' }, { waitReady: false });
    const res = await withTimeout(send(`${wd.url}/early`), 2000, 'early request');
    expect(res.status).toBe(504);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
  });

  it('with ready_path waits for the upstream to answer 2xx there, and /_/ready asks the upstream', async () => {
    const wd = await startHttp({ ready_path: '/ready', READY_AFTER_MS: '300' }, { waitReady: false });
    const ready = wd.watchdog.markReadyWhenReady(5000);
    await withTimeout(wd.out.waitFor('upstream listening'), 2000, 'upstream listening');
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    expect(await withTimeout(ready, 3000, 'ready')).toBe(true);
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
  });
});

describe('http mode: streaming responses', () => {
  it('delivers SSE events as the upstream writes them, before the stream ends', async () => {
    const wd = await startHttp();
    const events: Array<{ text: string; at: number }> = [];
    const endedAt = await withTimeout(
      new Promise<number>((resolve, reject) => {
        request(`${wd.url}/sse?n=3&pause=250`, { agent: false }, (res) => {
          expect(res.headers['content-type']).toBe('text/event-stream');
          res.on('data', (c: Buffer) => events.push({ text: c.toString(), at: Date.now() }));
          res.on('end', () => resolve(Date.now()));
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      }),
      5000,
      'SSE stream',
    );
    expect(events.map((e) => e.text).join('')).toBe('data: event 0\n\ndata: event 1\n\ndata: event 2\n\n');
    // A buffering proxy would hand everything over at the end; the first event must come ~750 ms earlier.
    expect(endedAt - (events[0] as { at: number }).at).toBeGreaterThanOrEqual(400);
  });

  it('delivers NDJSON lines without any special request header', async () => {
    const wd = await startHttp();
    const first = await withTimeout(
      new Promise<{ line: string; complete: boolean }>((resolve, reject) => {
        const req = request(`${wd.url}/ndjson?n=2&pause=1000`, { agent: false }, (res) => {
          res.once('data', (c: Buffer) => {
            resolve({ line: c.toString(), complete: res.complete });
            req.destroy();
          });
        });
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        req.end();
      }),
      900,
      'first NDJSON line before the upstream pause ends',
    );
    expect(first).toEqual({ line: '{"i":0}\n', complete: false });
  });

  it('tunnels a WebSocket connection both ways', async () => {
    const wd = await startHttp({ WS: '1' });
    const ws = new WebSocket(`${wd.url.replace('http', 'ws')}/chat?room=1`);
    onTestFinished(() => ws.terminate());
    const messages: string[] = [];
    const next = (): Promise<string> =>
      new Promise((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
    messages.push(await withTimeout(next(), 2000, 'hello'));
    ws.send('ping');
    messages.push(await withTimeout(next(), 2000, 'echo'));
    ws.send(Buffer.from([1, 2, 3]));
    messages.push(await withTimeout(next(), 2000, 'binary echo'));
    expect(messages).toEqual(['hello /chat?room=1', 'ping', '\u0001\u0002\u0003']);
  });
});

describe('http mode: WebSocket and the request guard', () => {
  it('asks the request guard before tunnelling a WebSocket upgrade', async () => {
    const guard: RequestGuard = (req, body) =>
      req.headers['x-key'] === 'ok' ? body : new WatchdogError('UNAUTHORIZED', 'unauthorized\n');
    const wd = await startHttp({ WS: '1' }, { guard });
    const refused = new WebSocket(`${wd.url.replace('http', 'ws')}/chat`);
    refused.on('error', () => undefined); // the refusal itself is what we wait for
    onTestFinished(() => refused.terminate());
    const status = await withTimeout(
      new Promise<number>((resolve) =>
        refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
      ),
      2000,
      'refusal',
    );
    expect(status).toBe(401);
    const allowed = new WebSocket(`${wd.url.replace('http', 'ws')}/chat`, { headers: { 'X-Key': 'ok' } });
    onTestFinished(() => allowed.terminate());
    const hello = await withTimeout(
      new Promise<string>((resolve) => allowed.once('message', (d: Buffer) => resolve(d.toString()))),
      2000,
      'hello',
    );
    expect(hello).toBe('hello /chat');
  });
});

describe('http mode: failures and timeouts', () => {
  it('answers 502 with X-OpenFaaS-Internal when the upstream refuses connections', async () => {
    const wd = await startHttp();
    await send(`${wd.url}/stop-listening`);
    const res = await send(`${wd.url}/after`);
    expect(res.status).toBe(502);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    expect(res.text).toMatch(/ECONNREFUSED|ECONNRESET/);
    expect(res.headers['x-duration-seconds']).toBeDefined();
  });

  it('answers 504 when exec_timeout passes before the upstream sends headers', async () => {
    const wd = await startHttp({ exec_timeout: '200ms' });
    const res = await withTimeout(send(`${wd.url}/slow?ms=3000`), 2000, 'timed-out request');
    expect(res.status).toBe(504);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    expect(res.text).toContain('exec_timeout');
    await wd.logs.waitFor('Upstream HTTP killed due to exec_timeout: 200ms');
  });

  it('aborts the connection when exec_timeout passes after the headers were sent', async () => {
    // 1 s: the headers must be out before the timeout, also on a loaded machine.
    const wd = await startHttp({ exec_timeout: '1s' });
    await expect(withTimeout(send(`${wd.url}/slow-body?ms=5000`), 4000, 'aborted request')).rejects.toThrow(
      /aborted|socket hang up|ECONNRESET/,
    );
  });

  it('cancels the upstream request when the client goes away', async () => {
    const wd = await startHttp({ log_format: 'text' });
    const req = request(`${wd.url}/slow?ms=3000`, { agent: false });
    req.on('error', () => undefined); // we destroy it ourselves
    req.end();
    await wd.logs.waitFor('request /slow?ms=3000 started', 2000);
    req.destroy();
    await wd.logs.waitFor('request /slow?ms=3000 was cut off by the client', 2000);
  });

  it('applies a shorter X-Timeout header', async () => {
    const wd = await startHttp({ exec_timeout: '10s' });
    const res = await withTimeout(
      send(`${wd.url}/slow?ms=3000`, { headers: { 'X-Timeout': '200ms' } }),
      2000,
      'X-Timeout request',
    );
    expect(res.status).toBe(504);
  });

  it('reports a fatal error with the exit code and last stderr lines when the upstream exits, then answers 502 and 503', async () => {
    const wd = await startHttp();
    expect((await send(`${wd.url}/exit?code=3`)).text).toBe('bye');
    await until(() => wd.fatal.length > 0, 2000, 'onFatal');
    expect(wd.fatal[0]).toContain('Forked function has terminated: exit status 3');
    expect(wd.fatal[0]).toContain('about to exit on demand');
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    const res = await send(`${wd.url}/later`);
    expect(res.status).toBe(502);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
  });

  it('treats an upstream that exits with code 0 as fatal too', async () => {
    const wd = await startHttp({ EXIT_AFTER: '1', EXIT_CODE: '0' });
    await send(`${wd.url}/one`);
    await until(() => wd.fatal.length > 0, 2000, 'onFatal');
    expect(wd.fatal[0]).toContain('exit status 0');
  });
});

describe('http mode: limiter and metrics', () => {
  it('applies max_inflight: a second concurrent request gets 429', async () => {
    const wd = await startHttp({ max_inflight: '1' });
    const slow = send(`${wd.url}/slow?ms=500`);
    await until(() => wd.watchdog.inFlight > 0, 2000, 'first request in flight');
    const second = await send(`${wd.url}/fast`);
    expect(second.status).toBe(429);
    expect((await withTimeout(slow, 2000, 'slow request')).status).toBe(200);
  });

  it('counts proxied requests in http_requests_total by code and method', async () => {
    const wd = await startHttp();
    await send(`${wd.url}/status?code=201`, { method: 'POST' });
    await send(`${wd.url}/x`);
    const text = await wd.metrics.registry.metrics();
    expect(text).toMatch(/http_requests_total\{code="201",method="post"\} 1/);
    expect(text).toMatch(/http_requests_total\{code="200",method="get"\} 1/);
  });
});
