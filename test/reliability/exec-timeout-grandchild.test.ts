// exec_timeout with a grandchild that ignores SIGTERM and holds stdout: the request still ends, the grandchild dies.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { report } from './support.js';
import { childrenOf, isGone, until } from '../helpers/process.js';

describe('exec_timeout with a stubborn grandchild', () => {
  it('answers 504 within 2 s when exec_timeout=1s fires before any output, and the grandchild is killed', async () => {
    const pidFile = join(makeTmpDir(), 'gc.pid');
    const wd = await startWatchdog({
      fprocess: fixture('grandchild-silent'),
      exec_timeout: '1s',
      GRANDCHILD_PID_FILE: pidFile,
    });
    const t0 = performance.now();
    const res = await withTimeout(send(wd.url), 2000, 'the timed-out request to end');
    const answeredMs = Math.round(performance.now() - t0);
    expect(res.status).toBe(504);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    // SIGTERM is ignored; SIGKILL follows after the 1 s grace.
    await until(() => isGone(pid), 3000, `grandchild ${pid} to be gone`);
    await until(() => childrenOf(process.pid).length === 0, 3000, 'no function process left');
    report('exec_timeout=1s, grandchild ignores SIGTERM and holds stdout (streaming)', {
      status: res.status,
      answeredMs,
      grandchildGoneAfterMs: Math.round(performance.now() - t0),
    });
  });

  it('cuts a committed 200 within 2 s when exec_timeout=1s fires after output, and the grandchild is killed', async () => {
    const pidFile = join(makeTmpDir(), 'gc.pid');
    const wd = await startWatchdog({
      fprocess: fixture('grandchild-holds-stdout'),
      exec_timeout: '1s',
      GRANDCHILD_PID_FILE: pidFile,
    });
    await expect(withTimeout(send(wd.url), 2000, 'the timed-out request to end')).rejects.toThrow(
      /socket hang up|aborted|ECONNRESET/,
    );
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await until(() => isGone(pid), 3000, `grandchild ${pid} to be gone`);
    await until(() => childrenOf(process.pid).length === 0, 3000, 'no function process left');
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
  });

  it.each([
    ['classic', 408],
    ['serializing', 500],
  ])('%s mode answers %i within 2 s when exec_timeout=1s fires, and the grandchild is killed', async (mode, status) => {
    const pidFile = join(makeTmpDir(), 'gc.pid');
    const wd = await startWatchdog({
      mode,
      fprocess: fixture('grandchild-holds-stdout'),
      exec_timeout: '1s',
      GRANDCHILD_PID_FILE: pidFile,
    });
    const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 2000, 'the timed-out request to end');
    expect(res.status).toBe(status);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await until(() => isGone(pid), 3000, `grandchild ${pid} to be gone`);
    await until(() => childrenOf(process.pid).length === 0, 3000, 'no function process left');
  });
});
