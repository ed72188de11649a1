// A function call's last steps before the mode: the body's size verdict, then the guard (auth), then the mode itself.
import type { Readable } from 'node:stream';
import type { RequestGuard } from '../auth/request-guard.js';
import { WatchdogError, sendError } from '../errors.js';
import type { ModeRunner } from '../modes/mode.js';
import { RequestCall, RequestUpgradeCall } from './request-call.js';

/** Returns startCall(call): refuses it (413, 401...) or hands it to the mode, through the guard when there is one. */
export function createCallStarter(mode: ModeRunner, guard: RequestGuard | undefined): (call: RequestCall) => void {
  const upgrade = mode.handleUpgrade?.bind(mode);

  function startCall(call: RequestCall): void {
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
    if (guard === undefined) {
      serve(call);
      return;
    }
    runGuarded(guard, call);
  }

  /** Answers a call the watchdog refuses (401, 413...) and discards its unread body. */
  function refuseCall(call: RequestCall, err: WatchdogError): void {
    // An oversized body is not drained: close the connection after the 413.
    if (err.status === 413) call.res.setHeader('Connection', 'close');
    sendError(call.res, err);
    // Discard the unread body from the socket itself: a size-limit pipe nobody reads would stall keep-alive.
    if (call.body !== call.req) call.req.unpipe();
    call.req.resume();
  }

  /** `100 Continue` for a client that asked for it (Expect: 100-continue), once, right before its body is needed. */
  function sendContinue(call: RequestCall): void {
    if (!call.expectsContinue) return;
    call.expectsContinue = false;
    if (!call.res.headersSent && !call.res.destroyed) call.res.writeContinue();
  }

  function serve(call: RequestCall): void {
    sendContinue(call);
    call.span?.event('function.start');
    if (call instanceof RequestUpgradeCall) (upgrade as NonNullable<typeof upgrade>)(call);
    else mode.handle(call);
  }

  function runGuarded(check: RequestGuard, call: RequestCall): void {
    let verdict: ReturnType<RequestGuard>;
    try {
      verdict = check(call.req, call.body, () => sendContinue(call));
    } catch (err) {
      verdict = new WatchdogError('BAD_REQUEST', 'request rejected\n', { cause: err });
    }
    const proceed = (v: Readable | WatchdogError): void => {
      if (v instanceof WatchdogError) {
        refuseCall(call, v);
        return;
      }
      call.body = v;
      if (!call.res.destroyed) serve(call);
    };
    if (verdict instanceof Promise) {
      verdict.then(proceed, (err: unknown) =>
        proceed(
          err instanceof WatchdogError ? err : new WatchdogError('BAD_REQUEST', 'request rejected\n', { cause: err }),
        ),
      );
    } else {
      proceed(verdict);
    }
  }

  return startCall;
}
