// inproc: the request and response classes node:http builds for each call, with what the handler and the access log need.
import { IncomingMessage } from 'node:http';
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import { WatchdogResponse } from '../../server/response.js';
import { durationSeconds } from '../duration-seconds.js';
import type { FunctionCall } from '../mode.js';

/** What InprocRequest needs from the call it belongs to. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

/**
 * The `req` a request listener gets: a node:http IncomingMessage with `signal`. The getter lives on
 * the class, not on each request (a property defined per request made every request slower), and the
 * AbortController behind it is only made when the handler reads it.
 */
export class InprocRequest extends IncomingMessage {
  /** Set by the mode when the call starts. */
  signalSource: SignalSource | undefined = undefined;

  /** Aborts at exec_timeout (or X-Timeout), when the client goes away, and at write_timeout. */
  get signal(): AbortSignal {
    if (this.signalSource === undefined)
      throw new Error('req.signal is only available while the function handles the request');
    return this.signalSource.signal;
  }
}

/** The `res` a handler writes to: counts the body bytes into its call, for the access log (no keep-alive headers on HTTP/1.1, as every answer). */
export class InprocResponse extends WatchdogResponse<InprocRequest> {
  /** Set by the mode when the call starts; the watchdog's own answers before that are counted by their Content-Length. */
  call: FunctionCall | undefined = undefined;

  /** X-Duration-Seconds, as http and the fork modes send it (unless the handler set its own). */
  override writeHead(
    statusCode: number,
    statusMessage?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    if (this.call !== undefined && !this.hasHeader('x-duration-seconds'))
      this.setHeader('X-Duration-Seconds', durationSeconds(this.call.startedAt));
    return super.writeHead(statusCode, statusMessage, headers);
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (this.call !== undefined) this.call.bytesOut += sizeOf(chunk, encoding);
    return (super.write as (c: unknown, e: unknown, cb: unknown) => boolean)(chunk, encoding, callback);
  }

  override end(chunk?: unknown, encoding?: unknown, callback?: unknown): this {
    if (this.call !== undefined) this.call.bytesOut += sizeOf(chunk, encoding);
    return (super.end as (c: unknown, e: unknown, cb: unknown) => this)(chunk, encoding, callback);
  }
}

function sizeOf(chunk: unknown, encoding: unknown): number {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return 0;
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return (chunk as ArrayBufferView).byteLength ?? 0;
}
