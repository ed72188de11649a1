// The response class of every function answer: no hop-by-hop keep-alive headers on HTTP/1.1 answers.
import { editHeaderBlock } from '../internals.js';
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import type { CallSpan } from '../trace/tracing.js';

/**
 * What node:http writes after the other headers of a persistent answer: `Connection: keep-alive`, then
 * (with the server's keepAliveTimeout) `Keep-Alive: timeout=N` or `timeout=N, max=M`.
 */
const NODE_KEEP_ALIVE = /\r\nConnection: keep-alive\r\n(?:Keep-Alive: timeout=\d+(?:, max=\d+)?\r\n)?/;

const dropKeepAlive = (head: string): string => head.replace(NODE_KEEP_ALIVE, '\r\n');

/**
 * node:http says `Connection: keep-alive` and `Keep-Alive: timeout=…` on every persistent answer, and has no
 * option to leave them out. On HTTP/1.1 persistence is the default, the originals never send them, and a
 * proxy such as the OpenFaaS gateway copies them to its own client (and into the queue-worker's callback).
 * They are taken out of the header block node:http has just built (written with the first body bytes);
 * HTTP/1.0 keep-alive clients keep them, as they need them. A Connection header set by the function stays.
 */
export class WatchdogResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** The call's span when tracing is on: the header block (sent with the first body bytes) is its first-byte event. */
  span: CallSpan | undefined = undefined;

  override writeHead(
    statusCode: number,
    statusMessage?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    (super.writeHead as (...a: unknown[]) => this)(statusCode, statusMessage, headers);
    this.span?.event('response.first_byte');
    if (this.req.httpVersionMinor >= 1 && this.req.httpVersionMajor === 1 && !this.hasHeader('connection'))
      editHeaderBlock(this, dropKeepAlive);
    return this;
  }
}
