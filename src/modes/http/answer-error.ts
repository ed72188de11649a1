// The http mode's own answers (proxy and upgrade): a catalogue error, or a cut connection once headers went out.
import { WatchdogError, sendError } from '../../errors.js';
import { durationSeconds } from '../duration-seconds.js';
import type { FunctionCall } from '../mode.js';

/** Answers `call` with a watchdog error (X-Duration-Seconds included), or aborts it if headers already went out. */
export function answerError(call: FunctionCall, err: WatchdogError): void {
  const { res } = call;
  if (!res.headersSent && !res.destroyed) {
    sendError(res, err, { 'X-Duration-Seconds': durationSeconds(call.startedAt) });
    call.bytesOut += Buffer.byteLength(err.body);
    return;
  }
  call.logStatus = err.status;
  res.destroy(err);
}
