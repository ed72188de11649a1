import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { isGone } from '../helpers/process.js';

async function waitUntil(what: string, test: () => boolean, ms = 3000): Promise<void> {
  await withTimeout(
    (async () => {
      while (!test()) await new Promise((r) => setTimeout(r, 20));
    })(),
    ms,
    what,
  );
}

/** Kills a leftover process by pid at the end of a test (it should already be gone). */
function killAtEnd(pidFile: string): void {
  onTestFinished(() => {
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0 && !isGone(pid)) process.kill(pid, 'SIGKILL');
  });
}

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

  it('round-trips a 1 MiB binary body byte-exact', async () => {
    const wd = await startWatchdog({ mode: 'serializing', fprocess: 'cat' });
    const body = randomBytes(1 << 20);
    const res = await send(wd.url, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(res.body.equals(body)).toBe(true);
  });

  it('passes the Http_* variables of of-watchdog, without the classic extras', async () => {
    const wd = await startWatchdog({ mode: 'serializing', fprocess: fixture('env-dump') });
    const res = await send(`${wd.url}/a%20b?x=%20y`, { method: 'POST', headers: { 'X-Custom-Header': 'v1' }, body: 'ab' });
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

  it('answers 500 with a short reason when the program cannot be started', async () => {
    const dir = makeTmpDir();
    const program = join(dir, 'vanishing');
    copyFileSync(fixture('env-dump'), program);
    const wd = await startWatchdog({ mode: 'serializing', fprocess: program });
    rmSync(program);
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(res.text).toMatch(/ENOENT/);
    expect(res.text.endsWith('\n')).toBe(false);
  });

  it('answers 500 "signal: killed" at exec_timeout and kills a grandchild that ignores SIGTERM', async () => {
    const pidFile = join(makeTmpDir(), 'gc.pid');
    killAtEnd(pidFile);
    const wd = await startWatchdog({ mode: 'serializing', fprocess: fixture('grandchild-holds-stdout'), exec_timeout: '200ms', GRANDCHILD_PID_FILE: pidFile });
    const started = Date.now();
    const res = await withTimeout(send(wd.url), 3000, 'timed-out request');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(500);
    expect(res.text).toBe('signal: killed');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    await waitUntil('grandchild to be killed', () => isGone(pid));
  });

  it('X-Timeout shortens exec_timeout', async () => {
    const wd = await startWatchdog({ mode: 'serializing', fprocess: `${fixture('sleep-then-echo')} 5`, exec_timeout: '10s' });
    const res = await withTimeout(send(wd.url, { headers: { 'X-Timeout': '200ms' } }), 3000, 'X-Timeout request');
    expect(res.status).toBe(500);
    expect(res.text).toBe('signal: killed');
  });

  it('answers once the function exits even if a background child keeps its output open, and ends that child', async () => {
    const pidFile = join(makeTmpDir(), 'bg.pid');
    killAtEnd(pidFile);
    const wd = await startWatchdog({ mode: 'serializing', fprocess: fixture('background-holds-output'), PID_FILE: pidFile });
    const started = Date.now();
    const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 3000, 'request with a lingering child');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok\n');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await waitUntil('the background child to be ended', () => isGone(pid));
  });

  it('kills the process when the client disconnects', async () => {
    const pidFile = join(makeTmpDir(), 'fn.pid');
    killAtEnd(pidFile);
    const wd = await startWatchdog({ mode: 'serializing', fprocess: `${fixture('record-pid')} sleep 30`, PID_FILE: pidFile });
    const req = request(wd.url, { method: 'POST', agent: false });
    req.on('error', () => {
      // The test destroys this request on purpose.
    });
    req.end('x');
    await waitUntil('the function to start', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    req.destroy();
    await waitUntil('the function to be killed', () => isGone(pid));
  });

  it('answers 413 when a chunked body exceeds max_body_bytes, without running the function', async () => {
    const marker = join(makeTmpDir(), 'started');
    const wd = await startWatchdog({ mode: 'serializing', fprocess: fixture('record-start'), max_body_bytes: '10', START_MARKER_FILE: marker });
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(8);
      yield Buffer.alloc(8);
    }
    const res = await send(wd.url, { method: 'POST', body: chunks() });
    expect(res.status).toBe(413);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    expect(existsSync(marker)).toBe(false);
  });
});
