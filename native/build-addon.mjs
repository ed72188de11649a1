// Builds one N-API addon folder with node-gyp against the headers of the node running this script (no download),
// or, for another CPU architecture, with Debian's cross compilers against the headers of the Node it will run in.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/**
 * Runs `node-gyp rebuild` in `dir`; returns the error message on failure (the caller decides if that is fatal).
 * With `cross` ({ arch: 'arm64', gnu: 'aarch64-linux-gnu', nodedir, out }), builds a copy of `dir` in a temporary
 * folder for that architecture (CC/CXX = <gnu>-gcc/g++, headers from `nodedir`) and copies its .node files
 * into `out`: the host's build/ stays as it is.
 */
export function buildAddon(dir, cross) {
  const prefix = dirname(dirname(process.execPath)); // /usr for /usr/bin/node
  let work = dir;
  const env = { ...process.env };
  const args = ['rebuild', '--silent'];
  if (cross) {
    work = mkdtempSync(join(tmpdir(), `fwatchdog-addon-${basename(dir)}-${cross.arch}-`));
    for (const file of readdirSync(dir))
      if (file !== 'build' && !file.startsWith('build-'))
        cpSync(join(dir, file), join(work, file), { recursive: true });
    args.push(`--arch=${cross.arch}`, `--nodedir=${cross.nodedir}`);
    Object.assign(env, {
      CC: `${cross.gnu}-gcc`,
      CXX: `${cross.gnu}-g++`,
      LINK: `${cross.gnu}-g++`,
      AR: `${cross.gnu}-ar`,
    });
    delete env.npm_config_nodedir;
  } else if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
    // Headers installed with node (distro or tarball layout): use them instead of fetching a tarball.
    args.push(`--nodedir=${prefix}`);
  }
  args.push('-C', work);
  // Inside npm scripts npm points at its own bundled node-gyp; otherwise use one on PATH.
  const gyp = process.env.npm_config_node_gyp;
  const [cmd, cmdArgs] = gyp ? [process.execPath, [gyp, ...args]] : ['node-gyp', args];
  try {
    execFileSync(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (cross) {
      rmSync(cross.out, { recursive: true, force: true });
      mkdirSync(cross.out, { recursive: true });
      const release = join(work, 'build', 'Release');
      for (const file of readdirSync(release))
        if (file.endsWith('.node')) copyFileSync(join(release, file), join(cross.out, file));
    }
    return undefined;
  } catch (err) {
    return err.message;
  } finally {
    if (cross) rmSync(work, { recursive: true, force: true });
  }
}
