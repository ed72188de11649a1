// Reads a whole request body into memory for the buffered fork modes (classic, serializing).
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { WatchdogError } from '../errors.js';

/**
 * One request body in one buffer. With a declared length (Content-Length, already held to the body
 * limit) the buffer is that size, allocated once and filled: the body is never held twice, as chunks
 * and joined. A body that comes in one chunk is kept as that chunk. Chunked bodies are joined at the end.
 */
export class BodyBuffer {
  private first: Buffer | undefined;
  private whole: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  size = 0;

  constructor(private readonly declared: number) {}

  add(chunk: Buffer): void {
    if (this.size === 0 && this.first === undefined && this.chunks === undefined) {
      this.first = chunk;
      this.size = chunk.length;
      return;
    }
    if (this.first !== undefined) {
      const first = this.first;
      this.first = undefined;
      if (this.declared >= this.size + chunk.length) this.whole = allocate(this.declared);
      if (this.whole !== undefined) first.copy(this.whole, 0);
      else this.chunks = [first];
    }
    if (this.whole !== undefined && this.size + chunk.length <= this.whole.length) {
      chunk.copy(this.whole, this.size);
      this.size += chunk.length;
      return;
    }
    if (this.whole !== undefined) {
      // More than declared (cannot happen behind Node's parser): keep what is in and go on with chunks.
      this.chunks = [this.whole.subarray(0, this.size)];
      this.whole = undefined;
    }
    (this.chunks ??= []).push(chunk);
    this.size += chunk.length;
  }

  /** Every byte added, in one buffer. */
  result(): Buffer {
    if (this.first !== undefined) return this.first;
    if (this.whole !== undefined)
      return this.size === this.whole.length ? this.whole : this.whole.subarray(0, this.size);
    const chunks = this.chunks ?? [];
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.size);
  }
}

/** A buffer of `size` bytes, or undefined when it cannot be had in one piece (the body is then joined at the end). */
function allocate(size: number): Buffer | undefined {
  try {
    return Buffer.allocUnsafe(size);
  } catch {
    // Over the largest Buffer (a declared length with no limit set): chunks and one join, as before.
    return undefined;
  }
}

/** The declared Content-Length of a request, or 0 when there is none (chunked). */
export function declaredLength(req: IncomingMessage): number {
  const declared = req.headers['content-length'];
  return declared === undefined ? 0 : Number(declared);
}

/**
 * Resolves with every byte of `body`, in a buffer sized from `declared` (Content-Length, 0 when
 * unknown). A WatchdogError from the stream (413 from the body limit) rejects as is; any other stream
 * failure (client abort, read_timeout) rejects as a 400.
 */
export function readBody(body: Readable, declared = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buffer = new BodyBuffer(declared);
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
    body.on('data', (chunk: Buffer) => buffer.add(chunk));
    body.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(buffer.result());
    });
    body.on('error', fail);
    // A request whose client went away before the end emits 'aborted'/'close' without 'end'.
    body.once('close', () => fail(Object.assign(new Error('request body ended early'), { code: 'ECONNRESET' })));
  });
}
