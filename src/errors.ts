// The error catalogue: every response the watchdog itself makes, with a stable code and status.
import type { ServerResponse } from 'node:http';

export const INTERNAL_HEADER = 'X-OpenFaaS-Internal';
export const INTERNAL_VALUE = 'of-watchdog';

export type ErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'METHOD_NOT_ALLOWED'
  | 'BODY_TOO_LARGE'
  | 'BODY_READ_FAILED'
  | 'TOO_MANY_REQUESTS'
  | 'PROCESS_START_FAILED'
  | 'HEADERS_TOO_LARGE'
  | 'PROCESS_FAILED'
  | 'EXEC_TIMEOUT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'BAD_FUNCTION_OUTPUT'
  | 'NOT_READY';

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  METHOD_NOT_ALLOWED: 405,
  BODY_TOO_LARGE: 413,
  BODY_READ_FAILED: 400,
  TOO_MANY_REQUESTS: 429,
  PROCESS_START_FAILED: 500,
  HEADERS_TOO_LARGE: 431,
  PROCESS_FAILED: 500,
  EXEC_TIMEOUT: 504,
  UPSTREAM_UNAVAILABLE: 502,
  UPSTREAM_TIMEOUT: 504,
  BAD_FUNCTION_OUTPUT: 502,
  NOT_READY: 503,
};

/** An error the watchdog answers for itself. `body` is sent as is. */
export class WatchdogError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly body: string;
  constructor(code: ErrorCode, body: string, options?: { cause?: unknown; status?: number }) {
    super(body.trimEnd() || code, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WatchdogError';
    this.code = code;
    this.status = options?.status ?? STATUS[code];
    this.body = body;
  }
}

/** The 413 for a body over max_body_bytes (Content-Length, chunked, or a body held for the HMAC check). */
export function bodyTooLarge(maxBodyBytes: number): WatchdogError {
  return new WatchdogError('BODY_TOO_LARGE', `request body is larger than max_body_bytes (${maxBodyBytes} bytes)\n`);
}

/**
 * Sends a watchdog-made error once. If headers already went out, a status can no longer be
 * sent and a truncated body must not look like success: the socket is destroyed instead.
 */
export function sendError(res: ServerResponse, err: WatchdogError, extraHeaders?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) {
    res.destroy(err);
    return;
  }
  const body = Buffer.from(err.body);
  // setHeader (not writeHead's object) keeps the headers readable afterwards, e.g. Content-Length for the access log.
  res.setHeader(INTERNAL_HEADER, INTERNAL_VALUE);
  res.setHeader('Content-Length', body.length);
  if (extraHeaders) for (const name of Object.keys(extraHeaders)) res.setHeader(name, extraHeaders[name] as string);
  if (body.length > 0 && !res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.writeHead(err.status);
  res.end(body);
}

/** errno codes that mean "could not reach the upstream at all". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** Classifies a low-level upstream error (by errno code, never by message text). */
export function classifyUpstreamError(err: unknown): WatchdogError {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new WatchdogError('UPSTREAM_TIMEOUT', 'upstream did not answer in time\n', { cause: err });
  }
  if (code !== undefined && UNREACHABLE.has(code)) {
    return new WatchdogError('UPSTREAM_UNAVAILABLE', `upstream unavailable: ${code}\n`, { cause: err });
  }
  return new WatchdogError('UPSTREAM_UNAVAILABLE', `upstream request failed${code ? `: ${code}` : ''}\n`, { cause: err });
}
