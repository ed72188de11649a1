import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { VARIABLES } from '../../src/config/variables.js';
import { ensureBundle, runCli, startCli } from '../helpers/cli.js';
import { send } from '../helpers/http.js';
import { makeTmpDir, withTimeout } from '../helpers/watchdog.js';

beforeAll(() => withTimeout(ensureBundle(), 60_000, 'npm run build'), 70_000);

/** Holds a TCP port busy for the rest of the test. */
async function busyPort(): Promise<number> {
  const srv: Server = createServer();
  await new Promise<void>((r) => srv.listen(0, () => r()));
  onTestFinished(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as { port: number }).port;
}

describe('fwatchdog command line', () => {
  it('prints every variable with its default for --help and -help, and exits 0', async () => {
    for (const flag of ['--help', '-help']) {
      const r = await runCli([flag], {});
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: fwatchdog');
      for (const v of VARIABLES) {
        expect(r.stdout).toContain(v.name);
        for (const alias of v.aliases ?? []) expect(r.stdout).toContain(alias);
      }
      expect(r.stdout.match(/ default: /g)?.length).toBe(VARIABLES.length);
    }
  });

  it('prints the version line for --version and -version, and exits 0 without reading the config', async () => {
    for (const flag of ['--version', '-version']) {
      const r = await runCli([flag], { port: 'not-a-port' });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(
          `^Version: \\d+\\.\\d+\\.\\d+\\tSHA: \\S+\\tArch: linux/${process.arch === 'x64' ? 'amd64' : process.arch}\\n$`,
        ),
      );
    }
  });

  it('--run-healthcheck exits 1 with "unable to find lock file." without $TMPDIR/.lock, and 0 with it', async () => {
    const tmp = makeTmpDir();
    for (const flag of ['--run-healthcheck', '-run-healthcheck']) {
      const missing = await runCli([flag], { TMPDIR: tmp });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe('unable to find lock file.\n');
    }
    writeFileSync(join(tmp, '.lock'), '');
    for (const flag of ['--run-healthcheck', '-run-healthcheck']) {
      const present = await runCli([flag], { TMPDIR: `${tmp}/` });
      expect(present.code).toBe(0);
      expect(present.stderr).toBe('');
    }
  });

  it('--print-config prints the effective configuration as JSON without secret values', async () => {
    const secrets = makeTmpDir();
    writeFileSync(join(secrets, 'api-key'), 's3cr3t-value');
    const r = await runCli(['--print-config'], {
      fprocess: 'cat -u',
      exec_timeout: '90',
      mode: 'classic',
      secret_mount_path: secrets,
      auth_api_key_secret: 'api-key',
    });
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({
      mode: 'classic',
      fprocess: 'cat -u',
      argv: ['cat', '-u'],
      exec_timeout: '1m30s',
      write_timeout: '30s',
      healthcheck_interval: '30s',
      port: 8080,
      metrics_port: 8081,
    });
    expect(String(printed.program_path)).toMatch(/\/cat$/);
    expect(r.stdout).not.toContain('s3cr3t-value');
  });

  it('exits 2 on bad values before listening, listing every problem with its variable and value', async () => {
    const r = await runCli([], {
      fprocess: 'cat',
      port: 'abc',
      exec_timeout: '"30s"',
      read_timeout: '-5s',
      mode: 'fast',
      suppress_lock: 'maybe',
      max_inflight: 'ten',
      log_format: 'xml',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the configuration has 7 problem(s)');
    for (const needle of [
      'port="abc"',
      'exec_timeout="\\"30s\\""',
      'read_timeout="-5s"',
      'mode="fast"',
      'suppress_lock="maybe"',
      'max_inflight="ten"',
      'log_format="xml"',
    ]) {
      expect(r.stderr).toContain(needle);
    }
    expect(r.stderr).not.toContain('Listening on port');
  });

  it('exits 2 with a clear message when fprocess is missing', async () => {
    const r = await runCli([], { TMPDIR: makeTmpDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('fprocess is required in streaming mode');
  });

  it('exits 2 with a clear message when the fprocess program does not exist', async () => {
    const tmp = makeTmpDir();
    const r = await runCli([], { fprocess: 'no-such-program-fwd --flag', TMPDIR: tmp, port: '0', metrics_port: '0' });
    expect(r.code).toBe(2);
    const errors = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(
      /^fprocess="no-such-program-fwd --flag": "no-such-program-fwd" was not found in PATH \(/,
    );
    expect(r.stderr).not.toContain('Listening on port');
    expect(existsSync(join(tmp, '.lock'))).toBe(false);
  });

  it('exits 2 on an unknown argument', async () => {
    const r = await runCli(['--frobnicate'], { fprocess: 'cat' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown argument --frobnicate');
  });

  it('exits 1 with a clear message when the main port is in use, and writes no lock file', async () => {
    const port = await busyPort();
    const tmp = makeTmpDir();
    const r = await runCli([], { fprocess: 'cat', port: String(port), metrics_port: '0', TMPDIR: tmp });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`port ${port} is already in use`);
    expect(existsSync(join(tmp, '.lock'))).toBe(false);
  });

  it('exits 1 with a clear message when the metrics port is in use, and writes no lock file', async () => {
    const port = await busyPort();
    const tmp = makeTmpDir();
    const r = await runCli([], { fprocess: 'cat', port: '0', metrics_port: String(port), TMPDIR: tmp });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`metrics_port ${port} is already in use`);
    expect(existsSync(join(tmp, '.lock'))).toBe(false);
  });

  it('exits 1 with a clear message when the lock file cannot be written', async () => {
    const notADir = join(makeTmpDir(), 'file');
    writeFileSync(notADir, '');
    const r = await runCli([], { fprocess: 'cat', port: '0', metrics_port: '0', TMPDIR: notADir });
    expect(r.code).toBe(1);
    const errors = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level >= 40);
    expect(errors.map((e) => e.msg)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^cannot write the lock file ${notADir}/\\.lock: .*set TMPDIR to a writable folder or suppress_lock=true$`,
        ),
      ),
    ]);
  });

  it('serves a function, writes the lock file and logs JSON lines by default', async () => {
    const tmp = makeTmpDir();
    const wd = await startCli({ fprocess: 'cat', TMPDIR: tmp });
    expect(existsSync(join(tmp, '.lock'))).toBe(true);
    const res = await send(wd.url, { method: 'POST', body: 'hi' });
    expect(res.text).toBe('hi');
    const line = await wd.waitForLog('"msg":"request"');
    expect(JSON.parse(line)).toMatchObject({ method: 'POST', url: '/', status: 200, bytes: 2 });
    for (const l of wd.stderr.split('\n').filter((x) => x !== '')) expect(() => JSON.parse(l) as unknown).not.toThrow();
  });

  it('creates a missing TMPDIR for the lock file', async () => {
    const tmp = join(makeTmpDir(), 'nested', 'dir');
    const wd = await startCli({ fprocess: 'cat', TMPDIR: tmp });
    expect(existsSync(join(tmp, '.lock'))).toBe(true);
    expect((await send(`${wd.url}/_/health`)).text).toBe('OK');
  });

  it("writes the originals' text lines with log_format=text", async () => {
    const tmp = makeTmpDir();
    mkdirSync(tmp, { recursive: true });
    const wd = await startCli({ fprocess: 'cat', TMPDIR: tmp, log_format: 'text' });
    await send(wd.url, { method: 'POST', body: 'hi' });
    await wd.waitForLog(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} POST \/ - 200 - ContentLength: 2B \(\d+\.\d{4}s\)$/);
    expect(wd.stderr).toMatch(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} Version: \S+\tSHA: \S+$/m);
    expect(wd.stderr).toMatch(
      /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} Timeouts: read: 30s write: 30s hard: 30s health: 30s$/m,
    );
  });
});
