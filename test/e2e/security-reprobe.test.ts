// Regression tests of the second probe of issue #22, re-checked (docs/security.md, "Second probe, re-checked"):
// the paths that reach the function other than the main request path, against the built binary with raw sockets.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary } from '../helpers/binary.js';
import { isGone, until } from '../helpers/process.js';
import { send } from '../helpers/http.js';
import { rawRequest } from '../helpers/raw.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const READY = 'GET /_/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

/** A function that never answers on /hang (it records its pid, then sleeps) and prints "fn-ok" elsewhere. */
function hangingFunction(tmp: string): { script: string; pids: string } {
  const script = join(tmp, 'hang-on-ready');
  const pids = join(tmp, 'pids.txt');
  writeFileSync(
    script,
    `#!/bin/sh\ncase "$Http_Path" in\n  /hang) echo $$ >> "${pids}"; exec sleep 30 ;;\nesac\nprintf fn-ok\n`,
  );
  chmodSync(script, 0o755);
  return { script, pids };
}

describe('second probe: the readiness probe of a function that hangs', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  for (const mode of ['classic', 'serializing', 'streaming'] as const) {
    it(`${mode}, exec_timeout=0: /_/ready answers 503 after ready_timeout, the probe's process is ended, and the next /_/ready is probed anew`, async () => {
      const tmp = makeTmpDir();
      const { script, pids } = hangingFunction(tmp);
      const wd = await startBinary({
        PATH: process.env.PATH ?? '',
        TMPDIR: tmp,
        mode,
        fprocess: script,
        ready_path: '/hang',
        exec_timeout: '0',
        ready_timeout: '300ms',
        healthcheck_interval: '0',
      });
      await until(
        async () => (await send(`${wd.url}/_/health`).catch(() => undefined))?.status === 200,
        5000,
        '/_/health to answer 200',
      );
      const startedAt = performance.now();
      const answers = await withTimeout(
        Promise.all(Array.from({ length: 5 }, () => rawRequest(wd.port, READY))),
        3000,
        'five /_/ready to be answered',
      );
      for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 503 /);
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(250);
      // The five shared one probe, and its process does not outlive it.
      const first = readFileSync(pids, 'utf8').split('\n').filter(Boolean);
      expect(first).toHaveLength(1);
      await until(() => isGone(Number(first[0])), 2000, 'the hung probe process to be ended');
      // Not stuck on the first verdict: a later /_/ready runs a new probe (and is bounded too).
      expect(await withTimeout(rawRequest(wd.port, READY), 3000, 'a later /_/ready')).toMatch(/^HTTP\/1\.1 503 /);
      expect(readFileSync(pids, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
      // Function requests are not held by it.
      const fn = await withTimeout(
        rawRequest(wd.port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        3000,
        'a function request',
      );
      expect(fn).toMatch(/^HTTP\/1\.1 200 /);
      expect(fn).toContain('fn-ok');
    });
  }

  it('ready_timeout=0 is a start-up error (exit 2) that names the variable', async () => {
    const tmp = makeTmpDir();
    await expect(
      startBinary({
        PATH: process.env.PATH ?? '',
        TMPDIR: tmp,
        mode: 'classic',
        fprocess: 'cat',
        ready_path: '/ready',
        ready_timeout: '0',
      }),
    ).rejects.toThrow(/exited \(2\)[\s\S]*ready_timeout="0" must be above 0/);
  });
});

describe('second probe: durations longer than a timer can wait', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  it('classic (exec_timeout=0): X-Timeout: 600h is ignored, not a timeout that fires at once', async () => {
    const tmp = makeTmpDir();
    const wd = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: tmp,
      mode: 'classic',
      fprocess: fixture('maybe-sleep'),
      healthcheck_interval: '0',
    });
    await until(
      async () => (await send(`${wd.url}/_/health`).catch(() => undefined))?.status === 200,
      5000,
      '/_/health to answer 200',
    );
    for (const value of ['600h', '99999999999999h']) {
      const answer = await withTimeout(
        rawRequest(
          wd.port,
          `POST / HTTP/1.1\r\nHost: x\r\nX-Timeout: ${value}\r\nX-Sleep: 0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
        ),
        5000,
        `the call with X-Timeout: ${value}`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).toContain('hello');
    }
    expect(wd.stderr).not.toContain('TimeoutOverflowWarning');
  });

  for (const variable of [
    'exec_timeout',
    'read_timeout',
    'write_timeout',
    'healthcheck_interval',
    'queue_timeout',
    'ready_timeout',
  ]) {
    it(`${variable}=600h is a start-up error (exit 2), not a timer that fires after 1 ms`, async () => {
      const tmp = makeTmpDir();
      await expect(
        startBinary({
          PATH: process.env.PATH ?? '',
          TMPDIR: tmp,
          mode: 'serializing',
          fprocess: 'cat',
          [variable]: '600h',
        }),
      ).rejects.toThrow(new RegExp(`exited \\(2\\)[\\s\\S]*${variable}="600h" is longer than 596h31m23\\.647s`));
    });
  }
});
