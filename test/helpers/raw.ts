// Raw TCP helpers for tests that must control every byte (trickling clients, malformed requests).
import { connect, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';

export interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves with everything received once the server closed the connection. */
  closed: Promise<string>;
  write(data: string | Buffer): void;
}

/** Opens a TCP connection to `port` on 127.0.0.1; it is destroyed when the test ends. */
export function rawConnect(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    onTestFinished(() => {
      socket.destroy();
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<string>((r) => socket.once('close', () => r(Buffer.concat(chunks).toString('latin1'))));
    socket.on('error', () => {
      // A reset from the server is an expected outcome in these tests: 'close' still follows.
    });
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => Buffer.concat(chunks).toString('latin1'),
        closed,
        write: (data) => {
          if (!socket.destroyed) socket.write(data);
        },
      }),
    );
    socket.once('error', reject);
  });
}

/** Sends `request` as is and resolves with the raw bytes received until the server closes. */
export async function rawRequest(port: number, request: string | Buffer): Promise<string> {
  const conn = await rawConnect(port);
  conn.write(request);
  return conn.closed;
}
