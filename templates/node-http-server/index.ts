// node-http entry: an HTTP server on $http_port (default 3000) that hands each request to function/handler.ts.
// fwatchdog (mode=http) starts it, proxies requests to it and stops it with SIGTERM.
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
  else if (result.body instanceof Uint8Array) body = Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength);
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
    reply(res, { statusCode: 400, headers: { 'Content-Type': 'text/plain' }, body: `invalid JSON body: ${(err as Error).message}\n` });
    return;
  }
  reply(res, await handle(event, context));
}

createServer((req, res) => {
  serve(req, res).catch((err: unknown) => {
    // The handler threw (or returned something unsendable, e.g. statusCode 42): log it, answer 500, keep serving.
    console.error(err);
    if (res.headersSent) res.destroy();
    else reply(res, { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: 'Internal Server Error\n' });
  });
}).listen(port, '127.0.0.1');
