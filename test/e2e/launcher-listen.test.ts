// Issue 25, item 5: the portable launcher binds the watchdog's port before Node starts and hands the socket
// over (FWATCHDOG_LISTEN_FD): a cold start accepts connections from the first millisecond, and they are
// answered once the watchdog is up. The socket and the variable never reach the function.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ensureBinary, ROOT, startBinary } from '../helpers/binary.js';
import { rawConnect, type RawConnection } from '../helpers/raw.js';
import { freePort, runToExit } from '../helpers/process.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const PORTABLE = join(ROOT, 'dist', 'portable');
const LAUNCHER = join(PORTABLE, 'fwatchdog');
const O_CLOEXEC = 0o2000000;

beforeAll(() => ensureBinary(), 120_000);

/** The sockets of process `pid` above stdio that are not close-on-exec, as "fd -> socket:[inode]" (fds the watchdog itself inherited, such as a CI runner's pipes, are not its doing). */
function inheritableFds(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    if (Number(fd) <= 2) continue;
    try {
      const flags = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (flags && target.startsWith('socket:') && (parseInt(flags[1] as string, 8) & O_CLOEXEC) === 0)
        out.push(`${fd} -> ${target}`);
    } catch {
      // Closed between the listing and the read.
    }
  }
  return out;
}

describe('issue 25, 5: the portable launcher listens before Node starts', () => {
  it('a connection made before Node has even started is accepted, then answered', async () => {
    // A copy of the folder whose loader is a script: it waits 500 ms, leaves a mark, then execs the real
    // loader. A connection accepted while there is no mark was accepted before Node started.
    const dir = makeTmpDir('fwd-early-listen-');
    mkdirSync(join(dir, 'lib'));
    copyFileSync(LAUNCHER, join(dir, 'fwatchdog'));
    linkSync(join(PORTABLE, 'fwatchdog-bin'), join(dir, 'fwatchdog-bin'));
    const loader = readdirSync(join(PORTABLE, 'lib')).find((f) => f.startsWith('ld-linux')) as string;
    for (const file of readdirSync(join(PORTABLE, 'lib')))
      if (file !== loader) copyFileSync(join(PORTABLE, 'lib', file), join(dir, 'lib', file));
    const mark = join(dir, 'node-started');
    writeFileSync(
      join(dir, 'lib', loader),
      `#!/bin/sh\nsleep 0.5\n: > ${mark}\nexec ${join(PORTABLE, 'lib', loader)} "$@"\n`,
      { mode: 0o755 },
    );
    const port = await freePort();
    const child = spawn(join(dir, 'fwatchdog'), [], {
      env: { port: String(port), metrics_port: '0', mode: 'streaming', fprocess: 'cat', TMPDIR: makeTmpDir() },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    let conn: RawConnection | undefined;
    const deadline = performance.now() + 5000;
    while (conn === undefined && performance.now() < deadline) {
      conn = await rawConnect(port).catch(() => undefined);
      if (conn === undefined) await new Promise((r) => setTimeout(r, 2));
    }
    expect(conn, 'a connection within 5 s').toBeDefined();
    expect(existsSync(mark), 'the connection was accepted before the loader (and Node) started').toBe(false);
    conn?.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    const answer = await withTimeout((conn as RawConnection).closed, 5000, 'the answer to the early connection');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/\r\n\r\n(5\r\n)?hello/);
    expect(stderr).toContain(`Listening on port: ${port}`);
  });

  /** The socket inodes process `pid` holds ("socket:[N]"). */
  const socketsOf = (pid: number): string[] =>
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        return target.startsWith('socket:') ? [target] : [];
      } catch {
        return [];
      }
    });

  it('streaming mode: the handed-over socket is close-on-exec and the variable never reaches the function', async () => {
    const wd = await startBinary(
      {
        port: String(await freePort()),
        mode: 'streaming',
        fprocess: `sh -c 'for f in /proc/self/fd/*; do readlink $f; done; env'`,
        TMPDIR: makeTmpDir(),
      },
      { executable: LAUNCHER },
    );
    await wd.waitReady();
    const pid = wd.child.pid as number;
    expect(inheritableFds(pid)).toEqual([]);
    const own = socketsOf(pid);
    expect(own.length).toBeGreaterThan(0);
    const body = await (await fetch(`${wd.url}/`, { method: 'POST', body: 'x' })).text();
    expect(body).toContain('Http_Method=POST');
    expect(body).not.toContain('FWATCHDOG_LISTEN_FD');
    for (const socket of own) expect(body).not.toContain(socket);
  });

  it("http mode: the upstream holds none of the watchdog's sockets and has no FWATCHDOG_LISTEN_FD", async () => {
    const upstreamPort = await freePort();
    const wd = await startBinary(
      {
        port: String(await freePort()),
        mode: 'http',
        fprocess: fixture('upstreams/upstream'),
        upstream_url: `http://127.0.0.1:${upstreamPort}`,
        PORT: String(upstreamPort),
        TMPDIR: makeTmpDir(),
      },
      { executable: LAUNCHER },
    );
    await wd.waitReady();
    const pid = wd.child.pid as number;
    expect(inheritableFds(pid)).toEqual([]);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    expect(children.length).toBe(1);
    const upstream = children[0] as number;
    const own = new Set(socketsOf(pid));
    expect(socketsOf(upstream).filter((s) => own.has(s))).toEqual([]);
    expect(readFileSync(`/proc/${upstream}/environ`, 'utf8')).not.toContain('FWATCHDOG_LISTEN_FD');
  });

  it('a port already taken is reported by the watchdog as before (exit 1), whoever tried first', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(port, r));
    onTestFinished(() => {
      holder.close();
    });
    const r = await runToExit(LAUNCHER, [], {
      port: String(port),
      metrics_port: '0',
      fprocess: 'cat',
      TMPDIR: makeTmpDir(),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`port ${port} is already in use`);
  });

  it('a port that is not a number binds nothing: the configuration problems are listed (exit 2)', async () => {
    const r = await runToExit(LAUNCHER, [], { port: '80a', fprocess: 'cat', TMPDIR: makeTmpDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/problem\(s\):[\s\S]*port/);
  });
});
