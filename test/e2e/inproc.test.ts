// mode=inproc under the built binary: the function module runs inside dist/fwatchdog, with the whole contract around it.
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { ensureBinary, runBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { freePort, sleep, until } from '../helpers/process.js';
import { rawConnect } from '../helpers/raw.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const HANDLER = fixture('inproc/handler.mjs');

beforeAll(() => ensureBinary(), 120_000);

/** Starts the binary in inproc mode on `module` (the handler fixture by default) and waits until it is ready. */
async function startInproc(
  env: Record<string, string> = {},
  module = HANDLER,
): Promise<RunningBinary & { tmp: string }> {
  const tmp = makeTmpDir();
  const wd = await startBinary({
    mode: 'inproc',
    fprocess: module,
    TMPDIR: tmp,
    healthcheck_interval: '0',
    log_format: 'text',
    ...env,
  });
  await wd.waitReady();
  return Object.assign(wd, { tmp });
}

/** Waits until the watchdog's stderr (its own log and the function's stderr) or stdout contains `text`. */
async function logged(wd: RunningBinary, text: string, ms = 2000): Promise<void> {
  await until(() => wd.stderr.includes(text) || wd.stdout.includes(text), ms, `${JSON.stringify(text)} in the log`);
}

/** Sends a request and resolves what happened: the response, or the error that cut it. */
function attempt(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    let status = 0;
    let body = '';
    const req = request(url, { agent: false, headers }, (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status, body }));
      res.on('error', (err) => resolve({ status, body, error: err.message }));
    });
    req.on('error', (err) => resolve({ status, body, error: err.message }));
    req.end();
  });
}

describe('mode=inproc: loading the module', () => {
  it('serves an ESM default-export listener, a CommonJS module.exports listener, and a TypeScript fetch handler', async () => {
    const esm = await startInproc();
    expect((await send(`${esm.url}/x`, { method: 'PUT' })).text).toBe('hello PUT /x');
    expect(esm.stderr).toMatch(
      /Loaded \S+handler\.mjs in \d+ms: a request listener \(req, res\), with ready\(\), shutdown\(\)/,
    );

    const cjs = await startInproc({}, fixture('inproc/listener.cjs'));
    const res = await send(`${cjs.url}/a?b=1`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('cjs GET /a?b=1');

    const ts = await startInproc({}, fixture('inproc/fetch.ts'));
    const fetched = await send(`${ts.url}/orders?x=1`, {
      method: 'POST',
      body: 'héllo',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(fetched.status).toBe(201);
    expect(fetched.headers['content-type']).toBe('application/json');
    expect(fetched.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(JSON.parse(fetched.text)).toEqual({
      method: 'POST',
      path: '/orders',
      host: `127.0.0.1:${ts.port}`,
      bytes: 6,
      text: 'héllo',
    });
  });

  it('resolves fprocess against the working directory', async () => {
    const tmp = makeTmpDir();
    const wd = await startBinary(
      { mode: 'inproc', fprocess: 'inproc/listener.cjs', TMPDIR: tmp },
      { cwd: join(HANDLER, '..', '..') },
    );
    await wd.waitReady();
    expect((await send(wd.url)).text).toBe('cjs GET /');
  });

  it.each([
    [
      'a missing file',
      'inproc/nothing-here.mjs',
      /fprocess="\S+nothing-here\.mjs": \S+nothing-here\.mjs does not exist/,
    ],
    [
      'a syntax error',
      'inproc/broken.cjs',
      /cannot load \S+broken\.cjs: SyntaxError: Unexpected token ';' at \S+broken\.cjs:3/,
    ],
    [
      'a module whose top level throws',
      'inproc/throws-on-load.mjs',
      /cannot load \S+throws-on-load\.mjs: Error: the database URL is not set/,
    ],
    [
      'no handler export',
      'inproc/no-handler.mjs',
      /no-handler\.mjs has no handler: export default a node:http request listener .*; its exports are helper, name/,
    ],
    ['a folder', 'inproc', /is a directory: name the module file itself/],
  ])('stops the start with exit 2 for %s, naming the file and the cause', async (_what, module, message) => {
    const run = await runBinary([], {
      mode: 'inproc',
      fprocess: fixture(module),
      port: '0',
      metrics_port: '0',
      TMPDIR: makeTmpDir(),
      log_format: 'text',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toContain('Listening on port');
  });

  it('rejects an fprocess of more than one word at configuration time (exit 2)', async () => {
    const run = await runBinary([], { mode: 'inproc', fprocess: `node ${HANDLER}`, port: '0', metrics_port: '0' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('in inproc mode fprocess is the module file alone');
  });
});

describe('mode=inproc: health, readiness and the lock file', () => {
  it('reports ready and writes the lock file only once ready() resolved; requests meanwhile wait for it', async () => {
    const tmp = makeTmpDir();
    const gate = join(tmp, 'ready-gate');
    const wd = await startBinary({
      mode: 'inproc',
      fprocess: HANDLER,
      TMPDIR: tmp,
      READY_GATE: gate,
      log_format: 'text',
    });
    expect((await send(`${wd.url}/_/health`)).status).toBe(503);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(503);
    expect(existsSync(join(tmp, '.lock'))).toBe(false);
    const early = send(`${wd.url}/early`);
    // ready() cannot resolve before the gate file exists, so an answer now would not have waited for it.
    const answered = await Promise.race([early.then(() => true), sleep(150).then(() => false)]);
    expect(answered).toBe(false);
    writeFileSync(gate, '');
    expect((await withTimeout(early, 3000, 'the early request')).text).toBe('hello GET /early');
    await logged(wd, 'ready() resolved');
    await wd.waitReady();
    expect((await send(`${wd.url}/_/health`)).text).toBe('OK');
    expect(existsSync(join(tmp, '.lock'))).toBe(true);
  });

  it('exits 1 when ready() rejects, saying why', async () => {
    const wd = await startBinary({
      mode: 'inproc',
      fprocess: HANDLER,
      TMPDIR: makeTmpDir(),
      READY_FAIL: 'no database',
      log_format: 'text',
    });
    expect(await withTimeout(wd.exited, 5000, 'the exit')).toEqual({ code: 1, signal: null });
    expect(wd.stderr).toContain('The function cannot start: ready() failed: Error: no database');
  });

  it('answers /_/ready by asking the function when ready_path is set (its body stays inside)', async () => {
    const wd = await startInproc({ ready_path: '/am-i-ready' });
    const res = await send(`${wd.url}/_/ready`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });
});

describe('mode=inproc: limits and authentication before the handler', () => {
  it('answers 429 over max_inflight', async () => {
    const wd = await startInproc({ max_inflight: '1' });
    const first = send(`${wd.url}/slow?ms=1000`);
    await logged(wd, 'slow started /slow?ms=1000');
    const second = await send(`${wd.url}/x`);
    expect(second.status).toBe(429);
    expect((await first).text).toBe('slow done');
    expect((await send(`${wd.url}/x`)).status).toBe(200);
  });

  it('answers 413 over max_body_bytes, with Content-Length and chunked, before the handler reads a byte', async () => {
    const wd = await startInproc({ max_body_bytes: '1000' });
    const declared = await send(`${wd.url}/echo`, { method: 'POST', body: Buffer.alloc(1001) });
    expect(declared.status).toBe(413);
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 4; i++) yield Buffer.alloc(400, 'y');
    }
    const chunked = await send(`${wd.url}/echo`, { method: 'POST', body: chunks() });
    expect(chunked.status).toBe(413);
    expect(chunked.text).toContain('max_body_bytes');
    const fits = await send(`${wd.url}/echo`, { method: 'POST', body: Buffer.alloc(1000, 'z') });
    expect(fits.status).toBe(200);
    expect(fits.headers['x-bytes']).toBe('1000');
    // Evidence, not a wait: the handler logs each body it reads, and the refused ones came first.
    await logged(wd, 'echo got 1000 bytes');
    expect(wd.stdout.match(/echo got \d+ bytes/g)).toEqual(['echo got 1000 bytes']);
  });

  it('with auth_api_key_secret, answers 401 without the key and the handler never runs', async () => {
    const mount = createSecretMount({ 'api-key': 'k3y' });
    const wd = await startInproc({ secret_mount_path: mount.path, auth_api_key_secret: 'api-key' });
    const refused = await send(`${wd.url}/echo`, { method: 'POST', body: 'secret body' });
    expect(refused.status).toBe(401);
    const ok = await send(`${wd.url}/echo`, { method: 'POST', body: 'secret body', headers: { 'X-Api-Key': 'k3y' } });
    expect(ok.text).toBe('secret body');
    // Evidence, not a wait: the handler logs each body it reads, and the refused request came first.
    await logged(wd, 'echo got 11 bytes');
    expect(wd.stdout.match(/echo got \d+ bytes/g)).toEqual(['echo got 11 bytes']);
  });

  it('with auth_hmac_secret, hands the verified body to the handler, and refuses a bad signature', async () => {
    const mount = createSecretMount({ 'hook-secret': 'shh' });
    const wd = await startInproc({ secret_mount_path: mount.path, auth_hmac_secret: 'hook-secret' });
    const body = Buffer.from('{"event":"push"}');
    const sign = (b: Buffer): string => `sha256=${createHmac('sha256', 'shh').update(b).digest('hex')}`;
    const bad = await send(`${wd.url}/echo`, {
      method: 'POST',
      body,
      headers: { 'X-Hub-Signature-256': sign(Buffer.from('other')) },
    });
    expect(bad.status).toBe(401);
    const ok = await send(`${wd.url}/echo`, { method: 'POST', body, headers: { 'X-Hub-Signature-256': sign(body) } });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('{"event":"push"}');
    // Evidence, not a wait: the handler logs each body it reads, and the refused request came first.
    await logged(wd, 'echo got 16 bytes');
    expect(wd.stdout.match(/echo got \d+ bytes/g)).toEqual(['echo got 16 bytes']);
  });
});

describe('mode=inproc: timeouts and the AbortSignal', () => {
  it('answers 504 at exec_timeout before any header, and fires req.signal with a TimeoutError', async () => {
    const wd = await startInproc({ exec_timeout: '200ms' });
    const started = Date.now();
    const res = await send(`${wd.url}/slow?ms=2000`);
    expect(res.status).toBe(504);
    expect(res.text).toBe('the function did not answer within exec_timeout of 200ms\n');
    // Well before the handler would have answered (a bound with room for a loaded machine).
    expect(Date.now() - started).toBeLessThan(1800);
    await logged(wd, 'signal aborted: TimeoutError on /slow?ms=2000');
    // The handler's late answer is dropped, and the watchdog goes on serving.
    await logged(wd, 'slow done /slow?ms=2000', 4000);
    expect((await send(`${wd.url}/x`)).status).toBe(200);
    await logged(wd, 'GET /slow?ms=2000 - 504');
  });

  it('gives each call its own exec_timeout, counted from its own start (one timer serves them all)', async () => {
    const wd = await startInproc({ exec_timeout: '300ms' });
    const timed = async (path: string): Promise<{ status: number; ms: number }> => {
      const started = Date.now();
      const res = await send(`${wd.url}${path}`);
      return { status: res.status, ms: Date.now() - started };
    };
    const first = timed('/slow?ms=2000');
    await sleep(150);
    const second = timed('/slow?ms=2000');
    const quick = await timed('/x');
    const [a, b] = await Promise.all([first, second]);
    expect(quick.status).toBe(200);
    expect(a.status).toBe(504);
    expect(b.status).toBe(504);
    // The second call is not cut when the first one's deadline passes.
    expect(b.ms).toBeGreaterThanOrEqual(295);
    expect(a.ms).toBeGreaterThanOrEqual(295);
  });

  it('lets X-Timeout shorten exec_timeout', async () => {
    const wd = await startInproc({ exec_timeout: '10s' });
    const started = Date.now();
    const res = await send(`${wd.url}/slow?ms=2000`, { headers: { 'X-Timeout': '200ms' } });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('cuts a response at exec_timeout once its headers went out', async () => {
    const wd = await startInproc({ exec_timeout: '200ms' });
    const got = await attempt(`${wd.url}/stream?n=50&ms=20`);
    expect(got.status).toBe(200);
    expect(got.error).toBeDefined();
    expect(got.body).toMatch(/^chunk0chunk1/);
    await logged(wd, 'signal aborted: TimeoutError on /stream');
    await logged(wd, 'GET /stream?n=50&ms=20 - 504');
  });

  it('fires the signal of a fetch handler (request.signal) at exec_timeout', async () => {
    const wd = await startInproc({ exec_timeout: '200ms' }, fixture('inproc/fetch.ts'));
    expect((await send(`${wd.url}/slow`)).status).toBe(504);
    await logged(wd, 'fetch signal aborted: TimeoutError');
  });

  it('fires req.signal with an AbortError when the client goes away', async () => {
    const wd = await startInproc({ exec_timeout: '10s' });
    const conn = await rawConnect(wd.port);
    conn.write('GET /slow?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await logged(wd, 'slow started /slow?ms=3000');
    conn.socket.destroy();
    await logged(wd, 'signal aborted: AbortError on /slow?ms=3000');
  });

  it('cuts a response that is still being written at write_timeout, and fires the signal', async () => {
    const wd = await startInproc({ exec_timeout: '10s', write_timeout: '300ms' });
    const got = await attempt(`${wd.url}/stream?n=100&ms=20`);
    expect(got.error).toBeDefined();
    expect(got.body.length).toBeLessThan(600);
    await logged(wd, 'signal aborted: AbortError on /stream?n=100&ms=20');
  });

  it('cannot interrupt a synchronous loop: the loop delays every request, exec_timeout fires only after it', async () => {
    const wd = await startInproc({ exec_timeout: '100ms' });
    const marker = join(wd.tmp, 'busy-started');
    const busy = send(`${wd.url}/busy?ms=600&marker=${encodeURIComponent(marker)}`);
    await until(() => existsSync(marker) && readFileSync(marker, 'utf8') !== '', 3000, 'the loop to start');
    const health = await send(`${wd.url}/_/health`);
    expect(health.status).toBe(200);
    // It waited for the loop: answered no earlier than the loop's end (the same clock, however loaded the machine).
    expect(Date.now()).toBeGreaterThanOrEqual(Number(readFileSync(marker, 'utf8')) + 600);
    // The handler answered inside the loop, before the timer could run: its answer stands.
    expect((await busy).text).toBe('busy done');
  });
});

describe('mode=inproc: failures cost one request', () => {
  it('answers 500 when the handler throws or rejects, cuts a response already started, and goes on serving', async () => {
    const wd = await startInproc();
    const thrown = await send(`${wd.url}/throw`);
    expect(thrown.status).toBe(500);
    expect(thrown.text).toBe('Internal Server Error\n');
    expect((await send(`${wd.url}/reject`)).status).toBe(500);
    const cut = await attempt(`${wd.url}/throw-after-headers`);
    expect(cut.status).toBe(200);
    expect(cut.error).toBeDefined();
    expect((await send(`${wd.url}/after`)).text).toBe('hello GET /after');
    await logged(wd, 'The function failed on GET /throw: Error: thrown on purpose');
    await logged(wd, 'The function failed on GET /reject: Error: rejected on purpose');
    await logged(wd, 'GET /throw-after-headers - 500');
    expect(wd.child.exitCode).toBeNull();
  });
});

describe('mode=inproc: logs and metrics', () => {
  it("keeps the function's console output line by line, as text lines", async () => {
    const wd = await startInproc({ log_format: 'text' });
    await send(`${wd.url}/log`);
    await logged(wd, 'to stderr');
    await logged(wd, 'stdout: pieces of one line');
    const out = wd.stdout.split('\n');
    for (const line of ['first line', 'second line', 'pieces of one line'])
      expect(
        out.some((l) => /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d stdout: /.test(l) && l.endsWith(`stdout: ${line}`)),
        line,
      ).toBe(true);
    expect(wd.stderr).toMatch(/stderr: to stderr\n/);
  });

  it('keeps it line by line as JSON lines with log_format=json, and passes it untouched with prefix_logs=false', async () => {
    const json = await startInproc({ log_format: 'json' });
    await send(`${json.url}/log`);
    await logged(json, 'pieces of one line');
    const lines = json.stdout
      .split('\n')
      .filter((l) => l.includes('"stream":"stdout"'))
      .map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['first line', 'second line', 'pieces of one line']),
    );

    const plain = await startInproc({ prefix_logs: 'false' });
    await send(`${plain.url}/log`);
    await logged(plain, 'pieces of one line');
    expect(plain.stdout).toContain('\nfirst line\nsecond line\npieces of one line\n');
  });

  it('writes one access line per request with its status and body bytes, and counts it in the metrics', async () => {
    const metricsPort = await freePort();
    const wd = await startInproc({ log_format: 'json', metrics_port: String(metricsPort) });
    await send(`${wd.url}/stream?n=3&ms=1`);
    await send(`${wd.url}/throw`);
    await logged(wd, '"url":"/throw"');
    const access = wd.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as { url: string; status: number; bytes: number });
    expect(access).toEqual([
      expect.objectContaining({ url: '/stream?n=3&ms=1', status: 200, bytes: 18 }),
      expect.objectContaining({ url: '/throw', status: 500, bytes: 22 }),
    ]);
    const metrics = await send(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.text).toMatch(/http_requests_total\{code="200",method="get"\} 1/);
    expect(metrics.text).toMatch(/http_requests_total\{code="500",method="get"\} 1/);
  });
});

describe('mode=inproc: SIGTERM', () => {
  it('lets the request in flight finish, then runs shutdown(), then exits 0', async () => {
    const wd = await startInproc({ SHUTDOWN_MS: '100' });
    const inFlight = send(`${wd.url}/slow?ms=300`);
    await logged(wd, 'slow started /slow?ms=300');
    wd.child.kill('SIGTERM');
    expect((await inFlight).text).toBe('slow done');
    expect(await withTimeout(wd.exited, 5000, 'the exit')).toEqual({ code: 0, signal: null });
    const out = wd.stdout;
    expect(out.indexOf('slow done')).toBeLessThan(out.indexOf('shutdown() started'));
    expect(out).toContain('shutdown() done');
    expect(existsSync(join(wd.tmp, '.lock'))).toBe(false);
  });

  it('exits after the grace when shutdown() never finishes', async () => {
    const wd = await startInproc({ SHUTDOWN_HANG: '1' });
    const started = Date.now();
    wd.child.kill('SIGTERM');
    expect(await withTimeout(wd.exited, 8000, 'the exit')).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeGreaterThan(4500);
    expect(wd.stderr).toContain("The function's shutdown() did not finish within 5s: exiting without it");
  }, 12_000);
});

describe('mode=inproc: WebSocket upgrades', () => {
  /** Opens a WebSocket; resolves it once open, or the status of the refusal. */
  function openSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket | number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
  }

  it("hands an upgrade to the module's upgrade() after the auth guard, and closes it after shutdown() at SIGTERM", async () => {
    const mount = createSecretMount({ 'api-key': 'k3y' });
    const wd = await startInproc(
      { secret_mount_path: mount.path, auth_api_key_secret: 'api-key' },
      fixture('inproc/websocket.mjs'),
    );
    const wsUrl = wd.url.replace('http:', 'ws:');
    expect(await openSocket(wsUrl)).toBe(401);
    const ws = await openSocket(wsUrl, { 'X-Api-Key': 'k3y' });
    if (typeof ws === 'number') throw new Error(`refused: ${ws}`);
    const reply = new Promise<string>((resolve) => ws.once('message', (m: Buffer) => resolve(m.toString())));
    ws.send('hi');
    expect(await withTimeout(reply, 2000, 'the echo')).toBe('echo hi');
    expect((await send(wd.url, { headers: { 'X-Api-Key': 'k3y' } })).text).toBe('plain http');
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    wd.child.kill('SIGTERM');
    expect(await withTimeout(closed, 3000, 'the close')).toBe(1001);
    expect(await withTimeout(wd.exited, 5000, 'the exit')).toEqual({ code: 0, signal: null });
    expect(wd.stdout).toContain('closed 1 websocket(s)');
  });
});
