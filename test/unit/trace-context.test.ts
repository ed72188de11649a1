// The call id check and the W3C traceparent parser (src/trace/).
import { describe, expect, it } from 'vitest';
import { isSaneCallId } from '../../src/trace/call-id.js';
import { formatTraceParent, parseTraceParent } from '../../src/trace/traceparent.js';

describe('isSaneCallId', () => {
  it('takes UUIDs and short tokens, refuses empty, over-long and unsafe ids', () => {
    expect(isSaneCallId('9d6f2c1e-0b1a-4c2d-8e3f-123456789abc')).toBe(true);
    expect(isSaneCallId('gw_call.1:2')).toBe(true);
    expect(isSaneCallId('a'.repeat(128))).toBe(true);
    expect(isSaneCallId('a'.repeat(129))).toBe(false);
    expect(isSaneCallId('')).toBe(false);
    for (const bad of ['a b', 'a"b', 'a\nb', 'a\\b', 'a/b', 'é']) expect(isSaneCallId(bad), bad).toBe(false);
  });
});

describe('parseTraceParent', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('parses a version-00 header and a later version with more fields', () => {
    expect(parseTraceParent(valid)).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: '01',
    });
    expect(parseTraceParent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra')?.flags).toBe('00');
    expect(parseTraceParent(formatTraceParent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', true))).toEqual(
      parseTraceParent(valid),
    );
  });

  it('refuses what the spec says to ignore', () => {
    for (const bad of [
      undefined,
      '',
      valid.toUpperCase(),
      `${valid}-x`, // version 00 has exactly four fields
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01',
      '00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      `${valid}, ${valid}`, // two headers joined
    ]) {
      expect(parseTraceParent(bad), String(bad)).toBeUndefined();
    }
  });
});
