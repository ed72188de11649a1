import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { isGone, killAtEnd, until } from '../helpers/process.js';

describe('streaming mode', () => {
  it('echoes the request body with the default octet-stream Content-Type', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    const res = await send(wd.url, { method: 'POST', body: 'hi' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('hi');
    expect(res.headers['content-type']).toBe('application/octet-stream');
  });

  it('passes Http_* variables to the process', async () => {
    const wd = await startWatchdog({ fprocess: fixture('env-dump') });
    const res = await send(`${wd.url}/a%20b/c?x=%20y&z`, {
      method: 'POST',
      headers: { 'X-Custom-Header': 'v1', Query: 'spoof' },
      body: 'ab',
    });
    expect(res.status).toBe(200);
    const env = res.text.split('\n');
    expect(env).toContain('Http_X_Custom_Header=v1');
    expect(env).toContain('Http_Method=POST');
    expect(env).toContain('Http_Query=x=%20y&z');
    expect(env).toContain('Http_Path=/a b/c');
    expect(env).toContain('Http_Content_Length=2');
    expect(env.some((l) => l.startsWith('Http_Host='))).toBe(false);
  });

  it('returns 500 with the exit status when the process exits 1 before any output', async () => {
    const wd = await startWatchdog({ fprocess: `${fixture('exit-code')} 1 quiet` });
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(res.text).toBe('exit status 1\n');
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    await wd.logs.waitFor('err line');
  });

  it('aborts the connection when the process fails after output started', async () => {
    const wd = await startWatchdog({ fprocess: fixture('write-then-fail') });
    await expect(send(wd.url)).rejects.toThrow();
  });

  it('kills the whole process group on exec_timeout, grandchild included, without waiting for it to die before answering', async () => {
    const pidFile = join(makeTmpDir('gc-'), 'gc.pid');
    killAtEnd(pidFile);
    const wd = await startWatchdog({
      fprocess: fixture('grandchild-holds-stdout'),
      exec_timeout: '200ms',
      GRANDCHILD_PID_FILE: pidFile,
    });
    // "started" was already streamed, so the committed 200 must be aborted, not completed.
    await expect(withTimeout(send(wd.url), 3000, 'timed-out request')).rejects.toThrow(
      /socket hang up|aborted|ECONNRESET/,
    );
    // The answer did not wait for the group to die: the grandchild ignores SIGTERM and still runs until the
    // SIGKILL that follows after the 1 s grace (evidence from /proc, not a clock bound).
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(isGone(pid)).toBe(false);
    // SIGTERM is ignored by the grandchild; SIGKILL follows after the grace.
    await until(() => isGone(pid), 3000, 'the grandchild to be killed');
  });

  it('answers 504 when exec_timeout fires before any output', async () => {
    const wd = await startWatchdog({ fprocess: `${fixture('sleep-then-echo')} 5`, exec_timeout: '200ms' });
    const started = Date.now();
    const res = await send(wd.url);
    expect(res.status).toBe(504);
    expect(res.text).toContain('exec_timeout');
    // At the timeout, not when the 5 s function would have ended (a bound that holds on a loaded machine).
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('X-Timeout shortens exec_timeout', async () => {
    const wd = await startWatchdog({ fprocess: `${fixture('sleep-then-echo')} 5`, exec_timeout: '10s' });
    const res = await send(wd.url, { headers: { 'X-Timeout': '200ms' } });
    expect(res.status).toBe(504);
  });
});

describe('health and lock file', () => {
  it('writes the lock file once ready and reports healthy', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    expect(existsSync(wd.config.lockFilePath)).toBe(true);
    const res = await send(`${wd.url}/_/health`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('OK');
    const head = await send(`${wd.url}/_/health`, { method: 'HEAD' });
    expect(head.status).toBe(405);
    const ready = await send(`${wd.url}/_/ready`);
    expect(ready.status).toBe(200);
    expect(ready.text).toBe('');
  });

  it('redirects unclean paths with 301 like Go', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    const res = await send(`${wd.url}/a//b/../c?q=1`);
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/a/c?q=1');
  });
});

describe('access log', () => {
  it('counts the body bytes of an answer the watchdog made itself (413)', async () => {
    const wd = await startWatchdog({ fprocess: 'cat', max_body_bytes: '3' });
    const res = await send(wd.url, { method: 'POST', body: 'too long' });
    expect(res.status).toBe(413);
    const line = await wd.logs.waitFor('"status":413');
    expect(JSON.parse(line).bytes).toBe(res.body.length);
    expect(res.body.length).toBeGreaterThan(0);
  });
});
