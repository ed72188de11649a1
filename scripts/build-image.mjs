// Builds the watchdog image from dist/image/ (the default target of Dockerfile.watchdog) with podman or docker,
// with its OCI labels filled in: version (package.json), revision (git HEAD), source (the git remote, if a URL).
// Usage: npm run build:binary && npm run build:image [-- TAG]   (default tag fwatchdog:latest;
// FWATCHDOG_BUILDER=podman|docker picks the tool, else podman when it is installed)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tag = process.argv[2] ?? 'fwatchdog:latest';

function git(args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // Not a git checkout, or no such remote: the label keeps its default.
    return undefined;
  }
}
function installed(tool) {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

if (!existsSync(join(root, 'dist', 'image', 'fwatchdog'))) {
  console.error('fwatchdog image: dist/image/ is missing: run npm run build:binary first');
  process.exit(2);
}
const tool = process.env.FWATCHDOG_BUILDER ?? (installed('podman') ? 'podman' : 'docker');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const revision = git(['rev-parse', 'HEAD']);
// Only a URL says where the source is; a local path (a clone of a clone) does not. Credentials are dropped.
const remote = git(['remote', 'get-url', 'origin']);
const source = remote && /^(https?|ssh|git):\/\//.test(remote) ? remote.replace(/\/\/[^@/]*@/, '//') : undefined;

const args = ['build', '-f', join(root, 'Dockerfile.watchdog'), '-t', tag, '--build-arg', `VERSION=${version}`];
// podman: keep the Docker format (HEALTHCHECK, if a derived image sets one) and skip the layer cache, which
// reuses a LABEL step built with other --build-arg values.
if (tool === 'podman') args.push('--format', 'docker', '--no-cache');
if (revision) args.push('--build-arg', `REVISION=${revision}`);
if (source) args.push('--build-arg', `SOURCE=${source}`);
args.push(root);
console.log(`fwatchdog image: ${tool} ${args.join(' ')}`);
const result = spawnSync(tool, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
