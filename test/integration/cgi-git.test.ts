// A real CGI program from a Debian package, unmodified: git http-backend (package git) behind the
// watchdog with cgi_env=rfc3875 and cgi_response=true; real `git push` and `git clone` through it,
// with a pack of several MiB both ways (the push body is chunked: larger than http.postBuffer).
import { execFile } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeTmpDir, startWatchdog } from '../helpers/watchdog.js';

const run = promisify(execFile);
const PACK_BYTES = 6 << 20;

async function git(cwd: string, home: string, ...args: string[]): Promise<string> {
  const env = { ...process.env, HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
  const { stdout } = await run(
    'git',
    ['-c', 'user.name=fwatchdog test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args],
    { cwd, env, maxBuffer: 1 << 20 },
  );
  return stdout;
}

describe.each(['streaming', 'serializing', 'classic'] as const)('git http-backend in %s mode', (mode) => {
  it('pushes and clones a repository holding several MiB through the watchdog, unmodified', {
    timeout: 60_000,
  }, async () => {
    const dir = makeTmpDir('fwd-git-');
    const home = join(dir, 'home');
    const root = join(dir, 'root');
    mkdirSync(home);
    mkdirSync(root);
    const execPath = (await git(dir, home, '--exec-path')).trim();
    await git(root, home, 'init', '--bare', '--quiet', 'repo.git');
    // Pushing over http needs receive-pack on (http-backend enables it by default only for an authenticated REMOTE_USER).
    await git(join(root, 'repo.git'), home, 'config', 'http.receivepack', 'true');

    // A guard that only looks: how each push body came (git sends a pack over http.postBuffer chunked).
    const pushFraming: string[] = [];
    const guard = (req: IncomingMessage, body: Readable): Readable => {
      if (req.url?.endsWith('/git-receive-pack'))
        pushFraming.push(req.headers['transfer-encoding'] ?? `content-length ${req.headers['content-length']}`);
      return body;
    };
    const env = {
      mode,
      fprocess: join(execPath, 'git-http-backend'),
      cgi_response: 'true',
      cgi_env: 'rfc3875',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      exec_timeout: '50s',
      write_timeout: '50s',
      read_timeout: '50s',
    };
    const wd = await startWatchdog(env, { guard });
    const remote = `${wd.url}/repo.git`;

    const work = join(dir, 'work');
    await git(dir, home, 'init', '--quiet', 'work');
    const data = randomBytes(PACK_BYTES); // incompressible: the pack is as big as the file
    writeFileSync(join(work, 'blob.bin'), data);
    writeFileSync(join(work, 'README'), 'through fwatchdog\n');
    await git(work, home, 'add', '.');
    await git(work, home, 'commit', '--quiet', '-m', 'several MiB');
    await git(work, home, 'push', '--quiet', remote, 'HEAD:refs/heads/main');

    expect(pushFraming).toContain('chunked');
    const pushed = (await git(join(root, 'repo.git'), home, 'rev-parse', 'refs/heads/main')).trim();
    expect(pushed).toBe((await git(work, home, 'rev-parse', 'HEAD')).trim());

    await git(dir, home, 'clone', '--quiet', remote, 'copy');
    const copy = join(dir, 'copy');
    expect(readFileSync(join(copy, 'blob.bin')).equals(data)).toBe(true);
    expect(readFileSync(join(copy, 'README'), 'utf8')).toBe('through fwatchdog\n');
    expect(wd.logs.text).toContain('"url":"/repo.git/git-receive-pack","status":200');
    expect(wd.logs.text).toContain('"url":"/repo.git/git-upload-pack","status":200');
    expect(wd.logs.text).not.toContain('bad CGI response');
  });
});
