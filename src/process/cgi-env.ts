// Builds the Http_* CGI environment the originals give a forked function.
import type { IncomingMessage } from 'node:http';
import { unmapIpv4 } from '../peer-address.js';

const canonicalCache = new Map<string, string>();
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Go's textproto.CanonicalMIMEHeaderKey: `content-type` -> `Content-Type`, `x_a-b` -> `X_a-B`. */
export function canonicalHeaderKey(key: string): string {
  const hit = canonicalCache.get(key);
  if (hit !== undefined) return hit;
  let out = key;
  if (TOKEN.test(key)) {
    out = '';
    let upper = true;
    for (let i = 0; i < key.length; i++) {
      const c = key[i] as string;
      out += upper ? c.toUpperCase() : c.toLowerCase();
      upper = c === '-';
    }
  }
  if (canonicalCache.size < 1000) canonicalCache.set(key, out);
  return out;
}

/**
 * True for a variable name that a runtime may read as proxy configuration: Python's urllib (and so
 * `requests`) and Perl's LWP take every variable whose lower-cased name ends in `_proxy` as
 * `<scheme>_proxy`, whatever its case, so `Http_Proxy` from a `Proxy:` header is read as
 * `http_proxy` (httpoxy, CVE-2016-5385). No such variable is ever made from a request header.
 */
export function isProxyVariable(name: string): boolean {
  return name.length >= 6 && name.slice(-6).toLowerCase() === '_proxy';
}

/** The `Http_<Key>` variable name for a header. */
export function cgiName(headerName: string): string {
  return `Http_${canonicalHeaderKey(headerName).replaceAll('-', '_')}`;
}

export interface CgiOptions {
  /** classic adds Http_ContentLength, Http_Content_Length and Http_Host. */
  classic: boolean;
}

/** Splits a request target into its raw path and raw query. */
export function splitTarget(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** The decoded path (`/a%20b` -> `/a b`); a malformed escape leaves it raw. */
export function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    // A malformed escape is passed through raw rather than failing the request.
    return path;
  }
}

/**
 * Returns `base` plus the request's Http_* variables (a new object; `base` is not changed).
 * Header variables use the first value of a repeated header; the explicit variables always win.
 */
export function buildCgiEnv(
  base: Record<string, string>,
  req: IncomingMessage,
  options: CgiOptions,
): Record<string, string> {
  return Object.assign(cgiBaseEnv(base), cgiVariables(req, options));
}

/** `base` without the variables only a request may set (Http_Query, Http_Path): computed once, shared by every call. */
export function cgiBaseEnv(base: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...base };
  delete env.Http_Query;
  delete env.Http_Path;
  return env;
}

/**
 * Only the request's Http_* variables, to lay over cgiBaseEnv(base): `{ ...cgiBaseEnv(base), ...vars }`
 * is buildCgiEnv's result. Header variables use the first value of a repeated header; the explicit
 * variables always win.
 */
export function cgiVariables(
  req: IncomingMessage,
  options: CgiOptions,
  target = req.url ?? '/',
): Record<string, string> {
  const env: Record<string, string> = {};
  const raw = req.rawHeaders;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let host: string | undefined;
  let pragma: string | undefined;
  let cacheControl = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const key = cgiName(name);
    // Names that differ only in case share a key: the first header wins.
    if (key in env || isProxyVariable(key)) continue;
    switch (name.toLowerCase()) {
      case 'host':
        host ??= value;
        continue;
      case 'transfer-encoding':
        transferEncoding ??= value.split(',')[0]?.trim();
        continue;
      case 'content-length':
        contentLength = value;
        break;
      case 'pragma':
        pragma = value;
        break;
      case 'cache-control':
        cacheControl = true;
        break;
    }
    env[key] = value;
  }
  // Go's server adds `Cache-Control: no-cache` to a request that only says `Pragma: no-cache`.
  if (pragma === 'no-cache' && !cacheControl) env.Http_Cache_Control = 'no-cache';
  // A header cannot pose as a request property (Http_Query from a `Query:` header, Q22).
  delete env.Http_Query;
  delete env.Http_Path;
  env.Http_Method = req.method ?? 'GET';
  if (options.classic) {
    const length = transferEncoding !== undefined ? '-1' : (contentLength ?? '0');
    env.Http_ContentLength = length;
    env.Http_Content_Length = length;
  }
  if (transferEncoding !== undefined) env.Http_Transfer_Encoding = transferEncoding;
  const { path, query } = splitTarget(target);
  if (query !== '') env.Http_Query = query;
  if (path !== '') env.Http_Path = decodePath(path);
  if (options.classic && host !== undefined && host !== '') env.Http_Host = host;
  return env;
}

/** The RFC 3875 names a request sets; inherited values of these are removed so a request never sees another's. */
const RFC3875_NAMES = [
  'GATEWAY_INTERFACE',
  'SERVER_SOFTWARE',
  'SERVER_PROTOCOL',
  'SERVER_NAME',
  'SERVER_PORT',
  'REQUEST_METHOD',
  'REQUEST_URI',
  'QUERY_STRING',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'SCRIPT_NAME',
  'CONTENT_TYPE',
  'CONTENT_LENGTH',
  'REMOTE_ADDR',
  'REMOTE_PORT',
  'REMOTE_HOST',
  'REMOTE_USER',
  'REMOTE_IDENT',
  'AUTH_TYPE',
];

/**
 * `base` for cgi_env=rfc3875: without the request meta-variables and without inherited HTTP_*
 * variables (every HTTP_* the process sees comes from its request), except HTTP_PROXY, which is
 * the operator's proxy setting and is never made from a request (httpoxy).
 */
export function rfc3875BaseEnv(base: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...base };
  for (const name of RFC3875_NAMES) delete env[name];
  for (const name of Object.keys(env)) if (name.startsWith('HTTP_') && name !== 'HTTP_PROXY') delete env[name];
  return env;
}

export interface Rfc3875Options {
  /** SERVER_SOFTWARE, e.g. fwatchdog/1.2.3. */
  serverSoftware: string;
  /** The exact body length when the mode has read the whole body (classic, serializing). */
  bodyLength?: number;
}

/** Header names that never become HTTP_<NAME>: given as CONTENT_* already, and credentials; `Proxy` and every `*-Proxy` are dropped by isProxyVariable. */
const NOT_HTTP_VARIABLES = new Set(['content-type', 'content-length', 'authorization', 'proxy-authorization']);
/** Only letters, digits and '-': `X_Forwarded_For` would otherwise pose as `X-Forwarded-For` (Apache 2.4 drops them too). */
const PLAIN_HEADER_NAME = /^[A-Za-z0-9-]+$/;

/**
 * RFC 3875's meta-variables for one request (section 4.1), laid over rfc3875BaseEnv(base):
 * SCRIPT_NAME is empty (the function is the whole site) and PATH_INFO is the decoded path;
 * CONTENT_LENGTH is set only when the body length is known (a Content-Length header, or a body the
 * mode has read whole) and non-zero; repeated headers are joined with ", " ("; " for Cookie).
 */
export function rfc3875Variables(
  req: IncomingMessage,
  options: Rfc3875Options,
  target = req.url ?? '/',
): Record<string, string> {
  const env: Record<string, string> = {};
  const raw = req.rawHeaders;
  let contentLength: string | undefined;
  let chunked = false;
  let contentType: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'content-length') contentLength ??= value;
    else if (lower === 'content-type') contentType ??= value;
    else if (lower === 'transfer-encoding') chunked = true;
    else if (lower === 'host') host ??= value;
    if (NOT_HTTP_VARIABLES.has(lower) || !PLAIN_HEADER_NAME.test(name)) continue;
    const key = `HTTP_${name.toUpperCase().replaceAll('-', '_')}`;
    if (isProxyVariable(key)) continue;
    const previous = env[key];
    env[key] = previous === undefined ? value : `${previous}${lower === 'cookie' ? '; ' : ', '}${value}`;
  }
  const { path, query } = splitTarget(target);
  env.GATEWAY_INTERFACE = 'CGI/1.1';
  env.SERVER_SOFTWARE = options.serverSoftware;
  env.SERVER_PROTOCOL = `HTTP/${req.httpVersion ?? '1.1'}`;
  const socket = req.socket as
    | { localPort?: number; localAddress?: string; remoteAddress?: string; remotePort?: number }
    | undefined;
  const server = splitHost(host);
  env.SERVER_NAME = server.name ?? unmapIpv4(socket?.localAddress) ?? 'localhost';
  env.SERVER_PORT = server.port ?? String(socket?.localPort ?? '');
  env.REQUEST_METHOD = req.method ?? 'GET';
  env.REQUEST_URI = target;
  env.QUERY_STRING = query;
  env.SCRIPT_NAME = '';
  env.PATH_INFO = decodePath(path);
  if (contentType !== undefined) env.CONTENT_TYPE = contentType;
  const length =
    options.bodyLength !== undefined ? String(options.bodyLength) : chunked ? undefined : contentLength?.trim();
  if (length !== undefined && length !== '0') env.CONTENT_LENGTH = length;
  const remote = unmapIpv4(socket?.remoteAddress);
  if (remote !== undefined) env.REMOTE_ADDR = remote;
  if (socket?.remotePort !== undefined) env.REMOTE_PORT = String(socket.remotePort);
  return env;
}

/** `example.com:8080` -> name and port; `[::1]:8080` -> `::1` and 8080; no port -> port undefined. */
export function splitHost(host: string | undefined): { name: string | undefined; port: string | undefined } {
  if (host === undefined || host === '') return { name: undefined, port: undefined };
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1) return { name: host, port: undefined };
    const rest = host.slice(end + 1);
    return { name: host.slice(1, end), port: rest.startsWith(':') && rest.length > 1 ? rest.slice(1) : undefined };
  }
  const colon = host.lastIndexOf(':');
  if (colon === -1) return { name: host, port: undefined };
  return { name: host.slice(0, colon), port: colon + 1 < host.length ? host.slice(colon + 1) : undefined };
}
