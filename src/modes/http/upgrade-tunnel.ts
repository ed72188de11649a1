// Tunnels an Upgrade (WebSocket) request to the upstream as raw bytes, both ways.
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { INTERNAL_HEADER, INTERNAL_VALUE } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { upstreamRequestHeaders } from './forward-headers.js';

/** The upstream address a tunnel connects to. */
export interface TunnelTarget {
  hostname: string;
  port: number;
  /** upstream_url's path prefix without a trailing slash ('' for none). */
  basePath: string;
  /** host:port of upstream_url, for requests without a Host header. */
  upstreamHost: string;
}

/** A raw HTTP/1.1 error answer on a socket that never became an HTTP response. */
export function rawError(socket: Duplex, status: number, reason: string, body: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${INTERNAL_HEADER}: ${INTERNAL_VALUE}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Opens a connection to the upstream, replays the upgrade request on it and then copies bytes in
 * both directions until either side closes. The upstream's answer (101 or a refusal) reaches the
 * client as is. `handshakeMs` bounds the wait for the upstream's first byte (0 = none).
 * Returns a function that ends the tunnel.
 */
export function tunnelUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, target: TunnelTarget, handshakeMs: number, logger: Logger): () => void {
  const upstream = connect({ host: target.hostname, port: target.port });
  let answered = false;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    upstream.destroy();
    client.destroy();
  };
  const timer = handshakeMs > 0 ? setTimeout(() => {
    if (answered) return;
    logger.warn('Upstream WebSocket handshake timed out', { url: req.url });
    upstream.destroy();
    rawError(client, 504, 'Gateway Timeout', 'upstream did not answer the upgrade in time\n');
  }, handshakeMs) : undefined;

  const url = req.url ?? '/';
  const headers = upstreamRequestHeaders(req, target.upstreamHost, { upgrade: true });
  let text = `${req.method ?? 'GET'} ${target.basePath}${url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i] as string}: ${headers[i + 1] as string}\r\n`;
  upstream.write(`${text}\r\n`);
  if (head.length > 0) upstream.write(head);

  upstream.setNoDelay(true);
  upstream.once('data', () => {
    answered = true;
    if (timer !== undefined) clearTimeout(timer);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (!answered) {
      logger.warn(`Upstream WebSocket connection error: ${err.code ?? err.message}`, { url });
      rawError(client, 502, 'Bad Gateway', `upstream unavailable: ${err.code ?? 'error'}\n`);
      upstream.destroy();
      return;
    }
    close();
  });
  client.on('error', close);
  upstream.on('close', () => {
    if (answered) close();
  });
  client.on('close', close);
  upstream.pipe(client);
  client.pipe(upstream);
  return close;
}
