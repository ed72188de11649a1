// The built single-file binary (dist/fwatchdog), run as a user would: flags, exit codes, every mode, SIGTERM.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, runBinary, startBinary } from '../helpers/binary.js';
import { freePort, until } from '../helpers/process.js';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const PATH = process.env.PATH ?? '/usr/bin:/bin';

beforeAll(() => ensureBinary(), 120_000);

describe('the single-file binary', () => {
  it('prints its version and SHA with --version and -version in an empty environment', async () => {
    for (const flag of ['--version', '-version']) {
      const r = await withTimeout(runBinary([flag], {}), 5000, flag);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(
          `^Version: \\d+\\.\\d+\\.\\d+\\tSHA: \\S+\\tArch: linux/${process.arch === 'x64' ? 'amd64' : process.arch}\\n$`,
        ),
      );
    }
  });

  it('exits 1 from --run-healthcheck without a lock file and 0 once $TMPDIR/.lock exists', async () => {
    const tmp = makeTmpDir();
    const missing = await withTimeout(runBinary(['--run-healthcheck'], { TMPDIR: tmp }), 5000, 'healthcheck');
    expect(missing.code).toBe(1);
    writeFileSync(join(tmp, '.lock'), '');
    const present = await withTimeout(runBinary(['-run-healthcheck'], { TMPDIR: tmp }), 5000, 'healthcheck');
    expect(present.code).toBe(0);
  });

  it('exits 2 listing every bad variable', async () => {
    const r = await withTimeout(
      runBinary([], { fprocess: 'cat', port: 'abc', mode: 'nope', exec_timeout: '-5s' }),
      5000,
      'bad env',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('port');
    expect(r.stderr).toContain('abc');
    expect(r.stderr).toContain('nope');
    expect(r.stderr).toContain('exec_timeout');
  });

  it('serves streaming mode with nothing but fprocess=cat in its environment (no PATH, no node)', async () => {
    const tmp = makeTmpDir();
    const wd = await startBinary({ fprocess: 'cat', TMPDIR: tmp });
    await wd.waitReady();
    const body = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    const res = await send(wd.url, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(res.body.equals(body)).toBe(true);
    expect(existsSync(join(tmp, '.lock'))).toBe(true);
  });

  it('serves serializing mode: the whole stdout becomes the response', async () => {
    const wd = await startBinary({ fprocess: 'cat', mode: 'serializing', TMPDIR: makeTmpDir(), PATH });
    await wd.waitReady();
    const res = await send(wd.url, { method: 'POST', body: 'serialized' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('serialized');
  });

  it('serves classic mode with the Http_* CGI environment', async () => {
    const wd = await startBinary({ fprocess: fixture('env-dump'), mode: 'classic', TMPDIR: makeTmpDir(), PATH });
    await wd.waitReady();
    const res = await send(`${wd.url}/some/path?q=1`, { method: 'POST', headers: { 'X-Custom': 'yes' }, body: 'x' });
    expect(res.status).toBe(200);
    expect(res.text.split('\n')).toContain('Http_X_Custom=yes');
    expect(res.text.split('\n')).toContain('Http_Path=/some/path');
  });

  it('serves http mode by proxying to the upstream it starts', async () => {
    const dir = makeTmpDir();
    writeFileSync(join(dir, 'hello.txt'), 'from upstream');
    const upstreamPort = await freePort();
    const wd = await startBinary(
      {
        fprocess: `python3 -m http.server ${upstreamPort} --bind 127.0.0.1`,
        mode: 'http',
        upstream_url: `http://127.0.0.1:${upstreamPort}`,
        TMPDIR: makeTmpDir(),
        PATH,
      },
      { cwd: dir },
    );
    await wd.waitReady();
    const res = await send(`${wd.url}/hello.txt`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('from upstream');
  });

  it('serves static mode from static_path', async () => {
    const site = makeTmpDir();
    writeFileSync(join(site, 'index.html'), '<h1>hi</h1>');
    const wd = await startBinary({ mode: 'static', static_path: site, TMPDIR: makeTmpDir() });
    await wd.waitReady();
    const res = await send(`${wd.url}/`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('<h1>hi</h1>');
    expect((await send(`${wd.url}/missing.txt`)).status).toBe(404);
  });

  it('on SIGTERM removes the lock file, finishes the in-flight request and exits 0', async () => {
    const tmp = makeTmpDir();
    const pidFile = join(makeTmpDir(), 'pid');
    const wd = await startBinary({
      fprocess: `${fixture('record-pid')} ${fixture('maybe-sleep')}`,
      PID_FILE: pidFile,
      TMPDIR: tmp,
      PATH,
      healthcheck_interval: '0',
    });
    await wd.waitReady();
    const inFlight = send(wd.url, { method: 'POST', headers: { 'X-Sleep': '0.3' }, body: 'drained' });
    await until(() => existsSync(pidFile), 2000, 'the function process to start');
    wd.child.kill('SIGTERM');
    const res = await withTimeout(inFlight, 3000, 'the in-flight request');
    expect(res.status).toBe(200);
    expect(res.text).toBe('drained');
    const exit = await withTimeout(wd.exited, 3000, 'exit after SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(existsSync(join(tmp, '.lock'))).toBe(false);
  });

  it('carries every built native addon, their content ids and every chunk with its code cache as assets, with the code cache on', () => {
    const root = join(import.meta.dirname, '..', '..');
    const built = readdirSync(join(root, 'native'))
      .map((name) => join(root, 'native', name, 'build', 'Release'))
      .filter((dir) => existsSync(dir))
      .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.node')));
    const chunks = readdirSync(join(root, 'dist', 'chunks')).filter((f) => f.endsWith('.cjs'));
    expect(chunks.length).toBeGreaterThan(0);
    const platform = `linux-${process.arch === 'x64' ? 'amd64' : process.arch}`;
    const config = JSON.parse(readFileSync(join(root, 'dist', platform, 'sea-config.json'), 'utf8')) as {
      useCodeCache: boolean;
      assets: Record<string, string>;
    };
    expect(config.useCodeCache).toBe(true);
    const want = [
      ...built,
      'addon-ids.json',
      ...chunks.flatMap((f) => [`chunks/${f}`, `chunks/${f.replace(/\.cjs$/, '.cache')}`]),
    ];
    expect(Object.keys(config.assets).sort()).toEqual(want.sort());
  });
});
