import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { send, type RawResponse } from '../helpers/http.js';
import { rawConnect } from '../helpers/raw.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout, type TestWatchdog } from '../helpers/watchdog.js';
import { isGone, pidFrom, until } from '../helpers/process.js';

/** Resolves true once `p` settles, so a test can check whether it already has. */
function settled(p: Promise<unknown>): () => boolean {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}

/** Starts a slow request and waits until it is in flight; returns its response promise in a box (not awaited). */
async function slowRequest(wd: TestWatchdog, seconds: string): Promise<{ response: Promise<RawResponse> }> {
  const response = send(wd.url, { method: 'POST', headers: { 'X-Sleep': seconds }, body: 'slow' });
  response.catch(() => undefined);
  await until(() => wd.watchdog.inFlight === 1, 2000, 'slow request in flight');
  return { response };
}

describe('graceful shutdown', () => {
  it('turns unhealthy and removes the lock file at once, keeps serving through healthcheck_interval, then refuses connections', async () => {
    const wd = await startWatchdog({ fprocess: 'cat', healthcheck_interval: '400ms', log_format: 'text' });
    expect(existsSync(wd.config.lockFilePath)).toBe(true);
    const done = wd.watchdog.shutdown('SIGTERM');
    const isDone = settled(done);
    expect(existsSync(wd.config.lockFilePath)).toBe(false);
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(503);
    const during = await send(wd.url, { method: 'POST', body: 'still serving' });
    expect(during.text).toBe('still serving');
    expect(isDone()).toBe(false);
    await withTimeout(done, 2000, 'shutdown');
    await expect(send(wd.url, { method: 'POST', body: 'late' })).rejects.toThrow(/ECONNREFUSED/);
    await wd.logs.waitFor(`SIGTERM: no new connections in 400ms`);
    await wd.logs.waitFor(`Removing lock-file : ${wd.config.lockFilePath}`);
    await wd.logs.waitFor('No new connections allowed, draining: 0 requests');
    await wd.logs.waitFor('Exiting. Active connections: 0');
  });

  it('lets an in-flight request finish, ends the drain as soon as it is done, and signals its process only after', async () => {
    const dir = makeTmpDir();
    const pidFile = join(dir, 'pid');
    const wd = await startWatchdog({
      fprocess: `${fixture('record-pid')} ${fixture('maybe-sleep')}`,
      PID_FILE: pidFile,
      healthcheck_interval: '100ms',
      write_timeout: '10s',
    });
    const { response: slow } = await slowRequest(wd, '0.6');
    const pid = await pidFrom(pidFile);
    const done = wd.watchdog.shutdown('SIGTERM');
    await wd.logs.waitFor('draining: 1 requests');
    expect(isGone(pid)).toBe(false);
    const res = await withTimeout(slow, 3000, 'in-flight request');
    expect(res.status).toBe(200);
    expect(res.text).toBe('slow');
    // write_timeout is 10s: finishing well within a second shows the drain ended with the request.
    await withTimeout(done, 1000, 'drain end after the last request');
  });

  it('tells keep-alive clients to go when the drain starts: idle connections close, a response in flight says Connection: close', async () => {
    const wd = await startWatchdog({
      fprocess: fixture('maybe-sleep'),
      healthcheck_interval: '0',
      write_timeout: '10s',
    });
    const idle = await rawConnect(wd.port);
    idle.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\ni');
    await until(() => idle.received().endsWith('0\r\n\r\n'), 2000, 'first response on the idle connection');
    expect(idle.received()).not.toMatch(/\r\nConnection:/); // HTTP/1.1: persistent without saying so
    const busy = await rawConnect(wd.port);
    busy.write('POST / HTTP/1.1\r\nHost: x\r\nX-Sleep: 0.3\r\nContent-Length: 1\r\n\r\nb');
    await until(() => wd.watchdog.inFlight === 1, 2000, 'request in flight');
    const done = wd.watchdog.shutdown('SIGTERM');
    await withTimeout(idle.closed, 1000, 'idle keep-alive connection closed');
    const got = await withTimeout(busy.closed, 2000, 'busy connection closed after its response');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).toMatch(/\r\nConnection: close\r\n/);
    expect(got.endsWith('1\r\nb\r\n0\r\n\r\n')).toBe(true);
    await withTimeout(done, 2000, 'shutdown');
  });

  it('finishes at once when idle with healthcheck_interval=0', async () => {
    const wd = await startWatchdog({ fprocess: 'cat', healthcheck_interval: '0', write_timeout: '10s' });
    await withTimeout(wd.watchdog.shutdown('SIGINT'), 500, 'shutdown with healthcheck_interval=0');
    expect(existsSync(wd.config.lockFilePath)).toBe(false);
    await wd.logs.waitFor('SIGINT: no new connections in 0s');
  });

  it('stops a process still running when write_timeout ends the drain', async () => {
    const dir = makeTmpDir();
    const pidFile = join(dir, 'pid');
    const wd = await startWatchdog({
      fprocess: `${fixture('record-pid')} ${fixture('maybe-sleep')}`,
      PID_FILE: pidFile,
      healthcheck_interval: '0',
      write_timeout: '300ms',
      exec_timeout: '30s',
    });
    const { response: slow } = await slowRequest(wd, '10');
    const pid = await pidFrom(pidFile);
    await withTimeout(wd.watchdog.shutdown('SIGTERM'), 3000, 'shutdown bounded by write_timeout');
    await expect(slow).rejects.toThrow();
    await until(() => isGone(pid), 3000, 'function process gone');
  });

  it('abort() (a second signal) stops at once, killing running processes', async () => {
    const dir = makeTmpDir();
    const pidFile = join(dir, 'pid');
    const wd = await startWatchdog({
      fprocess: `${fixture('record-pid')} ${fixture('maybe-sleep')}`,
      PID_FILE: pidFile,
      healthcheck_interval: '10s',
    });
    const { response: slow } = await slowRequest(wd, '10');
    const pid = await pidFrom(pidFile);
    void wd.watchdog.shutdown('SIGTERM');
    await withTimeout(wd.watchdog.abort(), 3000, 'abort');
    // Killed before any output: a 500 naming the signal, or a cut connection.
    const outcome = await slow.then(
      (r) => r.status,
      () => 'aborted',
    );
    expect([500, 'aborted']).toContain(outcome);
    await until(() => isGone(pid), 3000, 'function process gone');
    expect(existsSync(wd.config.lockFilePath)).toBe(false);
  });
});
