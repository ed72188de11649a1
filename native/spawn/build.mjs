// Builds spawn.node (the posix_spawn fast path for the fork modes) with node-gyp against the headers
// of the node that runs this script. Optional: without it the watchdog uses child_process.spawn.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = dirname(dirname(process.execPath)); // /usr for /usr/bin/node
const args = ['rebuild', '--silent', '-C', here];
// Headers installed with node (distro or tarball layout): use them instead of fetching a tarball.
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
// Inside npm scripts npm points at its own bundled node-gyp; otherwise use one on PATH.
const gyp = process.env.npm_config_node_gyp;
const [cmd, cmdArgs] = gyp ? [process.execPath, [gyp, ...args]] : ['node-gyp', args];
try {
  execFileSync(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
} catch (err) {
  // Not fatal: the fork modes fall back to child_process.spawn (about half the request rate).
  process.stderr.write(`spawn addon: node-gyp failed (${err.message}); it needs python3, make and a C compiler. The fork modes will use child_process.spawn.\n`);
}
