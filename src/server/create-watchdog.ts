// createWatchdog(config, deps): routing, health and readiness, the limiter, the lock file and shutdown.
import { mkdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { WatchdogConfig } from '../config/load-config.js';
import { formatDuration } from '../config/duration.js';
import { INTERNAL_HEADER, WatchdogError, sendError } from '../errors.js';
import { humanSize } from '../log/human-size.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { FunctionCall, ModeRunner } from '../modes/mode.js';
import { bodyTooLarge, createBodyLimit } from './body-limit.js';
import { cleanPath, isUncleanPath } from './clean-path.js';
import { effectiveTimeoutMs } from './timeouts.js';

export interface WatchdogDeps {
  logger: Logger;
  metrics: Metrics;
  mode: ModeRunner;
  /** Called once if the watchdog can no longer serve and must exit with a non-zero code. */
  onFatal?(message: string): void;
  /** A hook run before a function request reaches the mode (authentication); may replace the body. */
  guard?: RequestGuard;
}

/** Decides whether a request may reach the function. Returns the body to use, or an error to send. */
export type RequestGuard = (req: IncomingMessage, body: Readable) => Promise<Readable | WatchdogError> | Readable | WatchdogError;

export interface Watchdog {
  readonly server: Server;
  readonly metricsServer: Server | undefined;
  /** Binds both ports; rejects with a clear message if a port is taken. */
  listen(): Promise<{ port: number; metricsPort: number | undefined }>;
  /** Writes the lock file once the mode is ready (waits for it). Resolves false if it never got ready. */
  markReadyWhenReady(maxWaitMs?: number): Promise<boolean>;
  /** The contract's graceful shutdown. Resolves when everything is stopped. */
  shutdown(reason: string): Promise<void>;
  /** Immediate stop for a second signal or a fatal error: kill children, close sockets. */
  abort(): Promise<void>;
  /** Function requests in flight. */
  readonly inFlight: number;
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

  let inFlight = 0;
  let accepting = false; // lock written (or suppressed) and mode ready
  let shuttingDown = false;
  let draining = false;
  let fatal = false;
  const drainWaiters: Array<() => void> = [];

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
    },
    onRequest,
  );
  // Without a listener Node answers a 400 and closes; keep that, but never let it throw.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    const body = `${status} ${reason}\n`;
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    // Fast path: exact compares for the internal routes.
    if (url === HEALTH) return health(req, res);
    if (url === READY) return void ready(req, res);
    if (url === '*' && req.method === 'OPTIONS') {
      res.writeHead(200, NOT_ALLOWED_HEADERS).end();
      return;
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (q !== -1) {
      if (path === HEALTH) return health(req, res);
      if (path === READY) return void ready(req, res);
    }
    if (isUncleanPath(path)) return redirectClean(req, res, path, q === -1 ? '' : url.slice(q));
    handleFunction(req, res);
  }

  function health(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') {
      res.writeHead(405, NOT_ALLOWED_HEADERS).end();
      return;
    }
    if (isHealthy()) res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' }).end(OK_BODY);
    else res.writeHead(503, NOT_ALLOWED_HEADERS).end();
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
    if (config.maxInflight > 0 && inFlight >= config.maxInflight) {
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
  }

  function redirectClean(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    const target = cleanPath(path) + query;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const body = `<a href="${escapeHtml(target)}">Moved Permanently</a>.\n\n`;
      res.writeHead(301, { Location: target, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else {
      res.writeHead(301, { Location: target, 'Content-Length': '0' }).end();
    }
  }

  function handleFunction(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    if (draining) res.setHeader('Connection', 'close');
    metrics.requestStarted();
    if (config.maxInflight > 0 && inFlight >= config.maxInflight) {
      res.writeHead(429, limiterHeaders).end(limiterBody);
      res.once('close', () => metrics.requestFinished(req.method, 429, (performance.now() - startedAt) / 1000));
      return;
    }
    inFlight++;
    const controller = new AbortController();
    const call: FunctionCall = {
      req,
      res,
      body: req,
      timeoutMs: effectiveTimeoutMs(config.execTimeoutMs, req.headers['x-timeout']),
      signal: controller.signal,
      startedAt,
      bytesOut: 0,
    };
    let writeTimer: NodeJS.Timeout | undefined;
    if (config.writeTimeoutMs > 0) writeTimer = setTimeout(onWriteTimeout, config.writeTimeoutMs, res);
    res.once('close', () => {
      if (writeTimer !== undefined) clearTimeout(writeTimer);
      if (!res.writableFinished) controller.abort();
      inFlight--;
      const status = call.logStatus ?? res.statusCode;
      const seconds = (performance.now() - startedAt) / 1000;
      metrics.requestFinished(req.method, res.writableFinished ? status : status, seconds);
      accessLog(call, status, seconds);
      if (draining) {
        server.closeIdleConnections();
        if (inFlight === 0) for (const wake of drainWaiters.splice(0)) wake();
      }
    });

    const declared = req.headers['content-length'];
    if (config.maxBodyBytes > 0) {
      if (declared !== undefined && Number(declared) > config.maxBodyBytes) {
        res.setHeader('Connection', 'close');
        sendError(res, bodyTooLarge(config.maxBodyBytes));
        return;
      }
      if (declared === undefined && req.headers['transfer-encoding'] !== undefined) {
        const limited = createBodyLimit(config.maxBodyBytes);
        req.on('error', (err) => limited.destroy(err));
        (call as { body: Readable }).body = req.pipe(limited);
      }
    }

    if (deps.guard === undefined) {
      mode.handle(call);
      return;
    }
    runGuarded(deps.guard, call);
  }

  function runGuarded(guard: RequestGuard, call: FunctionCall): void {
    let verdict: ReturnType<RequestGuard>;
    try {
      verdict = guard(call.req, call.body);
    } catch (err) {
      verdict = new WatchdogError('BAD_REQUEST', 'request rejected\n', { cause: err });
    }
    const proceed = (v: Readable | WatchdogError): void => {
      if (v instanceof WatchdogError) {
        sendError(call.res, v, v.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="fwatchdog"' } : undefined);
        call.req.resume();
        return;
      }
      (call as { body: Readable }).body = v;
      if (!call.res.destroyed) mode.handle(call);
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
      logger.info(`${call.req.method} ${call.req.url} - ${status} - ContentLength: ${humanSize(call.bytesOut)} (${seconds.toFixed(4)}s)${callId === undefined ? '' : ` [${String(callId)}]`}`);
    } else {
      logger.info('request', { method: call.req.method, url: call.req.url, status, bytes: call.bytesOut, durationMs: Math.round(seconds * 1e6) / 1000, callId });
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
  }

  function removeLock(): void {
    if (config.suppressLock) return;
    try {
      rmSync(lockFile);
      logger.info(`Removing lock-file : ${lockFile}`);
    } catch (err) {
      logger.warn(`Unable to mark server as unhealthy: ${(err as Error).message}`);
    }
  }

  function waitForDrain(maxMs: number): Promise<void> {
    if (inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = maxMs > 0 ? setTimeout(resolve, maxMs) : undefined;
      drainWaiters.push(() => {
        if (timer) clearTimeout(timer);
        resolve();
      });
    });
  }

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  let shutdownPromise: Promise<void> | undefined;

  return {
    server,
    metricsServer,
    get inFlight() {
      return inFlight;
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
        logger.info(`No new connections allowed, draining: ${inFlight} requests`);
        draining = true;
        server.close();
        server.closeIdleConnections();
        await waitForDrain(config.writeTimeoutMs);
        await mode.stop();
        server.closeAllConnections();
        metricsServer?.close();
        metricsServer?.closeAllConnections();
        logger.info(`Exiting. Active connections: ${inFlight}`);
      })();
      return shutdownPromise;
    },
    async abort() {
      fatal = true;
      removeLock();
      server.close();
      metricsServer?.close();
      await mode.stop();
      server.closeAllConnections();
      metricsServer?.closeAllConnections();
    },
  };
}

function onWriteTimeout(res: ServerResponse): void {
  // Go's WriteTimeout: the answer could not be written in time, so the connection is cut.
  if (!res.writableFinished) res.destroy(new WatchdogError('EXEC_TIMEOUT', 'write_timeout exceeded\n'));
}

function escapeHtml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
