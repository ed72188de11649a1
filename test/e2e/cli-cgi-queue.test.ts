// The new variables through the real bundle: a bad value stops the start with exit 2, naming it.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBundle, runCli } from '../helpers/cli.js';
import { makeTmpDir } from '../helpers/watchdog.js';

beforeAll(async () => {
  await ensureBundle();
}, 120_000);

describe('cgi_response, cgi_env, max_queue, queue_timeout at start-up', () => {
  it('exits 2 before listening, listing each bad value with its variable and what is allowed', async () => {
    const r = await runCli([], {
      fprocess: 'cat',
      TMPDIR: makeTmpDir(),
      cgi_response: 'sometimes',
      cgi_env: 'nginx',
      max_inflight: '2',
      max_queue: '-3',
      queue_timeout: 'soon',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the configuration has 4 problem(s)');
    expect(r.stderr).toContain('cgi_response="sometimes" is not a boolean: use true/false, 1/0, yes/no or on/off');
    expect(r.stderr).toContain('cgi_env="nginx" is not allowed: use one of openfaas, rfc3875');
    expect(r.stderr).toContain('max_queue="-3" is not valid: a request count must be a whole number >= 0');
    expect(r.stderr).toContain('queue_timeout="soon" is not a duration');
    expect(r.stderr).not.toContain('Listening on port');
  });

  it('exits 2 for a queue without max_inflight and for combine_output with cgi_response in classic', async () => {
    const r = await runCli([], {
      fprocess: 'cat',
      TMPDIR: makeTmpDir(),
      mode: 'classic',
      max_queue: '5',
      cgi_response: 'true',
      combine_output: 'true',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('max_queue="5" needs max_inflight');
    expect(r.stderr).toContain('combine_output=true cannot be used with cgi_response=true');
  });

  it('shows the new variables in --help and --print-config', async () => {
    const help = await runCli(['--help'], {});
    for (const name of ['cgi_response', 'cgi_env', 'max_queue', 'queue_timeout']) expect(help.stdout).toContain(name);
    const printed = await runCli(['--print-config'], {
      fprocess: 'cat',
      max_inflight: '2',
      max_queue: '4',
      queue_timeout: '1500ms',
      cgi_env: 'rfc3875',
      cgi_response: 'yes',
    });
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toMatchObject({
      max_queue: 4,
      queue_timeout: '1.5s',
      cgi_env: 'rfc3875',
      cgi_response: true,
    });
  });
});
