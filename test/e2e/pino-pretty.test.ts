// What users pipe the JSON log through: pino-pretty renders the built binary's own lines and function output lines.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, ROOT, startBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { until } from '../helpers/process.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

const PINO_PRETTY = join(ROOT, 'node_modules', '.bin', 'pino-pretty');

/** One rendered entry: `[HH:MM:ss.SSS] LEVEL: msg`, then its fields as `    key: value` lines. */
interface Rendered {
  level: string;
  msg: string;
  fields: Record<string, string>;
}

/** Pipes `log` through pino-pretty (as `fwatchdog | pino-pretty` would) and parses what it renders. */
function prettify(log: string): { text: string; entries: Rendered[] } {
  const env = { PATH: process.env.PATH ?? '', NO_COLOR: '1' };
  const text = execFileSync(PINO_PRETTY, [], { input: log, env, encoding: 'utf8' });
  const entries: Rendered[] = [];
  for (const line of text.split('\n')) {
    const head = /^\[\d\d:\d\d:\d\d\.\d{3}\] ([A-Z]+): (.*)$/.exec(line);
    if (head) entries.push({ level: head[1] as string, msg: head[2] as string, fields: {} });
    const field = /^ {4}(\w+): (.*)$/.exec(line);
    if (field && entries.length > 0) (entries.at(-1) as Rendered).fields[field[1] as string] = field[2] as string;
  }
  return { text, entries };
}

describe("pino-pretty renders the watchdog's JSON log", () => {
  it('shows level, message and fields of its own lines, the access lines and the function output lines', async () => {
    const wd = await startBinary({
      mode: 'inproc',
      fprocess: fixture('inproc/handler.mjs'),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
      suppress_lock: 'true',
      log_format: 'json',
    });
    await wd.waitReady();
    expect((await send(`${wd.url}/log`)).text).toBe('logged');
    expect((await send(`${wd.url}/throw`)).status).toBe(500);
    await until(
      () => wd.stderr.includes('to stderr') && wd.stdout.includes('pieces of one line'),
      3000,
      'the function output in the log',
    );
    wd.child.kill('SIGTERM');
    expect(await withTimeout(wd.exited, 5000, 'the exit')).toEqual({ code: 0, signal: null });

    const own = prettify(wd.stderr);
    const out = prettify(wd.stdout);
    // Every JSON line was rendered: none is passed through as it came.
    expect(own.text).not.toContain('{"level"');
    expect(out.text).not.toContain('{"level"');
    expect(own.entries.length).toBe(wd.stderr.trim().split('\n').length);
    expect(out.entries.length).toBe(wd.stdout.trim().split('\n').length);

    expect(own.entries).toContainEqual({
      level: 'INFO',
      msg: `Listening on port: ${wd.port}`,
      fields: { levelName: '"info"' },
    });
    expect(own.entries.find((e) => e.level === 'WARN')?.msg).toContain('"suppress_lock" is enabled');
    const failed = own.entries.find((e) => e.level === 'ERROR');
    expect(failed?.msg).toBe('The function failed on GET /throw: Error: thrown on purpose');
    expect(failed?.fields.err).toMatch(/^"Error: thrown on purpose\\n {4}at .*handler\.mjs:\d+/);
    const access = own.entries.filter((e) => e.msg === 'request').map((e) => e.fields);
    expect(access).toEqual([
      expect.objectContaining({ levelName: '"info"', method: '"GET"', url: '"/log"', status: '200', bytes: '6' }),
      expect.objectContaining({ method: '"GET"', url: '"/throw"', status: '500' }),
    ]);
    expect(access[0]?.durationMs).toMatch(/^\d+(\.\d+)?$/);

    // Function output: an INFO entry per line, with the stream it came from.
    // (Lines written during a call also carry its callId: docs/tracing.md.)
    expect(own.entries).toContainEqual({
      level: 'INFO',
      msg: 'to stderr',
      fields: expect.objectContaining({ levelName: '"info"', stream: '"stderr"' }),
    });
    for (const msg of ['handler.mjs loaded', 'first line', 'second line', 'pieces of one line'])
      expect(out.entries).toContainEqual({
        level: 'INFO',
        msg,
        fields: expect.objectContaining({ levelName: '"info"', stream: '"stdout"' }),
      });
  });
});
