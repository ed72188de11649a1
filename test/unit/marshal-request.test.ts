import { describe, expect, it } from 'vitest';
import { goHeaderMap, goJsonString, marshalRequest } from '../../src/modes/marshal-request.js';

const text = (rawHeaders: string[], body = ''): string =>
  marshalRequest(rawHeaders, Buffer.from(body)).toString('utf8');

describe('marshalRequest', () => {
  it('gives {"header":{},"body":{"raw":""}} for a GET with no headers (verified)', () => {
    expect(text(['Host', 'example.com'])).toBe('{"header":{},"body":{"raw":""}}');
  });

  it('matches the verified POST example byte for byte', () => {
    const raw = ['Host', 'x', 'Content-Type', 'application/json', 'X-Test', '<v&>', 'Transfer-Encoding', 'chunked'];
    expect(text(raw, 'hello')).toBe(
      '{"header":{"Content-Type":["application/json"],"X-Test":["\\u003cv\\u0026\\u003e"]},"body":{"raw":"aGVsbG8="}}',
    );
  });

  it('sorts keys, canonicalises names, keeps every value in order and includes Content-Length', () => {
    const raw = ['x-b', '2', 'content-length', '3', 'X-A', 'one', 'x-a', 'two', 'accept', '*/*'];
    expect(text(raw, 'abc')).toBe(
      '{"header":{"Accept":["*/*"],"Content-Length":["3"],"X-A":["one","two"],"X-B":["2"]},"body":{"raw":"YWJj"}}',
    );
  });

  it('encodes a binary body as standard base64 with padding', () => {
    const body = Buffer.from([0xff, 0xfe, 0x00, 0x3e, 0x3f]);
    expect(marshalRequest([], body).toString()).toBe('{"header":{},"body":{"raw":"//4APj8="}}');
  });

  it('escapes quotes, backslashes, tabs and U+2028/U+2029 the way Go does', () => {
    // Header values arrive as latin1: U+2028 is the UTF-8 bytes E2 80 A8.
    const u2028 = Buffer.from('\u2028', 'utf8').toString('latin1');
    expect(goJsonString(`a"b\\c\td${u2028}`)).toBe('"a\\"b\\\\c\\td\\u2028"');
  });
});

describe('goHeaderMap', () => {
  it('drops Host and Transfer-Encoding and adds Cache-Control for Pragma: no-cache', () => {
    const map = goHeaderMap(['Host', 'h', 'transfer-encoding', 'chunked', 'pragma', 'no-cache']);
    expect([...map.entries()]).toEqual([
      ['Pragma', ['no-cache']],
      ['Cache-Control', ['no-cache']],
    ]);
  });
});

describe('goJsonString', () => {
  const latin1 = (bytes: number[]): string => Buffer.from(bytes).toString('latin1');

  it('writes valid UTF-8 header bytes as the characters they encode', () => {
    expect(goJsonString(latin1([0x63, 0x61, 0x66, 0xc3, 0xa9]))).toBe('"café"');
    expect(goJsonString(latin1([0xf0, 0x9f, 0x98, 0x80]))).toBe('"😀"');
    // A real U+FFFD in the input stays a character; only invalid bytes become the escape.
    expect(goJsonString(latin1([0xef, 0xbf, 0xbd]))).toBe('"\ufffd"');
  });

  it('writes each invalid byte as the escape \\ufffd, as Go does', () => {
    expect(goJsonString(latin1([0x61, 0xff, 0x62]))).toBe('"a\\ufffdb"');
    // A truncated 3-byte sequence: one replacement per byte (WHATWG decoding would give one in total).
    expect(goJsonString(latin1([0xe2, 0x82]))).toBe('"\\ufffd\\ufffd"');
    // Surrogates and overlong forms are invalid.
    expect(goJsonString(latin1([0xed, 0xa0, 0x80]))).toBe('"\\ufffd\\ufffd\\ufffd"');
    expect(goJsonString(latin1([0xc0, 0xaf]))).toBe('"\\ufffd\\ufffd"');
  });

  it('escapes control characters as \\u00XX and leaves DEL alone', () => {
    expect(goJsonString('a\u0001b\u007f')).toBe('"a\\u0001b\u007f"');
  });
});
