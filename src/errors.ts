// The error catalogue: every response the watchdog itself makes, with a stable code and status.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export const INTERNAL_HEADER = 'X-OpenFaaS-Internal';
export const INTERNAL_VALUE = 'of-watchdog';

/** Every answer the watchdog writes itself: a stable code, its status, and headers it always carries. */
const CATALOGUE = {
  BAD_REQUEST: { status: 400 },
  /** read_timeout ended before the request was read (Node's parser, answered on the raw socket). */
  REQUEST_TIMEOUT: { status: 408 },
  UNAUTHORIZED: { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="fwatchdog"' } },
  METHOD_NOT_ALLOWED: { status: 405 },
  BODY_TOO_LARGE: { status: 413 },
  BODY_READ_FAILED: { status: 400 },
  /** A Transfer-Encoding other than chunked (RFC 9112: 501). */
  TRANSFER_CODING_UNSUPPORTED: { status: 501 },
  /** max_inflight (and the queue) full: faas-middleware's answer, as the originals send it. */
  TOO_MANY_REQUESTS: {
    status: 429,
    headers: { 'X-OpenFaaS-Internal': 'faas-middleware', 'Content-Type': 'text/plain' },
  },
  PROCESS_START_FAILED: { status: 500 },
  HEADERS_TOO_LARGE: { status: 431 },
  PROCESS_FAILED: { status: 500 },
  EXEC_TIMEOUT: { status: 504 },
  /** classic: exec_timeout killed the process; the classic watchdog answers 408 "Killed process.". */
  CLASSIC_TIMEOUT: { status: 408 },
  /** serializing: exec_timeout killed the process; of-watchdog answers 500 with the kill's text. */
  SERIALIZING_TIMEOUT: { status: 500 },
  UPSTREAM_UNAVAILABLE: { status: 502 },
  UPSTREAM_TIMEOUT: { status: 504 },
  BAD_FUNCTION_OUTPUT: { status: 502 },
  NOT_READY: { status: 503 },
} as const satisfies Record<string, { status: number; headers?: Record<string, string> }>;

export type ErrorCode = keyof typeof CATALOGUE;

const TEXT_PLAIN = 'text/plain; charset=utf-8';

/** An error the watchdog answers for itself. `body` is sent as is (bytes: classic's failure carries the function's output). */
export class WatchdogError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly body: string | Buffer;
  constructor(code: ErrorCode, body: string | Buffer, options?: { cause?: unknown }) {
    super(
      (typeof body === 'string' ? body.trimEnd() : '') || code,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'WatchdogError';
    this.code = code;
    this.status = CATALOGUE[code].status;
    this.body = body;
  }
}

/** The 413 for a body over max_body_bytes (Content-Length, chunked, or a body held for the HMAC check), or over `variable`. */
export function bodyTooLarge(maxBodyBytes: number, variable = 'max_body_bytes'): WatchdogError {
  return new WatchdogError('BODY_TOO_LARGE', `request body is larger than ${variable} (${maxBodyBytes} bytes)\n`);
}

/**
 * Sends a watchdog-made error once. If headers already went out, a status can no longer be
 * sent and a truncated body must not look like success: the socket is destroyed instead.
 */
export function sendError(res: ServerResponse, err: WatchdogError, callHeaders?: Record<string, string>): void {
  // Tracing on: the call's span says why the watchdog answered (fwatchdog.reason).
  (res as { span?: { answered(code: string): void } }).span?.answered(err.code);
  if (res.headersSent || res.destroyed) {
    res.destroy(err);
    return;
  }
  const body = bodyBytes(err);
  // setHeader (not writeHead's object) keeps the headers readable afterwards, e.g. Content-Length for the access log.
  res.setHeader(INTERNAL_HEADER, INTERNAL_VALUE);
  res.setHeader('Content-Length', body.length);
  const extra = headersOf(err.code);
  for (const name of Object.keys(extra)) res.setHeader(name, extra[name] as string);
  // Per-call headers (X-Duration-Seconds); the status and the catalogue's headers are the code's alone.
  if (callHeaders) for (const name of Object.keys(callHeaders)) res.setHeader(name, callHeaders[name] as string);
  if (body.length > 0 && !res.hasHeader('Content-Type')) res.setHeader('Content-Type', TEXT_PLAIN);
  res.writeHead(err.status);
  res.end(body);
}

/** A catalogue answer built once at start-up, for one sent on every refusal (the limiter's 429): writeHead's status and headers, end's body. */
export function prebuiltAnswer(err: WatchdogError): { status: number; headers: Record<string, string>; body: Buffer } {
  const body = bodyBytes(err);
  return {
    status: err.status,
    headers: { ...answerHeaders(err.code, body), 'Content-Length': String(body.length) },
    body,
  };
}

/**
 * The one raw-socket writer: answers `err` on a socket Node has not made a response for (a request its
 * parser refused, CONNECT) and closes the connection.
 */
export function writeRawError(socket: Duplex, err: WatchdogError): void {
  const body = bodyBytes(err);
  const headers = answerHeaders(err.code, body);
  let head = `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n`;
  for (const name of Object.keys(headers)) head += `${name}: ${headers[name] as string}\r\n`;
  socket.end(
    Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'latin1'), body]),
  );
}

function bodyBytes(err: WatchdogError): Buffer {
  return typeof err.body === 'string' ? Buffer.from(err.body) : err.body;
}

/** X-OpenFaaS-Internal, the code's own headers (which may replace it), and the text Content-Type of a body. */
function answerHeaders(code: ErrorCode, body: Buffer): Record<string, string> {
  const headers: Record<string, string> = { [INTERNAL_HEADER]: INTERNAL_VALUE, ...headersOf(code) };
  if (body.length > 0 && headers['Content-Type'] === undefined) headers['Content-Type'] = TEXT_PLAIN;
  return headers;
}

function headersOf(code: ErrorCode): Record<string, string> {
  const entry = CATALOGUE[code] as { headers?: Record<string, string> };
  return entry.headers ?? NO_HEADERS;
}

const NO_HEADERS: Record<string, string> = {};

/** errno codes that mean "could not reach the upstream at all". */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Classifies a low-level upstream error (by errno code, never by message text). */
export function classifyUpstreamError(err: unknown): WatchdogError {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new WatchdogError('UPSTREAM_TIMEOUT', 'upstream did not answer in time\n', { cause: err });
  }
  if (code !== undefined && UNREACHABLE.has(code)) {
    return new WatchdogError('UPSTREAM_UNAVAILABLE', `upstream unavailable: ${code}\n`, { cause: err });
  }
  return new WatchdogError('UPSTREAM_UNAVAILABLE', `upstream request failed${code ? `: ${code}` : ''}\n`, {
    cause: err,
  });
}
