// Reads a process's output line by line without ever stopping: over-long lines are cut, not fatal.
import type { Readable } from 'node:stream';

export const CUT_MARKER = ' [fwatchdog: line cut at log_buffer_size]';
const NL = 10;
const CR = 13;

/**
 * Drains `stream` to the end and calls `onLine` for each line (without `\n` or a trailing `\r`).
 * A line longer than `maxBytes` is emitted once, cut to `maxBytes` with CUT_MARKER, and the rest
 * of it is skipped; reading never stops, so the writer never blocks on a full pipe.
 * A final line without a newline is emitted at the end.
 */
export function readLines(
  stream: Readable,
  maxBytes: number,
  onLine: (line: string) => void,
  onCut?: () => void,
): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = false;

  const emit = (buf: Buffer, cut: boolean): void => {
    let end = buf.length;
    if (!cut && end > 0 && buf[end - 1] === CR) end--;
    const text = buf.toString('utf8', 0, end);
    onLine(cut ? text + CUT_MARKER : text);
  };

  const take = (chunk: Buffer, start: number, end: number): void => {
    // Adds chunk[start, end) (no newline inside) to the current line, cutting if it grows too long.
    if (skipping || start === end) return;
    const room = maxBytes - pendingBytes;
    if (end - start > room) {
      // Cut before a UTF-8 character that would not fit whole (continuation bytes are 10xxxxxx).
      let cut = start + room;
      while (cut > start && ((chunk[cut] as number) & 0xc0) === 0x80) cut--;
      pending.push(chunk.subarray(start, cut));
      emit(Buffer.concat(pending), true);
      onCut?.();
      pending = [];
      pendingBytes = 0;
      skipping = true;
      return;
    }
    pending.push(chunk.subarray(start, end));
    pendingBytes += end - start;
  };

  stream.on('data', (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, start);
      if (nl === -1) {
        take(chunk, start, chunk.length);
        // Copy what we keep so the pipe's chunk can be released.
        if (pending.length > 0 && pending[pending.length - 1]?.buffer === chunk.buffer) {
          pending[pending.length - 1] = Buffer.from(pending[pending.length - 1] as Buffer);
        }
        return;
      }
      if (!skipping && pendingBytes === 0 && nl - start <= maxBytes) {
        // Fast path: a whole line inside this chunk.
        emit(chunk.subarray(start, nl), false);
      } else {
        take(chunk, start, nl);
        if (!skipping) emit(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending), false);
        pending = [];
        pendingBytes = 0;
        skipping = false;
      }
      start = nl + 1;
    }
  });
  const flush = (): void => {
    if (!skipping && pendingBytes > 0) emit(Buffer.concat(pending), false);
    pending = [];
    pendingBytes = 0;
  };
  stream.once('end', flush);
  // A destroyed stream (process killed) still gives up what it had.
  stream.once('close', flush);
  stream.on('error', () => {
    // A read error on a child's pipe only means the process went away; what was read is kept.
  });
}
