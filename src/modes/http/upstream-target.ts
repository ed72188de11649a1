// Where http mode sends requests: upstream_url taken apart once at start-up, and the path of each request there.

/** upstream_url, taken apart once. */
export interface UpstreamTarget {
  /** The URL itself (its origin names the keep-alive pool). */
  readonly url: URL;
  /** Host name to connect to (an IPv6 address without its brackets). */
  readonly hostname: string;
  readonly port: number;
  /** upstream_url's path prefix without a trailing slash ('' for none). */
  readonly basePath: string;
  /** host:port of upstream_url, for requests without a Host header. */
  readonly host: string;
}

/** Takes upstream_url apart. */
export function upstreamTarget(url: URL): UpstreamTarget {
  return {
    url,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: Number(url.port || 80),
    // A path prefix in upstream_url is kept; its trailing slash is not doubled (Q32).
    basePath: url.pathname === '/' ? '' : url.pathname.replace(/\/$/, ''),
    host: url.host,
  };
}

/** The path sent upstream for a request target (origin-form, or absolute-form reduced to its path), under the prefix. */
export function upstreamPath(basePath: string, url: string): string {
  if (url.charCodeAt(0) === 47 /* / */) return basePath + url;
  try {
    const parsed = new URL(url);
    return basePath + parsed.pathname + parsed.search;
  } catch {
    // Not a URL either: send it under the prefix as given and let the upstream answer.
    return `${basePath}/${url}`;
  }
}
