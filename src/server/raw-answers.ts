// The answers written on a raw socket, where Node made no response: a request its parser refused, and CONNECT.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WatchdogError, writeRawError } from '../errors.js';
import { currentAnswer } from '../internals.js';

const CONNECT_REFUSED = new WatchdogError('METHOD_NOT_ALLOWED', '');

/** The catalogue answer for an error of Node's HTTP parser (by its code, never its text). */
function clientErrorAnswer(err: NodeJS.ErrnoException): WatchdogError {
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return new WatchdogError('HEADERS_TOO_LARGE', '431 Request Header Fields Too Large\n', { cause: err });
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return new WatchdogError('REQUEST_TIMEOUT', '408 Request Timeout\n', { cause: err });
  return new WatchdogError('BAD_REQUEST', '400 Bad Request\n', { cause: err });
}

/** The status of the raw answer written on each socket (a socket gets at most one: it is destroyed after it). */
const rawStatuses = new WeakMap<Duplex, number>();

/** The status of the raw answer that ended `socket`'s request (400, 408, 431), if clientError wrote one: the one to log and count. */
export function rawAnswerStatus(socket: Duplex | null): number | undefined {
  return socket === null ? undefined : rawStatuses.get(socket);
}

/** Installs the clientError and connect answers on `server`; neither can throw or leave a socket open. */
export function answerRawSockets(server: Server): void {
  // Without a listener Node answers a 400 and closes; keep that, but never let it throw.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A response already on the wire (read_timeout while streaming a body) cannot take a status line: cut it.
    if (!socket.writable || currentAnswer(socket)?.headersSent === true) {
      socket.destroy();
      return;
    }
    // The client closed its side mid-request (half a Content-Length, then FIN): nobody is left to answer, and the
    // call is logged as a client that left (499), not as a 400 it never read.
    if (err.code === 'HPE_INVALID_EOF_STATE') {
      socket.destroy();
      return;
    }
    const answer = clientErrorAnswer(err);
    rawStatuses.set(socket, answer.status);
    writeRawError(socket, answer);
    // Closed, not half-closed, once the answer is flushed: the request in progress on it (its max_inflight
    // slot or queue place, the drain's wait) ends now, not when the client closes or write_timeout passes.
    (socket as Socket).destroySoon();
  });
  // CONNECT (a proxy tunnel) is nothing a function serves. Without a listener Node would leave the socket open for ever.
  server.on('connect', (_req, socket: Duplex) => {
    socket.on('error', () => socket.destroy()); // The client may already be gone; nothing to answer then.
    writeRawError(socket, CONNECT_REFUSED);
    (socket as Socket).setTimeout(1000, () => socket.destroy());
  });
}
