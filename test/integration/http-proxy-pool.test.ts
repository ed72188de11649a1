import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { chunksOf, send, sha256 } from '../helpers/http.js';
import { freePort } from '../helpers/process.js';
import { rawRequest } from '../helpers/raw.js';
import { fixture, startWatchdog, withTimeout, type TestWatchdog } from '../helpers/watchdog.js';

/** A node:http upstream inside the test process (port 0), closed when the test ends. */
async function inProcessUpstream(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** http mode in front of `upstreamUrl`; fprocess is a placeholder process that just stays alive. */
function watchdogFor(upstreamUrl: string, env: Record<string, string> = {}): Promise<TestWatchdog> {
  return startWatchdog({ mode: 'http', fprocess: 'sleep 600', upstream_url: upstreamUrl, ...env });
}

describe('http mode: the upstream connection pool', () => {
  it('replays a chunked body once when the upstream had closed the pooled connection, so every request succeeds', async () => {
    const port = await freePort();
    const wd = await startWatchdog({
      mode: 'http',
      fprocess: fixture('upstreams/upstream'),
      upstream_url: `http://127.0.0.1:${port}`,
      PORT: String(port),
      CLOSE_AFTER_RESPONSE: '1',
    });
    for (let i = 0; i < 30; i++) {
      const body = randomBytes(3000 + i);
      const res = await withTimeout(
        send(`${wd.url}/upload${i}`, { method: 'POST', body: chunksOf(body, 1000) }),
        2000,
        `request ${i}`,
      );
      expect(res.status, `request ${i}`).toBe(200);
      const echo = JSON.parse(res.text) as { sha256: string; headers: Record<string, string> };
      expect(echo.sha256, `request ${i}`).toBe(sha256(body));
    }
  });

  it('sends a small body with its Content-Length in the same request, byte-exact', async () => {
    const seen: Array<{ length: string | undefined; te: string | undefined; sha: string }> = [];
    const up = await inProcessUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          length: req.headers['content-length'],
          te: req.headers['transfer-encoding'],
          sha: sha256(Buffer.concat(chunks)),
        });
        res.end('ok');
      });
    });
    const wd = await watchdogFor(up.url);
    const body = randomBytes(1024);
    const res = await send(`${wd.url}/small`, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(seen).toEqual([{ length: '1024', te: undefined, sha: sha256(body) }]);
  });

  it('pauses the upstream while the client does not read, then delivers the whole body byte-exact', async () => {
    const payload = randomBytes(32 << 20);
    let upstreamWrote = 0;
    const up = await inProcessUpstream((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(payload.length) });
      let offset = 0;
      const pump = (): void => {
        while (offset < payload.length) {
          const chunk = payload.subarray(offset, offset + 64 * 1024);
          offset += chunk.length;
          upstreamWrote = offset;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const wd = await watchdogFor(up.url);
    const received = await withTimeout(
      new Promise<Buffer>((resolve, reject) => {
        const req = request(`${wd.url}/big`, { agent: false }, (res) => {
          // Read nothing for a while: the watchdog must stop pulling from the upstream.
          res.pause();
          setTimeout(() => {
            try {
              expect(upstreamWrote).toBeLessThan(payload.length / 2);
            } catch (err) {
              reject(err as Error);
              return;
            }
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.resume();
          }, 300);
        });
        req.on('error', reject);
        req.end();
      }),
      10_000,
      'the 32 MiB response',
    );
    expect(received.length).toBe(payload.length);
    expect(received.equals(payload)).toBe(true);
  });

  it('does not relay a 103 Early Hints answer, only the final response with its headers', async () => {
    const up = await inProcessUpstream((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeHead(201, { 'X-Final': 'yes', 'Content-Length': '7' }).end('created');
    });
    const wd = await watchdogFor(up.url);
    const port = Number(new URL(wd.url).port);
    const raw = await withTimeout(
      rawRequest(port, 'GET /hints HTTP/1.1\r\nHost: fn\r\nConnection: close\r\n\r\n'),
      2000,
      'raw answer',
    );
    expect(raw.startsWith('HTTP/1.1 201 Created\r\n')).toBe(true);
    expect(raw).not.toContain('103');
    expect(raw).toMatch(/\r\nX-Final: yes\r\n/);
    expect(raw.endsWith('created')).toBe(true);
  });

  it('relays a response whose body ends when the upstream closes the connection', async () => {
    const up = await inProcessUpstream((req, _res) => {
      // HTTP/1.0-style framing: no Content-Length, no chunking, the close ends the body.
      req.socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\npart one, ');
      setTimeout(() => req.socket.end('part two'), 50);
    });
    const wd = await watchdogFor(up.url);
    const res = await withTimeout(send(`${wd.url}/close-delimited`), 2000, 'close-delimited answer');
    expect(res.status).toBe(200);
    expect(res.text).toBe('part one, part two');
  });

  it('answers 400 with X-OpenFaaS-Internal to a request that cannot be forwarded (two Host headers)', async () => {
    let reached = 0;
    const up = await inProcessUpstream((_req, res) => {
      reached++;
      res.end('should not be reached');
    });
    const wd = await watchdogFor(up.url);
    const port = Number(new URL(wd.url).port);
    const raw = await withTimeout(
      rawRequest(port, 'GET /twice HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n'),
      2000,
      'raw answer',
    );
    expect(raw.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect(raw.toLowerCase()).toContain('x-openfaas-internal: of-watchdog');
    expect(reached).toBe(0);
  });

  it('logs one access line per proxied request and counts it once', async () => {
    const up = await inProcessUpstream((_req, res) => res.end('hi'));
    const wd = await watchdogFor(up.url, { log_format: 'text' });
    for (let i = 0; i < 5; i++) expect((await send(`${wd.url}/n${i}`)).status).toBe(200);
    await wd.logs.waitFor('GET /n4 - 200');
    expect(wd.logs.lines.filter((l) => / GET \/n\d - 200 - ContentLength: 2B /.test(l))).toHaveLength(5);
    expect(await wd.metrics.registry.metrics()).toMatch(/http_requests_total\{code="200",method="get"\} 5/);
    expect(await wd.metrics.registry.metrics()).toMatch(/http_requests_in_flight 0/);
  });
});
