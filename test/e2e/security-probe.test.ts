// Regression tests of issue #22 (the readiness probe, refused requests, pipelining behind a refusal, the
// metrics port, the access log) against the built binary: raw sockets in, and what the function or the
// upstream received read back from what the fixtures recorded.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { freePort, sleep, until } from '../helpers/process.js';
import { send } from '../helpers/http.js';
import { rawRequest } from '../helpers/raw.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const KEY = 'probe-api-key-3b1d';
const FORK_MODES = ['classic', 'serializing', 'streaming'] as const;

/** The calls test/fixtures/record-probe recorded: each one's Http_* lines and body line. */
function calls(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('call\n')
    .filter(Boolean)
    .map((c) => c.split('\n').filter(Boolean));
}

async function forkWatchdog(
  mode: string,
  env: Record<string, string> = {},
): Promise<{ wd: RunningBinary; file: string }> {
  const tmp = makeTmpDir();
  const file = join(tmp, 'calls.txt');
  const wd = await startBinary({
    PATH: process.env.PATH ?? '',
    TMPDIR: tmp,
    mode,
    fprocess: fixture('record-probe'),
    CALLS_FILE: file,
    log_format: 'text',
    healthcheck_interval: '0',
    ...env,
  });
  await until(
    async () => (await send(`${wd.url}/_/health`).catch(() => undefined))?.status === 200,
    5000,
    '/_/health to answer 200',
  );
  return { wd, file };
}

/** A GET /_/ready that tries to smuggle input into the function: a header, a query, a body. */
const HOSTILE_READY =
  'GET /_/ready?drop=all HTTP/1.1\r\nHost: x\r\nX-Action: delete-all\r\nX-Api-Key: stolen\r\nContent-Length: 4\r\nConnection: close\r\n\r\nevil';

describe('issue #22: the readiness probe', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  for (const mode of FORK_MODES) {
    it(`${mode}: 20 parallel /_/ready run the function once, with the watchdog's own request, and get the watchdog's answer`, async () => {
      const mount = createSecretMount({ 'api-key': KEY });
      const { wd, file } = await forkWatchdog(mode, {
        ready_path: '/slow-ready',
        secret_mount_path: mount.path,
        auth_api_key_secret: 'api-key',
        max_inflight: '1',
      });
      writeFileSync(file, '');
      const answers = await withTimeout(
        Promise.all(Array.from({ length: 20 }, () => rawRequest(wd.port, HOSTILE_READY))),
        5000,
        'the 20 probes',
      );
      for (const a of answers) {
        expect(a).toMatch(/^HTTP\/1\.1 200 /);
        expect(a).not.toContain('function-output');
        expect(a).toMatch(/\r\n\r\n$/); // an empty body
      }
      const recorded = calls(file);
      expect(recorded).toHaveLength(1);
      const env = recorded[0] as string[];
      expect(env).toContain('Http_Method=GET');
      expect(env).toContain('Http_Path=/slow-ready');
      expect(env).toContain('body=');
      expect(env.join('\n')).not.toMatch(/delete-all|stolen|drop=all|evil/);
      // The only X- header is the watchdog's own call id for its probes (docs/tracing.md), never a client's.
      expect(env.filter((l) => l.startsWith('Http_X_'))).toEqual(['Http_X_Call_Id=ready-probe']);
      expect(env.filter((l) => l.startsWith('Http_Content_Length')).every((l) => l === 'Http_Content_Length=0')).toBe(
        true,
      );
      // A function request without the key is still refused.
      expect((await send(`${wd.url}/x`)).status).toBe(401);
    });
  }

  it('streaming (cgi_response): a function that says 503 on ready_path makes /_/ready 503, without its body', async () => {
    const tmp = makeTmpDir();
    const wd = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: tmp,
      mode: 'streaming',
      fprocess: fixture('cgi-ready'),
      READY_FILE: join(tmp, 'ready'),
      cgi_response: 'true',
      ready_path: '/ready',
      healthcheck_interval: '0',
    });
    await until(
      async () => (await send(`${wd.url}/_/health`).catch(() => undefined))?.status === 200,
      5000,
      '/_/health to answer 200',
    );
    const notYet = await rawRequest(wd.port, 'GET /_/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(notYet).toMatch(/^HTTP\/1\.1 503 /);
    expect(notYet).not.toContain('not yet');
    writeFileSync(join(tmp, 'ready'), '');
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
  });

  it('http: no client header, query or body reaches the upstream through /_/ready', async () => {
    const tmp = makeTmpDir();
    const file = join(tmp, 'recorded.jsonl');
    const upstreamPort = await freePort();
    const mount = createSecretMount({ 'api-key': KEY });
    const wd = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: tmp,
      mode: 'http',
      fprocess: fixture('upstreams/recording-upstream'),
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      PORT: String(upstreamPort),
      RECORD_FILE: file,
      ready_path: '/ready',
      secret_mount_path: mount.path,
      auth_api_key_secret: 'api-key',
      max_inflight: '1',
      healthcheck_interval: '0',
    });
    await wd.waitReady();
    writeFileSync(file, '');
    const answers = await Promise.all(Array.from({ length: 10 }, () => rawRequest(wd.port, HOSTILE_READY)));
    for (const a of answers) {
      expect(a).toMatch(/^HTTP\/1\.1 200 /);
      expect(a).not.toMatch(/\r\n\r\nok/);
    }
    const recorded = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { url: string; rawHeaders: string[]; body: string });
    expect(recorded.length).toBeGreaterThanOrEqual(1);
    expect(recorded.length).toBeLessThanOrEqual(10);
    for (const r of recorded) {
      expect(r.url).toBe('/ready');
      expect(r.body).toBe('');
      const names = r.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(names).not.toContain('x-api-key');
      expect(names).not.toContain('x-action');
      expect(r.rawHeaders.join(' ')).not.toMatch(/stolen|delete-all/);
    }
  });

  it("inproc: the handler sees the watchdog's GET <ready_path>, the client gets an empty 200", async () => {
    const wd = await startBinary({
      mode: 'inproc',
      fprocess: fixture('inproc/handler.mjs'),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
      ready_path: '/am-i-ready',
    });
    await wd.waitReady();
    const a = await rawRequest(wd.port, HOSTILE_READY);
    expect(a).toMatch(/^HTTP\/1\.1 200 /);
    expect(a).not.toContain('hello');
  });
});

/** The function of each mode for the refused-request tests, with what it needs. */
async function modeWatchdog(mode: string, env: Record<string, string>): Promise<RunningBinary> {
  const tmp = makeTmpDir();
  const base = { PATH: process.env.PATH ?? '', TMPDIR: tmp, log_format: 'text', healthcheck_interval: '0', ...env };
  if (mode === 'http') {
    const upstreamPort = await freePort();
    const wd = await startBinary({
      ...base,
      mode,
      fprocess: fixture('upstreams/recording-upstream'),
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      PORT: String(upstreamPort),
      RECORD_FILE: join(tmp, 'recorded.jsonl'),
    });
    await wd.waitReady();
    return wd;
  }
  if (mode === 'inproc') {
    const wd = await startBinary({ ...base, mode, fprocess: fixture('inproc/handler.mjs') });
    await wd.waitReady();
    return wd;
  }
  const wd = await startBinary({
    ...base,
    mode,
    fprocess: fixture('record-probe'),
    CALLS_FILE: join(tmp, 'calls.txt'),
  });
  await wd.waitReady();
  return wd;
}

describe('issue #22: a request refused with a raw 400/408 frees its slot at once', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  for (const mode of ['serializing', 'classic', 'http', 'inproc']) {
    it(`${mode}: a bad chunk mid-body closes the connection, the next request runs at once, the access line says 400, shutdown is not held`, async () => {
      const wd = await modeWatchdog(mode, {
        write_timeout: '0',
        max_inflight: '1',
        metrics_port: String(await freePort()),
      });
      // A client that keeps its side open after the server's FIN (allowHalfOpen), as the probe's did.
      const bad = connect({ port: wd.port, host: '127.0.0.1', allowHalfOpen: true });
      onTestFinished(() => {
        bad.destroy();
      });
      const chunks: Buffer[] = [];
      bad.on('data', (c: Buffer) => chunks.push(c));
      bad.on('error', () => {}); // a reset is an outcome the assertions below see
      // The server's FIN ('end'): this side stays open, as a client that never closes would keep it.
      const ended = new Promise<string>((resolve) =>
        bad.once('end', () => resolve(Buffer.concat(chunks).toString('latin1'))),
      );
      bad.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      await sleep(150); // the call has its slot (and, in a streaming mode, its function) by now
      bad.write('ZZ\r\nnot a chunk\r\n');
      const answer = await withTimeout(ended, 2000, 'the answer to the refused request');
      expect(answer, answer).toMatch(/^HTTP\/1\.1 400 /);
      const next = await withTimeout(send(`${wd.url}/next`), 2000, 'the next request');
      expect(next.status).toBe(200);
      await until(() => /POST \/echo - 400 - /.test(wd.stderr), 2000, 'the access line of the refused request');
      expect(wd.stderr).not.toMatch(/POST \/echo - 200 - /);
      const metrics = await send(`${wd.url.replace(String(wd.port), String(metricsPortOf(wd)))}/metrics`);
      expect(metrics.text).toMatch(/http_requests_total\{code="400",method="post"\} 1/);
      wd.child.kill('SIGTERM');
      expect(await withTimeout(wd.exited, 3000, 'the exit after SIGTERM')).toEqual({ code: 0, signal: null });
    });
  }
});

/** The metrics port the binary logged. */
function metricsPortOf(wd: RunningBinary): number {
  const m = /Metrics listening on port: (\d+)/.exec(wd.stderr);
  return Number(m?.[1]);
}

describe('issue #22: nothing pipelined behind a refusal that closes the connection runs', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  const SECOND = 'GET /second HTTP/1.1\r\nHost: x\r\n\r\n';
  const cases: Array<[string, string, RegExp]> = [
    [
      '501 for Transfer-Encoding: identity then chunked',
      'POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      /^HTTP\/1\.1 501 /,
    ],
    [
      '413 on a chunked body over max_body_bytes',
      `POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n${'a'.repeat(20)}\r\n0\r\n\r\n`,
      /^HTTP\/1\.1 413 /,
    ],
    ['400 without Host', 'GET /first HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400 /],
  ];
  it('classic: valid pipelined requests are still all served, in order, one after another', async () => {
    const { wd, file } = await forkWatchdog('classic');
    writeFileSync(file, '');
    const answer = await withTimeout(
      rawRequest(
        wd.port,
        'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      ),
      3000,
      'three answers',
    );
    expect(answer.match(/HTTP\/1\.1 200 /g)).toHaveLength(3);
    expect(calls(file).map((c) => c.find((l) => l.startsWith('Http_Path=')))).toEqual([
      'Http_Path=/a',
      'Http_Path=/b',
      'Http_Path=/c',
    ]);
  });

  for (const mode of ['classic', 'streaming']) {
    for (const [what, first, status] of cases) {
      it(`${mode}: ${what}`, async () => {
        const { wd, file } = await forkWatchdog(mode, { max_body_bytes: '10' });
        writeFileSync(file, '');
        const answer = await withTimeout(rawRequest(wd.port, first + SECOND), 3000, 'the connection to close');
        expect(answer).toMatch(status);
        expect(answer).not.toContain('function-output');
        await sleep(300); // a function started for /second would have recorded its call by now
        expect(readFileSync(file, 'utf8')).toBe('');
        // The watchdog still serves the next connection.
        expect((await send(`${wd.url}/third`)).status).toBe(200);
        expect(readFileSync(file, 'utf8')).toContain('Http_Path=/third');
      });
    }
  }
});

describe('issue #22: the metrics port and the access log', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  it('closes an idle connection to the metrics port within 2 s', async () => {
    const metricsPort = await freePort();
    const { wd } = await forkWatchdog('classic', { metrics_port: String(metricsPort) });
    expect(metricsPortOf(wd)).toBe(metricsPort);
    const idle = connect({ port: metricsPort, host: '127.0.0.1' });
    onTestFinished(() => {
      idle.destroy();
    });
    idle.on('error', () => {}); // a reset is a close too
    idle.resume(); // read, so the server's FIN is seen
    const openedAt = Date.now();
    await withTimeout(
      new Promise((resolve) => idle.once('close', resolve)),
      2000,
      'the metrics port to close an idle connection',
    );
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(400); // its 500 ms headersTimeout, not an instant refusal
  });

  it('writes the access line of a function request whose User-Agent is kube-probe; health and ready stay quiet', async () => {
    const { wd } = await forkWatchdog('classic');
    expect((await send(`${wd.url}/hidden`, { headers: { 'User-Agent': 'kube-probe/1.29' } })).status).toBe(200);
    await until(() => /GET \/hidden - 200 - /.test(wd.stderr), 2000, 'the access line of /hidden');
    expect((await send(`${wd.url}/_/health`, { headers: { 'User-Agent': 'kube-probe/1.29' } })).status).toBe(200);
    expect((await send(`${wd.url}/_/ready`, { headers: { 'User-Agent': 'kube-probe/1.29' } })).status).toBe(200);
    await sleep(100);
    expect(wd.stderr).not.toMatch(/\/_\/(health|ready) - /);
  });
});
