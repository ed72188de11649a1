// Header rewriting for the http-mode proxy: RFC 9110 hop-by-hop removal, X-Forwarded-*, body framing.
import type { IncomingMessage } from 'node:http';
import { HOP_BY_HOP } from '../../hop-by-hop.js';
import { unmapIpv4 } from '../../peer-address.js';

/** The hop-by-hop headers (src/hop-by-hop.ts), never forwarded; and `expect`, which our server answered. */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'expect']);

/** Methods whose empty body is announced as Content-Length: 0 (as Go's client does). */
const EMPTY_BODY_WITH_LENGTH = new Set(['POST', 'PUT', 'PATCH']);

/** Extra header names a Connection header lists (besides close/keep-alive), lower-cased; undefined when none. */
function connectionTokens(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  let tokens: Set<string> | undefined;
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive' || t === 'upgrade') continue;
    (tokens ??= new Set()).add(t);
  }
  return tokens;
}

/** How the upstream request's body is framed. */
export interface RequestFraming {
  /** The body length when the whole body was read first (http_buffer_req_body). */
  bufferedLength?: number;
  /** Keep Connection/Upgrade (WebSocket tunnel). */
  upgrade?: boolean;
}

/**
 * The upstream request's headers as a flat [name, value, ...] list (rawHeaders format): end-to-end
 * headers as received (incoming Host kept), X-Forwarded-For appended, -Host/-Proto added when absent,
 * and framing that matches the body: Content-Length when known; a chunked body gets no framing header,
 * since undici frames a body of unknown length as chunked itself (and refuses the header).
 */
export function upstreamRequestHeaders(req: IncomingMessage, upstreamHost: string, framing: RequestFraming): string[] {
  const raw = req.rawHeaders;
  const extra = connectionTokens(req.headers.connection);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let hasHost = false;
  let hasForwardedHost = false;
  let hasForwardedProto = false;
  let hasLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (NOT_FORWARDED.has(lower)) {
      if (framing.upgrade === true && (lower === 'connection' || lower === 'upgrade')) out.push(name, value);
      continue;
    }
    if (extra?.has(lower) === true) continue;
    switch (lower) {
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'content-length':
        if (framing.bufferedLength !== undefined) continue;
        hasLength = true;
        break;
      case 'host':
        hasHost = true;
        break;
      case 'x-forwarded-host':
        hasForwardedHost = true;
        break;
      case 'x-forwarded-proto':
        hasForwardedProto = true;
        break;
    }
    out.push(name, value);
  }
  const host = req.headers.host ?? upstreamHost;
  if (!hasHost) out.push('Host', upstreamHost);
  // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; forward the plain address.
  const client = unmapIpv4(req.socket.remoteAddress);
  if (client !== undefined) forwardedFor = forwardedFor === undefined ? client : `${forwardedFor}, ${client}`;
  if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
  if (!hasForwardedHost) out.push('X-Forwarded-Host', host);
  if (!hasForwardedProto) out.push('X-Forwarded-Proto', 'http');
  if (framing.upgrade === true) return out;
  if (framing.bufferedLength !== undefined) out.push('Content-Length', String(framing.bufferedLength));
  else if (!hasLength && req.headers['transfer-encoding'] === undefined && EMPTY_BODY_WITH_LENGTH.has(req.method ?? ''))
    out.push('Content-Length', '0');
  return out;
}

/** True when the request carries a body (a non-zero Content-Length, or chunked). */
export function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * The client response's headers from the upstream's rawHeaders: hop-by-hop removed (our server
 * frames the body itself) and the upstream's own X-Duration-Seconds dropped (ours wins, as in Go).
 */
export function clientResponseHeaders(raw: string[], connection: string | undefined): string[] {
  const extra = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (NOT_FORWARDED.has(lower) || lower === 'x-duration-seconds' || extra?.has(lower) === true) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}
