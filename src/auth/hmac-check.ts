// The HMAC check: the whole body is read (bounded), signed with the secret and compared before the function sees a byte.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { bodyTooLarge, WatchdogError } from '../errors.js';
import type { SecretFile } from './secret-file.js';

/** The bound on a signed body when max_body_bytes is 0 (unlimited): it must be held in memory until verified. */
export const SIGNED_BODY_DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/** Turns the secret bytes into the HMAC key (done once per secret change). */
export function hmacKey(secret: Buffer): KeyObject {
  return createSecretKey(secret);
}

/** Verifies one request; resolves with a replayable copy of the verified body, or the error to answer. */
export type HmacCheck = (
  req: IncomingMessage,
  body: Readable,
  beforeBody?: () => void,
) => Promise<Readable | WatchdogError> | WatchdogError;

/** Builds the check for `headerName` (lower-case); holds at most `maxBodyBytes` of a body in memory. */
export function createHmacCheck(secret: SecretFile<KeyObject>, headerName: string, maxBodyBytes: number): HmacCheck {
  const missing = new WatchdogError(
    'UNAUTHORIZED',
    `missing body signature: send ${headerName}: sha256=<hex HMAC-SHA256 of the body>\n`,
  );
  const invalid = new WatchdogError('UNAUTHORIZED', 'invalid body signature\n');
  const unavailable = new WatchdogError(
    'NOT_READY',
    'authentication is not available: the HMAC secret cannot be read\n',
  );
  const tooLarge = bodyTooLarge(maxBodyBytes);

  return (req, body, beforeBody) => {
    let header = req.headers[headerName];
    if (Array.isArray(header)) header = header[0];
    if (header === undefined || header === '') return missing;
    const match = SIGNATURE.exec(header.trim());
    if (match === null) return invalid;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBodyBytes) return tooLarge;
    const key = secret.current();
    if (!key.ok) return unavailable;
    const expected = Buffer.from(match[1] as string, 'hex');
    // Everything that can be checked on the headers passed: now the body is needed.
    beforeBody?.();
    return verifyBody(body, key.value, expected, maxBodyBytes, invalid, tooLarge);
  };
}

function verifyBody(
  body: Readable,
  key: KeyObject,
  expected: Buffer,
  maxBodyBytes: number,
  invalid: WatchdogError,
  tooLarge: WatchdogError,
): Promise<Readable | WatchdogError> {
  return new Promise((resolve) => {
    const hmac = createHmac('sha256', key);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (v: Readable | WatchdogError): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      resolve(v);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        chunks.length = 0;
        body.pause();
        settle(tooLarge);
        return;
      }
      hmac.update(chunk);
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      // Both sides are 32-byte digests, so timingSafeEqual never sees different lengths.
      if (timingSafeEqual(hmac.digest(), expected)) settle(Readable.from(chunks, { objectMode: false }));
      else settle(invalid);
    };
    const onError = (err: Error): void => {
      settle(
        err instanceof WatchdogError
          ? err
          : new WatchdogError('BODY_READ_FAILED', 'the request body could not be read\n', { cause: err }),
      );
    };
    const onClose = (): void => {
      // The client went away before the body ended: nothing will reach the function.
      settle(new WatchdogError('BODY_READ_FAILED', 'the request body ended early\n'));
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}
