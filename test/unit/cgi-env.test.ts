import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  buildCgiEnv,
  canonicalHeaderKey,
  cgiName,
  isProxyVariable,
  rfc3875BaseEnv,
  rfc3875Variables,
  splitHost,
  splitTarget,
} from '../../src/process/cgi-env.js';

/** The parts of an IncomingMessage buildCgiEnv reads. */
function req(method: string, url: string, rawHeaders: string[]): IncomingMessage {
  return { method, url, rawHeaders } as unknown as IncomingMessage;
}

const BASE = { PATH: '/usr/bin', fprocess: 'env' };

function httpVars(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('Http_')));
}

describe('canonicalHeaderKey', () => {
  it.each([
    ['content-type', 'Content-Type'],
    ['CONTENT-TYPE', 'Content-Type'],
    ['x-custom-header', 'X-Custom-Header'],
    ['x_custom-header', 'X_custom-Header'],
    ['x-b3-traceid', 'X-B3-Traceid'],
    ['www-authenticate', 'Www-Authenticate'],
    ['bad header', 'bad header'],
  ])('canonicalises %j as Go does: %j', (raw, canonical) => {
    expect(canonicalHeaderKey(raw)).toBe(canonical);
  });

  it('names the variable Http_ + canonical name with - turned into _', () => {
    expect(cgiName('custom-header')).toBe('Http_Custom_Header');
    expect(cgiName('x_custom-header')).toBe('Http_X_custom_Header');
  });
});

describe('splitTarget', () => {
  it('splits at the first ? and keeps both parts raw', () => {
    expect(splitTarget('/a%20b/c?x=%20y&z?w')).toEqual({ path: '/a%20b/c', query: 'x=%20y&z?w' });
    expect(splitTarget('/p')).toEqual({ path: '/p', query: '' });
  });
});

describe('buildCgiEnv', () => {
  it('matches the of-watchdog verified example: first value wins, raw query, decoded path, no Host', () => {
    const env = buildCgiEnv(
      BASE,
      req('POST', '/a%20b/c?x=%20y&z', [
        'Host',
        'example.com:8080',
        'Content-Length',
        '2',
        'X-Multi',
        'one',
        'X-Multi',
        'two',
      ]),
      { classic: false },
    );
    expect(httpVars(env)).toEqual({
      Http_Content_Length: '2',
      Http_X_Multi: 'one',
      Http_Method: 'POST',
      Http_Query: 'x=%20y&z',
      Http_Path: '/a b/c',
    });
  });

  it('keeps the watchdog environment and does not change the base object', () => {
    const base = { ...BASE };
    const env = buildCgiEnv(base, req('GET', '/', ['x-a', '1']), { classic: false });
    expect(env).toMatchObject(BASE);
    expect(base).toEqual(BASE);
  });

  it('uses canonical names whatever the client casing, the first line of a repeated header winning', () => {
    const env = buildCgiEnv(
      BASE,
      req('GET', '/', ['x-custom-header', 'a', 'X-CUSTOM-HEADER', 'b', 'x_custom-header', 'c']),
      { classic: false },
    );
    expect(env.Http_X_Custom_Header).toBe('a');
    expect(env.Http_X_custom_Header).toBe('c');
  });

  it('sets Http_Transfer_Encoding for a chunked request and no Http_Query without a query string', () => {
    const env = buildCgiEnv(BASE, req('POST', '/p', ['Transfer-Encoding', 'chunked']), { classic: false });
    expect(httpVars(env)).toEqual({ Http_Method: 'POST', Http_Path: '/p', Http_Transfer_Encoding: 'chunked' });
  });

  it('does not let a Query, Path or Method header pose as the request (Q22)', () => {
    const env = buildCgiEnv(BASE, req('GET', '/real', ['Query', 'spoof', 'Path', '/fake', 'Method', 'DELETE']), {
      classic: false,
    });
    expect(env.Http_Query).toBeUndefined();
    expect(env.Http_Path).toBe('/real');
    expect(env.Http_Method).toBe('GET');
    const withQuery = buildCgiEnv(BASE, req('GET', '/real?q=1', ['Query', 'spoof']), { classic: false });
    expect(withQuery.Http_Query).toBe('q=1');
  });

  it('adds Cache-Control like Go does for a Pragma: no-cache request', () => {
    expect(buildCgiEnv(BASE, req('GET', '/', ['Pragma', 'no-cache']), { classic: false }).Http_Cache_Control).toBe(
      'no-cache',
    );
    expect(
      buildCgiEnv(BASE, req('GET', '/', ['Pragma', 'no-cache', 'Cache-Control', 'max-age=1']), { classic: false })
        .Http_Cache_Control,
    ).toBe('max-age=1');
  });

  it('adds classic extras: Http_ContentLength, Http_Content_Length and Http_Host', () => {
    const env = buildCgiEnv(
      BASE,
      req('POST', '/a%20b/c?x=%20y&z', ['Host', 'example.com:8080', 'Content-Length', '2', 'Query', 'spoof']),
      { classic: true },
    );
    expect(httpVars(env)).toEqual({
      Http_Content_Length: '2',
      Http_ContentLength: '2',
      Http_Method: 'POST',
      Http_Query: 'x=%20y&z',
      Http_Path: '/a b/c',
      Http_Host: 'example.com:8080',
    });
  });

  it('gives classic content length 0 without a body and -1 for a chunked body', () => {
    const none = buildCgiEnv(BASE, req('GET', '/', ['Host', 'h']), { classic: true });
    expect([none.Http_ContentLength, none.Http_Content_Length]).toEqual(['0', '0']);
    const chunked = buildCgiEnv(BASE, req('POST', '/', ['Host', 'h', 'Transfer-Encoding', 'chunked']), {
      classic: true,
    });
    expect([chunked.Http_ContentLength, chunked.Http_Content_Length, chunked.Http_Transfer_Encoding]).toEqual([
      '-1',
      '-1',
      'chunked',
    ]);
  });

  it('leaves a malformed escape in the path as it came', () => {
    expect(buildCgiEnv(BASE, req('GET', '/a%zz', []), { classic: false }).Http_Path).toBe('/a%zz');
  });
});

describe('rfc3875Variables', () => {
  const socket = {
    localPort: 8080,
    localAddress: '::ffff:10.0.0.2',
    remoteAddress: '::ffff:10.0.0.9',
    remotePort: 5555,
  };
  const rreq = (method: string, url: string, rawHeaders: string[]): IncomingMessage =>
    ({ method, url, rawHeaders, httpVersion: '1.0', socket }) as unknown as IncomingMessage;

  it('falls back to the socket for SERVER_NAME and SERVER_PORT without a Host, and unmaps IPv4 addresses', () => {
    const env = rfc3875Variables(rreq('GET', '/x', []), { serverSoftware: 'fwatchdog/test' });
    expect(env).toMatchObject({
      SERVER_NAME: '10.0.0.2',
      SERVER_PORT: '8080',
      REMOTE_ADDR: '10.0.0.9',
      REMOTE_PORT: '5555',
      SERVER_PROTOCOL: 'HTTP/1.0',
      SERVER_SOFTWARE: 'fwatchdog/test',
    });
  });

  it('uses the exact body length when the mode knows it, and not a zero one', () => {
    expect(
      rfc3875Variables(rreq('POST', '/', ['Transfer-Encoding', 'chunked']), { serverSoftware: 's', bodyLength: 12 })
        .CONTENT_LENGTH,
    ).toBe('12');
    expect(
      rfc3875Variables(rreq('POST', '/', ['Content-Length', '0']), { serverSoftware: 's' }).CONTENT_LENGTH,
    ).toBeUndefined();
  });

  it('splits IPv6 Host headers', () => {
    expect(splitHost('[::1]:9000')).toEqual({ name: '::1', port: '9000' });
    expect(splitHost('[::1]')).toEqual({ name: '::1', port: undefined });
    expect(splitHost('example.com')).toEqual({ name: 'example.com', port: undefined });
  });

  it('removes inherited request variables from the base, but keeps the operator HTTP_PROXY', () => {
    const base = rfc3875BaseEnv({
      PATH: '/bin',
      CONTENT_LENGTH: '9',
      HTTP_X_OLD: '1',
      HTTP_PROXY: 'http://proxy:3128',
    });
    expect(base).toEqual({ PATH: '/bin', HTTP_PROXY: 'http://proxy:3128' });
  });
});

describe('httpoxy: no header becomes a *_proxy variable', () => {
  const PROXY_HEADERS = ['Proxy', 'proxy', 'PROXY', 'X-Proxy', 'Https-Proxy', 'No-Proxy', 'All-Proxy', 'x_proxy'];
  const headers = PROXY_HEADERS.flatMap((name) => [name, 'http://attacker:1']).concat([
    'X-Proxy-Id',
    'kept',
    'Proxyish',
    'kept',
  ]);

  it('reads any name whose lower-cased form ends in _proxy as a proxy variable, as Python urllib and Perl LWP do', () => {
    for (const name of ['Http_Proxy', 'HTTP_PROXY', 'http_proxy', 'Http_X_Proxy', 'HTTP_NO_PROXY', '_proxy'])
      expect(isProxyVariable(name), name).toBe(true);
    for (const name of ['Http_Proxy_Id', 'Http_Proxyish', 'PROXY', 'proxy', 'Http_Xproxy'])
      expect(isProxyVariable(name), name).toBe(false);
  });

  it('cgi_env=openfaas: none of the headers gives a variable ending in _proxy; X-Proxy-Id and Proxyish still pass', () => {
    const env = buildCgiEnv(BASE, req('GET', '/', headers), { classic: true });
    expect(Object.keys(env).filter(isProxyVariable)).toEqual([]);
    expect(env.Http_X_Proxy_Id).toBe('kept');
    expect(env.Http_Proxyish).toBe('kept');
  });

  it('cgi_env=rfc3875: no HTTP_PROXY, HTTP_X_PROXY or HTTP_NO_PROXY from a header', () => {
    const env = rfc3875Variables(req('GET', '/', headers), { serverSoftware: 'fwatchdog/test' });
    expect(Object.keys(env).filter(isProxyVariable)).toEqual([]);
    expect(env.HTTP_X_PROXY_ID).toBe('kept');
  });
});
