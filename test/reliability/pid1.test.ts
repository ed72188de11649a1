// PID 1 duties: orphaned grandchildren re-parented to the watchdog are reaped; signals still work.
import { copyFileSync, cpSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BINARY, ensureBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';
import { BUNDLE, REAPER_ADDON, pidNamespacePrefix, report, startBinary } from './support.js';
import { procStat, until, zombieChildren } from '../helpers/process.js';

const REQUESTS = 50;
const ORPHANS_PER_REQUEST = 2;

/** Sends `n` requests, 5 at a time, and returns their statuses. */
async function drive(url: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      statuses.push((await send(url, { method: 'POST', body: 'x' })).status);
    }
  };
  await withTimeout(Promise.all([worker(), worker(), worker(), worker(), worker()]), 10_000, `${n} requests`);
  return statuses;
}

describe('running as PID 1', () => {
  const prefix = pidNamespacePrefix();

  it('can run the watchdog as PID 1 of a new PID namespace here (unshare from util-linux)', () => {
    expect(prefix, 'unshare --pid --fork --mount-proc does not work on this machine').toBeDefined();
    expect(existsSync(REAPER_ADDON), `${REAPER_ADDON} is missing: run npm run build:reaper`).toBe(true);
  });

  it('reaps the short-lived orphans of 50 requests, keeps exit codes, and still exits 0 on SIGTERM', async () => {
    const wd = await startBinary(
      {
        fprocess: `${fixture('leave-orphans')} ${ORPHANS_PER_REQUEST}`,
        healthcheck_interval: '0',
        TMPDIR: makeTmpDir(),
      },
      { prefix: prefix as string[] },
    );
    // The reaper loads right after ready.
    await until(() => wd.stderr.includes('Reaping orphaned processes as PID 1'), 2000, 'the reaper to load');
    const statuses = await drive(wd.url, REQUESTS);
    expect(statuses.filter((s) => s === 200)).toHaveLength(REQUESTS);
    // Orphans live 50 ms; the reaper settles for 200 ms: give it a few rounds.
    await until(() => zombieChildren(wd.pid).length === 0, 3000, 'no zombie children of the watchdog');
    expect(zombieChildren(wd.pid)).toEqual([]);
    expect(wd.stderr).not.toContain('without the zombie reaper');

    const zombiesAfter = zombieChildren(wd.pid).length;
    process.kill(wd.pid, 'SIGTERM');
    const code = await withTimeout(wd.exited, 5000, 'the watchdog to exit after SIGTERM');
    report('running as PID 1, 50 requests each leaving 2 short-lived orphans', {
      requests: REQUESTS,
      orphans: REQUESTS * ORPHANS_PER_REQUEST,
      zombiesAfter,
      exitCodeAfterSigterm: code,
    });
    expect(code).toBe(0);
    expect(wd.stderr).toContain('Exiting.');
  });

  it('reaps orphans inside the single-file binary too, with the addon it carries as an asset', async () => {
    ensureBinary();
    const wd = await startBinary(
      {
        fprocess: `${fixture('leave-orphans')} ${ORPHANS_PER_REQUEST}`,
        healthcheck_interval: '0',
        TMPDIR: makeTmpDir(),
      },
      { prefix: prefix as string[], executable: BINARY },
    );
    await until(() => wd.stderr.includes('Reaping orphaned processes as PID 1 ('), 2000, 'the reaper to load');
    expect(wd.stderr).toContain('Reaping orphaned processes as PID 1 (asset reaper.node)');
    const statuses = await drive(wd.url, 20);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    await until(() => zombieChildren(wd.pid).length === 0, 3000, 'no zombie children of the binary');
    process.kill(wd.pid, 'SIGTERM');
    expect(await withTimeout(wd.exited, 5000, 'the binary to exit after SIGTERM')).toBe(0);
  });

  it('leaves the processes it started alone: 100 concurrent requests as PID 1 all get their exit status', async () => {
    const wd = await startBinary(
      { fprocess: `${fixture('exit-code')} 3 quiet`, healthcheck_interval: '0', TMPDIR: makeTmpDir() },
      { prefix: prefix as string[] },
    );
    const texts: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next++ < 100) texts.push((await send(wd.url, { method: 'POST', body: 'x' })).text);
    };
    await withTimeout(Promise.all(Array.from({ length: 10 }, worker)), 10_000, '100 requests');
    expect(texts).toHaveLength(100);
    expect(texts.filter((t) => t === 'exit status 3\n')).toHaveLength(100);
  });

  it('warns at start-up and leaves zombies when the reaper addon cannot be found (the fallback)', async () => {
    const dir = makeTmpDir('fwd-noaddon-');
    const script = join(dir, 'fwatchdog.cjs');
    copyFileSync(BUNDLE, script);
    // The packages kept out of the bundle go along (dist/chunks), the addons do not.
    cpSync(join(dirname(BUNDLE), 'chunks'), join(dir, 'chunks'), { recursive: true });
    const wd = await startBinary(
      { fprocess: `${fixture('leave-orphans')} 1`, healthcheck_interval: '0', TMPDIR: makeTmpDir() },
      { prefix: prefix as string[], script },
    );
    await until(() => /running as PID 1 without the zombie reaper/.test(wd.stderr), 2000, 'the reaper warning');
    await drive(wd.url, 5);
    await until(() => zombieChildren(wd.pid).length >= 5, 3000, 'the orphans to become zombies');
    report('running as PID 1 without the reaper addon (control)', {
      requests: 5,
      zombies: zombieChildren(wd.pid).length,
    });
    expect(procStat(wd.pid)?.state).not.toBe('Z');
  });
});
