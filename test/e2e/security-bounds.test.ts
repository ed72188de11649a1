// Regression tests of issue #22 (items 5-7 and the inproc Host): the built binary, raw sockets, a real fd limit.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { rawConnect, rawRequest, type RawConnection } from '../helpers/raw.js';
import { until } from '../helpers/process.js';
import { makeTmpDir, withTimeout } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

/** Opens `n` idle connections (the watchdog accepts what its fds allow; libuv closes the rest). */
async function openIdle(port: number, n: number): Promise<RawConnection[]> {
  const conns: RawConnection[] = [];
  for (let i = 0; i < n; i++) conns.push(await rawConnect(port));
  return conns;
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

const post = (body: string): string => `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;

describe('issue 22, 5: no fd left for the function (EMFILE)', () => {
  for (const mode of ['streaming', 'serializing', 'classic']) {
    it(`${mode} mode answers 500 "the function could not be started" and serves again once fds are free`, async () => {
      const wd: RunningBinary = await startBinary({ mode, fprocess: 'cat', TMPDIR: makeTmpDir(), healthcheck_interval: '0', log_format: 'text' });
      await wd.waitReady();
      const pid = wd.child.pid as number;
      // The request's connection is accepted first; then idle ones take every fd left under a real limit.
      const conn = await rawConnect(wd.port);
      await until(() => fdCount(pid) > 0, 1000, 'the connection to be accepted');
      const limit = fdCount(pid) + 8;
      execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`]);
      const idle = await openIdle(wd.port, 40);
      await until(() => fdCount(pid) >= limit - 1, 2000, 'the fds to be taken');
      conn.write(post('hello'));
      const answer = await withTimeout(conn.closed, 3000, `the ${mode} answer under EMFILE`);
      expect(answer).toMatch(/^HTTP\/1\.1 500 /);
      expect(answer).toContain('the function could not be started');
      await until(() => /status=500|"status":500| 500 /.test(wd.stderr), 2000, 'the access line with 500');
      for (const c of idle) c.socket.destroy();
      await until(() => fdCount(pid) < limit - 4, 2000, 'the idle connections to close');
      const again = await withTimeout(rawRequest(wd.port, post('hello')), 3000, 'the answer once fds are free');
      expect(again).toMatch(/^HTTP\/1\.1 200 /);
      expect(again).toMatch(/\r\n\r\n(5\r\n)?hello(\r\n0\r\n\r\n)?$/);
      expect(wd.stderr).not.toContain('uncaught exception');
      expect(wd.child.exitCode).toBeNull();
    });
  }
});
