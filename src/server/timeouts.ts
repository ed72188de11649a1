// Per-request timeout rules: X-Timeout can only shorten exec_timeout.
import { parseDurationMs } from '../config/duration.js';

const GO_DURATION_WITH_UNIT = /[a-zµμ]/;

/**
 * The effective exec timeout for a request. X-Timeout is a Go duration with a unit; a value that
 * is not positive or not shorter than exec_timeout is ignored (0 exec_timeout = unlimited).
 */
export function effectiveTimeoutMs(execTimeoutMs: number, header: string | string[] | undefined): number {
  if (header === undefined) return execTimeoutMs;
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || !GO_DURATION_WITH_UNIT.test(raw)) return execTimeoutMs;
  const ms = parseDurationMs(raw.trim());
  if (ms === undefined || ms <= 0) return execTimeoutMs;
  if (execTimeoutMs === 0 || ms < execTimeoutMs) return ms;
  return execTimeoutMs;
}
