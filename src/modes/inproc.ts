// inproc mode: the function is a JavaScript module loaded once and called inside the watchdog's own process.
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { formatDuration } from '../config/duration.js';
import { WatchdogError } from '../errors.js';
import type { FunctionCall, ModeDeps, ModeRunner, UpgradeCall } from './mode.js';
import { ReadyGate } from './ready-gate.js';
import { InprocRequest, InprocResponse } from './inproc/http-classes.js';
import { DeadlineQueue } from '../deadline-queue.js';
import { InprocCall, answer, errorStack, errorText, muteResponse, onTimeout } from './inproc/inproc-call.js';
import { loadFunctionModule, type FunctionModule } from './inproc/load-module.js';
import { requestWithBody } from './inproc/request-with-body.js';
import { serveFetch } from './inproc/serve-fetch.js';
import { callScope } from '../trace/call-scope.js';

/** How long the module's shutdown() may take after the drain (as an http-mode upstream's SIGTERM grace). */
export const SHUTDOWN_GRACE_MS = 5000;

/** The inproc mode runner. */
export function createInprocMode(deps: ModeDeps): ModeRunner {
  const { logger } = deps;
  const file = deps.programPath as string;
  let fn: FunctionModule | undefined;
  const gate = new ReadyGate();
  // exec_timeout: one timer for every call that runs for the configured time (inproc-call.ts).
  const deadlines =
    deps.config.execTimeoutMs > 0 ? new DeadlineQueue<InprocCall>(deps.config.execTimeoutMs, onTimeout) : undefined;
  let stopped: Promise<void> | undefined;

  function handle(call: FunctionCall): void {
    if (gate.isOpen) {
      // Fast path: the function is loaded and ready.
      invoke(call, fn as FunctionModule, call.timeoutMs);
      return;
    }
    if (gate.shutReason !== undefined) {
      answerNotAvailable(call);
      return;
    }
    // Early request: wait for ready(), bounded by this call's own timeout.
    gate.serveWhenReady(
      call,
      (leftMs) => invoke(call, fn as FunctionModule, leftMs),
      (timedOut) => {
        if (!timedOut) {
          answerNotAvailable(call);
          return;
        }
        deps.events.execTimeout();
        answer(
          call,
          new WatchdogError(
            'EXEC_TIMEOUT',
            `the function was not ready within exec_timeout of ${formatDuration(call.timeoutMs)}\n`,
          ),
        );
      },
    );
  }

  function answerNotAvailable(call: FunctionCall): void {
    answer(call, new WatchdogError('NOT_READY', `the function is not available: ${gate.shutReason as string}\n`));
  }

  /** Calls the handler for one request inside the call's scope (its output lines carry its call id). */
  function invoke(call: FunctionCall, loaded: FunctionModule, timeoutMs: number): void {
    // With tracing on, the watchdog's span is the active OpenTelemetry context while the handler runs (src/trace/tracing.ts).
    if (call.span === undefined) callScope.run(call, callHandler, call, loaded, timeoutMs);
    else call.span.runActive(() => callScope.run(call, callHandler, call, loaded, timeoutMs));
  }

  /** Calls the handler for one request; the call settles through `res` closing, whatever the handler does. */
  function callHandler(call: FunctionCall, loaded: FunctionModule, timeoutMs: number): void {
    const run = new InprocCall(call, timeoutMs, deps.events, deadlines);
    const { res } = call;
    // The handler sees the routed target as req.url: an absolute-form request gets a copy carrying it.
    const req = (
      call.body === call.req && call.target === call.req.url
        ? call.req
        : requestWithBody(call.req, call.body, call.target)
    ) as InprocRequest;
    if (call.body !== call.req) watchBody(call, run);
    (res as InprocResponse).call = call;
    try {
      let result: unknown;
      if (loaded.handler.kind === 'listener') {
        req.signalSource = run;
        result = loaded.handler.listener(req, res);
      } else {
        result = serveFetch(loaded.handler.fetch, req, req, res, run.signal);
      }
      if (result !== undefined && typeof (result as Promise<unknown>).then === 'function')
        (result as Promise<unknown>).then(undefined, (err: unknown) => run.fail(err, logger));
    } catch (err) {
      run.fail(err, logger);
    }
  }

  /** A size-limited (chunked) body that fails with 413 is answered here, before the handler can answer. */
  function watchBody(call: FunctionCall, run: InprocCall): void {
    const answerBodyError = (err: Error): void => {
      if (!(err instanceof WatchdogError) || run.settled) return;
      run.settle();
      call.res.setHeader('Connection', 'close');
      answer(call, err);
      muteResponse(call.res);
    };
    if (call.body.errored) queueMicrotask(() => answerBodyError(call.body.errored as Error));
    else call.body.once('error', answerBodyError);
  }

  /** Sockets handed to the module's upgrade(): ended after shutdown() if the module left them open. */
  const upgraded = new Set<Duplex>();

  function handleUpgrade(call: UpgradeCall): void {
    const { socket, head } = call;
    const req = call.target === call.req.url ? call.req : requestWithBody(call.req, call.body, call.target);
    const upgrade = (fn as FunctionModule).upgrade as NonNullable<FunctionModule['upgrade']>;
    if (gate.shutReason !== undefined) {
      socket.destroy();
      return;
    }
    // The module answers the handshake itself: from here the socket is its own (logged and counted as 101).
    call.tunnelOpened();
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    try {
      const result = upgrade(req, socket, head);
      if (result !== undefined && typeof (result as Promise<unknown>).then === 'function')
        (result as Promise<unknown>).then(undefined, (err: unknown) => failUpgrade(call, socket, err));
    } catch (err) {
      failUpgrade(call, socket, err);
    }
  }

  function failUpgrade(call: UpgradeCall, socket: Duplex, err: unknown): void {
    logger.error(`The function's upgrade() failed on ${call.req.method} ${call.target}: ${errorText(err)}`, {
      err: errorStack(err),
    });
    socket.destroy();
  }

  const runner: ModeRunner = {
    httpClasses: { IncomingMessage: InprocRequest, ServerResponse: InprocResponse as unknown as typeof ServerResponse },
    async load() {
      const started = performance.now();
      fn = await loadFunctionModule(file);
      // Upgrade requests reach the module only if it takes them; otherwise node:http hands them to the handler as requests.
      if (fn.upgrade !== undefined) runner.handleUpgrade = handleUpgrade;
      const hooks = [fn.ready && 'ready()', fn.shutdown && 'shutdown()', fn.upgrade && 'upgrade()']
        .filter(Boolean)
        .join(', ');
      logger.info(
        `Loaded ${file} in ${Math.round(performance.now() - started)}ms: ${fn.handler.kind === 'listener' ? 'a request listener (req, res)' : 'a fetch handler (request) => Response'}${hooks === '' ? '' : `, with ${hooks}`}`,
      );
    },
    async start() {
      const loaded = fn as FunctionModule;
      if (loaded.ready === undefined) {
        gate.open();
        return;
      }
      const started = performance.now();
      let pending: Promise<unknown>;
      try {
        pending = Promise.resolve(loaded.ready());
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        () => {
          if (gate.shutReason !== undefined) return;
          logger.info(`Function ready: ready() resolved after ${Math.round(performance.now() - started)}ms`);
          gate.open();
        },
        (err: unknown) => {
          const failed = `ready() failed: ${errorText(err)}`;
          gate.shut(failed);
          deps.onFatal(`The function cannot start: ${failed}`, { err: errorStack(err) });
        },
      );
    },
    isReady: () => gate.isOpen,
    waitReady: (ms) => gate.wait(ms),
    handle,
    stop() {
      stopped ??= (async () => {
        gate.shut('shutting down');
        const shutdown = fn?.shutdown;
        if (shutdown === undefined) {
          for (const socket of upgraded) socket.destroy();
          return;
        }
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          Promise.resolve()
            .then(shutdown)
            .then(
              () => 'done',
              (err: unknown) => `failed: ${errorText(err)}`,
            ),
          new Promise<string>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS, 'timeout'))),
        ]);
        clearTimeout(timer);
        for (const socket of upgraded) socket.destroy();
        if (outcome === 'timeout')
          logger.warn(
            `The function's shutdown() did not finish within ${formatDuration(SHUTDOWN_GRACE_MS)}: exiting without it`,
          );
        else if (outcome !== 'done') logger.error(`The function's shutdown() ${outcome}`);
      })();
      return stopped;
    },
  };
  return runner;
}
