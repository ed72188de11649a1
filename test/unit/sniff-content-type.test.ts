import { describe, expect, it } from 'vitest';
import { sniffContentType } from '../../src/modes/sniff-content-type.js';

describe('sniffContentType (Go http.DetectContentType subset)', () => {
  it.each([
    ['hello world\n', 'text/plain; charset=utf-8'],
    ['{"a":1}', 'text/plain; charset=utf-8'],
    ['  <!DOCTYPE html><html></html>', 'text/html; charset=utf-8'],
    ['<p>para</p>', 'text/html; charset=utf-8'],
    ['<?xml version="1.0"?><a/>', 'text/xml; charset=utf-8'],
    ['%PDF-1.7', 'application/pdf'],
  ])('sniffs %j as %s', (body, type) => {
    expect(sniffContentType(Buffer.from(body))).toBe(type);
  });

  it('sniffs image magic numbers and binary data', () => {
    expect(sniffContentType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]))).toBe('image/png');
    expect(sniffContentType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffContentType(Buffer.from([0x01, 0x02, 0x03]))).toBe('application/octet-stream');
  });

  it('gives no type for an empty body', () => {
    expect(sniffContentType(Buffer.alloc(0))).toBeUndefined();
  });

  it('does not take a longer word for an HTML tag', () => {
    expect(sniffContentType(Buffer.from('<Bold claim'))).toBe('text/plain; charset=utf-8');
  });
});
