// Forwards one function call to the upstream over a shared undici keep-alive pool, streaming both ways.
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import Pool from 'undici/lib/dispatcher/pool.js';
import { formatDuration } from '../../config/duration.js';
import { WatchdogError, classifyUpstreamError, sendError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { FunctionCall } from '../mode.js';
import { clientResponseHeaders, requestHasBody, upstreamRequestHeaders } from './forward-headers.js';

/**
 * A request body with a known length up to this size is read whole before it is sent: headers and
 * body then leave in one write, and a retry can replay it. Larger or chunked bodies are streamed.
 */
const WHOLE_BODY_MAX_BYTES = 64 * 1024;

/** Body bytes of a streamed request kept to replay it once when a reused idle connection turns out closed. */
const REPLAY_MAX_BYTES = 64 * 1024;

/** Error codes of a keep-alive connection that the upstream closed while it sat idle in the pool. */
const STALE_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Error codes undici gives a request it refuses to send (e.g. two Host headers): the client's fault. */
const UNSENDABLE_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/** What the proxy needs, fixed at start-up. */
export interface ProxyOptions {
  upstream: URL;
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
  const pool = new Pool(upstream.origin, { connections: null, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  const ctx: ProxyContext = {
    pool,
    upstreamHost: upstream.host,
    // A path prefix in upstream_url is kept; its trailing slash is not doubled (Q32).
    basePath: upstream.pathname === '/' ? '' : upstream.pathname.replace(/\/$/, ''),
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

/** The path sent upstream for a request target (origin-form, or absolute-form reduced to its path). */
function targetPath(basePath: string, url: string): string {
  if (url.charCodeAt(0) === 47 /* / */) return basePath + url;
  try {
    const parsed = new URL(url);
    return basePath + parsed.pathname + parsed.search;
  } catch {
    // Not a URL either: send it under the prefix as given and let the upstream answer.
    return `${basePath}/${url}`;
  }
}

/** True when the error is a pooled keep-alive connection that had been closed by the upstream. */
function isStaleConnection(err: Error): boolean {
  const { code, socket } = err as { code?: string; socket?: { bytesRead?: number } };
  if (code === undefined || !STALE_SOCKET_CODES.has(code)) return false;
  // undici says how much the connection had read: nothing means a fresh one, not a reused one.
  return socket?.bytesRead === undefined || socket.bytesRead > 0;
}

/** The streamed request body as undici reads it; a retry gets a fresh one that replays what was kept. */
class BodyRelay extends Readable {
  constructor(private readonly source: Readable) {
    super();
  }
  override _read(): void {
    this.source.resume();
  }
}

/**
 * One proxied request: an undici dispatch handler (the raw-header form undici itself uses
 * internally), one exec_timeout timer, one settle point. Methods instead of closures per request.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private finished = false;
  private responded = false;
  private retried = false;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly path: string;
  private headers: string[] | undefined;
  /** The whole body when it was read first (null: no body); undefined when it is streamed. */
  private wholeBody: Buffer | null | undefined;
  private relay: BodyRelay | undefined;
  private replay: Buffer[] | undefined;
  private replayBytes = 0;
  private sourceEnded = false;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly call: FunctionCall,
    remainingMs: number,
  ) {
    this.path = targetPath(ctx.basePath, call.req.url ?? '/');
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
      this.fail(err instanceof WatchdogError ? err : new WatchdogError('BODY_READ_FAILED', 'cannot read the request body\n', { cause: err }));
    });
    const declared = req.headers['content-length'];
    if (ctx.bufferBody || (declared !== undefined && Number(declared) <= WHOLE_BODY_MAX_BYTES)) {
      this.readWholeBody(body);
      return;
    }
    this.headers = upstreamRequestHeaders(req, ctx.upstreamHost, {});
    // undici frames a body of unknown length as chunked itself and refuses the header.
    if (req.headers['transfer-encoding'] !== undefined) this.headers = withoutTransferEncoding(this.headers);
    this.replay = [];
    body.on('data', (chunk: Buffer) => this.sourceData(chunk));
    body.on('end', () => {
      this.sourceEnded = true;
      if (!this.finished) this.relay?.push(null);
    });
    this.relay = new BodyRelay(body);
    this.dispatch();
  }

  /** Collects the body, then sends it with Content-Length (http_buffer_req_body, or a small body). */
  private readWholeBody(body: Readable): void {
    const chunks: Buffer[] = [];
    let length = 0;
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    });
    body.on('end', () => {
      if (this.finished) return;
      this.headers = upstreamRequestHeaders(this.call.req, this.ctx.upstreamHost, { bufferedLength: length });
      this.wholeBody = length === 0 ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
      this.dispatch();
    });
  }

  private sourceData(chunk: Buffer): void {
    if (this.finished) return;
    if (this.replay !== undefined) {
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_MAX_BYTES) this.replay = undefined;
      else this.replay.push(chunk);
    }
    if (this.relay !== undefined && !this.relay.push(chunk)) this.call.body.pause();
  }

  private dispatch(): void {
    const body = this.wholeBody !== undefined ? this.wholeBody : (this.relay as BodyRelay);
    this.ctx.pool.dispatch({ method: this.call.req.method ?? 'GET', path: this.path, headers: this.headers as string[], body }, this);
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
    this.replay = undefined;
    const { call } = this;
    const { res } = call;
    const raw: string[] = new Array<string>(rawHeaders.length);
    let connection: string | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = (rawHeaders[i] as Buffer).toString('latin1');
      const value = (rawHeaders[i + 1] as Buffer).toString('latin1');
      raw[i] = name;
      raw[i + 1] = value;
      if (name.length === 10 && name.toLowerCase() === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
    }
    const headers = clientResponseHeaders(raw, connection);
    try {
      if (res.getHeaderNames().length === 0) {
        // Fast path: nothing set yet, so the list goes out as is (repeated fields such as Set-Cookie kept apart).
        headers.push('X-Duration-Seconds', durationSeconds(call));
        if (statusText) res.writeHead(statusCode, statusText, headers);
        else res.writeHead(statusCode, headers);
      } else {
        // The server core set headers (Connection: close while draining): append around them.
        for (let i = 0; i < headers.length; i += 2) res.appendHeader(headers[i] as string, headers[i + 1] as string);
        res.setHeader('X-Duration-Seconds', durationSeconds(call));
        if (statusText) res.writeHead(statusCode, statusText);
        else res.writeHead(statusCode);
      }
    } catch (err) {
      // An upstream header Node refuses to send on (invalid characters): the answer cannot be relayed.
      this.fail(new WatchdogError('UPSTREAM_UNAVAILABLE', 'upstream sent an invalid response header\n', { cause: err }));
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
      if (ctx.logger.debugEnabled) ctx.logger.debug('upstream closed a pooled connection; retrying once', { url: call.req.url, code });
      if (this.wholeBody === undefined) this.restartRelay();
      this.dispatch();
      return;
    }
    if (!this.responded) ctx.logger.warn(`Upstream HTTP request error: ${code ?? err.message}`, { url: call.req.url });
    if (code !== undefined && UNSENDABLE_CODES.has(code)) this.fail(new WatchdogError('BAD_REQUEST', `the request cannot be forwarded: ${err.message}\n`, { cause: err }));
    else this.fail(classifyUpstreamError(err));
  }

  // --- settling -------------------------------------------------------------------------------

  private canReplay(): boolean {
    return this.wholeBody !== undefined || this.replay !== undefined;
  }

  private restartRelay(): void {
    const relay = new BodyRelay(this.call.body);
    for (const chunk of this.replay as Buffer[]) relay.push(chunk);
    if (this.sourceEnded) relay.push(null);
    this.relay = relay;
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
    ctx.logger.warn(`Upstream HTTP killed due to exec_timeout: ${formatDuration(call.timeoutMs)}`, { url: call.req.url, afterHeaders: this.responded });
    // After the headers a status can no longer be sent: fail() aborts the connection instead.
    this.fail(new WatchdogError('EXEC_TIMEOUT', `upstream did not answer within exec_timeout of ${formatDuration(call.timeoutMs)}\n`));
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

/** The header list without Transfer-Encoding (undici sets the framing of a streamed body itself). */
function withoutTransferEncoding(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') continue;
    out.push(name, headers[i + 1] as string);
  }
  return out;
}
