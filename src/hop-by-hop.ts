// The hop-by-hop header names: what one connection's framing owns, never passed from one side to the other.

/** Hop-by-hop headers (RFC 9110 section 7.6.1), plus the proxy-only ones; lower-cased. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
]);
