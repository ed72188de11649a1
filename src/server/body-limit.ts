// Enforces max_body_bytes on request bodies of unknown length (chunked).
import { Transform, type TransformCallback } from 'node:stream';
import { bodyTooLarge } from '../errors.js';

/** A pass-through that fails with a 413 WatchdogError once more than `maxBodyBytes` went through. */
export function createBodyLimit(maxBodyBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBodyBytes) callback(bodyTooLarge(maxBodyBytes));
      else callback(null, chunk);
    },
  });
}
