// createWatchdog(config, deps): the request path (routing, limits, body rules, the call and its end), readiness and shutdown.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { WatchdogConfig } from '../config/load-config.js';
import { formatDuration } from '../config/duration.js';
import { INTERNAL_HEADER, WatchdogError, prebuiltAnswer, sendError } from '../errors.js';
import { createAccessLog } from './access-log.js';
import { createCallStarter } from './call-start.js';
import { bodyLimitOf } from './body-limit.js';
import { checkBody, closesConnection } from './body-rules.js';
import { hasEncodedNul, hasEncodedSlashDotSegment, isUncleanPath, originForm, requestTarget } from './clean-path.js';
import { DeadlineQueue } from '../deadline-queue.js';
import { heldBack, onTurn } from '../internals.js';
import { createDrain, type Answer } from './drain.js';
import { createInternalRoutes, HEALTH, READY } from './internal-routes.js';
import { createLimiter, type LimiterRefusal } from './limiter.js';
import { createLockFile } from './lock-file.js';
import { createMetricsServer, listenOn } from './metrics-server.js';
import { answerRawSockets, rawAnswerStatus } from './raw-answers.js';
import { WatchdogResponse } from './response.js';
import type { Watchdog, WatchdogDeps } from './watchdog-api.js';
import { RequestCall, RequestUpgradeCall, acceptUpgrades, onWriteTimeout, type Upgrading } from './request-call.js';
import { effectiveTimeoutMs } from './timeouts.js';

export type { Watchdog, WatchdogDeps } from './watchdog-api.js';

/** A `.` or `..` segment made with `%2F` (`/a%2f..%2fb`): refused, it has no clean form (clean-path.ts). */
const DOT_SEGMENT_PATH = new WatchdogError(
  'BAD_REQUEST',
  'Bad Request: a path segment is "." or ".." once %2F is decoded\n',
);
/** `%00` in the path: an environment variable ends at a NUL byte, so PATH_INFO would be cut short. */
const NUL_PATH = new WatchdogError('BAD_REQUEST', 'Bad Request: the path holds %00\n');
/** The status logged and counted for a call whose client left before its answer ended (nginx's). */
export const CLIENT_CLOSED = 499;

/** Builds the server and its lifecycle; nothing listens until listen(). */
export function createWatchdog(config: WatchdogConfig, deps: WatchdogDeps): Watchdog {
  const { logger, metrics, mode, tracer } = deps;
  const lockFile = createLockFile(config, logger);
  const limited = prebuiltAnswer(
    new WatchdogError(
      'TOO_MANY_REQUESTS',
      `Concurrent request limit exceeded. Max concurrent requests: ${config.maxInflight}\n`,
    ),
  );

  // max_inflight and its queue (src/server/limiter.ts); its in-flight count is the drain's too.
  const limiter = createLimiter({
    maxInflight: config.maxInflight,
    maxQueue: config.maxQueue,
    queueTimeoutMs: config.queueTimeoutMs,
    onQueueWait: (s) => metrics.queueWaited(s),
  });
  metrics.watchLimiter(limiter);
  let accepting = false; // lock written (or suppressed) and mode ready
  let shuttingDown = false;
  let fatal = false;
  let started = 0;

  const isHealthy = (): boolean => accepting && !shuttingDown && !fatal && mode.isReady() && lockFile.present();

  const server = createServer(
    {
      requestTimeout: config.readTimeoutMs,
      headersTimeout: config.readTimeoutMs,
      keepAliveTimeout: config.readTimeoutMs > 0 ? config.readTimeoutMs : 5000,
      connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor((config.readTimeoutMs || 4000) / 4))),
      maxHeaderSize: 1 << 20,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      ServerResponse: WatchdogResponse,
      ...mode.httpClasses,
    },
    routeInternal,
  );
  const drain = createDrain(server);
  const accessLog = createAccessLog(logger);
  const metricsServer = config.metricsPort !== 0 ? createMetricsServer(metrics, logger) : undefined;
  answerRawSockets(server);
  const startCall = createCallStarter(mode, deps.guard);
  const bodyLimit = bodyLimitOf(config);
  let boundPort = 0;
  const routes = createInternalRoutes({ config, limiter, drain, isHealthy, port: () => boundPort });

  // write_timeout: one timer for every answer in progress (they all have the same length).
  const writeDeadlines =
    config.writeTimeoutMs > 0 ? new DeadlineQueue(config.writeTimeoutMs, onWriteTimeout) : undefined;
  const expecting = new WeakSet<IncomingMessage>();
  // Expect: 100-continue. Node would answer 100 at once; here it is sent only once the request passed
  // every check made on its headers (max_inflight, max_body_bytes, the API key), right before its body
  // is read, so a refused request gets its 401/413/429 without uploading a body first (call-start.ts).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    expecting.add(req);
    routeInternal(req, res);
  });
  // Upgrade (WebSocket) requests take the request path too, in a mode that tunnels them (request-call.ts).
  if (mode.handleUpgrade !== undefined) acceptUpgrades(server, routeInternal);

  // The request path, one named step after the other: routeInternal -> admit (max_inflight, max_queue) ->
  // openCall -> checkBody (body-rules.ts) -> startCall (the guard, then the mode; call-start.ts) -> endCall.
  // No step writes to the request: the routed target travels as call.target (request-call.ts).

  /** Step 1: the internal routes (/_/health, /_/ready, OPTIONS *, the readiness probe) and unclean paths; any other request is a function call. */
  function routeInternal(req: IncomingMessage, res: ServerResponse, upgrading?: Upgrading): void {
    if (routes.isProbe(req)) return runProbe(req, res);
    const raw = req.url ?? '/';
    // Absolute-form targets (http://host/p, as sent to proxies) route by their path, as in Go.
    const url = raw.charCodeAt(0) !== 47 && raw !== '*' ? originForm(raw) : raw;
    // Fast path: exact compares for the internal routes.
    if (url === HEALTH) return routes.health(req, res);
    if (url === READY) return routes.ready(req, res);
    if (url === '*' && req.method === 'OPTIONS') return routes.options(req, res);
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (q !== -1) {
      if (path === HEALTH) return routes.health(req, res);
      if (path === READY) return routes.ready(req, res);
    }
    if (isUncleanPath(path)) return routes.redirectClean(req, res, path, q === -1 ? '' : url.slice(q));
    if (hasEncodedSlashDotSegment(path)) return sendError(res, DOT_SEGMENT_PATH);
    if (hasEncodedNul(path)) return sendError(res, NUL_PATH);
    admit(req, res, upgrading);
  }

  /** Step 2, the limits: a slot under max_inflight now, or a wait in the queue, or the 429. */
  function admit(req: IncomingMessage, res: ServerResponse, upgrading?: Upgrading): void {
    // A pipelined request runs once the answers before it on its connection are done, as in Go, which reads
    // the next request only then: one behind a refusal that closes the connection (501, 413, Node's 400
    // without Host) never runs at all.
    if (heldBack(res)) {
      onTurn(res, () => {
        if (req.socket.destroyed || req.socket.writableEnded) return;
        admit(req, res, upgrading);
      });
      return;
    }
    const startedAt = performance.now();
    if (drain.draining) res.setHeader('Connection', 'close');
    metrics.requestStarted();
    started++;
    if (limiter.tryEnter()) openCall(req, res, startedAt, upgrading, startedAt);
    else waitForSlot(req, res, startedAt, upgrading);
  }

  /**
   * The watchdog's own readiness probe (GET <ready_path>, built in internal-routes.ts): straight to the mode,
   * outside the guard, the limiter, the access log and the metrics. At most one runs at a time.
   */
  function runProbe(req: IncomingMessage, res: ServerResponse): void {
    const call = new RequestCall(req, res, config.execTimeoutMs, performance.now());
    res.on('close', () => {
      if (!res.writableFinished) call.cutOff();
      call.onClose?.responseClosed();
    });
    mode.handle(call);
  }

  /** Every slot is taken: wait in the queue (max_queue), or get the 429. A client that leaves is dropped at once. */
  function waitForSlot(
    req: IncomingMessage,
    res: ServerResponse,
    startedAt: number,
    upgrading: Upgrading | undefined,
  ): void {
    let waiting = true;
    const leave = limiter.wait(
      () => {
        waiting = false;
        openCall(req, res, startedAt, upgrading, performance.now());
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
      // No status was sent: recorded as nginx's 499 "client closed request" (or the raw 400/408 that ended the socket).
      metrics.requestFinished(
        req.method,
        rawAnswerStatus(req.socket) ?? CLIENT_CLOSED,
        (performance.now() - startedAt) / 1000,
      );
      tracer?.refused(req, startedAt, CLIENT_CLOSED, 'client_left_queue');
      if (logger.debugEnabled)
        logger.debug('client left while queued', { method: req.method, url: requestTarget(req.url) });
    });
  }

  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    startedAt: number,
    reason: LimiterRefusal | 'closed',
  ): void {
    res.once('close', () =>
      metrics.requestFinished(req.method, res.statusCode, (performance.now() - startedAt) / 1000),
    );
    if (reason === 'closed') {
      sendError(res, new WatchdogError('NOT_READY', 'the watchdog is shutting down\n'));
      tracer?.refused(req, startedAt, 503, 'shutting_down');
      return;
    }
    metrics.refused(reason);
    tracer?.refused(req, startedAt, limited.status, reason);
    if (!res.destroyed) res.writeHead(limited.status, limited.headers).end(limited.body);
  }

  /**
   * Step 3: the call holds a slot; it is made, its end (endCall) is hooked to the response's close, the body
   * rules are applied, then startCall runs it. `now` is performance.now(), or the arrival time when it did not wait.
   */
  function openCall(
    req: IncomingMessage,
    res: ServerResponse,
    startedAt: number,
    upgrading: Upgrading | undefined,
    now: number,
  ): void {
    const answer = drain.answerStarted(res);
    const timeoutMs = effectiveTimeoutMs(config.execTimeoutMs, req.headers['x-timeout']);
    const call =
      upgrading === undefined
        ? new RequestCall(req, res, timeoutMs, startedAt)
        : new RequestUpgradeCall(req, res, timeoutMs, startedAt, upgrading, () => finish(true));
    if (req.headers.expect !== undefined && expecting.has(req)) call.expectsContinue = true;
    if (tracer !== undefined) call.startSpan(tracer, now);
    const writeDeadline = writeDeadlines?.add(res, now);
    let finished = false;
    // 'close' fires once per response: `on` spares the wrapper `once` would allocate.
    res.on('close', finish);
    /** The answer is over: the response closed, or (`tunnelOpened` true) an Upgrade's tunnel opened. */
    function finish(tunnelOpened?: unknown): void {
      if (finished) return;
      finished = true;
      writeDeadline?.cancel();
      endCall(call, answer, tunnelOpened === true);
    }

    const body = checkBody(call, bodyLimit, upgrading !== undefined);
    if (body instanceof WatchdogError) {
      if (closesConnection(body)) res.setHeader('Connection', 'close');
      sendError(res, body);
      return;
    }
    call.body = body;
    // A chunked body can fail to parse in the very read that held the headers (bad chunk size):
    // start the function only once that read is done, so a request the parser rejects never reaches it.
    if (upgrading === undefined && req.headers['transfer-encoding'] !== undefined) setImmediate(startCall, call);
    else startCall(call);
  }

  /** Step 5, where every function call ends (`tunnel`: an Upgrade's tunnel opened, logged as 101): log, count, free the slot. */
  function endCall(call: RequestCall, answer: Answer, tunnel: boolean): void {
    const { req, res } = call;
    const cut = !tunnel && !res.writableFinished;
    if (cut) call.cutOff();
    call.onClose?.responseClosed();
    if (tunnel) call.logStatus = 101;
    // A request the parser refused mid-body (bad chunk, read_timeout) got a raw 400/408 and lost its socket.
    // Cut otherwise without a status of the watchdog's own (a mode's failure, write_timeout's error): the
    // client left mid-body or before the answer ended. Logged and counted as nginx's 499 "client closed request".
    const status =
      rawAnswerStatus(req.socket) ?? call.logStatus ?? (cut && res.errored == null ? CLIENT_CLOSED : res.statusCode);
    const endedAt = performance.now();
    const seconds = (endedAt - call.startedAt) / 1000;
    metrics.requestFinished(req.method, status, seconds);
    // 413 and 401 made by the watchdog itself (not the function's own) are refusals.
    if ((status === 413 || status === 401) && res.getHeader(INTERNAL_HEADER) !== undefined)
      metrics.refused(status === 413 ? 'body_too_large' : 'auth');
    call.span?.end(status, endedAt);
    accessLog(call, status, seconds);
    // The slot goes to the longest-waiting request, if any; then the drain hears of the end (the next call has begun).
    limiter.release();
    drain.answerEnded(answer, endedAt);
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
    get started() {
      return started;
    },
    get healthy() {
      return isHealthy();
    },
    async listen(bound) {
      let port: number;
      if (bound === undefined) port = await listenOn(server, config.port, 'port');
      else {
        // The listener bound early (boot.ts) becomes this server's; the connections it accepted meanwhile are handed over.
        port = await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(bound.server, () => {
            server.off('error', reject);
            resolve((server.address() as { port: number }).port);
          });
        });
        for (const socket of bound.pending.splice(0)) {
          server.emit('connection', socket);
          socket.resume();
        }
      }
      boundPort = port;
      // accept() failing (EMFILE: no fd left) is Node's server 'error': libuv has already closed the pending
      // connections; log it and keep listening (without a listener it would be thrown as uncaught).
      server.on('error', (err: NodeJS.ErrnoException) =>
        logger.warn(`cannot accept a connection: ${err.code ?? err.message}`),
      );
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
      lockFile.removeStale();
      return { port, metricsPort };
    },
    async markReadyWhenReady(maxWaitMs = Infinity) {
      const ok = await mode.waitReady(maxWaitMs);
      if (!ok || shuttingDown || fatal) return false;
      lockFile.write();
      accepting = true;
      return true;
    },
    shutdown(reason) {
      shutdownPromise ??= (async () => {
        shuttingDown = true;
        logger.info(`${reason}: no new connections in ${formatDuration(config.healthcheckIntervalMs)}`);
        lockFile.remove();
        if (config.healthcheckIntervalMs > 0) await sleep(config.healthcheckIntervalMs);
        logger.info(`No new connections allowed, draining: ${limiter.inFlight + limiter.queued} requests`);
        const drainStartedAt = performance.now();
        await drain.begin(config.writeTimeoutMs);
        await drain.answersDone(
          config.writeTimeoutMs > 0 ? Math.max(1, config.writeTimeoutMs - (performance.now() - drainStartedAt)) : 0,
        );
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
      lockFile.remove();
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
