// Raw TCP exchanges for requests that an HTTP client would refuse to send.
import { connect } from 'node:net';

export interface RawResult {
  /** Everything the server sent back. */
  response: string;
  /** True if the server closed (or reset) the connection. */
  closed: boolean;
  /** The HTTP status of the first response, if any. */
  status: number | undefined;
}

/**
 * Writes `parts` to a new connection (each part in its own write, `gapMs` apart) and collects the
 * answer until the server closes the connection or `waitMs` passes.
 */
export function rawExchange(
  port: number,
  parts: Array<string | Buffer>,
  options: { gapMs?: number; waitMs?: number } = {},
): Promise<RawResult> {
  const { gapMs = 0, waitMs = 1500 } = options;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const response = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(response);
      resolve({ response, closed, status: m ? Number(m[1]) : undefined });
    };
    const timer = setTimeout(finish, waitMs, false);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.once('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (settled || socket.destroyed) return;
        socket.write(part);
      }
    });
  });
}
