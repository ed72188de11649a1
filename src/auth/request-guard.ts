// What the server core asks before a function request reaches the mode (authentication).
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { WatchdogError } from '../errors.js';

/**
 * Decides whether a request may reach the function. Returns the body to use, or an error to send.
 * A guard that reads the body calls `beforeBody()` first: a client that sent `Expect: 100-continue`
 * gets its `100 Continue` only then, so a request refused on its headers never uploads its body.
 */
export type RequestGuard = (
  req: IncomingMessage,
  body: Readable,
  beforeBody: () => void,
) => Promise<Readable | WatchdogError> | Readable | WatchdogError;
