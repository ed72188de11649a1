// Reads a whole request body into memory for the buffered fork modes (classic, serializing).
import type { Readable } from 'node:stream';
import { WatchdogError } from '../errors.js';

/**
 * Resolves with every byte of `body`. A WatchdogError from the stream (413 from max_body_bytes)
 * rejects as is; any other stream failure (client abort, read_timeout) rejects as a 400.
 */
export function readBody(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      if (err instanceof WatchdogError) {
        reject(err);
        return;
      }
      const code = (err as { code?: unknown } | undefined)?.code;
      const reason = typeof code === 'string' ? code : 'the stream failed';
      reject(new WatchdogError('BODY_READ_FAILED', `cannot read the request body: ${reason}\n`, { cause: err }));
    };
    // The stream may have failed before this call (e.g. max_body_bytes hit while the call was queued).
    if (body.errored) {
      fail(body.errored);
      return;
    }
    if (body.destroyed && !body.readableEnded) {
      fail(Object.assign(new Error('request body ended early'), { code: 'ECONNRESET' }));
      return;
    }
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
    });
    body.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    body.on('error', fail);
    // A request whose client went away before the end emits 'aborted'/'close' without 'end'.
    body.once('close', () => fail(Object.assign(new Error('request body ended early'), { code: 'ECONNRESET' })));
  });
}
