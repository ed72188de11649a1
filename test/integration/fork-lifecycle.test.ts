// What the fork modes share: bodies byte-exact; and for classic and serializing, the process lifecycle
// (a program that cannot start, timeouts, lingering children, disconnects).
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { isGone, killAtEnd, until } from '../helpers/process.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';

const waitGone = (pid: number, what: string): Promise<void> => until(() => isGone(pid), 3000, what);

describe.each(['streaming', 'serializing', 'classic'])('%s mode body', (mode) => {
  it('round-trips a 1 MiB binary body byte-exact', async () => {
    const wd = await startWatchdog({ mode, fprocess: 'cat' });
    const body = randomBytes(1 << 20);
    const res = await send(wd.url, { method: 'PUT', body });
    expect(res.status).toBe(200);
    expect(res.body.equals(body)).toBe(true);
  });
});

describe.each([
  {
    mode: 'classic',
    timeoutStatus: 408,
    timeoutBody: 'Killed process.\n',
    notStartedBody: 'the function could not be started\n',
  },
  {
    mode: 'serializing',
    timeoutStatus: 500,
    timeoutBody: 'signal: killed',
    notStartedBody: 'the function could not be started',
  },
])('$mode mode process lifecycle', ({ mode, timeoutStatus, timeoutBody, notStartedBody }) => {
  it('answers 500 with a generic reason when the program cannot be started, and logs the path and errno', async () => {
    const program = join(makeTmpDir(), 'vanishing');
    copyFileSync(fixture('env-dump'), program);
    const wd = await startWatchdog({ mode, fprocess: program });
    rmSync(program);
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    // The client reads a generic reason; the path and errno go to the log only.
    expect(res.text).toBe(notStartedBody);
    expect(await wd.logs.waitFor(/could not be started.*ENOENT/)).toContain(program);
  });

  it(`answers ${timeoutStatus} ${JSON.stringify(timeoutBody)} at exec_timeout and kills a grandchild that ignores SIGTERM`, async () => {
    const pidFile = join(makeTmpDir(), 'gc.pid');
    killAtEnd(pidFile);
    const wd = await startWatchdog({
      mode,
      fprocess: fixture('grandchild-holds-stdout'),
      exec_timeout: '200ms',
      GRANDCHILD_PID_FILE: pidFile,
    });
    const res = await withTimeout(send(wd.url), 3000, 'timed-out request');
    // The answer did not wait for the group to die: the grandchild ignores SIGTERM and still runs until the
    // SIGKILL that follows after the 1 s grace (evidence from /proc, not a clock bound).
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(isGone(pid)).toBe(false);
    expect(res.status).toBe(timeoutStatus);
    expect(res.text).toBe(timeoutBody);
    await waitGone(pid, 'grandchild to be killed');
  });

  it(`X-Timeout shortens exec_timeout to a ${timeoutStatus}`, async () => {
    const wd = await startWatchdog({ mode, fprocess: `${fixture('sleep-then-echo')} 5`, exec_timeout: '10s' });
    const res = await withTimeout(send(wd.url, { headers: { 'X-Timeout': '200ms' } }), 3000, 'X-Timeout request');
    expect(res.status).toBe(timeoutStatus);
    expect(res.text).toBe(timeoutBody);
  });

  it('answers once the function exits even if a background child keeps its output open, and ends that child', async () => {
    const pidFile = join(makeTmpDir(), 'bg.pid');
    killAtEnd(pidFile);
    const wd = await startWatchdog({ mode, fprocess: fixture('background-holds-output'), PID_FILE: pidFile });
    const started = Date.now();
    const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 3000, 'request with a lingering child');
    // Long before the background child would end (it sleeps far longer): a bound that holds on a loaded machine.
    expect(Date.now() - started).toBeLessThan(2500);
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok\n');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await waitGone(pid, 'the background child to be ended');
  });

  it('kills the process when the client disconnects', async () => {
    const pidFile = join(makeTmpDir(), 'fn.pid');
    killAtEnd(pidFile);
    const wd = await startWatchdog({ mode, fprocess: `${fixture('record-pid')} sleep 30`, PID_FILE: pidFile });
    const req = request(wd.url, { method: 'POST', agent: false });
    req.on('error', () => {
      // The test destroys this request on purpose.
    });
    req.end('x');
    await until(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
      3000,
      'the function to start',
    );
    const pid = Number(readFileSync(pidFile, 'utf8'));
    req.destroy();
    await waitGone(pid, 'the function to be killed');
  });
});
