// A client that leaves mid-body, or before the answer ended (the gateway's upstream_timeout cutting a call):
// logged and counted as 499 (nginx's "client closed request") at info level, in every mode, by the built binary.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { rawConnect } from '../helpers/raw.js';
import { freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

interface ModeCase {
  mode: string;
  env: () => Promise<Record<string, string>>;
  /** The path of a call that reads its whole body before answering. */
  bodyPath: string;
  /** A request head whose answer takes about a second. */
  slowHead: string;
}

const forked = (mode: string): ModeCase => ({
  mode,
  env: () => Promise.resolve({ mode, fprocess: fixture('maybe-sleep') }),
  bodyPath: '/',
  slowHead: 'POST /slow HTTP/1.1\r\nHost: x\r\nX-Sleep: 1\r\nContent-Length: 1\r\n\r\nx',
});

const CASES: ModeCase[] = [
  forked('streaming'),
  forked('serializing'),
  forked('classic'),
  {
    mode: 'http',
    env: async () => {
      const port = await freePort();
      return {
        mode: 'http',
        fprocess: fixture('upstreams/upstream'),
        upstream_url: `http://127.0.0.1:${port}`,
        PORT: String(port),
      };
    },
    bodyPath: '/echo-body',
    slowHead: 'GET /slow?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n',
  },
  {
    mode: 'inproc',
    env: () => Promise.resolve({ mode: 'inproc', fprocess: fixture('inproc/handler.mjs') }),
    bodyPath: '/echo',
    slowHead: 'GET /slow?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n',
  },
];

interface LogLine {
  levelName: string;
  msg: string;
  status?: number;
  url?: string;
}

function logLines(wd: RunningBinary): LogLine[] {
  return wd.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

async function start(c: ModeCase): Promise<{ wd: RunningBinary; metricsPort: number }> {
  const metricsPort = await freePort();
  const wd = await startBinary({
    ...(await c.env()),
    metrics_port: String(metricsPort),
    TMPDIR: makeTmpDir(),
    healthcheck_interval: '0',
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  });
  await wd.waitReady();
  return { wd, metricsPort };
}

/** The access line of `url`, once written. */
async function accessLine(wd: RunningBinary, url: string): Promise<LogLine> {
  let line: LogLine | undefined;
  await until(
    () => (line = logLines(wd).find((l) => l.msg === 'request' && l.url === url)) !== undefined,
    3000,
    `the access line of ${url}`,
  );
  return line as LogLine;
}

async function metricsText(metricsPort: number): Promise<string> {
  return (await send(`http://127.0.0.1:${metricsPort}/metrics`)).text;
}

/** No line at warn or error level, other than the function's own output. */
function expectNothingAboveInfo(wd: RunningBinary): void {
  expect(
    logLines(wd).filter((l) => l.levelName === 'warn' || l.levelName === 'error'),
    wd.stderr,
  ).toEqual([]);
}

describe.each(CASES)('a client that leaves, in $mode mode', (c) => {
  it('half its Content-Length, then closes: 499 in the access line and the metrics, at info level', async () => {
    const { wd, metricsPort } = await start(c);
    const conn = await rawConnect(wd.port);
    conn.write(`POST ${c.bodyPath} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf!`);
    await new Promise((r) => setTimeout(r, 150));
    conn.socket.destroy();
    const line = await accessLine(wd, c.bodyPath);
    expect(line.status).toBe(499);
    expect(line.levelName).toBe('info');
    await until(
      async () => /http_requests_total\{[^}]*code="499"[^}]*\} 1\n/.test(await metricsText(metricsPort)),
      2000,
      'code="499" in the metrics',
    );
    expect(await metricsText(metricsPort)).not.toMatch(/http_requests_total\{[^}]*code="200"/);
    expectNothingAboveInfo(wd);
  });

  it("before the answer ends (as the gateway's upstream_timeout cuts a call): 499", async () => {
    const { wd, metricsPort } = await start(c);
    const conn = await rawConnect(wd.port);
    conn.write(c.slowHead);
    await new Promise((r) => setTimeout(r, 250));
    conn.socket.destroy();
    const url = c.slowHead.split(' ')[1] as string;
    const line = await accessLine(wd, url);
    expect(line.status).toBe(499);
    await until(
      async () => /http_requests_total\{[^}]*code="499"[^}]*\} 1\n/.test(await metricsText(metricsPort)),
      2000,
      'code="499" in the metrics',
    );
    expectNothingAboveInfo(wd);
  });
});
