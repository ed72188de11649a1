// faasd's removal, reproduced without faasd: containerd sends SIGTERM to every process of the container,
// so in http mode the upstream and the watchdog (the built binary) both get one, in either order.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { childrenOf, freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

interface LogLine {
  levelName: string;
  msg: string;
}

function logLines(wd: RunningBinary): LogLine[] {
  return wd.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The binary in http mode in front of the test upstream; resolves once ready, with the upstream's pid. */
async function startHttp(env: Record<string, string> = {}): Promise<{ wd: RunningBinary; upstreamPid: number }> {
  const upstreamPort = await freePort();
  const wd = await startBinary({
    mode: 'http',
    fprocess: fixture('upstreams/upstream'),
    upstream_url: `http://127.0.0.1:${upstreamPort}`,
    PORT: String(upstreamPort),
    healthcheck_interval: '0',
    TMPDIR: makeTmpDir(),
    ...env,
  });
  await wd.waitReady();
  const [upstreamPid] = childrenOf(wd.child.pid as number);
  expect(upstreamPid).toBeGreaterThan(0);
  return { wd, upstreamPid: upstreamPid as number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The upstream's exit was logged at info, and nothing at error. */
function expectShutdownLogged(wd: RunningBinary): void {
  const lines = logLines(wd);
  const exitLine = lines.find((l) => l.msg.startsWith('Forked function has terminated'));
  expect(exitLine?.levelName, wd.stderr).toBe('info');
  expect(
    lines.filter((l) => l.levelName === 'error'),
    wd.stderr,
  ).toEqual([]);
  expect(lines.map((l) => l.msg)).toContain('Exiting. Active connections: 0');
}

describe('a container-wide SIGTERM in http mode (as faasd sends it)', () => {
  it('the upstream first, the watchdog 100 ms later: a shutdown at info level, exit 0', async () => {
    const { wd, upstreamPid } = await startHttp();
    process.kill(upstreamPid, 'SIGTERM'); // Node's default: killed by the signal
    await until(
      async () => (await send(`${wd.url}/_/health`)).status === 503,
      2000,
      'the watchdog to see the upstream gone',
    );
    await sleep(100);
    wd.child.kill('SIGTERM');
    expect(await withTimeout(wd.exited, 5000, 'the watchdog to exit')).toEqual({ code: 0, signal: null });
    expectShutdownLogged(wd);
  });

  it('the watchdog first, the upstream 100 ms later: a shutdown at info level, exit 0', async () => {
    const { wd, upstreamPid } = await startHttp({ healthcheck_interval: '500ms' });
    wd.child.kill('SIGTERM');
    await until(() => wd.stderr.includes('SIGTERM: no new connections'), 2000, 'the shutdown to begin');
    await sleep(100);
    process.kill(upstreamPid, 'SIGTERM');
    expect(await withTimeout(wd.exited, 5000, 'the watchdog to exit')).toEqual({ code: 0, signal: null });
    expectShutdownLogged(wd);
  });

  it('both at once with a call in flight: an upstream that finishes its calls on SIGTERM answers it 200', async () => {
    // healthcheck_interval 1s: the upstream answers and exits while the watchdog still serves.
    const { wd, upstreamPid } = await startHttp({
      SIGTERM_FILE: `${makeTmpDir()}/sigterm`,
      healthcheck_interval: '1s',
    });
    const inFlight = send(`${wd.url}/slow?ms=400`);
    await until(() => wd.stderr.includes('request /slow?ms=400 started'), 2000, 'the call to reach the upstream');
    process.kill(upstreamPid, 'SIGTERM');
    wd.child.kill('SIGTERM');
    const res = await withTimeout(inFlight, 3000, 'the call in flight');
    expect(res.status).toBe(200);
    expect(res.text).toBe('slow done');
    expect(await withTimeout(wd.exited, 5000, 'the watchdog to exit')).toEqual({ code: 0, signal: null });
    expectShutdownLogged(wd);
  });

  it('an upstream that exits with no signal in the exit window is still a crash: error, exit 1', async () => {
    const { wd } = await startHttp();
    const startedAt = performance.now();
    expect((await send(`${wd.url}/exit?code=0`)).status).toBe(200);
    expect(await withTimeout(wd.exited, 5000, 'the watchdog to exit')).toEqual({ code: 1, signal: null });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(1000); // the exit window (1 s) passed first
    const exitLine = logLines(wd).find((l) => l.msg.startsWith('Forked function has terminated'));
    expect(exitLine?.levelName).toBe('error');
  });
});
