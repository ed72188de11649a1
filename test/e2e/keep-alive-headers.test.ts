// On the wire (raw sockets, the built binary): HTTP/1.1 answers carry no Connection: keep-alive and no
// Keep-Alive: timeout= (the originals send neither; the gateway copied them to its clients), yet the
// connection stays open; HTTP/1.0 keep-alive clients still get Connection: keep-alive.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { rawConnect } from '../helpers/raw.js';
import { freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

const MODES: Array<{ mode: string; env: () => Promise<Record<string, string>> }> = [
  { mode: 'streaming', env: () => Promise.resolve({ fprocess: 'cat' }) },
  { mode: 'classic', env: () => Promise.resolve({ fprocess: 'cat' }) },
  { mode: 'inproc', env: () => Promise.resolve({ fprocess: fixture('inproc/handler.mjs') }) },
  {
    mode: 'http',
    env: async () => {
      const port = await freePort();
      return { fprocess: fixture('upstreams/upstream'), upstream_url: `http://127.0.0.1:${port}`, PORT: String(port) };
    },
  },
];

async function start(mode: string, env: Record<string, string>): Promise<RunningBinary> {
  const wd = await startBinary({
    mode,
    ...env,
    TMPDIR: makeTmpDir(),
    healthcheck_interval: '0',
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  });
  await wd.waitReady();
  return wd;
}

/** The head of each answer received so far (no body here holds a status line). */
function heads(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.[01] \d{3}[\s\S]*?\r\n\r\n/g)].map((m) => m[0]);
}

describe.each(MODES)('keep-alive headers in $mode mode', ({ mode, env }) => {
  it('HTTP/1.1: neither Connection: keep-alive nor Keep-Alive on the wire, and the connection is reused', async () => {
    const wd = await start(mode, await env());
    const conn = await rawConnect(wd.port);
    const request =
      mode === 'inproc'
        ? 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi'
        : 'POST /echo-body HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi';
    conn.write(request);
    await until(() => heads(conn.received()).length === 1, 3000, 'the first answer');
    conn.write('GET /_/health HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => heads(conn.received()).length === 2, 3000, 'the second answer on the same connection');
    for (const head of heads(conn.received())) {
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(head).not.toMatch(/\r\nConnection:/i);
      expect(head).not.toMatch(/\r\nKeep-Alive:/i);
    }
    expect(conn.socket.destroyed).toBe(false);
  });

  it('HTTP/1.0 with Connection: keep-alive: still told Connection: keep-alive', async () => {
    const wd = await start(mode, await env());
    const conn = await rawConnect(wd.port);
    conn.write('GET /_/health HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await until(() => heads(conn.received()).length === 1, 3000, 'the answer');
    expect(heads(conn.received())[0]).toMatch(/\r\nConnection: keep-alive(\r\n|$)/i);
  });
});
