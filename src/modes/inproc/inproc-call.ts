// One inproc handler call: its exec_timeout timer, its AbortSignal, and the watchdog's own answers for it.
import type { ServerResponse } from 'node:http';
import { formatDuration } from '../../config/duration.js';
import { WatchdogError, sendError } from '../../errors.js';
import type { Deadline, DeadlineQueue } from '../../deadline-queue.js';
import type { CloseListener, FunctionCall, ModeDeps } from '../mode.js';

const NOOP = (): void => {};

/** One handler call: its timeout timer, its AbortSignal (built only if the handler asks), and whether the watchdog has answered. */
export class InprocCall implements CloseListener {
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private deadline: Deadline<InprocCall> | undefined;
  private timedOut = false;
  /** The watchdog answered (or cut) the response itself: the handler's later writes are dropped. */
  settled = false;

  /**
   * `deadlines` holds the exec_timeout of every call that runs for the configured time: one timer for all of
   * them. A call with another length (X-Timeout, or what is left after waiting for ready()) gets its own timer.
   */
  constructor(
    private readonly call: FunctionCall,
    private readonly timeoutMs: number,
    private readonly events: ModeDeps['events'],
    deadlines: DeadlineQueue<InprocCall> | undefined,
  ) {
    if (timeoutMs > 0) {
      if (deadlines !== undefined && timeoutMs === deadlines.ms) this.deadline = deadlines.add(this);
      else this.timer = setTimeout(onTimeout, timeoutMs, this);
    }
    call.onClose = this;
  }

  /** The response closed: the timer stops; write_timeout or a vanished client (not finished) aborts the signal. */
  responseClosed(): void {
    this.stopTimer();
    if (!this.call.res.writableFinished) this.abort();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    else this.deadline?.cancel();
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
    this.stopTimer();
  }

  abort(): void {
    if (this.controller !== undefined && !this.controller.signal.aborted) this.controller.abort(goneReason());
  }

  /** exec_timeout: the signal fires; 504 if nothing was sent yet, else the response is cut. */
  timeout(): void {
    this.timedOut = true;
    this.events.execTimeout();
    const { res } = this.call;
    if (this.controller !== undefined && !this.controller.signal.aborted)
      this.controller.abort(timeoutReason(this.timeoutMs));
    if (res.writableEnded || this.settled) return;
    this.settle();
    answer(
      this.call,
      new WatchdogError(
        'EXEC_TIMEOUT',
        `the function did not answer within exec_timeout of ${formatDuration(this.timeoutMs)}\n`,
      ),
    );
    muteResponse(res);
  }

  /** The handler threw or rejected: a 500 if nothing was sent yet, else the response is cut. */
  fail(err: unknown, logger: ModeDeps['logger']): void {
    const { req, res } = this.call;
    if (!res.writableFinished && (res.closed || (req.errored as NodeJS.ErrnoException | null)?.code === 'ECONNRESET')) {
      // The client left (mid-body, or before the answer ended): what the handler met is its doing, not a bug.
      logger.info(`The client left before the function answered ${req.method} ${this.call.target}: ${errorText(err)}`);
      return;
    }
    logger.error(`The function failed on ${req.method} ${this.call.target}: ${errorText(err)}`, {
      err: errorStack(err),
    });
    if (this.settled || res.writableEnded) return;
    this.settle();
    answer(this.call, new WatchdogError('PROCESS_FAILED', 'Internal Server Error\n'));
    muteResponse(res);
  }
}

/** exec_timeout of one call (a function, so the queue and setTimeout can call it). */
export function onTimeout(run: InprocCall): void {
  run.timeout();
}

/** A watchdog answer: the error with its status, or a cut connection once headers went out. */
export function answer(call: FunctionCall, err: WatchdogError): void {
  const { res } = call;
  if (!res.headersSent && !res.destroyed) {
    sendError(res, err);
    return;
  }
  call.logStatus = err.status;
  res.destroy();
}

/** After the watchdog answered for the handler, what the handler still writes is dropped instead of throwing. */
export function muteResponse(res: ServerResponse): void {
  const self = (): ServerResponse => res;
  const done = (...args: unknown[]): ServerResponse => {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    if (cb !== undefined) queueMicrotask(cb);
    return res;
  };
  Object.assign(res, {
    writeHead: self,
    setHeader: self,
    appendHeader: self,
    removeHeader: NOOP,
    flushHeaders: NOOP,
    writeContinue: NOOP,
    write: () => false,
    end: done,
  });
}

function timeoutReason(ms: number): DOMException {
  return new DOMException(`exec_timeout of ${formatDuration(ms)} exceeded`, 'TimeoutError');
}

function goneReason(): DOMException {
  return new DOMException(
    'the request ended before the function answered (client gone or write_timeout)',
    'AbortError',
  );
}

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

export function errorStack(err: unknown): string {
  return err instanceof Error ? (err.stack ?? String(err)) : String(err);
}
