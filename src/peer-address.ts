// The client's address as the function is told it (REMOTE_ADDR, X-Forwarded-For).
import { isIPv4 } from 'node:net';

const MAPPED = '::ffff:';

/**
 * `::ffff:127.0.0.1` -> `127.0.0.1`: how a dual-stack socket reports an IPv4 peer. Only that
 * IPv4-mapped form (RFC 4291 section 2.5.5.2) is unmapped; any other IPv6 address is kept as it is.
 */
export function unmapIpv4(address: string | undefined): string | undefined {
  if (
    address === undefined ||
    address.length <= MAPPED.length ||
    address.slice(0, MAPPED.length).toLowerCase() !== MAPPED
  )
    return address;
  const v4 = address.slice(MAPPED.length);
  return isIPv4(v4) ? v4 : address;
}
