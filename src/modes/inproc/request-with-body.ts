// inproc: a request whose body is not the socket's (size-limited, or held by the HMAC check) for a node:http listener.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { InprocRequest } from './http-classes.js';

/**
 * An IncomingMessage with `req`'s request line (its target replaced by `url`) and headers whose body is read from `body`, with
 * backpressure. Destroying it destroys `body`, never the socket (the watchdog may still answer on it).
 */
export function requestWithBody(req: IncomingMessage, body: Readable, url = req.url): InprocRequest {
  const copy = new InprocRequest(req.socket);
  copy.method = req.method;
  copy.url = url;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  copy.headers = req.headers;
  copy.rawHeaders = req.rawHeaders;
  copy._read = () => {
    body.resume();
  };
  copy._destroy = (err, callback) => {
    if (!body.destroyed) body.destroy();
    callback(err);
  };
  body.on('data', (chunk: Buffer) => {
    if (!copy.push(chunk)) body.pause();
  });
  body.once('end', () => {
    copy.complete = true;
    copy.trailers = req.trailers;
    copy.rawTrailers = req.rawTrailers;
    copy.push(null);
  });
  body.once('error', (err) => copy.destroy(err));
  body.pause();
  return copy;
}
