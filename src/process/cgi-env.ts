// Builds the Http_* CGI environment the originals give a forked function.
import type { IncomingMessage } from 'node:http';

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
export function buildCgiEnv(base: Record<string, string>, req: IncomingMessage, options: CgiOptions): Record<string, string> {
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
export function cgiVariables(req: IncomingMessage, options: CgiOptions): Record<string, string> {
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
    if (key in env) continue;
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
  const { path, query } = splitTarget(req.url ?? '/');
  if (query !== '') env.Http_Query = query;
  if (path !== '') env.Http_Path = decodePath(path);
  if (options.classic && host !== undefined && host !== '') env.Http_Host = host;
  return env;
}
