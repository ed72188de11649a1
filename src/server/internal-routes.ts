// The watchdog's own routes: /_/health, /_/ready (or the function's ready_path), OPTIONS *, and Go's 301 to a clean path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { WatchdogConfig } from '../config/load-config.js';
import { escapeHtml } from '../escape-html.js';
import type { FunctionCall, ModeRunner } from '../modes/mode.js';
import { redirectTarget } from './clean-path.js';
import type { Drain } from './drain.js';
import type { Limiter } from './limiter.js';

/** The call id of the function's readiness calls (ready_path): the lines of its output say so. */
const READY_CALL_ID = 'ready-probe';

export const HEALTH = '/_/health';
export const READY = '/_/ready';
const EMPTY = Buffer.alloc(0);
const OK_BODY = Buffer.from('OK');
const NO_BODY_HEADERS = { 'Content-Length': '0' };

export interface InternalRoutes {
  health(req: IncomingMessage, res: ServerResponse): void;
  ready(req: IncomingMessage, res: ServerResponse): void;
  /** OPTIONS * : 200, nothing else. */
  options(req: IncomingMessage, res: ServerResponse): void;
  /** Go's ServeMux answer to an unclean path: 301 to the cleaned one. */
  redirectClean(req: IncomingMessage, res: ServerResponse, path: string, query: string): void;
}

export interface RouteDeps {
  config: WatchdogConfig;
  mode: ModeRunner;
  limiter: Limiter;
  drain: Drain;
  /** Lock file written, mode ready, not stopping. */
  isHealthy(): boolean;
}

export function createInternalRoutes(deps: RouteDeps): InternalRoutes {
  const { config, mode, limiter, drain, isHealthy } = deps;

  function health(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET') {
    res.writeHead(405, NO_BODY_HEADERS).end();
    return;
  }
  if (isHealthy()) res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' }).end(OK_BODY);
  else res.writeHead(503, NO_BODY_HEADERS).end();
  drain.answeredAt(req.socket);
}

async function ready(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET') {
    res.writeHead(405, NO_BODY_HEADERS).end();
    return;
  }
  if (!isHealthy()) {
    res.writeHead(503, NO_BODY_HEADERS).end();
    return;
  }
  if (limiter.full) {
    res.writeHead(429, NO_BODY_HEADERS).end();
    return;
  }
  if (config.readyPath !== undefined) {
    // The function's own readiness answer is the /_/ready answer (not counted, not limited).
    req.url = config.readyPath;
    req.method = 'GET';
    const controller = new AbortController();
    res.once('close', () => controller.abort());
    const call: FunctionCall = {
      req,
      res,
      body: Readable.from([]),
      timeoutMs: config.execTimeoutMs,
      signal: controller.signal,
      startedAt: performance.now(),
      bytesOut: 0,
      callId: READY_CALL_ID,
      trace: undefined,
    };
    mode.handle(call);
    return;
  }
  res.writeHead(200, NO_BODY_HEADERS).end(EMPTY);
  drain.answeredAt(req.socket);
}

function redirectClean(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
  const target = redirectTarget(path) + query;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const body = `<a href="${escapeHtml(target)}">Moved Permanently</a>.\n\n`;
    res.writeHead(301, { Location: target, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  } else {
    res.writeHead(301, { Location: target, 'Content-Length': '0' }).end();
  }
}


  return {
    health,
    ready: (req, res) => void ready(req, res),
    options(req, res) {
      res.writeHead(200, NO_BODY_HEADERS).end();
      drain.answeredAt(req.socket);
    },
    redirectClean,
  };
}
