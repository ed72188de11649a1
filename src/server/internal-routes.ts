// The watchdog's own routes: /_/health, /_/ready (or the function's ready_path), OPTIONS *, and Go's 301 to a clean path.
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WatchdogConfig } from '../config/load-config.js';
import { escapeHtml } from '../escape-html.js';
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
  /** True for the watchdog's own readiness probe (a loopback connection it opened itself), which goes to the mode unguarded. */
  isProbe(req: IncomingMessage): boolean;
  /** OPTIONS * : 200, nothing else. */
  options(req: IncomingMessage, res: ServerResponse): void;
  /** Go's ServeMux answer to an unclean path: 301 to the cleaned one. */
  redirectClean(req: IncomingMessage, res: ServerResponse, path: string, query: string): void;
}

export interface RouteDeps {
  config: WatchdogConfig;
  limiter: Limiter;
  drain: Drain;
  /** Lock file written, mode ready, not stopping. */
  isHealthy(): boolean;
  /** The port the watchdog listens on (0 before listen()): the readiness probe connects to it on loopback. */
  port(): number;
}

/** The User-Agent of the readiness probe (the same as the http-mode start-up probe's). */
export const PROBE_USER_AGENT = 'fwatchdog-ready-probe';

export function createInternalRoutes(deps: RouteDeps): InternalRoutes {
  const { config, limiter, drain, isHealthy } = deps;
  // The readiness probe (ready_path): built by the watchdog, never from the client's request, and single-flight:
  // every /_/ready that comes while one probe runs shares its verdict (as Knative's queue-proxy does).
  let probing: Promise<boolean> | undefined;
  /** Local ports of the probe's own loopback connections: a request from one of them is the probe. */
  const probePorts = new Set<number>();

  /**
   * One GET <ready_path> with only Host and User-Agent; true on a 2xx. The function's body is never read.
   * No status within ready_timeout is a 503: the probe is cut (which ends the call), so a function that hangs
   * on its ready path (exec_timeout=0) neither holds every /_/ready nor keeps a process per probe.
   */
  function probe(): Promise<boolean> {
    return new Promise((resolve) => {
      const port = deps.port();
      const timer = setTimeout(() => probeReq.destroy(), config.readyTimeoutMs);
      const probeReq = request(
        {
          host: '127.0.0.1',
          port,
          path: config.readyPath,
          method: 'GET',
          agent: false,
          setHost: false,
          headers: [
            'Host',
            `127.0.0.1:${port}`,
            'User-Agent',
            PROBE_USER_AGENT,
            'X-Call-Id',
            READY_CALL_ID,
            'Connection',
            'close',
          ],
        },
        (probeRes) => {
          const status = probeRes.statusCode ?? 0;
          resolve(status >= 200 && status < 300);
          // Only the status counts: the connection is cut, so the call ends now (a body the function keeps
          // streaming would otherwise hold the probe, and the shared verdict, for as long as it streams).
          probeReq.destroy();
        },
      );
      probeReq.on('socket', (socket: Socket) => {
        socket.once('connect', () => {
          const local = socket.localPort;
          if (local === undefined) return;
          probePorts.add(local);
          socket.once('close', () => probePorts.delete(local));
        });
      });
      probeReq.once('error', () => resolve(false)); // not listening (stopping) or cut: not ready
      probeReq.once('close', () => {
        clearTimeout(timer);
        resolve(false); // no-op once resolved
      });
      probeReq.end();
    });
  }

  function probeOnce(): Promise<boolean> {
    if (probing !== undefined) return probing;
    const running = probe();
    probing = running;
    void running.then(() => {
      probing = undefined;
    });
    return running;
  }

  function health(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') {
      res.writeHead(405, NO_BODY_HEADERS).end();
      return;
    }
    if (isHealthy())
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' }).end(OK_BODY);
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
      // The function says whether it is ready (a 2xx), but the client gets the watchdog's own empty 200 or 503.
      const ready = await probeOnce();
      if (res.destroyed) return;
      res.writeHead(ready ? 200 : 503, NO_BODY_HEADERS).end(EMPTY);
      drain.answeredAt(req.socket);
      return;
    }
    res.writeHead(200, NO_BODY_HEADERS).end(EMPTY);
    drain.answeredAt(req.socket);
  }

  function redirectClean(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    const target = redirectTarget(path) + query;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const body = `<a href="${escapeHtml(target)}">Moved Permanently</a>.\n\n`;
      res.writeHead(301, {
        Location: target,
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else {
      res.writeHead(301, { Location: target, 'Content-Length': '0' }).end();
    }
  }

  return {
    health,
    ready: (req, res) => void ready(req, res),
    isProbe(req) {
      if (probePorts.size === 0) return false;
      const socket = req.socket;
      return (
        socket.remotePort !== undefined &&
        probePorts.has(socket.remotePort) &&
        (socket.remoteAddress === '127.0.0.1' || socket.remoteAddress === '::ffff:127.0.0.1')
      );
    },
    options(req, res) {
      res.writeHead(200, NO_BODY_HEADERS).end();
      drain.answeredAt(req.socket);
    },
    redirectClean,
  };
}
