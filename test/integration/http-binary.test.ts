// http mode under the bundled binary: an upstream that exits ends the watchdog; SIGTERM drains first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBundle, startCli, type RunningCli } from '../helpers/cli.js';
import { send } from '../helpers/http.js';
import { freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

/** Starts the built watchdog in http mode with the upstream fixture and waits for the lock file. */
async function startHttpCli(env: Record<string, string>): Promise<RunningCli> {
  const upstreamPort = await freePort();
  return startCli({
    TMPDIR: makeTmpDir(),
    mode: 'http',
    fprocess: fixture('upstreams/upstream'),
    upstream_url: `http://127.0.0.1:${upstreamPort}`,
    PORT: String(upstreamPort),
    log_format: 'text',
    healthcheck_interval: '0',
    ...env,
  });
}

describe('http mode: the built binary', () => {
  beforeAll(() => withTimeout(ensureBundle(), 60_000, 'npm run build'), 70_000);

  it('exits non-zero when the upstream process exits', async () => {
    const wd = await startHttpCli({});
    await send(`${wd.url}/exit?code=0`);
    expect(await withTimeout(wd.exited, 5000, 'watchdog exit')).toEqual({ code: 1, signal: null });
    expect(wd.stderr).toContain('Forked function has terminated: exit status 0');
  });

  it('on SIGTERM finishes the in-flight request first, then sends SIGTERM to the upstream, and exits 0', async () => {
    const marks = join(makeTmpDir(), 'sigterm.txt');
    const wd = await startHttpCli({ SIGTERM_FILE: marks });
    const inFlight = send(`${wd.url}/slow?ms=400`);
    await until(() => wd.stderr.includes('request /slow?ms=400 started'), 3000, 'request at the upstream');
    wd.child.kill('SIGTERM');
    const res = await withTimeout(inFlight, 3000, 'in-flight request');
    expect(res.status).toBe(200);
    expect(res.text).toBe('slow done');
    expect(await withTimeout(wd.exited, 5000, 'watchdog exit')).toEqual({ code: 0, signal: null });
    // The upstream got SIGTERM once, when it had nothing in flight any more.
    expect(readFileSync(marks, 'utf8')).toBe('SIGTERM 0\n');
  });
});
