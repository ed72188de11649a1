// Regression tests of issue #22 (items 2 and 4, and the low ones on logs, cgi_response and static
// redirects) against the built binary: raw requests in, what the function saw and what the client got out.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { rawConnect, rawRequest } from '../helpers/raw.js';
import { freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const ATTACKER = 'http://attacker.invalid:8888';
const FORK_MODES = [
  ['classic', 'openfaas'],
  ['classic', 'rfc3875'],
  ['streaming', 'openfaas'],
  ['streaming', 'rfc3875'],
] as const;

/** The binary in a fork mode running `fprocess`, ready. */
async function forkWatchdog(
  mode: string,
  cgiEnv: string,
  fprocess: string,
  env: Record<string, string> = {},
): Promise<RunningBinary> {
  const wd = await startBinary({
    PATH: process.env.PATH ?? '',
    TMPDIR: makeTmpDir(),
    mode,
    fprocess,
    cgi_env: cgiEnv,
    healthcheck_interval: '0',
    ...env,
  });
  await wd.waitReady();
  return wd;
}

/** One GET with `headers` on its own connection; resolves with the raw answer. */
function get(wd: RunningBinary, target: string, headers: string[] = []): Promise<string> {
  return withTimeout(
    rawRequest(
      wd.port,
      `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`,
    ),
    5000,
    `GET ${target}`,
  );
}

const status = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
const headerOf = (answer: string, name: string): string | undefined =>
  new RegExp(`\\r\\n${name}: ([^\\r]*)\\r\\n`, 'i').exec(answer.slice(0, answer.indexOf('\r\n\r\n') + 2))?.[1];
/** The body of one answer, de-chunked when it is chunked. */
function bodyOf(answer: string): string {
  const raw = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  if (headerOf(answer, 'Transfer-Encoding') !== 'chunked') return raw;
  let out = '';
  for (let at = 0; ; ) {
    const eol = raw.indexOf('\r\n', at);
    const size = parseInt(raw.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
/** The env-dump fixture's `NAME=value` lines as a map (values on one line). */
const envOf = (answer: string): Map<string, string> =>
  new Map(
    bodyOf(answer)
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

describe('security (issue #22): request input that reaches a forked function, the logs and static redirects', () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  describe.each(FORK_MODES)('httpoxy: %s mode, cgi_env=%s', (mode, cgiEnv) => {
    it("a Proxy: header (or any *-Proxy header) never becomes proxy configuration of a Python function; the operator's proxy still does", async () => {
      const wd = await forkWatchdog(mode, cgiEnv, `python3 ${fixture('py-proxies')}`, {
        https_proxy: 'http://operator-proxy:3128',
      });
      const headers = [
        `Proxy: ${ATTACKER}`,
        `X-Proxy: ${ATTACKER}`,
        `Https-Proxy: ${ATTACKER}`,
        `No-Proxy: ${ATTACKER}`,
        `proxy: ${ATTACKER}`,
      ];
      const answer = await get(wd, '/fetch', headers);
      expect(status(answer), answer).toBe(200);
      const seen = JSON.parse(bodyOf(answer)) as { proxies: Record<string, string>; proxy_variables: string[] };
      expect(Object.values(seen.proxies)).not.toContain(ATTACKER);
      expect(seen.proxy_variables).toEqual(['https_proxy']);
      expect(seen.proxies).toEqual({ https: 'http://operator-proxy:3128' });
    });
  });

  describe.each(FORK_MODES)('encoded dot segments: %s mode, cgi_env=%s', (mode, cgiEnv) => {
    it('%2e%2e, .%2E and mixed case get a 301 to the cleaned path; %2F next to a dot segment gets 400; the function never sees ..', async () => {
      const wd = await forkWatchdog(mode, cgiEnv, fixture('env-dump'));
      for (const [target, location] of [
        ['/%2e%2e/outside.txt', '/outside.txt'],
        ['/.%2E/outside.txt', '/outside.txt'],
        ['/%2E./outside.txt', '/outside.txt'],
        ['/a/%2e%2E/%2e/outside.txt?q=1', '/outside.txt?q=1'],
        ['/a/b/%2e%2e', '/a'],
        ['/%2e/', '/'],
      ] as const) {
        const answer = await get(wd, target);
        expect(status(answer), target).toBe(301);
        expect(headerOf(answer, 'Location'), target).toBe(location);
        expect(answer, target).not.toContain('PATH_INFO=');
        expect(answer, target).not.toContain('Http_Path=');
      }
      for (const target of [
        '/%2e%2e%2foutside.txt',
        '/a%2f..%2f..%2foutside.txt',
        '/a/..%2Foutside.txt',
        '/x%2F.%2Fy',
        '/a%2f%2e%2e',
      ]) {
        const answer = await get(wd, target);
        expect(status(answer), target).toBe(400);
        expect(answer, target).toContain('a path segment is "." or ".." once %2F is decoded');
        expect(answer, target).not.toContain('Http_Path=');
      }
      // A NUL would end PATH_INFO and Http_Path early (`/secret.txt%00.png` seen as `/secret.txt`).
      const nul = await get(wd, '/secret.txt%00.png');
      expect(status(nul)).toBe(400);
      expect(nul).toContain('the path holds %00');
      expect(nul).not.toContain('Http_Path=');
      // An encoded slash alone, and dots inside a name, still reach the function (decoded, as before).
      const plain = envOf(await get(wd, '/a%2fb/..c/%2e%2ex'));
      expect(plain.get('Http_Path')).toBe('/a/b/..c/..x');
      if (cgiEnv === 'rfc3875') expect(plain.get('PATH_INFO')).toBe('/a/b/..c/..x');
    });
  });

  it('http, inproc and static mode redirect encoded dot segments too: no upstream, handler or file sees them', async () => {
    const root = makeTmpDir();
    mkdirSync(join(root, 'www'));
    writeFileSync(join(root, 'outside.txt'), 'outside\n');
    writeFileSync(join(root, 'www', 'outside.txt'), 'inside\n');
    const record = join(makeTmpDir(), 'recorded.jsonl');
    const upstreamPort = await freePort();
    const http = await startBinary({
      PATH: process.env.PATH ?? '',
      TMPDIR: makeTmpDir(),
      mode: 'http',
      fprocess: fixture('upstreams/recording-upstream'),
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      PORT: String(upstreamPort),
      RECORD_FILE: record,
      healthcheck_interval: '0',
    });
    const inproc = await startBinary({
      mode: 'inproc',
      fprocess: fixture('inproc/listener.cjs'),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
    });
    const staticWd = await startBinary({
      mode: 'static',
      static_path: join(root, 'www'),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
    });
    for (const wd of [http, inproc, staticWd]) {
      await wd.waitReady();
      const answer = await get(wd, '/%2e%2e/outside.txt');
      expect(status(answer)).toBe(301);
      expect(headerOf(answer, 'Location')).toBe('/outside.txt');
      expect(answer).not.toContain('cjs GET');
      expect(status(await get(wd, '/%2e%2e%2foutside.txt'))).toBe(400);
    }
    expect(existsSync(record) ? readFileSync(record, 'utf8') : '').toBe('');
    expect(bodyOf(await get(staticWd, '/outside.txt'))).toBe('inside\n');
  });

  it('write_debug with log_format=text: a %0a in the path cannot forge a log line', async () => {
    // `cat` echoes the empty body: no function output in the log, only the watchdog's own lines.
    const wd = await forkWatchdog('classic', 'openfaas', 'cat', { write_debug: 'true', log_format: 'text' });
    const answer = await get(wd, '/a%0a2031/01/01%2000:00:00%20forged%0d%1b%5b2J');
    expect(status(answer)).toBe(200);
    await until(() => wd.stderr.includes('Path  /a'), 2000, 'the Path debug line');
    const lines = wd.stderr.split('\n');
    expect(lines.filter((l) => l.startsWith('2031/01/01 00:00:00 forged'))).toEqual([]);
    expect(wd.stderr).not.toContain('\r');
    expect(wd.stderr).not.toContain('\x1b');
    expect(lines.some((l) => l.endsWith('Path  /a\\n2031/01/01 00:00:00 forged\\r\\x1b[2J'))).toBe(true);
  });

  it('debug_headers redacts X-Password, X-Passwd and X-Credential values', async () => {
    const wd = await forkWatchdog('classic', 'openfaas', fixture('env-dump'), {
      debug_headers: 'true',
      log_format: 'text',
    });
    const answer = await get(wd, '/', [
      'X-Password: hunter2-pw',
      'X-Db-Passwd: hunter2-passwd',
      'X-Credential: hunter2-cred',
      'X-Plain: shown-value',
    ]);
    expect(status(answer)).toBe(200);
    await until(() => wd.stderr.includes('X-Plain=[shown-value]'), 2000, 'the debug_headers lines');
    expect(wd.stderr).not.toContain('hunter2');
    for (const name of ['X-Password', 'X-Db-Passwd', 'X-Credential'])
      expect(wd.stderr).toContain(`${name}=[[redacted]]`);
  });

  describe.each(['classic', 'serializing', 'streaming'])('cgi_response=true in %s mode', (mode) => {
    it.each(['204', '304'])(
      'Status: %s with a body: no body and no Content-Length; a pipelined request behind it is answered',
      async (code) => {
        const wd = await forkWatchdog(mode, 'openfaas', fixture('cgi-status'), { cgi_response: 'true' });
        const conn = await rawConnect(wd.port);
        conn.write(
          `GET /?${code} HTTP/1.1\r\nHost: x\r\n\r\nGET /?200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        const all = await withTimeout(conn.closed, 5000, 'both answers');
        const second = all.indexOf('HTTP/1.1 200');
        expect(all.startsWith(`HTTP/1.1 ${code} `), all).toBe(true);
        expect(second, all).toBeGreaterThan(0);
        const first = all.slice(0, second);
        expect(first.endsWith('\r\n\r\n'), first).toBe(true); // the head, then nothing
        expect(headerOf(first, 'Content-Length'), first).toBeUndefined();
        expect(headerOf(first, 'Transfer-Encoding'), first).toBeUndefined();
        expect(first).not.toContain('hello');
        const rest = all.slice(second);
        expect(bodyOf(rest)).toMatch(/hello$/);
      },
    );
  });

  it('static mode: a folder redirect percent-encodes the name (non-Latin-1, ?, #, %) and following it lists the folder', async () => {
    const root = makeTmpDir();
    for (const name of ['日本語', 'a?b#c', '100%', 'x:y']) {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, 'f.txt'), 'f\n');
    }
    writeFileSync(join(root, 'q?.txt'), 'q\n');
    const wd = await startBinary({
      mode: 'static',
      static_path: root,
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
    });
    await wd.waitReady();
    for (const [target, location] of [
      ['/%E6%97%A5%E6%9C%AC%E8%AA%9E', '%E6%97%A5%E6%9C%AC%E8%AA%9E/'],
      ['/%E6%97%A5%E6%9C%AC%E8%AA%9E?x=1', '%E6%97%A5%E6%9C%AC%E8%AA%9E/?x=1'],
      ['/a%3Fb%23c', 'a%3Fb%23c/'],
      ['/100%25', '100%25/'],
      ['/x:y', './x:y/'],
      ['/q%3F.txt/', '../q%3F.txt'],
    ] as const) {
      const answer = await get(wd, target);
      expect(answer.slice(0, 40), target).toMatch(/^HTTP\/1\.1 301 Moved Permanently\r\n/);
      expect(headerOf(answer, 'Location'), target).toBe(location);
    }
    for (const folder of ['%E6%97%A5%E6%9C%AC%E8%AA%9E/', 'a%3Fb%23c/', '100%25/']) {
      const listing = await get(wd, `/${folder}`);
      expect(status(listing), folder).toBe(200);
      expect(bodyOf(listing), folder).toContain('<a href="f.txt">f.txt</a>');
    }
  });
});
