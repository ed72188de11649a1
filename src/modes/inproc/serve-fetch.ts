// inproc: serves one request through a fetch-style handler, (request: Request) => Response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FetchHandler } from './load-module.js';

/** Builds the Request (streaming `body`, carrying `signal`), calls `fetch` and writes its Response to `res`. */
export async function serveFetch(
  fetch: FetchHandler,
  req: IncomingMessage,
  body: Readable,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const method = req.method ?? 'GET';
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (hasBody) {
    init.body = Readable.toWeb(body) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  } else {
    body.resume(); // nothing to read, but a stray body must not stall the connection
  }
  const request = new Request(`${requestOrigin(req.headers.host)}${req.url ?? '/'}`, init);
  const response = await fetch(request);
  if (!isResponse(response))
    throw new TypeError(
      `the fetch handler returned ${response === undefined ? 'undefined' : typeof response}, not a Response`,
    );
  if (res.headersSent || res.destroyed) {
    await response.body?.cancel();
    return;
  }
  res.statusCode = response.status;
  if (response.statusText !== '') res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  await writeBody(response, res, method === 'HEAD');
}

/** A host[:port] that is a plain authority: a name or IPv4 address, or an [IPv6] literal. */
const AUTHORITY = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
let lastHost: string | undefined;
let lastOrigin = 'http://localhost';

/**
 * The origin of request.url: `http://` + the Host header when it is a valid authority, else
 * `http://localhost`. The raw header must not reach the URL parser: `x/admin?` would move the path
 * the handler reads away from the one routed and logged, and `a b` would throw.
 */
export function requestOrigin(host: string | undefined): string {
  if (host === lastHost) return lastOrigin;
  const origin =
    host !== undefined && AUTHORITY.test(host) && URL.canParse(`http://${host}/`)
      ? `http://${host}`
      : 'http://localhost';
  lastHost = host;
  lastOrigin = origin;
  return origin;
}

function isResponse(v: unknown): v is Response {
  return (
    v instanceof Response ||
    (typeof v === 'object' &&
      v !== null &&
      typeof (v as Response).status === 'number' &&
      typeof (v as Response).headers?.get === 'function')
  );
}

/** Streams the Response body with backpressure. */
async function writeBody(response: Response, res: ServerResponse, head: boolean): Promise<void> {
  if (response.body === null || head) {
    await response.body?.cancel();
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const cancel = (): void =>
    void reader.cancel().catch(() => {
      // The handler's stream failed while being cancelled: nobody is left to tell.
    });
  res.once('close', cancel);
  try {
    // Each chunk goes out as soon as the handler makes it (server-sent events must not wait for the next one).
    let next = await reader.read();
    while (!next.done) {
      if (!write(res, next.value)) await drained(res);
      if (res.destroyed) return;
      next = await reader.read();
    }
    res.end();
  } finally {
    res.off('close', cancel);
  }
}

function write(res: ServerResponse, chunk: Uint8Array): boolean {
  return res.destroyed ? false : res.write(chunk);
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
