// Per-request timeout rules: X-Timeout can only shorten exec_timeout.
import { MAX_TIMER_MS, parseDurationMs } from '../config/duration.js';

const GO_DURATION_WITH_UNIT = /[a-zµμ]/;

/**
 * The effective exec timeout for a request. X-Timeout is a Go duration with a unit; a value that
 * is not positive, not shorter than exec_timeout or longer than a timer can wait is ignored (0 exec_timeout = unlimited).
 */
export function effectiveTimeoutMs(execTimeoutMs: number, header: string | string[] | undefined): number {
  if (header === undefined) return execTimeoutMs;
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || !GO_DURATION_WITH_UNIT.test(raw)) return execTimeoutMs;
  const ms = parseDurationMs(raw.trim());
  // Longer than a timer can wait (Node would fire it after 1 ms): no shorter than "no limit", so ignored.
  if (ms === undefined || ms <= 0 || ms > MAX_TIMER_MS) return execTimeoutMs;
  if (execTimeoutMs === 0 || ms < execTimeoutMs) return ms;
  return execTimeoutMs;
}
