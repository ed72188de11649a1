// The Prometheus endpoint on metrics_port, and binding a server to its port with a message that names the fix.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';

/** GET /metrics on its own server; anything else is Go's 404 text. */
export function createMetricsServer(metrics: Metrics, logger: Logger): Server {
  // Node checks requestTimeout and headersTimeout every connectionsCheckingInterval (30 s by default): checked
  // every 100 ms, a connection that sends nothing is closed within ~0.6 s; an idle keep-alive one after 500 ms.
  return createServer(
    { requestTimeout: 500, headersTimeout: 500, keepAliveTimeout: 500, connectionsCheckingInterval: 100 },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res
          .writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' })
          .end('404 page not found\n');
        return;
      }
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
        (err: unknown) => {
          logger.error('metrics collection failed', { err: String(err) });
          res.writeHead(500).end();
        },
      );
    },
  );
}

/** Listens on `port`; a port in use rejects with what to do about it. */
export function listenOn(s: NetServer, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `${what} ${port} is already in use: stop whatever listens there or set ${what === 'port' ? 'port' : 'metrics_port'} to another port`
            : `cannot listen on ${what} ${port}: ${err.message}`,
        ),
      );
    };
    s.once('error', onError);
    s.listen(port, () => {
      s.off('error', onError);
      resolve((s.address() as AddressInfo).port);
    });
  });
}
