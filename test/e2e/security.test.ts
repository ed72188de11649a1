// Regression tests of issue #15 against the built binary: raw sockets in, and what the upstream or the
// function did and did not receive read back from what the fixtures recorded.
import { createHmac } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { freePort, isGone, until } from '../helpers/process.js';
import { send } from '../helpers/http.js';
import { rawConnect, rawRequest } from '../helpers/raw.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const KEY = 'my-api-key-7f3e9a';
const HMAC_SECRET = 'webhook-secret';

interface Recorded {
  kind: 'request' | 'upgrade' | 'after';
  method?: string;
  url?: string;
  rawHeaders?: string[];
  body?: string;
  head?: string;
  data?: string;
}

interface HttpWatchdog {
  wd: RunningBinary;
  /** What the recording upstream received so far. */
  recorded(): Recorded[];
}

/** The binary in http mode in front of test/fixtures/upstreams/recording-upstream. */
async function httpWatchdog(env: Record<string, string> = {}): Promise<HttpWatchdog> {
  const tmp = makeTmpDir();
  const file = join(tmp, 'recorded.jsonl');
  const upstreamPort = await freePort();
  const wd = await startBinary({
    PATH: process.env.PATH ?? '',
    TMPDIR: tmp,
    mode: 'http',
    fprocess: fixture('upstreams/recording-upstream'),
    upstream_url: `http://127.0.0.1:${upstreamPort}`,
    PORT: String(upstreamPort),
    RECORD_FILE: file,
    log_format: 'text',
    healthcheck_interval: '0',
    ...env,
  });
  await wd.waitReady();
  const recorded = (): Recorded[] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Recorded)
      : [];
  return { wd, recorded };
}

const sign = (body: string): string => `sha256=${createHmac('sha256', HMAC_SECRET).update(body).digest('hex')}`;

/** Lower-cased header names of a recorded request. */
const names = (r: Recorded | undefined): string[] =>
  (r?.rawHeaders ?? []).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

describe('security (issue #15): the built binary', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  it('1. refuses an Upgrade request that carries a body, so a signature of an empty body never passes another body', async () => {
    const mount = createSecretMount({ hook: HMAC_SECRET });
    const { wd, recorded } = await httpWatchdog({ secret_mount_path: mount.path, auth_hmac_secret: 'hook' });
    const body = '{"action":"evil"}';
    const forged = await rawRequest(
      wd.port,
      `POST / HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: ${sign('')}\r\nConnection: Upgrade\r\nUpgrade: foo\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(forged).toMatch(/^HTTP\/1\.1 400 /);
    expect(forged).toContain('an Upgrade request must not carry a body');
    // Correctly signed, chunked: refused the same way (a handshake has no body).
    const chunked = await rawRequest(
      wd.port,
      `POST / HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: ${sign(body)}\r\nConnection: Upgrade\r\nUpgrade: foo\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 400 /);
    // Without a body the empty-body signature is the right one, and it is checked.
    const unsigned = await rawRequest(
      wd.port,
      'GET /switch HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n',
    );
    expect(unsigned).toMatch(/^HTTP\/1\.1 401 /);
    await waitForLine(wd, /POST \/ - 400 /);
    expect(recorded()).toEqual([]);
  });

  it('2. answers a non-101 reply to an Upgrade as an ordinary response and closes: a pipelined request never reaches the upstream', async () => {
    const mount = createSecretMount({ key: KEY });
    const { wd, recorded } = await httpWatchdog({ secret_mount_path: mount.path, auth_api_key_secret: 'key' });
    const conn = await rawConnect(wd.port);
    conn.write(`GET /plain HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${KEY}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`);
    await until(() => conn.received().includes('not 101'), 3000, 'the upstream answer');
    // A second request without the key and with a spoofed X-Forwarded-For, on the same connection.
    conn.write('POST /second HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\nContent-Length: 5\r\n\r\nsmugg');
    const all = await withTimeout(conn.closed, 3000, 'the watchdog to close the connection');
    expect(all).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(all).toMatch(/\r\nConnection: close\r\n/i);
    expect(all.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    await waitForLine(wd, /GET \/plain - 200 /);
    // Evidence, not a wait: a request sent after the connection closed reaches the upstream after anything
    // the watchdog could have forwarded from that connection.
    expect((await send(`${wd.url}/after`, { headers: { 'X-Api-Key': KEY } })).status).toBe(200);
    const got = recorded();
    expect(got.map((r) => [r.kind, r.url])).toEqual([
      ['upgrade', '/plain'],
      ['request', '/after'],
    ]);
    expect(JSON.stringify(got)).not.toContain('/second');
  });

  it('2. tunnels only after a 101 for the protocol asked for; the handshake is logged and counted', async () => {
    const metricsPort = await freePort();
    const { wd, recorded } = await httpWatchdog({ metrics_port: String(metricsPort) });
    const other = await rawRequest(
      wd.port,
      'GET /switch-other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n',
    );
    expect(other).toMatch(/^HTTP\/1\.1 502 /);
    expect(other).toContain('did not ask for');

    const conn = await rawConnect(wd.port);
    conn.write('GET /switch HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n');
    await until(() => conn.received().includes('\r\n\r\n'), 3000, 'the 101');
    expect(conn.received()).toMatch(/^HTTP\/1\.1 101 /);
    conn.write('frame-1');
    await until(() => conn.received().includes('echo:frame-1'), 3000, 'the echo through the tunnel');
    // Log lines leave once per event-loop turn, independently of the answers: waited for, not assumed.
    await until(() => /GET \/switch - 101 /.test(wd.stderr), 3000, 'the access line of the tunnel');
    expect(wd.stderr).toMatch(/GET \/switch-other - 502 /);
    const metrics = await send(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.text).toMatch(/http_requests_total\{code="101",method="get"\} 1/);
    expect(metrics.text).toMatch(/http_requests_total\{code="502",method="get"\} 1/);
    conn.socket.destroy();
    expect(
      recorded()
        .filter((r) => r.kind === 'after')
        .map((r) => r.data),
    ).toEqual(['frame-1']);
  });

  it('2. an Upgrade request takes a max_inflight slot and gets 429 when they are all taken', async () => {
    const { wd, recorded } = await httpWatchdog({ max_inflight: '1' });
    const slow = send(`${wd.url}/slow?ms=600`);
    await until(() => recorded().length > 0, 3000, 'the slow request at the upstream');
    const refused = await rawRequest(
      wd.port,
      'GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n',
    );
    expect(refused).toMatch(/^HTTP\/1\.1 429 /);
    expect((await slow).status).toBe(200);
    expect(recorded().map((r) => r.kind)).toEqual(['request']);
  });

  it('3. removes every header that carried the accepted key before the upstream sees the request', async () => {
    const mount = createSecretMount({ key: KEY });
    const { wd, recorded } = await httpWatchdog({ secret_mount_path: mount.path, auth_api_key_secret: 'key' });
    const both = await rawRequest(
      wd.port,
      `GET /both HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${KEY}\r\nAuthorization: Bearer ${KEY}\r\nConnection: close\r\n\r\n`,
    );
    expect(both).toMatch(/^HTTP\/1\.1 200 /);
    const bearerTwice = await rawRequest(
      wd.port,
      `GET /bearer HTTP/1.1\r\nHost: x\r\nauthorization: bearer ${KEY}\r\nAUTHORIZATION: Bearer ${KEY}\r\nConnection: close\r\n\r\n`,
    );
    expect(bearerTwice).toMatch(/^HTTP\/1\.1 200 /);
    const upgrade = await rawRequest(
      wd.port,
      `GET /plain HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${KEY}\r\nAuthorization: Bearer ${KEY}\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n`,
    );
    expect(upgrade).toMatch(/^HTTP\/1\.1 200 /);
    const got = recorded();
    expect(got).toHaveLength(3);
    for (const r of got) {
      expect(names(r)).not.toContain('x-api-key');
      expect(names(r)).not.toContain('authorization');
      expect(JSON.stringify(r)).not.toContain(KEY);
    }
  });

  it('3. a streaming function never sees the key as Http_Authorization or Http_X_Api_Key', async () => {
    const mount = createSecretMount({ key: KEY });
    const wd = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: makeTmpDir(),
      mode: 'streaming',
      fprocess: fixture('env-dump'),
      secret_mount_path: mount.path,
      auth_api_key_secret: 'key',
      healthcheck_interval: '0',
    });
    await wd.waitReady();
    const res = await rawRequest(
      wd.port,
      `GET / HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${KEY}\r\nAuthorization: Bearer ${KEY}\r\nConnection: close\r\n\r\n`,
    );
    expect(res).toMatch(/^HTTP\/1\.1 200 /);
    expect(res).toContain('Http_Method=GET');
    expect(res).not.toContain(KEY);
    expect(res).not.toMatch(/Http_Authorization|Http_X_Api_Key/);
  });

  it('4. answers 413 at once to a chunked body over max_body_bytes in http mode and frees the max_inflight slot', async () => {
    const { wd, recorded } = await httpWatchdog({
      max_body_bytes: '1000',
      max_inflight: '1',
      exec_timeout: '5s',
      write_timeout: '5s',
    });
    const chunk = 'a'.repeat(1500);
    const started = Date.now();
    const conn = await rawConnect(wd.port);
    // The whole request in one write: the limit fails in the very read that held the headers.
    conn.write(
      `POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    );
    await until(() => conn.received().includes('\r\n\r\n'), 3000, 'the 413');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(conn.received()).toMatch(/^HTTP\/1\.1 413 /);
    conn.socket.destroy();
    // The slot is free again: the next request is served, not refused with 429.
    await until(() => /POST \/big - 413 /.test(wd.stderr), 3000, 'the access line of the 413');
    const next = await send(`${wd.url}/next`);
    expect(next.status).toBe(200);
    expect(recorded().map((r) => r.url)).toEqual(['/next']);
  });

  it('5. never answers a redirect whose Location starts with // or /\\ (http and static mode)', async () => {
    const { wd } = await httpWatchdog();
    const dir = makeTmpDir();
    const stat = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: makeTmpDir(),
      mode: 'static',
      static_path: dir,
      healthcheck_interval: '0',
    });
    await stat.waitReady();
    for (const port of [wd.port, stat.port]) {
      for (const target of [
        '//\\evil.example',
        '/\\/evil.example',
        '//evil.example/..',
        '/./\\evil.example',
        '/.//evil.example',
        '//\\\\evil.example/',
      ]) {
        const res = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        const location = /\r\nLocation: ([^\r]*)\r\n/i.exec(res)?.[1];
        if (location !== undefined) {
          expect(location, target).not.toMatch(/^[/\\][/\\]/);
          expect(location, target).toMatch(/^\//);
        }
      }
    }
  });

  it('7. debug_headers redacts every token-like header name, whatever its case', async () => {
    const wd = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: makeTmpDir(),
      mode: 'classic',
      fprocess: 'cat',
      debug_headers: 'true',
      log_format: 'text',
      healthcheck_interval: '0',
    });
    await wd.waitReady();
    const secrets = [
      'X-Session-Id: v-session',
      'X-Auth-Token: v-token',
      'X-Hub-Signature: v-signature',
      'Private-KEY: v-key',
      'X-Client-Secret: v-secret',
      'Cookie2: v-cookie',
      'X-Authz: v-authz',
    ];
    const res = await rawRequest(
      wd.port,
      `POST / HTTP/1.1\r\nHost: x\r\n${secrets.join('\r\n')}\r\nX-Plain: visible-value\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`,
    );
    expect(res).toMatch(/^HTTP\/1\.1 200 /);
    await until(() => wd.stderr.includes('visible-value'), 3000, 'the debug_headers lines');
    for (const line of secrets) expect(wd.stderr).not.toContain(line.split(': ')[1]);
    expect(wd.stderr).toMatch(/X-Session-Id=\[\[redacted\]\]/);
  });

  it('7. a function that cannot be started: a generic 500 for the client, the path and errno in the log', async () => {
    const dir = makeTmpDir();
    const program = join(dir, 'vanishing-function');
    for (const mode of ['classic', 'serializing', 'streaming']) {
      copyFileSync(fixture('env-dump'), program);
      const wd = await startBinary({
        PATH: process.env.PATH ?? '',
        TMPDIR: makeTmpDir(),
        mode,
        fprocess: program,
        log_format: 'text',
        healthcheck_interval: '0',
      });
      await wd.waitReady();
      rmSync(program);
      const res = await rawRequest(
        wd.port,
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx',
      );
      expect(res, mode).toMatch(/^HTTP\/1\.1 500 /);
      expect(res, mode).toContain('the function could not be started');
      expect(res, mode).not.toContain(dir);
      expect(res, mode).not.toContain('ENOENT');
      await until(() => /could not be started.*ENOENT/.test(wd.stderr), 3000, 'the log line with the detail');
      expect(wd.stderr).toContain(program);
    }
  });

  it('7. headers too large for the function environment (E2BIG) get 431, not 500', async () => {
    const out = join(makeTmpDir(), 'started');
    for (const mode of ['streaming', 'classic', 'serializing']) {
      const wd = await startBinary({
        PATH: process.env.PATH ?? '',
        TMPDIR: makeTmpDir(),
        mode,
        fprocess: fixture('record-start'),
        START_MARKER_FILE: out,
        log_format: 'text',
        healthcheck_interval: '0',
      });
      await wd.waitReady();
      // One value over Linux's 128 KiB limit on a single environment string (MAX_ARG_STRLEN).
      const res = await rawRequest(
        wd.port,
        `POST / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200_000)}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`,
      );
      expect(res, mode).toMatch(/^HTTP\/1\.1 431 /);
      expect(res, mode).toContain('request headers too large');
    }
    expect(existsSync(out)).toBe(false);
  });

  it('probe: a transfer coding other than chunked (gzip, chunked) gets 501 instead of reaching the upstream without its coding', async () => {
    const { wd, recorded } = await httpWatchdog();
    const res = await rawRequest(
      wd.port,
      'POST /gz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
    );
    expect(res).toMatch(/^HTTP\/1\.1 501 /);
    expect(res).toContain('only chunked');
    const ok = await rawRequest(
      wd.port,
      'POST /plain-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
    );
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    expect(recorded().map((r) => [r.url, r.body])).toEqual([['/plain-chunked', 'abcd']]);
  });

  it('probe: Expect: 100-continue gets 401/413/429 without a 100 first; 100 only once the headers passed', async () => {
    const mount = createSecretMount({ key: KEY });
    const { wd, recorded } = await httpWatchdog({
      secret_mount_path: mount.path,
      auth_api_key_secret: 'key',
      max_body_bytes: '1000',
      max_inflight: '1',
    });
    const firstAnswer = async (head: string): Promise<string> => {
      const conn = await rawConnect(wd.port);
      conn.write(head);
      await until(() => conn.received().includes('\r\n\r\n'), 3000, 'the first answer');
      const got = conn.received();
      conn.socket.destroy();
      return got;
    };
    expect(
      await firstAnswer('POST /nokey HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n'),
    ).toMatch(/^HTTP\/1\.1 401 /);
    expect(
      await firstAnswer(
        `POST /big HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${KEY}\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n`,
      ),
    ).toMatch(/^HTTP\/1\.1 413 /);

    const conn = await rawConnect(wd.port);
    conn.write(
      `POST /good HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${KEY}\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n`,
    );
    await until(() => conn.received().includes('\r\n\r\n'), 3000, 'the 100');
    expect(conn.received()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    // The slot is taken: another expecting request gets 429 at once, without a 100.
    expect(
      await firstAnswer(
        `POST /second HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${KEY}\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n`,
      ),
    ).toMatch(/^HTTP\/1\.1 429 /);
    conn.write('body');
    const all = await withTimeout(conn.closed, 3000, 'the answer');
    expect(all).toMatch(/\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(recorded().map((r) => [r.url, r.body])).toEqual([['/good', 'body']]);
  });

  it.each([
    ['serializing', {}],
    ['classic', {}],
    ['classic', { combine_output: 'false' }],
  ])(
    '6. %s %j: output over max_output_bytes stops the process group and answers 500 saying why, logged and counted',
    async (mode, extra) => {
      const pidFile = join(makeTmpDir(), 'pids');
      const metricsPort = await freePort();
      const wd = await startBinary({
        PATH: process.env.PATH ?? '',
        TMPDIR: makeTmpDir(),
        mode,
        fprocess: fixture('endless-output'),
        PID_FILE: pidFile,
        max_output_bytes: '1000000',
        exec_timeout: '20s',
        metrics_port: String(metricsPort),
        log_format: 'text',
        healthcheck_interval: '0',
        ...extra,
      });
      await wd.waitReady();
      const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 10_000, 'the answer');
      expect(res.status).toBe(500);
      expect(res.text).toBe('function output is larger than max_output_bytes (1000000 bytes)\n');
      expect(res.body.length).toBeLessThan(1000);
      const pids = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
      expect(pids).toHaveLength(2);
      await until(() => pids.every(isGone), 5000, 'the function and its grandchild to be stopped', 20);
      await until(() => /POST \/ - 500 /.test(wd.stderr), 3000, 'the access line');
      expect(wd.stderr).toMatch(
        /function output is larger than max_output_bytes \(1000000 bytes\): process group stopped/,
      );
      const metrics = await send(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(metrics.text).toMatch(/^fwatchdog_output_too_large_total 1$/m);
    },
  );

  it('6. output up to max_output_bytes is answered whole; the 64 MiB default stops an endless writer', async () => {
    const exact = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: makeTmpDir(),
      mode: 'serializing',
      fprocess: fixture('endless-output'),
      OUTPUT_BYTES: '1000000',
      max_output_bytes: '1000000',
      healthcheck_interval: '0',
    });
    await exact.waitReady();
    const whole = await send(exact.url, { method: 'POST', body: 'x' });
    expect(whole.status).toBe(200);
    expect(whole.body.length).toBe(1_000_000);

    const wd = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: makeTmpDir(),
      mode: 'serializing',
      fprocess: fixture('endless-output'),
      exec_timeout: '30s',
      healthcheck_interval: '0',
    });
    await wd.waitReady();
    const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 20_000, 'the answer');
    expect(res.status).toBe(500);
    expect(res.text).toBe(`function output is larger than max_output_bytes (${64 * 1024 * 1024} bytes)\n`);
  }, 30_000);
});

/** Waits (bounded) for a watchdog log line: the access line is written when the connection closes. */
async function waitForLine(wd: RunningBinary, pattern: RegExp): Promise<void> {
  await until(() => pattern.test(wd.stderr), 3000, `a log line matching ${String(pattern)}`);
}
