// inproc mode: the function is a JavaScript module loaded once and called inside the watchdog's own process.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { formatDuration } from '../config/duration.js';
import { WatchdogError, sendError } from '../errors.js';
import type { FunctionCall, ModeDeps, ModeRunner, UpgradeCall } from './mode.js';
import { InprocRequest, InprocResponse } from './inproc/http-classes.js';
import { loadFunctionModule, type FunctionModule } from './inproc/load-module.js';
import { requestWithBody } from './inproc/request-with-body.js';
import { serveFetch } from './inproc/serve-fetch.js';

/** How long the module's shutdown() may take after the drain (as an http-mode upstream's SIGTERM grace). */
export const SHUTDOWN_GRACE_MS = 5000;

type Waiter = (ready: boolean) => void;

const NOOP = (): void => {};

/** The inproc mode runner. */
export function createInprocMode(deps: ModeDeps): ModeRunner {
  const { logger } = deps;
  const file = deps.programPath as string;
  let fn: FunctionModule | undefined;
  let ready = false;
  let failed: string | undefined;
  let stopping = false;
  let stopped: Promise<void> | undefined;
  const waiters = new Set<Waiter>();

  const wake = (ok: boolean): void => {
    for (const w of [...waiters]) w(ok);
    waiters.clear();
  };

  function whenReady(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (ready) return Promise.resolve(true);
    if (failed !== undefined || stopping || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = (ok) => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(waiter);
        resolve(ok);
      };
      const onAbort = (): void => waiter(false);
      const timer = Number.isFinite(ms) ? setTimeout(waiter, ms, false) : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  function handle(call: FunctionCall): void {
    if (ready) {
      // Fast path: the function is loaded and ready.
      invoke(call, fn as FunctionModule, call.timeoutMs);
      return;
    }
    if (failed !== undefined || stopping) {
      answer(call, new WatchdogError('NOT_READY', `the function is not available: ${failed ?? 'shutting down'}\n`));
      return;
    }
    // Early request: wait for ready(), bounded by this call's own timeout.
    whenReady(call.timeoutMs > 0 ? call.timeoutMs : Infinity, call.signal).then((ok) => {
      if (call.res.destroyed || call.signal.aborted) return;
      if (!ok) {
        if (failed !== undefined || stopping) answer(call, new WatchdogError('NOT_READY', `the function is not available: ${failed ?? 'shutting down'}\n`));
        else {
          deps.events.execTimeout();
          answer(call, new WatchdogError('EXEC_TIMEOUT', `the function was not ready within exec_timeout of ${formatDuration(call.timeoutMs)}\n`));
        }
        return;
      }
      const leftMs = call.timeoutMs > 0 ? Math.max(1, call.timeoutMs - (performance.now() - call.startedAt)) : 0;
      invoke(call, fn as FunctionModule, leftMs);
    }, NOOP);
  }

  /** Calls the handler for one request; the call settles through `res` closing, whatever the handler does. */
  function invoke(call: FunctionCall, loaded: FunctionModule, timeoutMs: number): void {
    const run = new InprocCall(call, timeoutMs, deps.events);
    const { res } = call;
    const req = (call.body === call.req ? call.req : requestWithBody(call.req, call.body)) as InprocRequest;
    if (call.body !== call.req) watchBody(call, run);
    (res as InprocResponse).call = call;
    const onError = (err: unknown): void => run.fail(err, logger);
    try {
      let result: unknown;
      if (loaded.handler.kind === 'listener') {
        req.signalSource = run;
        result = loaded.handler.listener(req, res);
      } else {
        result = serveFetch(loaded.handler.fetch, req, req, res, run.signal);
      }
      if (result !== undefined && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(undefined, onError);
    } catch (err) {
      onError(err);
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
    const { req, socket, head } = call;
    const upgrade = (fn as FunctionModule).upgrade as NonNullable<FunctionModule['upgrade']>;
    if (stopping) {
      socket.destroy();
      return;
    }
    // The module answers the handshake itself: from here the socket is its own (logged and counted as 101).
    call.tunnelOpened();
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    try {
      const result = upgrade(req, socket, head);
      if (result !== undefined && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(undefined, (err: unknown) => failUpgrade(req, socket, err));
    } catch (err) {
      failUpgrade(req, socket, err);
    }
  }

  function failUpgrade(req: IncomingMessage, socket: Duplex, err: unknown): void {
    logger.error(`The function's upgrade() failed on ${req.method} ${req.url}: ${errorText(err)}`, { err: errorStack(err) });
    socket.destroy();
  }

  const runner: ModeRunner = {
    httpClasses: { IncomingMessage: InprocRequest, ServerResponse: InprocResponse as unknown as typeof ServerResponse },
    async load() {
      const started = performance.now();
      fn = await loadFunctionModule(file);
      // Upgrade requests reach the module only if it takes them; otherwise node:http hands them to the handler as requests.
      if (fn.upgrade !== undefined) runner.handleUpgrade = handleUpgrade;
      const hooks = [fn.ready && 'ready()', fn.shutdown && 'shutdown()', fn.upgrade && 'upgrade()'].filter(Boolean).join(', ');
      logger.info(`Loaded ${file} in ${Math.round(performance.now() - started)}ms: ${fn.handler.kind === 'listener' ? 'a request listener (req, res)' : 'a fetch handler (request) => Response'}${hooks === '' ? '' : `, with ${hooks}`}`);
    },
    async start() {
      const loaded = fn as FunctionModule;
      if (loaded.ready === undefined) {
        ready = true;
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
          if (stopping) return;
          ready = true;
          logger.info(`Function ready: ready() resolved after ${Math.round(performance.now() - started)}ms`);
          wake(true);
        },
        (err: unknown) => {
          failed = `ready() failed: ${errorText(err)}`;
          wake(false);
          deps.onFatal(`The function cannot start: ${failed}`, { err: errorStack(err) });
        },
      );
    },
    isReady: () => ready && !stopping,
    waitReady: (ms) => whenReady(ms),
    handle,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        ready = false;
        wake(false);
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
        if (outcome === 'timeout') logger.warn(`The function's shutdown() did not finish within ${formatDuration(SHUTDOWN_GRACE_MS)}: exiting without it`);
        else if (outcome !== 'done') logger.error(`The function's shutdown() ${outcome}`);
      })();
      return stopped;
    },
  };
  return runner;
}

/** One handler call: its timeout timer, its AbortSignal (built only if the handler asks), and whether the watchdog has answered. */
class InprocCall {
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;
  /** The watchdog answered (or cut) the response itself: the handler's later writes are dropped. */
  settled = false;

  constructor(
    private readonly call: FunctionCall,
    private readonly timeoutMs: number,
    private readonly events: ModeDeps['events'],
  ) {
    if (timeoutMs > 0) {
      this.timer = setTimeout(onTimeout, timeoutMs, this);
      call.res.once('close', () => {
        clearTimeout(this.timer);
        // write_timeout or a vanished client ends the response: the handler's signal says so.
        if (!call.res.writableFinished) this.abort();
      });
    } else {
      call.res.once('close', () => {
        if (!call.res.writableFinished) this.abort();
      });
    }
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.timedOut) this.controller.abort(timeoutReason(this.timeoutMs));
      else if (this.call.res.closed && !this.call.res.writableFinished) this.controller.abort(goneReason());
    }
    return this.controller.signal;
  }

  settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
  }

  abort(): void {
    if (this.controller !== undefined && !this.controller.signal.aborted) this.controller.abort(goneReason());
  }

  /** exec_timeout: the signal fires; 504 if nothing was sent yet, else the response is cut. */
  timeout(): void {
    this.timedOut = true;
    this.events.execTimeout();
    const { res } = this.call;
    if (this.controller !== undefined && !this.controller.signal.aborted) this.controller.abort(timeoutReason(this.timeoutMs));
    if (res.writableEnded || this.settled) return;
    this.settle();
    answer(this.call, new WatchdogError('EXEC_TIMEOUT', `the function did not answer within exec_timeout of ${formatDuration(this.timeoutMs)}\n`));
    muteResponse(res);
  }

  /** The handler threw or rejected: a 500 if nothing was sent yet, else the response is cut. */
  fail(err: unknown, logger: ModeDeps['logger']): void {
    const { req, res } = this.call;
    logger.error(`The function failed on ${req.method} ${req.url}: ${errorText(err)}`, { err: errorStack(err) });
    if (this.settled || res.writableEnded) return;
    this.settle();
    answer(this.call, new WatchdogError('PROCESS_FAILED', 'Internal Server Error\n'));
    muteResponse(res);
  }
}

function onTimeout(run: InprocCall): void {
  run.timeout();
}

/** A watchdog answer: the error with its status, or a cut connection once headers went out. */
function answer(call: FunctionCall, err: WatchdogError): void {
  const { res } = call;
  if (!res.headersSent && !res.destroyed) {
    sendError(res, err);
    return;
  }
  call.logStatus = err.status;
  res.destroy();
}

/** After the watchdog answered for the handler, what the handler still writes is dropped instead of throwing. */
function muteResponse(res: ServerResponse): void {
  const self = (): ServerResponse => res;
  const done = (...args: unknown[]): ServerResponse => {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    if (cb !== undefined) queueMicrotask(cb);
    return res;
  };
  Object.assign(res, { writeHead: self, setHeader: self, appendHeader: self, removeHeader: NOOP, flushHeaders: NOOP, writeContinue: NOOP, write: () => false, end: done });
}

function timeoutReason(ms: number): DOMException {
  return new DOMException(`exec_timeout of ${formatDuration(ms)} exceeded`, 'TimeoutError');
}

function goneReason(): DOMException {
  return new DOMException('the request ended before the function answered (client gone or write_timeout)', 'AbortError');
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function errorStack(err: unknown): string {
  return err instanceof Error ? (err.stack ?? String(err)) : String(err);
}
