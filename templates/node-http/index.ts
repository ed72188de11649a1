// node-http entry: fwatchdog (mode=inproc) loads this module once and calls its default export, a node:http
// request listener, for every request, inside its own process. It hands each request to function/handler.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as fn from './function/handler.ts';
import { readSecret } from './read-secret.ts';
import type { Context, Event, Result } from './types.ts';

const rawBody = /^(true|1|yes|on)$/i.test(process.env.RAW_BODY ?? '');

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

/** The request listener fwatchdog calls. A handler that throws costs that request a 500 (fwatchdog logs the error). */
export default async function serve(
  req: IncomingMessage & { signal: AbortSignal },
  res: ServerResponse,
): Promise<void> {
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
  const context: Context = { secret: readSecret, signal: req.signal };
  reply(res, await fn.handle(event, context));
}

/** fwatchdog reports ready once the handler's own ready() (if it exports one) has resolved. */
export async function ready(): Promise<void> {
  await (fn as { ready?: () => unknown }).ready?.();
}

/** Runs after the SIGTERM drain: the handler's own shutdown() (if it exports one), e.g. to close a database pool. */
export async function shutdown(): Promise<void> {
  await (fn as { shutdown?: () => unknown }).shutdown?.();
}
