// The API-key check: the request carries the secret's value in a header or as a Bearer token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WatchdogError } from '../errors.js';
import type { SecretFile } from './secret-file.js';

/** The SHA-256 of a key: both sides are compared as equal-length digests, in constant time. */
export function keyDigest(key: Buffer | string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** Checks one request; undefined = allowed. On success the header that carried the key is removed, so the function never sees it. */
export type ApiKeyCheck = (req: IncomingMessage) => WatchdogError | undefined;

const BEARER = /^bearer[ \t]+/i;

/** Builds the check for `headerName` (lower-case) against the digest kept by `secret`. */
export function createApiKeyCheck(secret: SecretFile<Buffer>, headerName: string): ApiKeyCheck {
  const missing = new WatchdogError(
    'UNAUTHORIZED',
    `missing API key: send it in the ${headerName} header or as Authorization: Bearer <key>\n`,
  );
  const invalid = new WatchdogError('UNAUTHORIZED', 'invalid API key\n');
  const unavailable = new WatchdogError(
    'NOT_READY',
    'authentication is not available: the API key secret cannot be read\n',
  );

  return (req) => {
    let given = req.headers[headerName];
    if (Array.isArray(given)) given = given[0];
    if (given !== undefined && headerName === 'authorization') given = given.replace(BEARER, '');
    if (given === undefined || given === '') {
      const auth = req.headers.authorization;
      if (auth !== undefined && BEARER.test(auth)) given = auth.replace(BEARER, '');
    }
    if (given === undefined || given === '') return missing;
    const expected = secret.current();
    if (!expected.ok) return unavailable;
    if (!timingSafeEqual(keyDigest(given.trim()), expected.value)) return invalid;
    removeCredentials(req, headerName, expected.value);
    return undefined;
  };
}

/**
 * Removes, from both views Node keeps of the headers (the CGI env and proxies read rawHeaders), every
 * occurrence of the key header and every Authorization header that carries the accepted key (any
 * case, repeated or not), so neither the function nor the upstream ever sees it. An Authorization
 * header with another credential (meant for the function) is kept.
 */
function removeCredentials(req: IncomingMessage, headerName: string, digest: Buffer): void {
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (lower === headerName) raw.splice(i, 2);
    else if (lower === 'authorization') {
      const value = raw[i + 1] as string;
      if (BEARER.test(value) && timingSafeEqual(keyDigest(value.replace(BEARER, '').trim()), digest)) raw.splice(i, 2);
    }
  }
  delete req.headers[headerName];
  // req.headers.authorization is rebuilt from what is left (Node keeps the first of repeated ones): the
  // removed one may have been that first, and a node:http handler (inproc) reads req.headers.
  if (headerName !== 'authorization' && req.headers.authorization !== undefined) {
    const left = firstAuthorization(raw);
    if (left === undefined) delete req.headers.authorization;
    else req.headers.authorization = left;
  }
}

function firstAuthorization(raw: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2)
    if ((raw[i] as string).toLowerCase() === 'authorization') return raw[i + 1];
  return undefined;
}
