import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBundle, startCli, type RunningCli } from '../helpers/cli.js';
import { send, type RawResponse } from '../helpers/http.js';
import { rawConnect } from '../helpers/raw.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';
import { freePort, until } from '../helpers/process.js';

beforeAll(() => withTimeout(ensureBundle(), 60_000, 'npm run build'), 70_000);

/** Starts a slow function request (the maybe-sleep fixture sleeps X-Sleep seconds, then echoes). */
function slowRequest(wd: RunningCli, seconds: string): { response: Promise<RawResponse> } {
  const response = send(wd.url, { method: 'POST', headers: { 'X-Sleep': seconds }, body: 'slow' });
  response.catch(() => undefined);
  return { response };
}

/** Polls the metrics port until http_requests_in_flight equals `n`. */
async function waitInFlight(metricsPort: number, n: number): Promise<void> {
  const inFlight = async (): Promise<boolean> =>
    (await send(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined))?.text.includes(
      `\nhttp_requests_in_flight ${n}\n`,
    ) === true;
  await until(inFlight, 3000, `http_requests_in_flight ${n}`, 20);
}

/** Lines logged by the watchdog itself (JSON), in order. */
function messages(wd: RunningCli): string[] {
  return wd.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { msg: string }).msg);
}

describe.each(['SIGTERM', 'SIGINT'] as const)('graceful shutdown on %s (node dist/fwatchdog.cjs)', (signal) => {
  it('goes unhealthy at once, serves through healthcheck_interval, drains the in-flight request, then exits 0', async () => {
    const tmp = makeTmpDir();
    const lock = join(tmp, '.lock');
    const metricsPort = await freePort();
    const wd = await startCli({
      fprocess: fixture('maybe-sleep'),
      TMPDIR: tmp,
      healthcheck_interval: '500ms',
      write_timeout: '10s',
      metrics_port: String(metricsPort),
    });
    expect(existsSync(lock)).toBe(true);
    const { response: inFlight } = slowRequest(wd, '1');
    await waitInFlight(metricsPort, 1);
    const signalledAt = Date.now();
    wd.child.kill(signal);
    await wd.waitForLog(`${signal}: no new connections in 500ms`);
    expect(existsSync(lock)).toBe(false);
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(503);
    // Inside the healthcheck_interval window new requests are still served.
    expect((await send(wd.url, { method: 'POST', body: 'during' })).text).toBe('during');
    await wd.waitForLog('No new connections allowed, draining: 1 requests', 2000);
    // Draining: new connections are refused, the in-flight request still completes normally
    // (its process is not signalled before the drain ends).
    await expect(send(wd.url, { method: 'POST', body: 'late' })).rejects.toThrow(/ECONNREFUSED/);
    const res = await withTimeout(inFlight, 3000, 'in-flight request');
    expect(res.status).toBe(200);
    expect(res.text).toBe('slow');
    const exit = await withTimeout(wd.exited, 2000, 'exit right after the drain, not after write_timeout');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(500);
    const log = messages(wd);
    const order = [
      `${signal}: no new connections in 500ms`,
      `Removing lock-file : ${lock}`,
      'No new connections allowed, draining: 1 requests',
      'Exiting. Active connections: 0',
    ];
    expect(order.map((m) => log.indexOf(m))).toEqual([...order.map((m) => log.indexOf(m))].sort((a, b) => a - b));
    for (const m of order) expect(log).toContain(m);
  });
});

describe('shutdown edge cases (node dist/fwatchdog.cjs)', () => {
  it('sends Connection: close on a keep-alive response that is in flight when the drain starts', async () => {
    const metricsPort = await freePort();
    const wd = await startCli({
      fprocess: fixture('maybe-sleep'),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
      write_timeout: '10s',
      metrics_port: String(metricsPort),
    });
    const conn = await rawConnect(wd.port);
    conn.write('POST / HTTP/1.1\r\nHost: x\r\nX-Sleep: 0.5\r\nContent-Length: 1\r\n\r\nk');
    await waitInFlight(metricsPort, 1);
    wd.child.kill('SIGTERM');
    const got = await withTimeout(conn.closed, 3000, 'connection closed after the response');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).toMatch(/\r\nConnection: close\r\n/);
    expect(await withTimeout(wd.exited, 3000, 'exit')).toEqual({ code: 0, signal: null });
  });

  it('exits promptly with code 0 when idle and healthcheck_interval=0', async () => {
    const tmp = makeTmpDir();
    const wd = await startCli({ fprocess: 'cat', TMPDIR: tmp, healthcheck_interval: '0' });
    wd.child.kill('SIGTERM');
    expect(await withTimeout(wd.exited, 1500, 'exit with healthcheck_interval=0')).toEqual({ code: 0, signal: null });
    expect(existsSync(join(tmp, '.lock'))).toBe(false);
  });

  it('exits at once on a second signal, stopping the function, with a non-zero code and removing the lock file only once', async () => {
    const tmp = makeTmpDir();
    const metricsPort = await freePort();
    const wd = await startCli({
      fprocess: fixture('maybe-sleep'),
      TMPDIR: tmp,
      healthcheck_interval: '30s',
      metrics_port: String(metricsPort),
    });
    const { response } = slowRequest(wd, '20');
    await waitInFlight(metricsPort, 1);
    wd.child.kill('SIGTERM');
    await wd.waitForLog('SIGTERM: no new connections in 30s');
    wd.child.kill('SIGINT');
    const exit = await withTimeout(wd.exited, 3000, 'exit after the second signal');
    expect(exit.code).toBe(1);
    expect(messages(wd)).toContain('SIGINT again: exiting now');
    // The lock file is removed once, at the first signal: the second one does not try again (and fail with ENOENT).
    expect(messages(wd).filter((m) => /Removing lock-file|unhealthy/.test(m))).toEqual([
      `Removing lock-file : ${join(tmp, '.lock')}`,
    ]);
    const outcome = await withTimeout(
      response.then(
        (r) => r.status,
        () => 'aborted',
      ),
      3000,
      'the slow request to end',
    );
    expect([500, 'aborted']).toContain(outcome);
    expect(existsSync(join(tmp, '.lock'))).toBe(false);
  });
});
