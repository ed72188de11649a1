// The shapes a node-http handler receives and returns.
import type { IncomingHttpHeaders } from 'node:http';

/** One request, as the handler sees it. */
export interface Event {
  /** RAW_BODY=true: the raw bytes. Otherwise: parsed JSON for a JSON Content-Type, else a UTF-8 string ('' when empty). */
  body: unknown;
  /** The raw request bytes, whatever RAW_BODY says. */
  rawBody: Buffer;
  /** Request headers, names in lower case. */
  headers: IncomingHttpHeaders;
  method: string;
  /** The path without the query string, e.g. /orders/1. */
  path: string;
  /** Query parameters (the first value of each). */
  query: Record<string, string>;
}

/** What the handler can use besides the request. */
export interface Context {
  /** The secret's value from $secret_mount_path/NAME (trailing newline removed), or undefined if there is none. */
  secret(name: string): string | undefined;
  /** Aborts when exec_timeout (or the request's X-Timeout) is reached or the client goes away: stop the work then. */
  signal: AbortSignal;
}

/** The handler's answer. A string or Buffer body is sent as is; anything else as JSON. */
export interface Result {
  statusCode?: number;
  headers?: Record<string, string | string[]>;
  body?: unknown;
}

export type Handler = (event: Event, context: Context) => Result | Promise<Result>;
