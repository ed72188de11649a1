// Enforces the request body limit (max_body_bytes, or max_buffered_body_bytes in a buffering mode).
import { Transform, type TransformCallback } from 'node:stream';
import type { WatchdogConfig } from '../config/load-config.js';
import { bodyTooLarge } from '../errors.js';

/** The limit a request body is held to, and the variable that sets it; bytes 0 = none. */
export interface BodyLimit {
  bytes: number;
  variable: string;
}

/**
 * max_body_bytes, or, in a mode that reads the whole body into memory (serializing, classic, http with
 * http_buffer_req_body), max_buffered_body_bytes when it is lower (or max_body_bytes is 0).
 */
export function bodyLimitOf(
  config: Pick<WatchdogConfig, 'mode' | 'maxBodyBytes' | 'maxBufferedBodyBytes' | 'bufferHttpBody'>,
): BodyLimit {
  const buffers =
    config.mode === 'serializing' || config.mode === 'classic' || (config.mode === 'http' && config.bufferHttpBody);
  const buffered = buffers ? config.maxBufferedBodyBytes : 0;
  if (buffered > 0 && (config.maxBodyBytes === 0 || buffered < config.maxBodyBytes))
    return { bytes: buffered, variable: 'max_buffered_body_bytes' };
  return { bytes: config.maxBodyBytes, variable: 'max_body_bytes' };
}

/** A pass-through for bodies of unknown length (chunked) that fails with a 413 WatchdogError once more than `limit.bytes` went through. */
export function createBodyLimit(limit: BodyLimit): Transform {
  let seen = 0;
  const max = limit.bytes;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > max) callback(bodyTooLarge(max, limit.variable));
      else callback(null, chunk);
    },
  });
}
