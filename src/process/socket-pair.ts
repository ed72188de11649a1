// A connected pair of Unix sockets, so one channel can serve as a child's stdout and stderr at once.
import { createServer, connect, type Socket } from 'node:net';
import { platform, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Both ends of a connected local socket: the parent reads `parentEnd`, the child gets `childEnd`. */
export interface SocketPair {
  parentEnd: Socket;
  childEnd: Socket;
}

/** Where the short-lived listener lives: a Linux abstract name (nothing on disk) or a folder. */
export type SocketPlace = 'abstract' | { dir: string };

const DEFAULT_PLACE: SocketPlace = platform() === 'linux' ? 'abstract' : { dir: tmpdir() };

/**
 * Connects two sockets through a listener that is closed (and its file removed) as soon as they
 * are paired. Giving `childEnd` to a child as both fd 1 and fd 2 makes its stdout and stderr one
 * channel, so the parent reads them in the exact order the child wrote them (a shell's 2>&1).
 */
export async function createSocketPair(place: SocketPlace = DEFAULT_PLACE): Promise<SocketPair> {
  // An unguessable name, so no other local process can connect first. node:crypto is loaded here, by
  // the first pair (combine_output without the spawn addon), not at start-up: it costs milliseconds.
  const { randomUUID } = await import('node:crypto');
  const name = `fwatchdog-${randomUUID()}`;
  const path = place === 'abstract' ? `\0${name}` : join(place.dir, `${name}.sock`);
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: false });
    let parentEnd: Socket | undefined;
    let childEnd: Socket | undefined;
    const fail = (err: Error): void => {
      server.close();
      parentEnd?.destroy();
      childEnd?.destroy();
      reject(err);
    };
    const settle = (): void => {
      if (parentEnd === undefined || childEnd === undefined) return;
      // Closing a path-bound listener also removes its socket file.
      server.close();
      resolve({ parentEnd, childEnd });
    };
    server.once('error', fail);
    server.once('connection', (socket) => {
      parentEnd = socket;
      settle();
    });
    server.listen(path, () => {
      const client = connect({ path, allowHalfOpen: false });
      client.once('error', fail);
      client.once('connect', () => {
        client.off('error', fail);
        childEnd = client;
        settle();
      });
    });
  });
}
