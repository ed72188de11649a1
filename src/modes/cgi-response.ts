// cgi_response=true: the function's stdout starts with a CGI header block (RFC 3875 section 6).
// The block is `Name: value` lines, LF or CRLF, ended by an empty line; the body follows.
import type { ServerResponse } from 'node:http';
import { WatchdogError } from '../errors.js';
import { HOP_BY_HOP } from '../hop-by-hop.js';
import type { Logger } from '../log/logger.js';
import type { WatchdogEvents } from '../metrics/metrics.js';
import type { FunctionCall } from './mode.js';
import { durationSeconds } from './duration-seconds.js';

/** No empty line within this many bytes of output: the output is not a CGI response. */
export const MAX_CGI_HEAD_BYTES = 64 * 1024;

/** The parsed header block. */
export interface CgiHead {
  status: number;
  /** The reason phrase given on the Status line, if any. */
  statusText: string | undefined;
  /** Response headers in the order written, repeated names kept, hop-by-hop ones dropped. */
  headers: Array<[string, string]>;
  /** The Content-Length the function declared, if it did. */
  contentLength: number | undefined;
  hasContentType: boolean;
}

export type CgiParse = { kind: 'head'; head: CgiHead; body: Buffer } | { kind: 'bad'; reason: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible characters, spaces, tabs and obs-text; no other control characters. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const STATUS_LINE = /^([0-9]{3})(?:[ \t]+(.*))?$/;
const LF = 10;
const CR = 13;

/** Shows a bad line in a message: quoted, at most 80 characters. */
function quote(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}...` : line);
}

/**
 * Parses the head of `out` (the function's stdout so far). Returns undefined when more output is
 * needed (no empty line yet, still under MAX_CGI_HEAD_BYTES) and `ended` is false.
 */
export function parseCgiOutput(out: Buffer, ended: boolean): CgiParse | undefined {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = out.indexOf(LF, start);
    if (nl === -1 || nl >= MAX_CGI_HEAD_BYTES) {
      if (out.length >= MAX_CGI_HEAD_BYTES)
        return {
          kind: 'bad',
          reason: `no empty line ending the CGI header block within the first ${MAX_CGI_HEAD_BYTES} bytes of output`,
        };
      if (!ended) return undefined;
      if (out.length === 0)
        return {
          kind: 'bad',
          reason:
            'the function wrote nothing: a CGI response needs at least a Content-Type or Status line and an empty line',
        };
      return { kind: 'bad', reason: 'the output ended before the empty line that ends the CGI header block' };
    }
    const end = nl > start && out[nl - 1] === CR ? nl - 1 : nl;
    if (end === start) {
      const body = out.subarray(nl + 1);
      return finishHead(lines, body);
    }
    lines.push(out.toString('latin1', start, end));
    start = nl + 1;
  }
}

function finishHead(lines: string[], body: Buffer): CgiParse {
  if (lines.length === 0)
    return { kind: 'bad', reason: 'the output starts with an empty line: the CGI header block is missing' };
  let status: number | undefined;
  let statusText: string | undefined;
  let location = false;
  let contentLength: number | undefined;
  let hasContentType = false;
  const headers: Array<[string, string]> = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name))
      return { kind: 'bad', reason: `line ${i + 1} of the CGI header block is not "Name: value": ${quote(line)}` };
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value))
      return {
        kind: 'bad',
        reason: `the value of ${name} on line ${i + 1} of the CGI header block has control characters`,
      };
    const lower = name.toLowerCase();
    if (lower === 'status') {
      if (status !== undefined) return { kind: 'bad', reason: 'the CGI header block has more than one Status line' };
      const m = STATUS_LINE.exec(value);
      const code = m ? Number(m[1]) : NaN;
      if (!m || code < 200 || code > 599)
        return {
          kind: 'bad',
          reason: `Status: ${quote(value)} is not a status: use a code 200-599 and an optional reason, e.g. "Status: 201 Created"`,
        };
      status = code;
      statusText = m[2] === undefined || m[2] === '' ? undefined : m[2];
      continue;
    }
    if (lower === 'content-length') {
      if (!/^[0-9]{1,15}$/.test(value))
        return { kind: 'bad', reason: `Content-Length: ${quote(value)} is not a byte count` };
      if (contentLength !== undefined && contentLength !== Number(value))
        return { kind: 'bad', reason: 'the CGI header block has two different Content-Length values' };
      contentLength = Number(value);
      continue; // the watchdog writes the framing itself
    }
    if (HOP_BY_HOP.has(lower)) continue;
    if (lower === 'content-type') hasContentType = true;
    if (lower === 'location') location = true;
    headers.push([name, value]);
  }
  // RFC 3875 6.2.3: a redirect without a Status is a 302.
  const code = status ?? (location ? 302 : 200);
  // A 204 or 304 has no body, so a length the function declared for one is ignored (sendsBody).
  if (!sendsBody(code)) contentLength = undefined;
  return { kind: 'head', head: { status: code, statusText, headers, contentLength, hasContentType }, body };
}

/**
 * False for 204 and 304, which end at their header block (RFC 9110 sections 6.4.1, 8.6, 15.3.5,
 * 15.4.5): whatever the function wrote after the head is dropped and no Content-Length is sent,
 * so a pipelined request behind it on the same connection is read as the next request.
 */
export function sendsBody(status: number): boolean {
  return status !== 204 && status !== 304;
}

/**
 * Collects stdout until the header block is complete. `push` returns the parse once decided
 * (a head with the body bytes read so far, or a bad output); `end` decides at the end of output.
 */
export class CgiHeadReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private decided = false;

  push(chunk: Buffer): CgiParse | undefined {
    if (this.decided) return undefined;
    this.chunks.push(chunk);
    this.size += chunk.length;
    const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.size);
    this.chunks = [all];
    const parsed = parseCgiOutput(all, false);
    if (parsed !== undefined) this.decide();
    return parsed;
  }

  end(): CgiParse | undefined {
    if (this.decided) return undefined;
    const all = this.chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.chunks, this.size);
    this.decide();
    return parseCgiOutput(all, true);
  }

  get done(): boolean {
    return this.decided;
  }

  private decide(): void {
    this.decided = true;
    this.chunks = [];
  }
}

/**
 * Writes the head: the watchdog's `extra` headers, the function's headers (repeated ones kept), and
 * `contentType` when the function gave none. A status without a body (sendsBody) gets no Content-Length.
 */
export function writeCgiHead(
  res: ServerResponse,
  head: CgiHead,
  extra: Record<string, string>,
  contentType: string | undefined,
): void {
  const bodyless = !sendsBody(head.status);
  for (const name of Object.keys(extra))
    if (!bodyless || name.toLowerCase() !== 'content-length') res.setHeader(name, extra[name] as string);
  if (bodyless) res.removeHeader('Content-Length');
  if (!head.hasContentType && contentType !== undefined && contentType !== '')
    res.setHeader('Content-Type', contentType);
  for (const [name, value] of head.headers) res.appendHeader(name, value);
  if (head.statusText !== undefined) res.writeHead(head.status, head.statusText);
  else res.writeHead(head.status);
}

const EMPTY = Buffer.alloc(0);

/**
 * cgi_response=true in a buffered mode (serializing, classic): answers `out`, the function's whole stdout,
 * with the status and headers of its header block. `contentTypeOf` gives the Content-Type for a head
 * without one. Output that is no CGI response is logged, counted and handed to `fail` as the 502; then
 * undefined is returned, else the body written and the X-Duration-Seconds sent.
 */
export function answerCgiOutput(
  call: FunctionCall,
  out: Buffer,
  deps: { logger: Logger; events: WatchdogEvents },
  contentTypeOf: (body: Buffer) => string | undefined,
  fail: (err: WatchdogError) => void,
): { body: Buffer; seconds: string } | undefined {
  const { req, res } = call;
  const parsed = parseCgiOutput(out, true) ?? { kind: 'bad', reason: 'no CGI header block' };
  if (
    parsed.kind === 'bad' ||
    (parsed.head.contentLength !== undefined &&
      req.method !== 'HEAD' &&
      parsed.head.contentLength !== parsed.body.length)
  ) {
    const reason =
      parsed.kind === 'bad'
        ? parsed.reason
        : `Content-Length: ${parsed.head.contentLength} but the body has ${parsed.body.length} bytes`;
    deps.logger.warn(`function wrote a bad CGI response: ${reason}`, { url: call.target });
    deps.events.badCgiResponse();
    fail(badCgiResponse(reason));
    return undefined;
  }
  const { head } = parsed;
  const body = sendsBody(head.status) ? parsed.body : EMPTY;
  const seconds = durationSeconds(call.startedAt);
  const length = req.method === 'HEAD' && head.contentLength !== undefined ? head.contentLength : body.length;
  call.bytesOut = body.length;
  writeCgiHead(
    res,
    head,
    { 'X-Duration-Seconds': seconds, 'Content-Length': String(length) },
    head.hasContentType ? undefined : contentTypeOf(body),
  );
  res.end(body);
  return { body, seconds };
}

/** The 502 for output that is not a CGI response. */
export function badCgiResponse(reason: string): WatchdogError {
  return new WatchdogError('BAD_FUNCTION_OUTPUT', `bad CGI response from the function: ${reason}\n`);
}
