// cgi_response=true in the three fork modes: status and headers from the function's CGI header block.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { metricValue, send } from '../helpers/http.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';

const MODES = ['streaming', 'serializing', 'classic'] as const;

/** The function is `cat` (the request body is the CGI output) unless a fixture is named. */
async function cgiWatchdog(mode: (typeof MODES)[number], env: Record<string, string> = {}) {
  return startWatchdog({ mode, fprocess: 'cat', cgi_response: 'true', ...env });
}

async function metric(wd: Awaited<ReturnType<typeof startWatchdog>>, name: string): Promise<number> {
  return metricValue(await wd.metrics.registry.metrics(), name);
}

describe.each(MODES)('cgi_response=true in %s mode', (mode) => {
  it('takes the status from Status:, keeps repeated headers, drops hop-by-hop ones (CRLF lines)', async () => {
    const wd = await cgiWatchdog(mode);
    const out =
      'Status: 201 Created\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nKeep-Alive: timeout=1\r\nUpgrade: h2c\r\nX-Empty:\r\n\r\n{"ok":true}';
    const res = await send(wd.url, { method: 'POST', body: out });
    expect(res.status).toBe(201);
    expect(res.text).toBe('{"ok":true}');
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['x-empty']).toBe('');
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers.upgrade).toBeUndefined();
  });

  it('answers 200 without a Status line, with LF-only lines and the reason phrase of the Status line', async () => {
    const wd = await cgiWatchdog(mode);
    const plain = await send(wd.url, {
      method: 'POST',
      body: 'Content-Type: text/plain\nX-A: 1\n\nbody\nwith\nlines\n',
    });
    expect(plain.status).toBe(200);
    expect(plain.headers['x-a']).toBe('1');
    expect(plain.text).toBe('body\nwith\nlines\n');
    const teapot = await send(wd.url, { method: 'POST', body: 'Status: 418 Short And Stout\n\n' });
    expect(teapot.status).toBe(418);
    expect(teapot.text).toBe('');
  });

  it('uses content_type when the function gives no Content-Type', async () => {
    const wd = await cgiWatchdog(mode, { content_type: 'text/csv' });
    const res = await send(wd.url, { method: 'POST', body: 'X-A: 1\n\na,b\n' });
    expect(res.headers['content-type']).toBe('text/csv');
  });

  it('turns a Location without Status into a 302', async () => {
    const wd = await cgiWatchdog(mode);
    const res = await send(wd.url, { method: 'POST', body: 'Location: https://example.com/next\n\n' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://example.com/next');
  });

  it.each([
    ['no empty line before the end', 'Content-Type: text/plain\nhello', 'the output ended before the empty line'],
    ['nothing at all', '', 'the function wrote nothing'],
    [
      'a line without a colon',
      'Content-Type: text/plain\nthis is not a header\n\nbody',
      'line 2 of the CGI header block is not "Name: value"',
    ],
    ['a bad status', 'Status: two hundred\n\n', 'Status: "two hundred" is not a status'],
    ['a status out of range', 'Status: 99 Low\n\n', 'Status: "99 Low" is not a status'],
    ['two Status lines', 'Status: 200\nStatus: 201\n\n', 'more than one Status line'],
    ['a header block over 64 KiB', `X-Big: ${'a'.repeat(70 * 1024)}\n\n`, 'within the first 65536 bytes'],
  ])('answers 502 naming what is wrong for %s, logs it and counts it', async (_what, out, message) => {
    const wd = await cgiWatchdog(mode);
    const res = await send(wd.url, { method: 'POST', body: out });
    expect(res.status).toBe(502);
    expect(res.headers['x-openfaas-internal']).toBeDefined();
    expect(res.text).toContain('bad CGI response from the function: ');
    expect(res.text).toContain(message);
    await wd.logs.waitFor('function wrote a bad CGI response');
    expect(await metric(wd, 'fwatchdog_cgi_bad_responses_total')).toBe(1);
  });

  it('answers 502 when the body does not match a declared Content-Length', async () => {
    const wd = await cgiWatchdog(mode);
    const res = await send(wd.url, { method: 'POST', body: 'Content-Length: 10\n\nshort' }).catch((err: Error) => err);
    if (mode === 'streaming') {
      // The head is on the wire when the body falls short: the connection is cut, never a clean short answer.
      expect(res).toBeInstanceOf(Error);
    } else {
      expect((res as { status: number }).status).toBe(502);
      expect((res as { text: string }).text).toContain('Content-Length: 10 but the body has 5 bytes');
    }
    await wd.logs.waitFor('function wrote a bad CGI response');
  });

  it('keeps the exit-code rule of the mode when the function fails after a good header block', async () => {
    const wd = await cgiWatchdog(mode, { fprocess: fixture('cgi-head-then-fail') });
    const res = await send(wd.url, { method: 'POST', body: 'x' }).catch((err: Error) => err);
    if (mode === 'streaming') {
      // The 201 went out with the body's first bytes; a failure afterwards cuts the connection.
      expect(res).toBeInstanceOf(Error);
    } else {
      expect((res as { status: number }).status).toBe(500);
      expect((res as { text: string }).text).toContain('exit status 3');
    }
  });

  it('keeps the timeout rule of the mode when the header block never comes', async () => {
    const wd = await cgiWatchdog(mode, { fprocess: `${fixture('sleep-then-echo')} 5`, exec_timeout: '200ms' });
    const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 5000, 'timed-out call');
    expect(res.status).toBe({ streaming: 504, serializing: 500, classic: 408 }[mode]);
    expect(await metric(wd, 'fwatchdog_exec_timeouts_total')).toBe(1);
  });

  it('carries a 3 MiB binary body after the header block byte-exact', async () => {
    const wd = await cgiWatchdog(mode);
    const body = randomBytes(3 << 20);
    const res = await send(wd.url, {
      method: 'POST',
      body: Buffer.concat([Buffer.from('Content-Type: application/octet-stream\r\n\r\n'), body]),
    });
    expect(res.status).toBe(200);
    expect(res.body.equals(body)).toBe(true);
  });
});

describe('cgi_response=true in streaming mode', () => {
  it('sends the head and the first body bytes before the function has finished', async () => {
    const wd = await startWatchdog({
      mode: 'streaming',
      fprocess: `${fixture('cgi-slow-body')} 0.6`,
      cgi_response: 'true',
    });
    const started = Date.now();
    const { headAt, firstAt, endAt, text, step } = await withTimeout(
      new Promise<{ headAt: number; firstAt: number; endAt: number; text: string; step: string | undefined }>(
        (resolve, reject) => {
          const req = request(wd.url, { method: 'GET', agent: false }, (res) => {
            const headAt = Date.now() - started;
            let firstAt = 0;
            let text = '';
            res.on('data', (c: Buffer) => {
              if (firstAt === 0) firstAt = Date.now() - started;
              text += c.toString();
            });
            res.on('end', () =>
              resolve({
                headAt,
                firstAt,
                endAt: Date.now() - started,
                text,
                step: res.headers['x-step'] as string | undefined,
              }),
            );
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end();
        },
      ),
      5000,
      'slow CGI answer',
    );
    expect(step).toBe('head');
    expect(text).toBe('first\nsecond\n');
    // The function sleeps 0.6 s between "first" and "second": both the head and "first" came well before.
    expect(endAt - headAt).toBeGreaterThan(300);
    expect(endAt - firstAt).toBeGreaterThan(300);
  });

  it('streams a declared Content-Length through and answers HEAD with it', async () => {
    const wd = await startWatchdog({ mode: 'streaming', fprocess: 'cat', cgi_response: 'true' });
    const res = await send(wd.url, { method: 'POST', body: 'Content-Length: 5\r\n\r\nhello' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('5');
    expect(res.text).toBe('hello');
  });
});

describe('cgi_response=true in classic mode', () => {
  it('sniffs the Content-Type when neither the function nor content_type gives one, never echoing the request', async () => {
    const wd = await cgiWatchdog('classic');
    const res = await send(wd.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'X-A: 1\n\n<html><body>hi</body></html>',
    });
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('keeps stderr out of the header block (combine_output is off with cgi_response)', async () => {
    const wd = await startWatchdog({
      mode: 'classic',
      fprocess: `sh -c "echo oops >&2; printf 'Status: 202\\n\\nok'"`,
      cgi_response: 'true',
    });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(202);
    expect(res.text).toBe('ok');
    await wd.logs.waitFor('oops');
  });
});

describe('cgi_response=true with ready_path', () => {
  it('lets a streaming function answer /_/ready with its own status (503 while warming up)', async () => {
    const flag = join(makeTmpDir(), 'ready');
    const wd = await startWatchdog({
      mode: 'streaming',
      fprocess: fixture('cgi-ready'),
      READY_FILE: flag,
      cgi_response: 'true',
      ready_path: '/ready',
    });
    const before = await send(`${wd.url}/_/ready`);
    // The function's status decides; the client gets the watchdog's own empty answer, never the function's body.
    expect([before.status, before.text]).toEqual([503, '']);
    writeFileSync(flag, '');
    const after = await send(`${wd.url}/_/ready`);
    expect([after.status, after.text]).toEqual([200, '']);
  });
});
