// Builds one N-API addon folder with node-gyp against the headers of the node running this script (no download).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Runs `node-gyp rebuild` in `dir`; returns the error message on failure (the caller decides if that is fatal). */
export function buildAddon(dir) {
  const prefix = dirname(dirname(process.execPath)); // /usr for /usr/bin/node
  const args = ['rebuild', '--silent', '-C', dir];
  // Headers installed with node (distro or tarball layout): use them instead of fetching a tarball.
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  // Inside npm scripts npm points at its own bundled node-gyp; otherwise use one on PATH.
  const gyp = process.env.npm_config_node_gyp;
  const [cmd, cmdArgs] = gyp ? [process.execPath, [gyp, ...args]] : ['node-gyp', args];
  try {
    execFileSync(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
    return undefined;
  } catch (err) {
    return err.message;
  }
}
