// The call id of a function request: the gateway's X-Call-Id when it is a sane token, else a new UUID.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The longest X-Call-Id taken as is (the gateway sends a 36-character UUID). */
export const CALL_ID_MAX_LENGTH = 128;

/** True for 1..128 characters of A-Z a-z 0-9 . _ : - (what goes on a log line unescaped and into an env var). */
export function isSaneCallId(id: string): boolean {
  if (id.length === 0 || id.length > CALL_ID_MAX_LENGTH) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok =
      (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95; // 0-9 : A-Z a-z - . _
    if (!ok) return false;
  }
  return true;
}

/**
 * The request's call id. A missing or unusable X-Call-Id is replaced by a new one in the request's headers
 * (`headers` and `rawHeaders`, which every mode reads), so the function gets the id the logs show.
 */
export function takeCallId(req: IncomingMessage): string {
  const given = req.headers['x-call-id'];
  if (typeof given === 'string' && isSaneCallId(given)) return given;
  const id = randomUUID();
  setRequestHeader(req, 'X-Call-Id', id);
  return id;
}

/** Sets header `name` of a received request to `value`, in `headers` and `rawHeaders` (replacing every earlier value). */
export function setRequestHeader(req: IncomingMessage, name: string, value: string): void {
  const lower = name.toLowerCase();
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if ((raw[i] as string).toLowerCase() === lower) raw.splice(i, 2);
  raw.push(name, value);
  req.headers[lower] = value;
}
