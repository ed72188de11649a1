// The body rules of a function request, read from its headers: Transfer-Encoding, max_body_bytes, an Upgrade's empty body.
import type { Readable } from 'node:stream';
import { WatchdogError, bodyTooLarge } from '../errors.js';
import { createBodyLimit, type BodyLimit } from './body-limit.js';
import type { RequestCall } from './request-call.js';

/** A handshake that carries a body: refused, so the guard never signs or checks a body other than the one forwarded. */
const UPGRADE_WITH_BODY = new WatchdogError('BAD_REQUEST', 'an Upgrade request must not carry a body\n');
/** Node's parser accepts `gzip, chunked` and removes only the chunking: other codings are refused (RFC 9112: 501). */
const UNSUPPORTED_CODING = new WatchdogError(
  'TRANSFER_CODING_UNSUPPORTED',
  'unsupported Transfer-Encoding: only chunked is accepted\n',
);

/**
 * The body `call` reads (the request itself, or a max_body_bytes pipe over a chunked one), or the refusal to
 * answer instead. Reads the headers only; neither the request nor the call is changed.
 */
export function checkBody(call: RequestCall, limit: BodyLimit, upgrade: boolean): Readable | WatchdogError {
  const req = call.req;
  const declared = req.headers['content-length'];
  const coding = req.headers['transfer-encoding'];
  // Node leaves an Upgrade request's body raw on the socket: a handshake must have none.
  if (upgrade)
    return (declared !== undefined && declared !== '0') || coding !== undefined ? UPGRADE_WITH_BODY : call.body;
  // The function would get gzip bytes it cannot tell from plain ones.
  if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') return UNSUPPORTED_CODING;
  if (limit.bytes <= 0) return call.body;
  if (declared !== undefined && Number(declared) > limit.bytes) return bodyTooLarge(limit.bytes, limit.variable);
  if (declared !== undefined || coding === undefined) return call.body;
  const limited = createBodyLimit(limit);
  limited.on('error', () => {
    // The 413 can fire before the mode listens (startCall is deferred): it stays on limited.errored.
  });
  req.on('error', (err) => limited.destroy(err));
  return req.pipe(limited);
}

/** A refusal by the body rules: 501 and 413 close the connection (the unread body is not drained). */
export function closesConnection(refusal: WatchdogError): boolean {
  return refusal !== UPGRADE_WITH_BODY;
}
