// An Upgrade (WebSocket) handshake with the upstream; a raw tunnel only after a real 101 for the protocol asked for.
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WatchdogError, classifyUpstreamError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { UpgradeCall } from '../mode.js';
import { durationSeconds } from '../duration-seconds.js';
import { answerError } from './answer-error.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './forward-headers.js';
import { upstreamPath, type UpstreamTarget } from './upstream-target.js';

/** The protocol names of an Upgrade header (`websocket`, `h2c`...), lower-cased. */
function protocols(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '');
}

/**
 * Sends the handshake to the upstream on its own connection (no body: the server core refuses one).
 * A `101 Switching Protocols` naming a protocol the client asked for opens the tunnel: the 101 goes
 * to the client, the call is logged and counted, and from then on bytes are copied both ways
 * unchecked. Any other answer is relayed as an ordinary response on a connection that then closes,
 * so no later byte from the client reaches the upstream. `exec_timeout` (X-Timeout) bounds the
 * exchange until the tunnel opens. Returns a function that ends the exchange or the tunnel.
 */
export function tunnelUpgrade(call: UpgradeCall, target: UpstreamTarget, logger: Logger): () => void {
  const { req, res } = call;
  const client = call.socket;
  const asked = protocols(req.headers.upgrade);
  const url = call.target;
  let upstreamSocket: Socket | undefined;
  let settled = false;
  let closed = false;

  const upstreamReq = request({
    host: target.hostname,
    port: target.port,
    method: req.method ?? 'GET',
    path: upstreamPath(target.basePath, url),
    headers: upstreamRequestHeaders(req, target.host, { upgrade: true }),
    setHost: false,
    agent: false,
  });

  const timer =
    call.timeoutMs > 0
      ? setTimeout(() => {
          logger.warn('Upstream did not answer the upgrade within exec_timeout', { url });
          fail(new WatchdogError('EXEC_TIMEOUT', 'upstream did not answer the upgrade in time\n'));
        }, call.timeoutMs)
      : undefined;

  const settle = (): void => {
    settled = true;
    if (timer !== undefined) clearTimeout(timer);
  };

  const fail = (err: WatchdogError): void => {
    if (settled) return;
    settle();
    upstreamReq.destroy();
    upstreamSocket?.destroy();
    answerError(call, err);
  };

  const close = (): void => {
    if (closed) return;
    closed = true;
    if (!settled) settle();
    upstreamReq.destroy();
    upstreamSocket?.destroy();
    client.destroy();
  };

  // The client went away (or write_timeout cut it) before the tunnel opened.
  res.once('close', () => {
    if (settled) return;
    settle();
    upstreamReq.destroy();
  });

  upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
    if (settled) return;
    logger.warn(`Upstream upgrade request error: ${err.code ?? err.message}`, { url });
    fail(classifyUpstreamError(err));
  });

  // Any answer but 101: relayed as an ordinary response; the client connection closes after it.
  upstreamReq.on('response', (answer: IncomingMessage) => relayAnswer(answer));

  upstreamReq.on('upgrade', (answer: IncomingMessage, socket: Socket, upstreamHead: Buffer) => {
    upstreamSocket = socket;
    if (settled) {
      socket.destroy();
      return;
    }
    const chosen = protocols(answer.headers.upgrade);
    if (chosen.length !== 1 || !asked.includes(chosen[0] as string)) {
      logger.warn('Upstream switched to a protocol the client did not ask for', {
        url,
        asked: req.headers.upgrade,
        got: answer.headers.upgrade,
      });
      fail(new WatchdogError('UPSTREAM_UNAVAILABLE', 'upstream switched to a protocol the client did not ask for\n'));
      return;
    }
    settle();
    let head = `HTTP/1.1 101 ${answer.statusMessage || 'Switching Protocols'}\r\n`;
    const raw = answer.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) head += `${raw[i] as string}: ${raw[i + 1] as string}\r\n`;
    call.tunnelOpened();
    client.write(`${head}\r\n`);
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (call.head.length > 0) socket.write(call.head);
    socket.setNoDelay(true);
    socket.on('error', close);
    socket.on('close', close);
    client.on('error', close);
    client.on('close', close);
    socket.pipe(client);
    client.pipe(socket);
  });

  function relayAnswer(answer: IncomingMessage): void {
    if (settled) {
      answer.destroy();
      return;
    }
    const status = answer.statusCode ?? 502;
    try {
      const headers = clientResponseHeaders(answer.rawHeaders, answer.headers.connection);
      headers.push('X-Duration-Seconds', durationSeconds(call.startedAt));
      res.writeHead(status, answer.statusMessage, headers);
    } catch (err) {
      fail(new WatchdogError('UPSTREAM_UNAVAILABLE', 'upstream sent an invalid response header\n', { cause: err }));
      return;
    }
    answer.on('data', (chunk: Buffer) => {
      call.bytesOut += chunk.length;
      if (!res.write(chunk)) {
        answer.pause();
        res.once('drain', () => answer.resume());
      }
    });
    answer.on('end', () => {
      if (settled) return;
      settle();
      res.end();
    });
    answer.on('error', () => {
      // 'close' follows and says the answer was incomplete.
    });
    answer.on('close', () => {
      if (!answer.complete) fail(new WatchdogError('UPSTREAM_UNAVAILABLE', 'upstream response ended early\n'));
    });
  }

  upstreamReq.end();
  return close;
}
