import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, startWatchdog } from '../helpers/watchdog.js';

describe('serializing mode', () => {
  it('answers 200 with the whole stdout, the octet-stream Content-Type and X-Duration-Seconds', async () => {
    const wd = await startWatchdog({ mode: 'serializing', fprocess: 'cat' });
    const res = await send(wd.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'hello' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello');
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-length']).toBe('5');
    expect(res.headers['x-duration-seconds']).toMatch(/^\d+\.\d{6}$/);
  });

  it('uses content_type for the response', async () => {
    const wd = await startWatchdog({ mode: 'serializing', fprocess: 'cat', content_type: 'text/plain' });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.headers['content-type']).toBe('text/plain');
  });

  it('passes the Http_* variables of of-watchdog, without the classic extras', async () => {
    const wd = await startWatchdog({ mode: 'serializing', fprocess: fixture('env-dump') });
    const res = await send(`${wd.url}/a%20b?x=%20y`, {
      method: 'POST',
      headers: { 'X-Custom-Header': 'v1' },
      body: 'ab',
    });
    const env = res.text.split('\n');
    expect(env).toContain('Http_X_Custom_Header=v1');
    expect(env).toContain('Http_Method=POST');
    expect(env).toContain('Http_Path=/a b');
    expect(env).toContain('Http_Query=x=%20y');
    expect(env).toContain('Http_Content_Length=2');
    expect(env.some((l) => l.startsWith('Http_Host=') || l.startsWith('Http_ContentLength='))).toBe(false);
  });

  it('answers 500 "exit status N" without a newline, discards stdout and logs stderr, when the process exits non-zero', async () => {
    const wd = await startWatchdog({ mode: 'serializing', fprocess: `${fixture('exit-code')} 1` });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(res.text).toBe('exit status 1');
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['x-duration-seconds']).toMatch(/^\d+\.\d{6}$/);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    await wd.logs.waitFor('err line');
  });

  it('answers 413 when a chunked body exceeds max_body_bytes, without running the function', async () => {
    const marker = join(makeTmpDir(), 'started');
    const wd = await startWatchdog({
      mode: 'serializing',
      fprocess: fixture('record-start'),
      max_body_bytes: '10',
      START_MARKER_FILE: marker,
    });
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(8);
      yield Buffer.alloc(8);
    }
    const res = await send(wd.url, { method: 'POST', body: chunks() });
    expect(res.status).toBe(413);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    expect((await send(wd.url, { method: 'POST', body: 'small' })).text).toBe('small');
    // The function appends its pid to the marker when it starts: exactly one start, the small request's.
    expect(readFileSync(marker, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});
