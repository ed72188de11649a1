import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { rawConnect } from '../helpers/raw.js';
import { fixture, startWatchdog } from '../helpers/watchdog.js';
import { until } from '../helpers/process.js';

/** Sends a raw keep-alive request and resolves with the response body once Content-Length bytes arrived. */
async function rawBody(port: number, requestText: string | Buffer): Promise<string> {
  const conn = await rawConnect(port);
  conn.write(requestText);
  let body: string | undefined;
  await until(
    () => {
      const got = conn.received();
      const split = got.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)\r\n/i.exec(got);
      if (split === -1 || length === null) return false;
      const rest = got.slice(split + 4);
      if (rest.length < Number(length[1])) return false;
      body = rest;
      return true;
    },
    3000,
    'a raw response',
  );
  return body as string;
}

describe('classic mode', () => {
  it('answers 200 with the output, X-Duration-Seconds and the request Content-Type echoed', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'cat' });
    const res = await send(wd.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe('{"a":1}');
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-duration-seconds']).toMatch(/^\d+\.\d{6}$/);
    expect(res.headers['x-openfaas-internal']).toBeUndefined();
  });

  it('uses content_type over the request Content-Type, and sniffs one like Go when neither exists', async () => {
    const forced = await startWatchdog({ mode: 'classic', fprocess: 'cat', content_type: 'text/csv' });
    const a = await send(forced.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'x' });
    expect(a.headers['content-type']).toBe('text/csv');
    const plain = await startWatchdog({ mode: 'classic', fprocess: 'cat' });
    const b = await send(plain.url, { method: 'POST', body: 'x' });
    expect(b.status).toBe(200);
    expect(b.headers['content-type']).toBe('text/plain; charset=utf-8');
    const html = await send(plain.url, { method: 'POST', body: '<html><body>hi</body></html>' });
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('gives fprocess=env the Http_* variables with the classic extras', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'env' });
    const res = await send(`${wd.url}/some/pa%20th?q=1&x=%20y`, {
      method: 'POST',
      headers: { 'X-Custom': 'yes', Query: 'spoof' },
      body: 'ab',
    });
    expect(res.status).toBe(200);
    const env = res.text.split('\n');
    expect(env).toContain('Http_X_Custom=yes');
    expect(env).toContain('Http_Method=POST');
    expect(env).toContain('Http_Path=/some/pa th');
    expect(env).toContain('Http_Query=q=1&x=%20y');
    expect(env).toContain('Http_ContentLength=2');
    expect(env).toContain('Http_Content_Length=2');
    expect(env).toContain(`Http_Host=127.0.0.1:${wd.port}`);
    expect(env).toContain('mode=classic');
  });

  it('with cgi_headers=false inherits the watchdog env and adds no Http_* variables', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'env', cgi_headers: 'false' });
    const res = await send(`${wd.url}/p?q=1`, { headers: { 'X-Custom': 'yes' } });
    expect(res.status).toBe(200);
    const env = res.text.split('\n');
    expect(env.filter((l) => l.startsWith('Http_'))).toEqual([]);
    expect(env).toContain('cgi_headers=false');
  });

  it('merges stderr into the body in the order the function wrote it (combine_output default)', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: fixture('interleave-output') });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('out1\nerr1\nout2\nerr2\n');
  });

  it('with combine_output=false answers stdout only and logs each stderr line once, as a stderr: line', async () => {
    const wd = await startWatchdog({
      mode: 'classic',
      fprocess: fixture('interleave-output'),
      combine_output: 'false',
      log_format: 'text',
    });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('out1\nout2\n');
    await wd.logs.waitFor(/ stderr: err2$/);
    expect(wd.logs.lines.filter((l) => l.includes('stderr: ')).map((l) => l.slice(l.indexOf('stderr: ')))).toEqual([
      'stderr: err1',
      'stderr: err2',
    ]);
    // No unlabelled line: function output cannot pass for a watchdog line.
    expect(wd.logs.lines).not.toContain('err2');
  });

  it('answers 500 "exit status N" followed by the combined output when the process exits non-zero', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: `${fixture('interleave-output')} 3` });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(res.text).toBe('exit status 3\nout1\nerr1\nout2\nerr2\n');
    expect(res.headers['x-duration-seconds']).toBeUndefined();
  });

  it('answers 500 "exit status N" followed by stdout only when combine_output=false', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: `${fixture('exit-code')} 2`, combine_output: 'false' });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(res.text).toBe('exit status 2\nout line\n');
  });

  it('runs the function for HEAD and OPTIONS too', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'env' });
    const head = await send(wd.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    const options = await send(wd.url, { method: 'OPTIONS' });
    expect(options.status).toBe(200);
    expect(options.text.split('\n')).toContain('Http_Method=OPTIONS');
  });

  /** The marshalled request without the X-Call-Id the watchdog made for it (src/trace/call-id.ts), which it must carry. */
  const withoutCallId = (text: string): string => {
    const made = /"X-Call-Id":\["[0-9a-f-]{36}"\],?/;
    expect(text).toMatch(made);
    return text.replace(made, '');
  };

  it('with marshal_request sends {"header":{},"body":{"raw":""}} for a bare GET', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'cat', marshal_request: 'true' });
    const bare = await rawBody(wd.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(withoutCallId(bare)).toBe('{"header":{},"body":{"raw":""}}');
  });

  it('with marshal_request sends the headers and base64 body exactly like the classic watchdog', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'cat', marshal_request: 'true' });
    const raw = await rawBody(
      wd.port,
      'POST / HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nX-Test: <v&>\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    expect(withoutCallId(raw)).toBe(
      '{"header":{"Content-Type":["application/json"],"X-Test":["\\u003cv\\u0026\\u003e"]},"body":{"raw":"aGVsbG8="}}',
    );
  });

  it('with marshal_request writes non-ASCII header bytes as Go does: UTF-8 kept, invalid bytes as \\ufffd', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'cat', marshal_request: 'true' });
    const head = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf'),
      Buffer.from([0xc3, 0xa9, 0xff]),
      Buffer.from('\r\n\r\n'),
    ]);
    const body = await rawBody(wd.port, head);
    expect(withoutCallId(Buffer.from(body, 'latin1').toString('utf8'))).toBe(
      '{"header":{"X-Name":["café\\ufffd"]},"body":{"raw":""}}',
    );
  });

  it('answers 413 through sendError when a chunked body exceeds max_body_bytes', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'cat', max_body_bytes: '10' });
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(8);
      yield Buffer.alloc(8);
    }
    const res = await send(wd.url, { method: 'POST', body: chunks() });
    expect(res.status).toBe(413);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
  });

  it('logs the classic lines in text format, and output and headers with write_debug and debug_headers', async () => {
    const wd = await startWatchdog({
      mode: 'classic',
      fprocess: 'cat',
      log_format: 'text',
      write_debug: 'true',
      debug_headers: 'true',
    });
    const res = await send(`${wd.url}/p?q=1`, {
      method: 'POST',
      headers: { Authorization: 'Bearer s3cret', 'X-Shown': 'v' },
      body: 'hello',
    });
    expect(res.status).toBe(200);
    await wd.logs.waitFor(/ Forking fprocess\.$/);
    await wd.logs.waitFor(/ Duration: \d+\.\d{6}s$/);
    await wd.logs.waitFor(/ Query {2}q=1$/);
    await wd.logs.waitFor(/ Path {2}\/p$/);
    await wd.logs.waitFor(/ \[in\] X-Shown=\[v\]$/);
    await wd.logs.waitFor(/ \[in\] Authorization=\[\[redacted\]\]$/);
    await wd.logs.waitFor(/ \[out\] X-Duration-Seconds=\[/);
    await wd.out.waitFor(/ stdout: hello$/);
    expect(wd.logs.text).not.toContain('s3cret');
  });

  it('logs "Wrote <n> Bytes - Duration" after a request in text format', async () => {
    const wd = await startWatchdog({ mode: 'classic', fprocess: 'cat', log_format: 'text' });
    await send(wd.url, { method: 'POST', body: 'hello' });
    await wd.logs.waitFor(/ Wrote 5 Bytes - Duration: \d+\.\d{6}s$/);
  });
});
