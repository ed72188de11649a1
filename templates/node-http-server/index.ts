// node-http entry: an HTTP server on $http_port (default 3000) that hands each request to function/handler.ts.
// fwatchdog (mode=http) starts it, proxies requests to it and stops it with SIGTERM. On SIGTERM it finishes
// the requests in flight, then exits 0 (faasd sends SIGTERM to every process of the container at once, so
// a request can still be in flight here; Node's default would end it at once).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { handle } from './function/handler.ts';
import { readSecret } from './read-secret.ts';
import type { Context, Event, Result } from './types.ts';

const rawBody = /^(true|1|yes|on)$/i.test(process.env.RAW_BODY ?? '');
const port = Number(process.env.http_port || 3000);
const context: Context = { secret: readSecret };

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toEvent(req: IncomingMessage, bytes: Buffer): Event {
  const url = new URL(req.url ?? '/', 'http://function');
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (!(k in query)) query[k] = v;
  let body: unknown = bytes;
  if (!rawBody) {
    const text = bytes.toString('utf8');
    body = /\bjson\b/i.test(req.headers['content-type'] ?? '') && text.trim() !== '' ? JSON.parse(text) : text;
  }
  return { body, rawBody: bytes, headers: req.headers, method: req.method ?? 'GET', path: url.pathname, query };
}

function reply(res: ServerResponse, result: Result): void {
  const headers: Record<string, string | string[]> = { ...(result.headers ?? {}) };
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  let body: Buffer | string;
  if (result.body === undefined || result.body === null) body = '';
  else if (typeof result.body === 'string' || Buffer.isBuffer(result.body)) body = result.body;
  else if (result.body instanceof Uint8Array)
    body = Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength);
  else {
    body = JSON.stringify(result.body);
    if (!hasType) headers['Content-Type'] = 'application/json';
  }
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const bytes = await readBody(req);
  let event: Event;
  try {
    event = toEvent(req, bytes);
  } catch (err) {
    reply(res, {
      statusCode: 400,
      headers: { 'Content-Type': 'text/plain' },
      body: `invalid JSON body: ${(err as Error).message}\n`,
    });
    return;
  }
  reply(res, await handle(event, context));
}

let inFlight = 0;
let stopping = false;

/** Once stopping and idle: close the port and the idle keep-alive sockets; the process then exits 0. */
function stopIfIdle(): void {
  if (!stopping || inFlight > 0) return;
  server.close();
  server.closeIdleConnections();
}

const server = createServer((req, res) => {
  inFlight++;
  res.once('close', () => {
    inFlight--;
    setImmediate(stopIfIdle); // the socket is idle once the response is done
  });
  serve(req, res).catch((err: unknown) => {
    // The handler threw (or returned something unsendable, e.g. statusCode 42): log it, answer 500, keep serving.
    console.error(err);
    if (res.headersSent) res.destroy();
    else reply(res, { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: 'Internal Server Error\n' });
  });
}).listen(port, '127.0.0.1');

process.once('SIGTERM', () => {
  stopping = true;
  stopIfIdle();
});
