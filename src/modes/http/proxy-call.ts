// Forwards one function call to the upstream over a shared keep-alive agent, streaming both ways.
import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { formatDuration } from '../../config/duration.js';
import { WatchdogError, classifyUpstreamError, sendError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { FunctionCall } from '../mode.js';
import { clientResponseHeaders, requestHasBody, upstreamRequestHeaders } from './forward-headers.js';

/** Body bytes kept to replay a request once when a reused idle connection turns out closed. */
const REPLAY_MAX_BYTES = 64 * 1024;

/** errno codes that a keep-alive connection closed by the upstream while idle produces. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** What the proxy needs, fixed at start-up. */
export interface ProxyOptions {
  upstream: URL;
  bufferBody: boolean;
  logger: Logger;
}

/** The http mode's forwarder. */
export interface Proxy {
  /** Forwards `call` (the upstream must be ready); `remainingMs` is what is left of its timeout (0 = none). */
  forward(call: FunctionCall, remainingMs: number): void;
  /** Closes the idle pooled connections. */
  close(): void;
}

/** Seconds since the call arrived, as the originals print them (%f). */
export function durationSeconds(call: FunctionCall): string {
  return ((performance.now() - call.startedAt) / 1000).toFixed(6);
}

/** Answers `call` with a watchdog error (X-Duration-Seconds included), or aborts it if headers already went out. */
export function answerError(call: FunctionCall, err: WatchdogError): void {
  const { res } = call;
  if (!res.headersSent && !res.destroyed) {
    sendError(res, err, { 'X-Duration-Seconds': durationSeconds(call) });
    call.bytesOut += Buffer.byteLength(err.body);
    return;
  }
  call.logStatus = err.status;
  res.destroy(err);
}

/** Builds the forwarder and its keep-alive pool once, at start-up. */
export function createProxy(options: ProxyOptions): Proxy {
  const { upstream, logger, bufferBody } = options;
  const hostname = upstream.hostname.startsWith('[') ? upstream.hostname.slice(1, -1) : upstream.hostname;
  const port = Number(upstream.port || 80);
  const upstreamHost = upstream.host;
  // A path prefix in upstream_url is kept; its trailing slash is not doubled (Q32).
  const basePath = upstream.pathname === '/' ? '' : upstream.pathname.replace(/\/$/, '');
  // One pool for the watchdog's lifetime; LIFO reuse keeps the warmest connection busy.
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 10_000, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });

  function targetPath(url: string): string {
    if (url.charCodeAt(0) === 47 /* / */) return basePath + url;
    // Absolute-form request target (GET http://host/x): forward its path and query only.
    try {
      const parsed = new URL(url);
      return basePath + parsed.pathname + parsed.search;
    } catch {
      // Not a URL either: send it under the prefix as given and let the upstream answer.
      return `${basePath}/${url}`;
    }
  }

  function forward(call: FunctionCall, remainingMs: number): void {
    const { req, res, body } = call;
    const method = req.method ?? 'GET';
    const path = targetPath(req.url ?? '/');
    let finished = false;
    let responded = false;
    let retried = false;
    let upReq: ClientRequest | undefined;
    let replay: Buffer[] | undefined = [];
    let replayBytes = 0;
    let bodyEnded = false;
    const timer = remainingMs > 0 ? setTimeout(onTimeout, remainingMs) : undefined;

    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      call.signal.removeEventListener('abort', onAbort);
    };

    const fail = (err: WatchdogError): void => {
      if (finished) return;
      finish();
      upReq?.destroy();
      answerError(call, err);
    };

    function onAbort(): void {
      // The client went away (or the watchdog stops the call): nothing to answer, just let go.
      if (finished) return;
      finish();
      upReq?.destroy();
    }

    function onTimeout(): void {
      if (finished) return;
      const err = new WatchdogError('EXEC_TIMEOUT', `upstream did not answer within exec_timeout of ${formatDuration(call.timeoutMs)}\n`);
      logger.warn(`Upstream HTTP killed due to exec_timeout: ${formatDuration(call.timeoutMs)}`, { url: req.url, afterHeaders: responded });
      // After the headers a status can no longer be sent: fail() aborts the connection instead.
      fail(err);
    }

    call.signal.addEventListener('abort', onAbort, { once: true });

    const send = (headers: string[]): ClientRequest => {
      const r = request({ host: hostname, port, method, path, headers, agent, setHost: false });
      r.on('response', onResponse);
      r.on('error', (err) => onRequestError(r, err));
      return r;
    };

    function onRequestError(r: ClientRequest, err: NodeJS.ErrnoException): void {
      if (finished || r !== upReq) return;
      if (responded) {
        fail(classifyUpstreamError(err));
        return;
      }
      // Node's documented pattern: a reused idle socket the upstream had just closed; try once more.
      if (!retried && r.reusedSocket && replay !== undefined && err.code !== undefined && STALE_SOCKET_CODES.has(err.code)) {
        retried = true;
        logger.debug('upstream closed a pooled connection; retrying once', { url: req.url, code: err.code });
        upReq = send(headersFor);
        for (const chunk of replay) upReq.write(chunk);
        if (bodyEnded || !hasBody) upReq.end();
        else body.resume();
        return;
      }
      logger.warn(`Upstream HTTP request error: ${err.code ?? err.message}`, { url: req.url });
      fail(classifyUpstreamError(err));
    }

    function onResponse(up: IncomingMessage): void {
      if (finished) {
        up.destroy();
        return;
      }
      responded = true;
      replay = undefined;
      const headers = clientResponseHeaders(up.rawHeaders, up.headers.connection);
      const status = up.statusCode ?? 502;
      try {
        if (res.getHeaderNames().length === 0) {
          // Fast path: nothing set yet, so the raw list goes out as is (repeated fields such as Set-Cookie kept apart).
          headers.push('X-Duration-Seconds', durationSeconds(call));
          if (up.statusMessage) res.writeHead(status, up.statusMessage, headers);
          else res.writeHead(status, headers);
        } else {
          // The server core set headers (Connection: close while draining): append around them.
          for (let i = 0; i < headers.length; i += 2) res.appendHeader(headers[i] as string, headers[i + 1] as string);
          res.setHeader('X-Duration-Seconds', durationSeconds(call));
          if (up.statusMessage) res.writeHead(status, up.statusMessage);
          else res.writeHead(status);
        }
      } catch (err) {
        // An upstream header Node refuses to send on (invalid characters): the answer cannot be relayed.
        up.destroy();
        fail(new WatchdogError('UPSTREAM_UNAVAILABLE', 'upstream sent an invalid response header\n', { cause: err }));
        return;
      }
      up.on('data', (chunk: Buffer) => {
        call.bytesOut += chunk.length;
        if (!res.write(chunk)) up.pause();
      });
      res.on('drain', () => up.resume());
      up.on('end', () => {
        if (finished) return;
        finish();
        res.end();
      });
      up.on('close', () => {
        // Closed before its end: the upstream broke off mid-body; a cut answer must not look whole.
        if (!up.complete) fail(new WatchdogError('UPSTREAM_UNAVAILABLE', 'upstream closed the response early\n'));
      });
    }

    const hasBody = requestHasBody(req);
    let headersFor: string[];

    body.on('error', (err) => {
      if (err instanceof WatchdogError) fail(err);
      else fail(new WatchdogError('BODY_READ_FAILED', 'cannot read the request body\n', { cause: err }));
    });

    if (bufferBody) {
      const chunks: Buffer[] = [];
      let length = 0;
      body.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
      });
      body.on('end', () => {
        if (finished) return;
        bodyEnded = true;
        replay = chunks;
        headersFor = upstreamRequestHeaders(req, upstreamHost, { bufferedLength: length });
        upReq = send(headersFor);
        upReq.end(length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
      });
      return;
    }

    headersFor = upstreamRequestHeaders(req, upstreamHost, {});
    upReq = send(headersFor);
    if (!hasBody) {
      upReq.end();
      body.resume();
      return;
    }
    body.on('data', (chunk: Buffer) => {
      if (finished) return;
      if (replay !== undefined) {
        replayBytes += chunk.length;
        if (replayBytes > REPLAY_MAX_BYTES) replay = undefined;
        else replay.push(chunk);
      }
      const target = upReq as ClientRequest;
      if (!target.write(chunk)) {
        body.pause();
        target.once('drain', resumeBody);
      }
    });
    body.on('end', () => {
      bodyEnded = true;
      if (!finished) upReq?.end();
    });
    function resumeBody(): void {
      if (!finished) body.resume();
    }
  }

  return {
    forward,
    close: () => agent.destroy(),
  };
}
