import { describe, expect, it } from 'vitest';
import { CgiHeadReader, MAX_CGI_HEAD_BYTES, parseCgiOutput, sendsBody } from '../../src/modes/cgi-response.js';

describe('parseCgiOutput', () => {
  it('needs more output while the block is open and under the bound', () => {
    expect(parseCgiOutput(Buffer.from('Content-Type: text/plain\r\nX-A'), false)).toBeUndefined();
  });

  it('splits the head from a binary body at the first empty line, CRLF or LF', () => {
    const body = Buffer.from([0, 10, 13, 10, 255]);
    for (const nl of ['\n', '\r\n']) {
      const parsed = parseCgiOutput(
        Buffer.concat([Buffer.from(`Status: 404 Not Here${nl}X-A: 1${nl}${nl}`), body]),
        false,
      );
      expect(parsed?.kind).toBe('head');
      if (parsed?.kind !== 'head') return;
      expect(parsed.head).toMatchObject({ status: 404, statusText: 'Not Here', headers: [['X-A', '1']] });
      expect(parsed.body.equals(body)).toBe(true);
    }
  });

  it('keeps the framing to itself: Content-Length is read, hop-by-hop headers are dropped', () => {
    const parsed = parseCgiOutput(
      Buffer.from('Content-Length: 3\nTransfer-Encoding: chunked\nConnection: close\nTE: x\nTrailer: y\nX-B: 2\n\nabc'),
      true,
    );
    expect(parsed).toMatchObject({ kind: 'head', head: { status: 200, contentLength: 3, headers: [['X-B', '2']] } });
  });

  it('rejects an obs-fold continuation line and a control character in a value', () => {
    expect(parseCgiOutput(Buffer.from('X-A: 1\n  folded\n\n'), true)).toMatchObject({
      kind: 'bad',
      reason: expect.stringContaining('line 2'),
    });
    expect(parseCgiOutput(Buffer.from('X-A: a\x01b\n\n'), true)).toMatchObject({
      kind: 'bad',
      reason: expect.stringContaining('control characters'),
    });
  });

  it('finds the block end only within the bound', () => {
    const atLimit = Buffer.from(`X-A: ${'a'.repeat(MAX_CGI_HEAD_BYTES - 8)}\n\n`);
    expect(atLimit.length).toBe(MAX_CGI_HEAD_BYTES - 1);
    expect(parseCgiOutput(atLimit, false)?.kind).toBe('head');
    expect(parseCgiOutput(Buffer.alloc(MAX_CGI_HEAD_BYTES, 'a'), false)?.kind).toBe('bad');
  });
});

describe('CgiHeadReader', () => {
  it('decides once, across chunks that split the empty line', () => {
    const reader = new CgiHeadReader();
    expect(reader.push(Buffer.from('Status: 201\r'))).toBeUndefined();
    expect(reader.push(Buffer.from('\n\r'))).toBeUndefined();
    const parsed = reader.push(Buffer.from('\nbody'));
    expect(parsed).toMatchObject({ kind: 'head', head: { status: 201 } });
    expect(parsed?.kind === 'head' && parsed.body.toString()).toBe('body');
    expect(reader.done).toBe(true);
    expect(reader.end()).toBeUndefined();
  });

  it('reports a block cut by the end of output', () => {
    const reader = new CgiHeadReader();
    reader.push(Buffer.from('X-A: 1\n'));
    expect(reader.end()).toMatchObject({ kind: 'bad', reason: expect.stringContaining('ended before the empty line') });
  });
});

describe('statuses without a body', () => {
  it.each([204, 304])('Status: %i drops a declared Content-Length; sendsBody says no body', (code) => {
    const parsed = parseCgiOutput(Buffer.from(`Status: ${code}\r\nContent-Length: 5\r\n\r\nhello`), true);
    expect(parsed?.kind).toBe('head');
    if (parsed?.kind !== 'head') return;
    expect(parsed.head.status).toBe(code);
    expect(parsed.head.contentLength).toBeUndefined();
    expect(sendsBody(code)).toBe(false);
  });

  it('keeps the Content-Length of a 200 and lets it send a body', () => {
    const parsed = parseCgiOutput(Buffer.from('Status: 200\r\nContent-Length: 5\r\n\r\nhello'), true);
    expect(parsed?.kind === 'head' && parsed.head.contentLength).toBe(5);
    expect(sendsBody(200)).toBe(true);
  });
});
