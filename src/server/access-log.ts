// The access line of each function request: the originals' text line, or a JSON record.
import type { Logger } from '../log/logger.js';
import type { FunctionCall } from '../modes/mode.js';

/**
 * Builds the writer of access lines. Every function request gets one, whatever its User-Agent: the originals
 * skip `kube-probe*`, which let any client hide its calls; /_/health and /_/ready never reach here.
 */
export function createAccessLog(logger: Logger): (call: FunctionCall, status: number, seconds: number) => void {
  return function accessLog(call, status, seconds) {
    logger.request({
      method: call.req.method,
      url: call.target,
      status,
      bytes: bytesOf(call),
      seconds,
      callId: call.callId,
      trace: call.trace,
    });
  };
}

/** Body bytes of a call's response: what the mode counted, else the Content-Length of a watchdog-made answer. */
function bytesOf(call: FunctionCall): number {
  if (call.bytesOut > 0) return call.bytesOut;
  const declared = call.res.getHeader('content-length');
  return declared === undefined ? 0 : Number(declared);
}
