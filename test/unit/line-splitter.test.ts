import { describe, expect, it } from 'vitest';
import { CUT_MARKER } from '../../src/log/line-reader.js';
import { createLineSplitter } from '../../src/log/line-splitter.js';

function split(maxBytes: number, pieces: Array<string | Uint8Array>): string[] {
  const lines: string[] = [];
  const splitter = createLineSplitter(maxBytes, (l) => lines.push(l));
  for (const p of pieces) splitter.write(p);
  splitter.flush();
  return lines;
}

describe("createLineSplitter (an in-process function's stdout and stderr)", () => {
  it('emits one line per newline, joins pieces, drops \\r before \\n, and flushes a last partial line', () => {
    expect(split(1000, ['a\nb', 'c\r\n', 'd', Buffer.from('e\nlast')])).toEqual(['a', 'bc', 'de', 'last']);
  });

  it('emits nothing for no output and an empty line for a lone newline', () => {
    expect(split(1000, [])).toEqual([]);
    expect(split(1000, ['\n'])).toEqual(['']);
  });

  it('cuts a line over maxBytes once, with the marker, skips the rest of it, and goes on with the next line', () => {
    expect(split(8, ['0123456789abc\nnext\n'])).toEqual([`01234567${CUT_MARKER}`, 'next']);
    expect(split(8, ['0123', '4567', '89', 'ab\nok'])).toEqual([`01234567${CUT_MARKER}`, 'ok']);
  });

  it('never cuts inside a UTF-8 character', () => {
    expect(split(5, ['ééé\n'])).toEqual([`éé${CUT_MARKER}`]);
  });

  it('decodes strings written with another encoding', () => {
    const lines: string[] = [];
    createLineSplitter(100, (l) => lines.push(l)).write(Buffer.from('hi\n').toString('base64'), 'base64');
    expect(lines).toEqual(['hi']);
  });
});
