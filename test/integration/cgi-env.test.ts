// cgi_env=rfc3875: RFC 3875 meta-variables for real forked processes, besides the Http_* ones.
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, startWatchdog, withTimeout } from '../helpers/watchdog.js';

function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

/** Sends a chunked POST (no Content-Length) and returns the body text. */
function sendChunked(url: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { 'Transfer-Encoding': 'chunked', ...headers } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, 2));
    req.end(body.slice(2));
  });
}

describe.each(['streaming', 'serializing', 'classic'] as const)('cgi_env=rfc3875 in %s mode', (mode) => {
  it('gives RFC 3875 meta-variables and HTTP_<NAME>, keeping the Http_* ones', async () => {
    const wd = await startWatchdog({
      mode,
      fprocess: fixture('env-dump'),
      cgi_env: 'rfc3875',
      combine_output: 'false',
    });
    const res = await send(`${wd.url}/a%20b/c?x=%20y&z`, {
      method: 'PUT',
      headers: {
        Host: 'fn.example.com:8443',
        'Content-Type': 'text/plain',
        'X-Multi': ['one', 'two'],
        Cookie: ['a=1', 'b=2'],
        'User-Agent': 'ua/1',
        Authorization: 'Bearer s3cret',
        Proxy: 'http://evil:1',
        X_Forwarded_For: '6.6.6.6',
      },
      body: 'hello',
    });
    expect(res.status).toBe(200);
    const env = parseEnv(res.text);
    expect(env.get('GATEWAY_INTERFACE')).toBe('CGI/1.1');
    expect(env.get('SERVER_SOFTWARE')).toMatch(/^fwatchdog\//);
    expect(env.get('SERVER_PROTOCOL')).toBe('HTTP/1.1');
    expect(env.get('SERVER_NAME')).toBe('fn.example.com');
    expect(env.get('SERVER_PORT')).toBe('8443');
    expect(env.get('REQUEST_METHOD')).toBe('PUT');
    expect(env.get('REQUEST_URI')).toBe('/a%20b/c?x=%20y&z');
    expect(env.get('QUERY_STRING')).toBe('x=%20y&z');
    expect(env.get('SCRIPT_NAME')).toBe('');
    expect(env.get('PATH_INFO')).toBe('/a b/c');
    expect(env.get('CONTENT_TYPE')).toBe('text/plain');
    expect(env.get('CONTENT_LENGTH')).toBe('5');
    expect(env.get('REMOTE_ADDR')).toBe('127.0.0.1');
    expect(env.get('REMOTE_PORT')).toMatch(/^\d+$/);
    expect(env.get('HTTP_HOST')).toBe('fn.example.com:8443');
    expect(env.get('HTTP_USER_AGENT')).toBe('ua/1');
    expect(env.get('HTTP_X_MULTI')).toBe('one, two');
    expect(env.get('HTTP_COOKIE')).toBe('a=1; b=2');
    // Not duplicated, not leaked, not spoofable.
    expect(env.has('HTTP_CONTENT_TYPE')).toBe(false);
    expect(env.has('HTTP_CONTENT_LENGTH')).toBe(false);
    expect(env.has('HTTP_AUTHORIZATION')).toBe(false);
    expect(env.has('HTTP_PROXY')).toBe(false);
    expect(env.has('HTTP_X_FORWARDED_FOR')).toBe(false);
    // The originals' variables are still there.
    expect(env.get('Http_Method')).toBe('PUT');
    expect(env.get('Http_Path')).toBe('/a b/c');
  });

  it('sets CONTENT_LENGTH only when the length is known, and never lets an inherited one through', async () => {
    const wd = await startWatchdog({
      mode,
      fprocess: fixture('env-dump'),
      cgi_env: 'rfc3875',
      combine_output: 'false',
      CONTENT_LENGTH: '999',
      PATH_INFO: '/stale',
      HTTP_X_STALE: '1',
    });
    const get = parseEnv((await send(`${wd.url}/`, { method: 'GET' })).text);
    expect(get.has('CONTENT_LENGTH')).toBe(false);
    expect(get.get('PATH_INFO')).toBe('/');
    expect(get.get('QUERY_STRING')).toBe('');
    expect(get.has('HTTP_X_STALE')).toBe(false);
    const chunked = parseEnv(await withTimeout(sendChunked(`${wd.url}/up`, 'abcdef'), 5000, 'chunked POST'));
    // Streaming cannot know a chunked body's length; the buffered modes have read it whole.
    if (mode === 'streaming') expect(chunked.has('CONTENT_LENGTH')).toBe(false);
    else expect(chunked.get('CONTENT_LENGTH')).toBe('6');
  });
});

describe('cgi_env=rfc3875 with cgi_response=true', () => {
  it('runs a shell CGI program written for Apache unchanged', async () => {
    const wd = await startWatchdog({
      mode: 'streaming',
      fprocess: fixture('cgi-hello'),
      cgi_env: 'rfc3875',
      cgi_response: 'true',
    });
    const res = await send(`${wd.url}/hello/world?name=x`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'ping',
    });
    expect(res.status).toBe(201);
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe('method=POST path=/hello/world query=name=x length=4 type=text/plain body=ping\n');
  });

  it('without cgi_headers in classic, gives the RFC 3875 variables alone', async () => {
    const wd = await startWatchdog({
      mode: 'classic',
      fprocess: fixture('env-dump'),
      cgi_env: 'rfc3875',
      cgi_headers: 'false',
      combine_output: 'false',
    });
    const env = parseEnv((await send(`${wd.url}/p`, { method: 'GET' })).text);
    expect(env.get('REQUEST_METHOD')).toBe('GET');
    expect(env.has('Http_Method')).toBe(false);
  });
});
