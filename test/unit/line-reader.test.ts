import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CUT_MARKER, readLines } from '../../src/log/line-reader.js';
import { withTimeout } from '../helpers/watchdog.js';

/** Feeds `chunks` through readLines and resolves with every emitted line once the stream closed. */
async function linesOf(
  chunks: Array<string | Buffer>,
  maxBytes: number,
  end: 'end' | 'destroy' = 'end',
): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  readLines(stream, maxBytes, (l) => lines.push(l));
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  for (const c of chunks) stream.write(c);
  if (end === 'end') stream.end();
  else stream.destroy();
  await withTimeout(closed, 1000, 'stream close');
  return lines;
}

describe('line reader', () => {
  it('splits chunks into lines without the newline', async () => {
    expect(await linesOf(['a\nbb\n', 'ccc\n'], 100)).toEqual(['a', 'bb', 'ccc']);
  });

  it('joins a line that arrives over several chunks', async () => {
    expect(await linesOf(['he', 'll', 'o\nwor', 'ld\n'], 100)).toEqual(['hello', 'world']);
  });

  it('strips a trailing carriage return, also when CR and LF arrive in different chunks', async () => {
    expect(await linesOf(['one\r\ntwo\r', '\nthree\r\n'], 100)).toEqual(['one', 'two', 'three']);
  });

  it('keeps a carriage return in the middle of a line', async () => {
    expect(await linesOf(['a\rb\n'], 100)).toEqual(['a\rb']);
  });

  it('emits a final line that has no newline at the end of the stream', async () => {
    expect(await linesOf(['first\nlast without newline'], 100)).toEqual(['first', 'last without newline']);
  });

  it('emits the unterminated tail when the stream is destroyed (process killed)', async () => {
    expect(await linesOf(['done\ntail'], 100, 'destroy')).toEqual(['done', 'tail']);
  });

  it('keeps a line of exactly log_buffer_size bytes whole', async () => {
    expect(await linesOf(['12345\n'], 5)).toEqual(['12345']);
  });

  it('cuts a line longer than log_buffer_size with the marker and keeps reading the next lines', async () => {
    const lines = await linesOf(['abcdefghij\nnext\n'], 4);
    expect(lines).toEqual([`abcd${CUT_MARKER}`, 'next']);
  });

  it('cuts a long line that arrives over many chunks once, and skips the rest of it', async () => {
    const chunks = ['xxxx', 'xxxx', 'xxxx', 'xx\nafter\n', 'tail'];
    const lines = await linesOf(chunks, 6);
    expect(lines).toEqual([`xxxxxx${CUT_MARKER}`, 'after', 'tail']);
  });

  it('drops the remainder of an over-long unterminated line at the end instead of emitting it twice', async () => {
    const lines = await linesOf(['ok\n', 'y'.repeat(50)], 10);
    expect(lines).toEqual(['ok', `${'y'.repeat(10)}${CUT_MARKER}`]);
  });

  it('cuts an over-long line before a multi-byte UTF-8 character instead of splitting it', async () => {
    // "aé€" is 1 + 2 + 3 bytes; a 4-byte limit falls inside "€".
    expect(await linesOf(['aé€b\nnext\n'], 4)).toEqual([`aé${CUT_MARKER}`, 'next']);
    expect(await linesOf(['aé€b\n'], 2)).toEqual([`a${CUT_MARKER}`]);
  });

  it('reads a 1 MiB line followed by 10 MiB of lines without stopping', async () => {
    const stream = new PassThrough();
    let count = 0;
    let first = '';
    readLines(stream, 65536, (l) => {
      if (count === 0) first = l;
      count++;
    });
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    stream.write(Buffer.alloc(1 << 20, 'x'));
    stream.write('\n');
    const line = Buffer.from(`${'y'.repeat(1023)}\n`);
    const block = Buffer.concat(Array.from({ length: 1024 }, () => line));
    for (let i = 0; i < 10; i++) stream.write(block);
    stream.end();
    await withTimeout(closed, 5000, '10 MiB read');
    expect(first).toBe(`${'x'.repeat(65536)}${CUT_MARKER}`);
    expect(count).toBe(1 + 10 * 1024);
  });
});
