// Splits text written in pieces (an in-process function's console output) into whole lines, synchronously.
import { CUT_MARKER } from './line-reader.js';

export interface LineSplitter {
  /** Takes a piece of output; calls onLine for every line it completes. */
  write(chunk: string | Uint8Array, encoding?: BufferEncoding): void;
  /** Emits a last line that has no newline yet (at exit). */
  flush(): void;
}

/**
 * Calls `onLine` once per line (without `\n` or a trailing `\r`). A line longer than `maxBytes` is
 * emitted cut, with CUT_MARKER, as soon as it is too long; the rest of it up to the newline is dropped.
 */
export function createLineSplitter(maxBytes: number, onLine: (line: string) => void): LineSplitter {
  let pending = '';
  let skipping = false;

  const emit = (text: string): void => {
    onLine(text.endsWith('\r') ? text.slice(0, -1) : text);
  };

  const add = (piece: string): void => {
    // piece has no newline: it extends the current line, which is cut once over maxBytes.
    if (skipping || piece === '') return;
    pending += piece;
    if (pending.length > maxBytes / 4 && Buffer.byteLength(pending) > maxBytes) {
      onLine(cutToBytes(pending, maxBytes) + CUT_MARKER);
      pending = '';
      skipping = true;
    }
  };

  return {
    write(chunk, encoding) {
      const text =
        typeof chunk !== 'string'
          ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8')
          : encoding === undefined || encoding === 'utf8' || encoding === 'utf-8'
            ? chunk
            : Buffer.from(chunk, encoding).toString('utf8');
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl === -1) {
          add(text.slice(start));
          return;
        }
        if (skipping) skipping = false;
        else if (pending === '' && nl - start <= maxBytes / 4)
          emit(text.slice(start, nl)); // fast path: a short whole line
        else {
          add(text.slice(start, nl));
          if (skipping) skipping = false;
          else {
            emit(pending);
            pending = '';
          }
        }
        start = nl + 1;
      }
    },
    flush() {
      if (pending !== '') emit(pending);
      pending = '';
      skipping = false;
    },
  };
}

/** The longest prefix of `text` that fits `maxBytes` in UTF-8 without splitting a character. */
function cutToBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  let cut = Math.min(maxBytes, bytes.length);
  while (cut > 0 && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
  return bytes.toString('utf8', 0, cut);
}
