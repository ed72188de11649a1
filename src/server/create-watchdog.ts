// createWatchdog(config, deps): routing, health and readiness, the limiter, the lock file and shutdown.
import { mkdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { ServerResponse, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { WatchdogConfig } from '../config/load-config.js';
import { formatDuration } from '../config/duration.js';
import { INTERNAL_HEADER, INTERNAL_VALUE, WatchdogError, bodyTooLarge, sendError } from '../errors.js';
import { humanSize } from '../log/human-size.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RequestGuard } from '../auth/request-guard.js';
import type { FunctionCall, ModeRunner, UpgradeCall } from '../modes/mode.js';
import { createBodyLimit } from './body-limit.js';
import { isUncleanPath, originForm, redirectTarget } from './clean-path.js';
import { createDrain } from './drain.js';
import { createLimiter, type LimiterRefusal } from './limiter.js';
import { effectiveTimeoutMs } from './timeouts.js';

export interface WatchdogDeps {
  logger: Logger;
  metrics: Metrics;
  mode: ModeRunner;
  /** A hook run before a function request reaches the mode (authentication); may replace the body. */
  guard?: RequestGuard;
}

export interface Watchdog {
  readonly server: Server;
  readonly metricsServer: Server | undefined;
  /** Binds both ports; rejects with a clear message if a port is taken. */
  listen(): Promise<{ port: number; metricsPort: number | undefined }>;
  /** Writes the lock file once the mode is ready (waits for it). Resolves false if it never got ready. */
  markReadyWhenReady(maxWaitMs?: number): Promise<boolean>;
  /** The contract's graceful shutdown. Resolves when everything is stopped. */
  shutdown(reason: string): Promise<void>;
  /**
   * Stop for a second signal or a fatal error: kill children, close sockets. With `answerMs` > 0
   * (fatal error), keep-alive clients are told to go and requests in flight get up to that long to be answered first.
   */
  abort(answerMs?: number): Promise<void>;
  /** Function requests in flight. */
  readonly inFlight: number;
  /** Function requests waiting for a max_inflight slot. */
  readonly queued: number;
  readonly healthy: boolean;
}

const HEALTH = '/_/health';
const READY = '/_/ready';
const EMPTY = Buffer.alloc(0);
const OK_BODY = Buffer.from('OK');
const NOT_ALLOWED_HEADERS = { 'Content-Length': '0' };

export function createWatchdog(config: WatchdogConfig, deps: WatchdogDeps): Watchdog {
  const { logger, metrics, mode } = deps;
  const kubeProbe = 'kube-probe';
  const lockFile = config.lockFilePath;
  const limiterBody = Buffer.from(`Concurrent request limit exceeded. Max concurrent requests: ${config.maxInflight}\n`);
  const limiterHeaders = {
    'Content-Type': 'text/plain',
    'Content-Length': String(limiterBody.length),
    [INTERNAL_HEADER]: 'faas-middleware',
  };

  // max_inflight and its queue (src/server/limiter.ts); its in-flight count is the drain's too.
  const limiter = createLimiter({ maxInflight: config.maxInflight, maxQueue: config.maxQueue, queueTimeoutMs: config.queueTimeoutMs, onQueueWait: (s) => metrics.queueWaited(s) });
  metrics.watchLimiter(limiter);
  let lockWritten = false;
  let accepting = false; // lock written (or suppressed) and mode ready
  let shuttingDown = false;
  let fatal = false;

  const isHealthy = (): boolean => accepting && !shuttingDown && !fatal && mode.isReady() && (config.suppressLock || existsSync(lockFile));

  const server = createServer(
    {
      requestTimeout: config.readTimeoutMs,
      headersTimeout: config.readTimeoutMs,
      keepAliveTimeout: config.readTimeoutMs > 0 ? config.readTimeoutMs : 5000,
      connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor((config.readTimeoutMs || 4000) / 4))),
      maxHeaderSize: 1 << 20,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      ...mode.httpClasses,
    },
    onRequest,
  );
  const drain = createDrain(server);
  // Without a listener Node answers a 400 and closes; keep that, but never let it throw.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // A response already on the wire (read_timeout while streaming a body) cannot take a status line: cut it.
    if (!socket.writable || (socket as { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    const body = `${status} ${reason}\n`;
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });

  const expecting = new WeakSet<IncomingMessage>();
  // Expect: 100-continue. Node would answer 100 at once; here it is sent only once the request passed
  // every check made on its headers (max_inflight, max_body_bytes, the API key), right before its body
  // is read, so a refused request gets its 401/413/429 without uploading a body first.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    expecting.add(req);
    onRequest(req, res);
  });

  // CONNECT (a proxy tunnel) is nothing a function serves. Without a listener Node would leave the socket open for ever.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy()); // The client may already be gone; nothing to answer then.
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\n${INTERNAL_HEADER}: ${INTERNAL_VALUE}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    (socket as Socket).setTimeout(1000, () => socket.destroy());
  });

  // Upgrade (WebSocket) requests reach only a mode that tunnels them. Node hands them over with the raw
  // socket; a ServerResponse is put on that socket so they take the very path of any request: routing,
  // max_inflight, the body rules, the guard, the access log and the metrics. Without a listener
  // (the other modes) Node serves them as ordinary requests.
  const upgrade = mode.handleUpgrade?.bind(mode);
  if (upgrade !== undefined) {
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on('error', () => socket.destroy()); // A client that vanished mid-handshake needs no answer.
      const res = new ServerResponse(req);
      res.shouldKeepAlive = false; // one exchange per connection: nothing after it is read as a request
      res.assignSocket(socket);
      // Not a tunnel after all: the connection ends with the answer. Destroyed once flushed, not just ended:
      // nobody reads this socket any more, so a client that sent more bytes would never be seen closing it.
      res.once('finish', () => {
        if (res.socket === socket) socket.destroySoon();
      });
      onRequest(req, res, { socket, head });
    });
  }

  function onRequest(req: IncomingMessage, res: ServerResponse, upgrading?: Upgrading): void {
    let url = req.url ?? '/';
    // Absolute-form targets (http://host/p, as sent to proxies) route by their path, as in Go.
    if (url.charCodeAt(0) !== 47 && url !== '*') url = req.url = originForm(url);
    // Fast path: exact compares for the internal routes.
    if (url === HEALTH) return health(req, res);
    if (url === READY) return void ready(req, res);
    if (url === '*' && req.method === 'OPTIONS') {
      res.writeHead(200, NOT_ALLOWED_HEADERS).end();
      drain.answeredAt(req.socket);
      return;
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (q !== -1) {
      if (path === HEALTH) return health(req, res);
      if (path === READY) return void ready(req, res);
    }
    if (isUncleanPath(path)) return redirectClean(req, res, path, q === -1 ? '' : url.slice(q));
    handleFunction(req, res, upgrading);
  }

  function health(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') {
      res.writeHead(405, NOT_ALLOWED_HEADERS).end();
      return;
    }
    if (isHealthy()) res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' }).end(OK_BODY);
    else res.writeHead(503, NOT_ALLOWED_HEADERS).end();
    drain.answeredAt(req.socket);
  }

  async function ready(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') {
      res.writeHead(405, NOT_ALLOWED_HEADERS).end();
      return;
    }
    if (!isHealthy()) {
      res.writeHead(503, NOT_ALLOWED_HEADERS).end();
      return;
    }
    if (limiter.full) {
      res.writeHead(429, NOT_ALLOWED_HEADERS).end();
      return;
    }
    if (config.readyPath !== undefined) {
      // The function's own readiness answer is the /_/ready answer (not counted, not limited).
      req.url = config.readyPath;
      req.method = 'GET';
      const controller = new AbortController();
      res.once('close', () => controller.abort());
      const call: FunctionCall = {
        req,
        res,
        body: Readable.from([]),
        timeoutMs: config.execTimeoutMs,
        signal: controller.signal,
        startedAt: performance.now(),
        bytesOut: 0,
      };
      mode.handle(call);
      return;
    }
    res.writeHead(200, NOT_ALLOWED_HEADERS).end(EMPTY);
    drain.answeredAt(req.socket);
  }

  function redirectClean(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    const target = redirectTarget(path) + query;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const body = `<a href="${escapeHtml(target)}">Moved Permanently</a>.\n\n`;
      res.writeHead(301, { Location: target, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else {
      res.writeHead(301, { Location: target, 'Content-Length': '0' }).end();
    }
  }

  function handleFunction(req: IncomingMessage, res: ServerResponse, upgrading?: Upgrading): void {
    const startedAt = performance.now();
    if (drain.draining) res.setHeader('Connection', 'close');
    metrics.requestStarted();
    if (limiter.tryEnter()) runFunction(req, res, startedAt, upgrading);
    else waitForSlot(req, res, startedAt, upgrading);
  }

  /** Every slot is taken: wait in the queue (max_queue), or get the 429. A client that leaves is dropped at once. */
  function waitForSlot(req: IncomingMessage, res: ServerResponse, startedAt: number, upgrading: Upgrading | undefined): void {
    let waiting = true;
    const leave = limiter.wait(
      () => {
        waiting = false;
        runFunction(req, res, startedAt, upgrading);
      },
      (reason) => {
        waiting = false;
        refuse(req, res, startedAt, reason);
      },
    );
    if (leave === undefined) return;
    res.once('close', () => {
      if (!waiting) return;
      waiting = false;
      leave();
      // No status was sent: recorded as nginx's 499 "client closed request".
      metrics.requestFinished(req.method, 499, (performance.now() - startedAt) / 1000);
      if (logger.debugEnabled) logger.debug('client left while queued', { method: req.method, url: req.url });
    });
  }

  function refuse(req: IncomingMessage, res: ServerResponse, startedAt: number, reason: LimiterRefusal | 'closed'): void {
    res.once('close', () => metrics.requestFinished(req.method, res.statusCode, (performance.now() - startedAt) / 1000));
    if (reason === 'closed') {
      sendError(res, new WatchdogError('NOT_READY', 'the watchdog is shutting down\n'));
      return;
    }
    metrics.refused(reason);
    if (!res.destroyed) res.writeHead(429, limiterHeaders).end(limiterBody);
  }

  function runFunction(req: IncomingMessage, res: ServerResponse, startedAt: number, upgrading: Upgrading | undefined): void {
    drain.answerStarted(res);
    const timeoutMs = effectiveTimeoutMs(config.execTimeoutMs, req.headers['x-timeout']);
    const call = upgrading === undefined ? new RequestCall(req, res, timeoutMs, startedAt) : new RequestUpgradeCall(req, res, timeoutMs, startedAt, upgrading, () => finish(101));
    if (expecting.has(req)) call.expectsContinue = true;
    const writeTimer = config.writeTimeoutMs > 0 ? setTimeout(onWriteTimeout, config.writeTimeoutMs, res) : undefined;
    let finished = false;
    // 'close' fires once per response: `on` spares the wrapper `once` would allocate.
    res.on('close', () => finish(undefined));
    function finish(tunnelStatus: number | undefined): void {
      if (finished) return;
      finished = true;
      if (writeTimer !== undefined) clearTimeout(writeTimer);
      if (tunnelStatus === undefined && !res.writableFinished) call.cutOff();
      if (tunnelStatus !== undefined) call.logStatus = tunnelStatus;
      const status = call.logStatus ?? res.statusCode;
      const seconds = (performance.now() - startedAt) / 1000;
      metrics.requestFinished(req.method, status, seconds);
      // 413 and 401 made by the watchdog itself (not the function's own) are refusals.
      if ((status === 413 || status === 401) && res.getHeader(INTERNAL_HEADER) !== undefined) metrics.refused(status === 413 ? 'body_too_large' : 'auth');
      accessLog(call, status, seconds);
      // The slot goes to the longest-waiting request, if any; then the drain hears of the end (the next call has begun).
      limiter.release();
      drain.answerEnded(res);
    }

    const declared = req.headers['content-length'];
    if (upgrading !== undefined) {
      // A handshake has no body. One that carries a body is refused, so the guard never signs or
      // checks a body other than the one forwarded (Node leaves an Upgrade request's body raw on the socket).
      if ((declared !== undefined && declared !== '0') || req.headers['transfer-encoding'] !== undefined) {
        sendError(res, new WatchdogError('BAD_REQUEST', 'an Upgrade request must not carry a body\n'));
        return;
      }
      startCall(call);
      return;
    }
    const coding = req.headers['transfer-encoding'];
    if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
      // Node's parser accepts `gzip, chunked` and removes only the chunking: the function would get
      // gzip bytes it cannot tell from plain ones. Other codings are refused (RFC 9112: 501).
      res.setHeader('Connection', 'close');
      sendError(res, new WatchdogError('BAD_REQUEST', 'unsupported Transfer-Encoding: only chunked is accepted\n', { status: 501 }));
      return;
    }
    if (config.maxBodyBytes > 0) {
      if (declared !== undefined && Number(declared) > config.maxBodyBytes) {
        res.setHeader('Connection', 'close');
        sendError(res, bodyTooLarge(config.maxBodyBytes));
        return;
      }
      if (declared === undefined && req.headers['transfer-encoding'] !== undefined) {
        const limited = createBodyLimit(config.maxBodyBytes);
        limited.on('error', () => {
          // The 413 can fire before the mode listens (startCall is deferred): it stays on limited.errored.
        });
        req.on('error', (err) => limited.destroy(err));
        (call as { body: Readable }).body = req.pipe(limited);
      }
    }

    // A chunked body can fail to parse in the very read that held the headers (bad chunk size):
    // start the function only once that read is done, so a request the parser rejects never reaches it.
    if (req.headers['transfer-encoding'] !== undefined) setImmediate(startCall, call);
    else startCall(call);
  }

  function startCall(call: FunctionCall): void {
    const socket = call.req.socket;
    if (socket.destroyed || socket.writableEnded) {
      call.logStatus = 400; // clientError already answered (or cut) this connection
      return;
    }
    // max_body_bytes was hit in the read that held the headers (the limit pipe failed before anyone listened):
    // answer the 413 here, so neither the guard nor the mode waits for a body that will never end.
    const failed = call.body.errored;
    if (failed instanceof WatchdogError) {
      refuseCall(call, failed);
      return;
    }
    if (deps.guard === undefined) {
      serve(call);
      return;
    }
    runGuarded(deps.guard, call);
  }

  /** Answers a call the watchdog refuses (401, 413...) and discards its unread body. */
  function refuseCall(call: FunctionCall, err: WatchdogError): void {
    // An oversized body is not drained: close the connection after the 413.
    if (err.status === 413) call.res.setHeader('Connection', 'close');
    sendError(call.res, err, err.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="fwatchdog"' } : undefined);
    // Discard the unread body from the socket itself: a size-limit pipe nobody reads would stall keep-alive.
    if (call.body !== call.req) call.req.unpipe();
    call.req.resume();
  }

  /** `100 Continue` for a client that asked for it (Expect: 100-continue), once, right before its body is needed. */
  function sendContinue(call: FunctionCall): void {
    if (!(call instanceof RequestCall) || !call.expectsContinue) return;
    call.expectsContinue = false;
    if (!call.res.headersSent && !call.res.destroyed) call.res.writeContinue();
  }

  function serve(call: FunctionCall): void {
    sendContinue(call);
    if (call instanceof RequestUpgradeCall) (upgrade as NonNullable<typeof upgrade>)(call);
    else mode.handle(call);
  }

  function runGuarded(guard: RequestGuard, call: FunctionCall): void {
    let verdict: ReturnType<RequestGuard>;
    try {
      verdict = guard(call.req, call.body, () => sendContinue(call));
    } catch (err) {
      verdict = new WatchdogError('BAD_REQUEST', 'request rejected\n', { cause: err });
    }
    const proceed = (v: Readable | WatchdogError): void => {
      if (v instanceof WatchdogError) {
        refuseCall(call, v);
        return;
      }
      (call as { body: Readable }).body = v;
      if (!call.res.destroyed) serve(call);
    };
    if (verdict instanceof Promise) {
      verdict.then(proceed, (err: unknown) => proceed(err instanceof WatchdogError ? err : new WatchdogError('BAD_REQUEST', 'request rejected\n', { cause: err })));
    } else {
      proceed(verdict);
    }
  }

  function accessLog(call: FunctionCall, status: number, seconds: number): void {
    const ua = call.req.headers['user-agent'];
    if (ua !== undefined && ua.startsWith(kubeProbe)) return;
    const callId = config.logCallId ? (call.req.headers['x-call-id'] ?? 'none') : undefined;
    if (config.logFormat === 'text') {
      logger.info(`${call.req.method} ${call.req.url} - ${status} - ContentLength: ${humanSize(bytesOf(call))} (${seconds.toFixed(4)}s)${callId === undefined ? '' : ` [${String(callId)}]`}`);
    } else {
      logger.info('request', { method: call.req.method, url: call.req.url, status, bytes: bytesOf(call), durationMs: Math.round(seconds * 1e6) / 1000, callId });
    }
  }

  let metricsServer: Server | undefined;
  if (config.metricsPort !== 0) {
    metricsServer = createServer({ requestTimeout: 500, headersTimeout: 500 }, (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end('404 page not found\n');
        return;
      }
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
        (err: unknown) => {
          logger.error('metrics collection failed', { err: String(err) });
          res.writeHead(500).end();
        },
      );
    });
  }

  function listenOn(s: Server, port: number, what: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new Error(err.code === 'EADDRINUSE' ? `${what} ${port} is already in use: stop whatever listens there or set ${what === 'port' ? 'port' : 'metrics_port'} to another port` : `cannot listen on ${what} ${port}: ${err.message}`));
      };
      s.once('error', onError);
      s.listen(port, () => {
        s.off('error', onError);
        resolve((s.address() as AddressInfo).port);
      });
    });
  }

  function writeLock(): void {
    if (config.suppressLock) {
      logger.warn('Warning: "suppress_lock" is enabled. No automated health-checks will be in place for your function.');
      return;
    }
    logger.info(`Writing lock-file to: ${lockFile}`);
    mkdirSync(config.tmpDir, { recursive: true });
    writeFileSync(lockFile, '', { mode: 0o660 });
    lockWritten = true;
  }

  /** A lock file left by an earlier run would report "healthy" before this one is ready. */
  function removeStaleLock(): void {
    if (config.suppressLock || !existsSync(lockFile)) return;
    try {
      rmSync(lockFile);
      logger.info(`Removing stale lock-file : ${lockFile}`);
    } catch (err) {
      logger.warn(`Unable to remove stale lock-file: ${(err as Error).message}`);
    }
  }

  function removeLock(): void {
    if (config.suppressLock || !lockWritten) return;
    lockWritten = false; // once: a second signal (or a fatal error during the drain) must not remove it again
    try {
      rmSync(lockFile);
      logger.info(`Removing lock-file : ${lockFile}`);
    } catch (err) {
      logger.warn(`Unable to mark server as unhealthy: ${(err as Error).message}`);
    }
  }

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  let shutdownPromise: Promise<void> | undefined;

  return {
    server,
    metricsServer,
    get inFlight() {
      return limiter.inFlight;
    },
    get queued() {
      return limiter.queued;
    },
    get healthy() {
      return isHealthy();
    },
    async listen() {
      const port = await listenOn(server, config.port, 'port');
      let metricsPort: number | undefined;
      if (metricsServer) {
        try {
          metricsPort = await listenOn(metricsServer, config.metricsPort, 'metrics_port');
        } catch (err) {
          server.close();
          throw err;
        }
      }
      logger.info(`Listening on port: ${port}`);
      if (metricsPort !== undefined) logger.info(`Metrics listening on port: ${metricsPort}`);
      removeStaleLock();
      return { port, metricsPort };
    },
    async markReadyWhenReady(maxWaitMs = Infinity) {
      const ok = await mode.waitReady(maxWaitMs);
      if (!ok || shuttingDown || fatal) return false;
      writeLock();
      accepting = true;
      return true;
    },
    shutdown(reason) {
      shutdownPromise ??= (async () => {
        shuttingDown = true;
        logger.info(`${reason}: no new connections in ${formatDuration(config.healthcheckIntervalMs)}`);
        removeLock();
        if (config.healthcheckIntervalMs > 0) await sleep(config.healthcheckIntervalMs);
        logger.info(`No new connections allowed, draining: ${limiter.inFlight + limiter.queued} requests`);
        const drainStartedAt = performance.now();
        await drain.begin(config.writeTimeoutMs);
        await drain.answersDone(config.writeTimeoutMs > 0 ? Math.max(1, config.writeTimeoutMs - (performance.now() - drainStartedAt)) : 0);
        limiter.close();
        await mode.stop();
        server.closeAllConnections();
        server.close(); // stops Node's connection checks; the listener is closed already
        metricsServer?.close();
        metricsServer?.closeAllConnections();
        logger.info(`Exiting. Active connections: ${limiter.inFlight}`);
      })();
      return shutdownPromise;
    },
    async abort(answerMs = 0) {
      fatal = true;
      removeLock();
      if (answerMs > 0 && !drain.draining) {
        // Fatal error: no new connections, every answer says Connection: close, keep-alive clients get
        // the idle grace, and what is in flight gets up to answerMs to be answered before the exit.
        const drainStartedAt = performance.now();
        await drain.begin(answerMs);
        await drain.answersDone(Math.max(1, answerMs - (performance.now() - drainStartedAt)));
      }
      server.close();
      metricsServer?.close();
      limiter.close();
      await mode.stop();
      server.closeAllConnections();
      metricsServer?.closeAllConnections();
    },
  };
}

/** One function request as the modes see it; its AbortSignal is only built if a mode asks for it (most never do). */
class RequestCall implements FunctionCall {
  body: Readable;
  /** The client waits for `100 Continue` before it sends the body (not sent yet). */
  expectsContinue = false;
  bytesOut = 0;
  logStatus: number | undefined;
  private controller: AbortController | undefined;
  private cut = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly timeoutMs: number,
    readonly startedAt: number,
  ) {
    this.body = req;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.cut) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** The response closed before it was finished (client gone, write_timeout): abort the call. */
  cutOff(): void {
    this.cut = true;
    this.controller?.abort();
  }
}

/** The client's connection of an Upgrade request, handed over by Node's 'upgrade' event. */
interface Upgrading {
  socket: Socket;
  head: Buffer;
}

/** An Upgrade request: no body (a handshake with one is refused before), the socket for the tunnel. */
class RequestUpgradeCall extends RequestCall implements UpgradeCall {
  readonly socket: Socket;
  readonly head: Buffer;

  constructor(req: IncomingMessage, res: ServerResponse, timeoutMs: number, startedAt: number, upgrading: Upgrading, private readonly onOpened: () => void) {
    super(req, res, timeoutMs, startedAt);
    this.body = Readable.from([]);
    this.socket = upgrading.socket;
    this.head = upgrading.head;
  }

  tunnelOpened(): void {
    this.res.detachSocket(this.socket);
    this.onOpened();
  }
}

function onWriteTimeout(res: ServerResponse): void {
  // Go's WriteTimeout: the answer could not be written in time, so the connection is cut.
  if (!res.writableFinished) res.destroy(new WatchdogError('EXEC_TIMEOUT', 'write_timeout exceeded\n'));
}

function escapeHtml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** Body bytes of a call's response: what the mode counted, else the Content-Length of a watchdog-made answer. */
function bytesOf(call: FunctionCall): number {
  if (call.bytesOut > 0) return call.bytesOut;
  const declared = call.res.getHeader('content-length');
  return declared === undefined ? 0 : Number(declared);
}
