// Forwards one function call to the upstream over a shared undici keep-alive pool, streaming both ways.
import type { Dispatcher } from 'undici';
// undici's Pool by its module path (the package index would bundle fetch, WebSocket and caches into the chunk):
// test/unit/internals.test.ts checks it is still the public Pool, with the build's patches (bundle-options.mjs).
import Pool from 'undici/lib/dispatcher/pool.js';
import { formatDuration } from '../../config/duration.js';
import { WatchdogError, classifyUpstreamError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { durationSeconds } from '../duration-seconds.js';
import type { FunctionCall } from '../mode.js';
import { declaredLength } from '../read-body.js';
import { answerError } from './answer-error.js';
import { clientResponseHeaders, requestHasBody, upstreamRequestHeaders } from './forward-headers.js';
import { StreamedBody, readWholeBody, sendsWholeBody } from './upstream-body.js';
import { upstreamPath, type UpstreamTarget } from './upstream-target.js';

/** Error codes of a keep-alive connection that the upstream closed while it sat idle in the pool. */
const STALE_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Error codes undici gives a request it refuses to send (e.g. two Host headers): the client's fault. */
const UNSENDABLE_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/** What the proxy needs, fixed at start-up. */
export interface ProxyOptions {
  upstream: UpstreamTarget;
  bufferBody: boolean;
  logger: Logger;
  /** Counts calls ended by exec_timeout (metrics). */
  onExecTimeout?: () => void;
}

/** The http mode's forwarder. */
export interface Proxy {
  /** Forwards `call` (the upstream must be ready); `remainingMs` is what is left of its timeout (0 = none). */
  forward(call: FunctionCall, remainingMs: number): void;
  /** Closes the pooled connections. */
  close(): void;
}

/** Everything an exchange shares with the others, built once. */
interface ProxyContext {
  readonly pool: Dispatcher;
  readonly upstreamHost: string;
  readonly basePath: string;
  readonly bufferBody: boolean;
  readonly logger: Logger;
  readonly onExecTimeout: (() => void) | undefined;
}

/** Builds the forwarder and its keep-alive pool once, at start-up. */
export function createProxy(options: ProxyOptions): Proxy {
  const { upstream, logger, bufferBody } = options;
  // One pool for the watchdog's lifetime: no pipelining, no connection cap (as the Go original), and
  // no undici header/body timeouts, since exec_timeout (and X-Timeout) bound every request instead.
  const pool = new Pool(upstream.url.origin, { connections: null, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  const ctx: ProxyContext = {
    pool,
    upstreamHost: upstream.host,
    basePath: upstream.basePath,
    bufferBody,
    logger,
    onExecTimeout: options.onExecTimeout,
  };
  return {
    forward: (call, remainingMs) => new Exchange(ctx, call, remainingMs).start(),
    close() {
      pool.destroy().catch(() => {
        // Destroying an already destroyed pool rejects; there is nothing left to close then.
      });
    },
  };
}

/** True when the error is a pooled keep-alive connection that had been closed by the upstream. */
function isStaleConnection(err: Error): boolean {
  const { code, socket } = err as { code?: string; socket?: { bytesRead?: number } };
  if (code === undefined || !STALE_SOCKET_CODES.has(code)) return false;
  // undici says how much the connection had read: nothing means a fresh one, not a reused one.
  return socket?.bytesRead === undefined || socket.bytesRead > 0;
}

/**
 * One proxied request: an undici dispatch handler (the raw-header form undici itself uses
 * internally), one exec_timeout timer, one settle point. Methods instead of closures per request.
 */
class Exchange implements Dispatcher.DispatchHandler {
  /** Settled: answered, failed or abandoned; nothing more happens. */
  finished = false;
  private responded = false;
  private retried = false;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly path: string;
  private headers: string[] | undefined;
  /** The whole body when it was read first (null: no body); undefined when it is streamed. */
  private wholeBody: Buffer | null | undefined;
  private streamed: StreamedBody | undefined;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly call: FunctionCall,
    remainingMs: number,
  ) {
    this.path = upstreamPath(ctx.basePath, call.target);
    if (remainingMs > 0) this.timer = setTimeout(onExecTimeout, remainingMs, this);
  }

  start(): void {
    const { call, ctx } = this;
    const { req, res, body } = call;
    // 'close' fires once per response: `on` spares the wrapper `once` would allocate.
    res.on('close', () => this.clientClosed());
    if (!requestHasBody(req)) {
      // Fast path: no body to read (Node discards anything unread once the response is done).
      this.headers = upstreamRequestHeaders(req, ctx.upstreamHost, {});
      this.wholeBody = null;
      this.dispatch();
      return;
    }
    body.on('error', (err) => {
      // max_body_bytes hit mid-stream: the rest of the body is not read, so the connection cannot be reused.
      if (err instanceof WatchdogError && err.status === 413 && !res.headersSent) res.setHeader('Connection', 'close');
      this.fail(
        err instanceof WatchdogError
          ? err
          : new WatchdogError('BODY_READ_FAILED', 'cannot read the request body\n', { cause: err }),
      );
    });
    if (sendsWholeBody(req, ctx.bufferBody)) {
      // Read first, then sent with Content-Length.
      readWholeBody(body, declaredLength(req), (whole, length) => {
        if (this.finished) return;
        this.headers = upstreamRequestHeaders(req, ctx.upstreamHost, { bufferedLength: length });
        this.wholeBody = whole;
        this.dispatch();
      });
      return;
    }
    this.headers = upstreamRequestHeaders(req, ctx.upstreamHost, {});
    this.streamed = new StreamedBody(body, this);
    this.dispatch();
  }

  private dispatch(): void {
    const body = this.wholeBody !== undefined ? this.wholeBody : (this.streamed as StreamedBody).relay;
    this.ctx.pool.dispatch(
      { method: this.call.req.method ?? 'GET', path: this.path, headers: this.headers as string[], body },
      this,
    );
  }

  // --- undici handler -------------------------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    if (this.finished) abort();
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.finished) return false;
    if (statusCode < 200) return true; // 1xx informational answers are not relayed (nor were they by Go)
    this.responded = true;
    this.streamed?.dropReplay();
    const { call } = this;
    const { res } = call;
    const raw: string[] = new Array<string>(rawHeaders.length);
    let connection: string | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = (rawHeaders[i] as Buffer).toString('latin1');
      const value = (rawHeaders[i + 1] as Buffer).toString('latin1');
      raw[i] = name;
      raw[i + 1] = value;
      if (name.length === 10 && name.toLowerCase() === 'connection')
        connection = connection === undefined ? value : `${connection}, ${value}`;
    }
    const headers = clientResponseHeaders(raw, connection);
    try {
      if (res.getHeaderNames().length === 0) {
        // Fast path: nothing set yet, so the list goes out as is (repeated fields such as Set-Cookie kept apart).
        headers.push('X-Duration-Seconds', durationSeconds(call.startedAt));
        if (statusText) res.writeHead(statusCode, statusText, headers);
        else res.writeHead(statusCode, headers);
      } else {
        // The server core set headers (Connection: close while draining): append around them.
        for (let i = 0; i < headers.length; i += 2) res.appendHeader(headers[i] as string, headers[i + 1] as string);
        res.setHeader('X-Duration-Seconds', durationSeconds(call.startedAt));
        if (statusText) res.writeHead(statusCode, statusText);
        else res.writeHead(statusCode);
      }
    } catch (err) {
      // An upstream header Node refuses to send on (invalid characters): the answer cannot be relayed.
      this.fail(
        new WatchdogError('UPSTREAM_UNAVAILABLE', 'upstream sent an invalid response header\n', { cause: err }),
      );
      return false;
    }
    this.resumeUpstream = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.finished) return false;
    const { call } = this;
    call.bytesOut += chunk.length;
    if (call.res.write(chunk)) return true;
    // The client reads slower than the upstream writes: pause the upstream until the client drains.
    call.res.once('drain', this.resumeUpstream as () => void);
    return false;
  }

  onComplete(): void {
    if (this.finished) return;
    this.settle();
    this.call.res.end();
  }

  onError(err: Error): void {
    if (this.finished) return;
    const { call, ctx } = this;
    const code = (err as { code?: string }).code;
    if (!this.responded && !this.retried && this.canReplay() && isStaleConnection(err)) {
      // A reused idle connection the upstream had just closed: send the request once more on another.
      this.retried = true;
      this.abortUpstream = undefined;
      if (ctx.logger.debugEnabled)
        ctx.logger.debug('upstream closed a pooled connection; retrying once', { url: call.target, code });
      if (this.wholeBody === undefined) (this.streamed as StreamedBody).restart();
      this.dispatch();
      return;
    }
    if (!this.responded) ctx.logger.warn(`Upstream HTTP request error: ${code ?? err.message}`, { url: call.target });
    if (code !== undefined && UNSENDABLE_CODES.has(code))
      this.fail(new WatchdogError('BAD_REQUEST', `the request cannot be forwarded: ${err.message}\n`, { cause: err }));
    else this.fail(classifyUpstreamError(err));
  }

  // --- settling -------------------------------------------------------------------------------

  private canReplay(): boolean {
    return this.wholeBody !== undefined || this.streamed?.canReplay === true;
  }

  private settle(): void {
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** Ends the exchange with an error answer (or a cut connection once headers went out). */
  fail(err: WatchdogError): void {
    if (this.finished) return;
    this.settle();
    this.abortUpstream?.(err);
    answerError(this.call, err);
  }

  /** exec_timeout (or X-Timeout) ran out. */
  timedOut(): void {
    if (this.finished) return;
    const { call, ctx } = this;
    ctx.onExecTimeout?.();
    ctx.logger.warn(`Upstream HTTP killed due to exec_timeout: ${formatDuration(call.timeoutMs)}`, {
      url: call.target,
      afterHeaders: this.responded,
    });
    // After the headers a status can no longer be sent: fail() aborts the connection instead.
    this.fail(
      new WatchdogError(
        'EXEC_TIMEOUT',
        `upstream did not answer within exec_timeout of ${formatDuration(call.timeoutMs)}\n`,
      ),
    );
  }

  /** The client went away (or the watchdog cut the call): nothing to answer, just let the upstream go. */
  private clientClosed(): void {
    if (this.finished) return;
    this.settle();
    this.abortUpstream?.();
  }
}

function onExecTimeout(exchange: Exchange): void {
  exchange.timedOut();
}
