import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, requestHasBody, upstreamRequestHeaders } from '../../src/modes/http/forward-headers.js';

/** Just enough of an IncomingMessage for the header functions. */
function fakeRequest(method: string, raw: string[], remoteAddress = '::ffff:10.1.2.3'): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = (raw[i] as string).toLowerCase();
    headers[k] = headers[k] === undefined ? (raw[i + 1] as string) : `${headers[k]}, ${raw[i + 1] as string}`;
  }
  return { method, rawHeaders: raw, headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

function pairs(list: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i] as string, list[i + 1] as string]);
  return out;
}

describe('http mode request headers', () => {
  it('drops hop-by-hop headers and the ones Connection names, and keeps repeated end-to-end headers', () => {
    const req = fakeRequest('GET', [
      'Host',
      'fn.local',
      'Connection',
      'keep-alive, X-Secret',
      'X-Secret',
      's',
      'Keep-Alive',
      '5',
      'TE',
      'trailers',
      'Upgrade',
      'h2c',
      'Accept',
      'a',
      'Accept',
      'b',
    ]);
    expect(pairs(upstreamRequestHeaders(req, '127.0.0.1:5000', {}))).toEqual([
      ['Host', 'fn.local'],
      ['Accept', 'a'],
      ['Accept', 'b'],
      ['X-Forwarded-For', '10.1.2.3'],
      ['X-Forwarded-Host', 'fn.local'],
      ['X-Forwarded-Proto', 'http'],
    ]);
  });

  it('appends to X-Forwarded-For and keeps X-Forwarded-Host/-Proto set by a gateway', () => {
    const req = fakeRequest('GET', [
      'Host',
      'h',
      'X-Forwarded-For',
      '1.1.1.1',
      'X-Forwarded-Host',
      'gw.example',
      'X-Forwarded-Proto',
      'https',
    ]);
    const out = pairs(upstreamRequestHeaders(req, 'u', {}));
    expect(out).toContainEqual(['X-Forwarded-For', '1.1.1.1, 10.1.2.3']);
    expect(out).toContainEqual(['X-Forwarded-Host', 'gw.example']);
    expect(out).toContainEqual(['X-Forwarded-Proto', 'https']);
    expect(out.filter(([k]) => k.toLowerCase() === 'x-forwarded-host')).toHaveLength(1);
  });

  it('frames the body: Content-Length kept, chunked left to undici (no framing header), empty POST gets Content-Length: 0, buffered gets the real length', () => {
    expect(
      pairs(upstreamRequestHeaders(fakeRequest('PUT', ['Host', 'h', 'Content-Length', '7']), 'u', {})),
    ).toContainEqual(['Content-Length', '7']);
    const chunked = pairs(
      upstreamRequestHeaders(fakeRequest('POST', ['Host', 'h', 'Transfer-Encoding', 'chunked']), 'u', {}),
    );
    expect(chunked.map(([k]) => k)).not.toContain('Transfer-Encoding');
    expect(chunked.map(([k]) => k)).not.toContain('Content-Length');
    expect(pairs(upstreamRequestHeaders(fakeRequest('POST', ['Host', 'h']), 'u', {}))).toContainEqual([
      'Content-Length',
      '0',
    ]);
    expect(pairs(upstreamRequestHeaders(fakeRequest('GET', ['Host', 'h']), 'u', {})).map(([k]) => k)).not.toContain(
      'Content-Length',
    );
    const buffered = pairs(
      upstreamRequestHeaders(fakeRequest('POST', ['Host', 'h', 'Transfer-Encoding', 'chunked']), 'u', {
        bufferedLength: 12,
      }),
    );
    expect(buffered).toContainEqual(['Content-Length', '12']);
    expect(buffered.map(([k]) => k)).not.toContain('Transfer-Encoding');
  });

  it('adds the upstream Host only when the client sent none, and keeps Upgrade for a tunnel', () => {
    expect(pairs(upstreamRequestHeaders(fakeRequest('GET', []), '127.0.0.1:5000', {}))).toContainEqual([
      'Host',
      '127.0.0.1:5000',
    ]);
    const ws = pairs(
      upstreamRequestHeaders(fakeRequest('GET', ['Host', 'h', 'Connection', 'Upgrade', 'Upgrade', 'websocket']), 'u', {
        upgrade: true,
      }),
    );
    expect(ws).toContainEqual(['Connection', 'Upgrade']);
    expect(ws).toContainEqual(['Upgrade', 'websocket']);
  });

  it('knows when a request has a body', () => {
    expect(requestHasBody(fakeRequest('POST', ['Content-Length', '0']))).toBe(false);
    expect(requestHasBody(fakeRequest('POST', ['Content-Length', '3']))).toBe(true);
    expect(requestHasBody(fakeRequest('POST', ['Transfer-Encoding', 'chunked']))).toBe(true);
    expect(requestHasBody(fakeRequest('GET', []))).toBe(false);
  });
});

describe('http mode response headers', () => {
  it('drops hop-by-hop headers and the upstream X-Duration-Seconds, keeps repeated Set-Cookie', () => {
    const raw = [
      'Set-Cookie',
      'a=1',
      'Connection',
      'keep-alive, X-Hop',
      'X-Hop',
      '1',
      'Transfer-Encoding',
      'chunked',
      'X-Duration-Seconds',
      '9',
      'Set-Cookie',
      'b=2',
    ];
    expect(pairs(clientResponseHeaders(raw, 'keep-alive, X-Hop'))).toEqual([
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
  });
});
