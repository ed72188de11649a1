// A bug (an uncaught exception, an unhandled rejection) under the built binary: unhealthy at once, the request in flight answered, exit 1.
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { until } from '../helpers/process.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

/** main.ts's FATAL_ANSWER_MS (the requests in flight get that long), plus room for the stop on a loaded machine. */
const EXIT_BOUND_MS = 1000 + 2000;

/** A GET on a fresh connection: the answer, or the error that refused it. */
function attempt(url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end();
  });
}

async function logged(wd: RunningBinary, text: string, ms = 3000): Promise<void> {
  await until(() => wd.stderr.includes(text) || wd.stdout.includes(text), ms, `${JSON.stringify(text)} in the log`);
}

describe('a bug fails safe: unhealthy at once, no new connections, the requests in flight answered, exit 1', () => {
  it.each([
    [
      'an exception the function throws from a timer',
      '/throw-later',
      'uncaught exception: Error: boom from a timer',
      'text',
    ],
    [
      'a rejection of the function that nothing handles',
      '/reject-later',
      'unhandled rejection: Error: rejected in the background',
      'json',
    ],
  ])('inproc: %s', async (_what, path, message, logFormat) => {
    const tmp = makeTmpDir();
    const lock = join(tmp, '.lock');
    const wd = await startBinary({
      mode: 'inproc',
      fprocess: fixture('inproc/async-throw.mjs'),
      TMPDIR: tmp,
      healthcheck_interval: '0',
      log_format: logFormat,
    });
    await wd.waitReady();
    // A keep-alive connection opened before the bug: the probes can still be asked on it once the listener is closed.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => agent.destroy());
    const slow = attempt(`${wd.url}/slow?ms=600`);
    await logged(wd, 'slow started');
    expect((await send(`${wd.url}/_/health`, { agent })).status).toBe(200);
    expect(existsSync(lock)).toBe(true);

    expect(await attempt(`${wd.url}${path}`)).toEqual({ status: 200, body: 'scheduled' });
    await logged(wd, message.slice(message.indexOf(': ') + 2));
    const loggedAt = Date.now();
    // Unhealthy at once: the lock file is gone, and both probes answer 503 on the open connection.
    expect(existsSync(lock)).toBe(false);
    expect((await send(`${wd.url}/_/health`, { agent })).status).toBe(503);
    expect((await send(`${wd.url}/_/ready`, { agent })).status).toBe(503);
    // No new connections; the request in flight still gets its answer.
    expect(await attempt(`${wd.url}/`)).toEqual({ error: 'ECONNREFUSED' });
    expect(await withTimeout(slow, 3000, 'the slow request')).toEqual({ status: 200, body: 'slow done' });
    expect(await withTimeout(wd.exited, EXIT_BOUND_MS, 'the exit')).toEqual({ code: 1, signal: null });
    expect(Date.now() - loggedAt).toBeLessThan(EXIT_BOUND_MS);

    // The error is logged with its stack (a frame in the fixture), and so is what the watchdog does about it.
    if (logFormat === 'json') {
      const lines = wd.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const bug = lines.find((l) => l.msg === message);
      expect(bug).toMatchObject({ level: 50, levelName: 'error' });
      expect(bug?.err).toMatch(/^Error: rejected in the background\n\s+at .*async-throw\.mjs:\d+/);
    } else {
      expect(wd.stderr).toMatch(/uncaught exception: Error: boom from a timer err=.*at .*async-throw\.mjs:\d+/);
    }
    expect(wd.stderr).toContain(`the process is in an unknown state after an ${message.split(':')[0]}: unhealthy now`);
  });
});
